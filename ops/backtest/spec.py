"""What an operator asks a backtest for: symbols, sessions, capital, strategy, costs, data (the CLI's options)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from ops.backtest.settings import DataChecks


@dataclass(frozen=True)
class BacktestSpec:
    """What the operator asked for (the CLI's options). Recorded in ``result.json`` and ``config.json``."""

    symbols: tuple[str, ...]
    start: date
    end: date
    capital: float
    strategy: str = "council"
    params: Mapping[str, Any] = field(default_factory=dict)
    costs: str | None = None
    data_path: str | None = None
    provider: str | None = None
    adjust: bool | None = None
    data_checks: DataChecks = "on"

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["symbols"] = list(self.symbols)
        out["start"], out["end"] = self.start.isoformat(), self.end.isoformat()
        out["params"] = dict(sorted(self.params.items()))
        return out

    def command(self) -> list[str]:
        """The ``agenthedge backtest run`` arguments that ask for this spec again."""
        args = ["backtest", "run"]
        for s in self.symbols:
            args += ["--symbol", s]
        args += ["--start", self.start.isoformat(), "--end", self.end.isoformat(), "--capital", _plain(self.capital)]
        if self.data_path:
            args += ["--data", self.data_path]
        if self.provider:
            args += ["--provider", self.provider]
        if self.strategy != "council":
            args += ["--strategy", self.strategy]
        for key, value in sorted(self.params.items()):
            args += [f"--{key}", str(value)]
        if self.costs:
            args += ["--costs", self.costs]
        if self.adjust is False:
            args += ["--raw-prices"]
        if self.data_checks == "off":
            args += ["--data-checks", "off"]
        return args


def _plain(x: float) -> str:
    """A number as an option value: 1000000, 2500.5 (no exponent)."""
    return format(x, "f").rstrip("0").rstrip(".") if x != int(x) else str(int(x))
