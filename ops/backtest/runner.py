"""Running a backtest: the live pipeline replayed over historical sessions on its own home, then its artifacts.

The app builds the replay (``app.wiring.build_replay``: the very agents of live, a simulated clock, the data
preloaded) on the run's home, ``<home>/backtests/<run_id>/home``, so the run's ledger, paper broker and audit
log are its own and never touch live. :func:`run_backtest` starts it, ticks once per session, collects the
books, the fills, the risk agent's VaR and the audit log, and writes the artifacts (see
:mod:`ops.backtest.artifacts`). Nothing in ``result.json`` depends on the run id or the wall clock: the same
inputs give the same bytes.
"""

from __future__ import annotations

import asyncio
import json
import platform
import shutil
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from pydantic import SecretStr
from pydantic_settings import BaseSettings

from agents.data.agent import DataAgent
from agents.director import KEY as TRACKER_KEY
from agents.director import NAMESPACE as TRACKER_NAMESPACE
from agents.director import CouncilSettings, PerformanceTracker
from agents.risk import RiskAgent
from ops.backtest.artifacts import RunPaths, bars_hash, code_version, sha256_file, write_json, write_text
from ops.backtest.chart import equity_drawdown_svg
from ops.backtest.events import RunEvents, scan_audit
from ops.backtest.metrics import MetricInputs, Metrics, compute_metrics, drawdowns
from ops.backtest.settings import BacktestSettings, DataChecks
from ops.backtest.trades import TradeBook, TradeFill, build_trades
from ops.report import read_audit_lines
from runtime.pipeline import TickOutcome
from runtime.runtime import Runtime
from storage.audit import AUDIT_FILE
from storage.ledger import Ledger
from storage.records import Books, Fill, NavPoint

RESULT_SCHEMA = 1
Progress = Callable[[int, int], None]
_ALL = 1 << 62


class Replayable(Protocol):
    """What the runner drives: ``app.wiring.Replay`` (a runtime over historical sessions on a simulated clock)."""

    runtime: Runtime

    def sessions(self) -> list[date]: ...

    async def run(
        self,
        *,
        speed: float | None = None,
        stop: asyncio.Event | None = None,
        on_tick: Callable[[TickOutcome], Awaitable[None] | None] | None = None,
    ) -> int: ...


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


@dataclass
class BacktestOutcome:
    paths: RunPaths
    result: dict[str, Any]
    run: dict[str, Any]
    metrics: Metrics
    result_sha256: str


@dataclass
class _Capture:
    """What is read while the run ticks: progress and the risk agent's VaR per session."""

    total: int
    risk: RiskAgent | None
    on_progress: Progress | None
    done: int = 0
    var_nav: dict[str, float] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)

    def __call__(self, outcome: TickOutcome) -> None:
        self.done += 1
        self.statuses[outcome.status] = self.statuses.get(outcome.status, 0) + 1
        risk = self.risk
        if risk is not None and risk.last_tick_id == outcome.tick.id:
            value = risk.snapshot.get("var_nav")
            if isinstance(value, int | float):
                self.var_nav[outcome.tick.ts.astimezone(UTC).date().isoformat()] = float(value)
        if self.on_progress is not None:
            self.on_progress(self.done, self.total)


def settings_json(settings: Mapping[str, BaseSettings]) -> dict[str, Any]:
    """Every setting by section (secrets masked by pydantic as ``**********``)."""
    return {name: s.model_dump(mode="json") for name, s in sorted(settings.items())}


def settings_environment(settings: Mapping[str, BaseSettings]) -> dict[str, str]:
    """Every setting as the environment variable that sets it (secrets and unset values left out): lists of
    plain values comma-separated, anything structured as JSON."""
    env: dict[str, str] = {}
    for model in settings.values():
        prefix = str(model.model_config.get("env_prefix", ""))
        dumped = model.model_dump(mode="json")
        for name in type(model).model_fields:
            value = dumped.get(name)
            if value is None or isinstance(getattr(model, name), SecretStr):
                continue
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
                text = ",".join(str(v) for v in value)
            elif isinstance(value, list | dict):
                text = json.dumps(value, sort_keys=True)
            else:
                text = str(value)
            env[f"{prefix}{name}".upper()] = text
    return dict(sorted(env.items()))


def _nav_by_session(points: Sequence[NavPoint]) -> list[NavPoint]:
    last: dict[str, NavPoint] = {}
    for p in points:  # time order: the last point of a session is its close
        last[p.session] = p
    return [last[s] for s in sorted(last)]


def _fill_json(f: Fill) -> dict[str, Any]:
    return {
        "ts": f.ts.isoformat(),
        "session": f.ts.astimezone(UTC).date().isoformat(),
        "symbol": f.symbol,
        "side": f.side,
        "qty": f.qty,
        "price": f.price,
        "commission": f.commission,
        "venue": f.venue,
        "trade_id": f.trade_id,
        "client_order_id": f.client_order_id,
    }


def _portfolio(books: Books) -> dict[str, Any]:
    positions = []
    for p in sorted(books.positions.values(), key=lambda x: x.symbol):
        price = p.last_price if p.last_price is not None else p.avg_cost
        positions.append(
            {
                "symbol": p.symbol,
                "qty": p.qty,
                "avg_cost": p.avg_cost,
                "last_price": price,
                "market_value": p.qty * price,
                "unrealised_pnl": (price - p.avg_cost) * p.qty,
                "realised_pnl": p.realised_pnl,
            }
        )
    return {
        "nav": books.nav,
        "cash": books.account.cash,
        "initial_capital": books.account.initial_capital,
        "commissions": books.account.commissions,
        "gross_exposure": books.gross_exposure,
        "net_exposure": books.net_exposure,
        "positions": positions,
    }


async def _tracker_weights(ledger: Ledger, council: CouncilSettings) -> dict[str, Any]:
    doc = await ledger.get_json(TRACKER_NAMESPACE, TRACKER_KEY)
    if not isinstance(doc, dict):
        return {"kind": "agenthedge.council.weights", "weights": {}, "note": "no council tracker in this run"}
    tracker = PerformanceTracker(council)
    tracker.restore(doc)
    return tracker.export_weights()


@dataclass
class _Collected:
    navs: list[NavPoint]
    fills: list[Fill]
    books: Books
    orders: dict[str, int]
    weights: dict[str, Any]
    state: str
    incidents: list[dict[str, Any]]


async def _collect(runtime: Runtime, council: CouncilSettings) -> _Collected:
    ledger = runtime.books
    orders: dict[str, int] = {}
    for o in await ledger.orders(limit=_ALL):
        orders[o.status] = orders.get(o.status, 0) + 1
    incidents = [
        {"id": i.id, "source": i.source, "reason": i.reason, "status": i.status, "opened_at": i.opened_at.isoformat()}
        for i in await ledger.incidents(limit=_ALL)
    ]
    return _Collected(
        navs=_nav_by_session(await ledger.nav_history(limit=_ALL)),
        fills=await ledger.fills(limit=_ALL),
        books=await ledger.books(),
        orders=dict(sorted(orders.items())),
        weights=await _tracker_weights(ledger, council),
        state=runtime.state.value,
        incidents=sorted(incidents, key=lambda i: (i["opened_at"], i["id"])),
    )


def _trade_book(c: _Collected) -> TradeBook:
    last = {s: p.last_price for s, p in c.books.positions.items() if p.last_price is not None}
    fills = [TradeFill(f.ts, f.symbol, f.side, f.qty, f.price, f.commission) for f in c.fills]
    return build_trades(fills, last)


def _result(
    spec: BacktestSpec,
    c: _Collected,
    trades: TradeBook,
    events: RunEvents,
    capture: _Capture,
    metrics: Metrics,
    *,
    var_limit: float,
    var_source: str,
    data_sha256: str,
) -> dict[str, Any]:
    capital = spec.capital
    dd = drawdowns(capital, [p.nav for p in c.navs])
    nav_curve = [
        {
            "date": p.session,
            "nav": p.nav,
            "cash": p.cash,
            "gross_exposure": p.gross_exposure,
            "net_exposure": p.net_exposure,
            "drawdown": float(d),
        }
        for p, d in zip(c.navs, dd.tolist(), strict=True)
    ]
    var_values = [capture.var_nav[s] for s in sorted(capture.var_nav)]
    return {
        "schema": RESULT_SCHEMA,
        "spec": spec.to_json(),
        "data_sha256": data_sha256,
        "sessions": len(c.navs),
        "ticks": dict(sorted(capture.statuses.items())),
        "final_state": c.state,
        "incidents": c.incidents,
        "metrics": metrics.to_json(),
        "nav": nav_curve,
        "trades": [t.to_json() for t in trades.trips],
        "fills": [_fill_json(f) for f in c.fills],
        "orders": c.orders,
        "pnl_by_symbol": {s: p.to_json() for s, p in sorted(trades.by_symbol.items())},
        "risk": {
            "var_source": var_source,
            "var_limit": var_limit,
            "var_usage_mean": (sum(var_values) / len(var_values) / var_limit) if var_values and var_limit else None,
            "soft_breaches": dict(sorted(events.soft_breaches.items())),
            "alerts": dict(sorted(events.alerts.items())),
            "transitions": events.transitions,
        },
        "totals": {
            "fills": len(c.fills),
            "round_trips": len(trades.trips),
            "closed_round_trips": len(trades.closed_pnls),
            "traded_notional": trades.traded_notional,
            "commissions": c.books.account.commissions,
        },
    }


async def run_backtest(
    paths: RunPaths,
    spec: BacktestSpec,
    replay: Replayable,
    *,
    settings: Mapping[str, BaseSettings],
    backtest: BacktestSettings | None = None,
    on_progress: Progress | None = None,
    argv: Sequence[str] | None = None,
    started_at: datetime | None = None,
) -> BacktestOutcome:
    """Run ``replay`` (built on ``paths.home``) to its last session and write every artifact.

    ``settings`` are every package's settings as the run used them (``AppConfig.sections()``); the ``council``
    and ``risk`` sections are read for the tracker and the VaR limit when present.

    Raises:
        runtime.lock.HomeLocked: the run's home is taken (a run id reused while it runs).
    """
    bt = backtest or BacktestSettings()
    started_at = started_at or datetime.now(UTC)
    council = settings.get("council")
    council = council if isinstance(council, CouncilSettings) else CouncilSettings()
    risk_settings = settings.get("risk")
    var_limit = float(getattr(risk_settings, "max_var_nav", 0.04))
    runtime = replay.runtime
    wall0 = time.perf_counter()
    await runtime.start(role="backtest")
    try:
        data_agent = next((a for a in runtime.registry if isinstance(a, DataAgent)), None)
        risk = next((a for a in runtime.registry if isinstance(a, RiskAgent)), None)
        capture = _Capture(len(replay.sessions()), risk, on_progress)
        loop0 = time.perf_counter()
        await replay.run(on_tick=capture)
        loop_seconds = time.perf_counter() - loop0
        collected = await _collect(runtime, council)
    finally:
        await runtime.stop()
    if data_agent is not None and data_agent.data is not None:
        data_sha256, bars_seen = bars_hash(data_agent.data, spec.end)
        sessions_bars = _bars_in_window(data_agent, spec)
    else:
        data_sha256, bars_seen, sessions_bars = "", 0, 0
    audit_src = runtime.home / AUDIT_FILE
    records, _ = read_audit_lines(audit_src.read_text("utf-8").splitlines() if audit_src.exists() else [])
    events = scan_audit(records)
    trades = _trade_book(collected)
    var_source = "risk_agent" if capture.var_nav else "historical"
    nav_sessions = [p.session for p in collected.navs]
    metrics = compute_metrics(
        MetricInputs(
            initial_capital=spec.capital,
            dates=[date.fromisoformat(s) for s in nav_sessions],
            nav=[p.nav for p in collected.navs],
            gross_exposure=[p.gross_exposure for p in collected.navs],
            traded_notional=trades.traded_notional,
            closed_pnls=trades.closed_pnls,
            round_trips=len(trades.trips),
            var_nav=[capture.var_nav.get(s) for s in nav_sessions] if capture.var_nav else None,
            var_limit=var_limit,
            breaches=events.breaches,
            rejects=events.rejects,
        ),
        risk_free=bt.risk_free_rate,
        periods=bt.periods_per_year,
        var_confidence=bt.var_confidence,
        var_window=bt.var_window,
    )
    result = _result(
        spec,
        collected,
        trades,
        events,
        capture,
        metrics,
        var_limit=var_limit,
        var_source=var_source,
        data_sha256=data_sha256,
    )
    paths.dir.mkdir(parents=True, exist_ok=True)
    result_sha = write_json(paths.result, result)
    write_json(paths.portfolio, _portfolio(collected.books))
    write_json(paths.performance, {**collected.weights, "run_result_sha256": result_sha})
    if audit_src.exists():
        shutil.copyfile(audit_src, paths.audit)
    else:
        write_text(paths.audit, "")
    title = f"{', '.join(spec.symbols)}  {spec.strategy}  {spec.start.isoformat()} .. {spec.end.isoformat()}"
    write_text(
        paths.chart,
        equity_drawdown_svg(
            [date.fromisoformat(p["date"]) for p in result["nav"]],
            [p["nav"] for p in result["nav"]],
            [p["drawdown"] for p in result["nav"]],
            initial=spec.capital,
            title=title,
        ),
    )
    version = code_version()
    source = _data_source(spec)
    write_json(
        paths.config,
        {
            "spec": spec.to_json(),
            "command": ["agenthedge", *spec.command()],
            "settings": settings_json(settings),
            "environment": settings_environment(settings),
            "backtest": bt.model_dump(mode="json"),
            "data": {
                **source,
                "bars_sha256": data_sha256,
                "bars_loaded": bars_seen,
                "symbols": list(spec.symbols),
            },
            "code_version": version,
            "python": sys.version.split()[0],
        },
    )
    finished_at = datetime.now(UTC)
    elapsed = time.perf_counter() - wall0
    run = {
        "run_id": paths.run_id,
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": finished_at.isoformat(timespec="seconds"),
        "elapsed_seconds": round(elapsed, 3),
        "loop_seconds": round(loop_seconds, 3),
        "sessions": capture.done,
        "bars": sessions_bars,
        "bars_per_second": round(sessions_bars / loop_seconds, 1) if loop_seconds > 0 else None,
        "runtime_run_id": runtime.run_id,
        "code_version": version,
        "host": platform.node(),
        "argv": list(argv) if argv is not None else None,
        "result_sha256": result_sha,
    }
    write_json(paths.run, run)
    return BacktestOutcome(paths, result, run, metrics, result_sha)


def _bars_in_window(agent: DataAgent, spec: BacktestSpec) -> int:
    """Bars traded over: (session, symbol) pairs with a bar between start and end."""
    data = agent.data
    if data is None:
        return 0
    lo = data.row_of(date.fromordinal(spec.start.toordinal() - 1)) + 1
    hi = data.row_of(spec.end) + 1
    return int((~np.isnan(data.panel["close"][lo:hi])).sum())


def _data_source(spec: BacktestSpec) -> dict[str, Any]:
    if spec.data_path:
        path = Path(spec.data_path)
        out: dict[str, Any] = {"source": "csv", "path": str(path.resolve())}
        if path.is_file():
            out["file_sha256"] = sha256_file(path)
        elif path.is_dir():
            out["files_sha256"] = {
                p.name: sha256_file(p) for p in sorted(path.iterdir()) if p.is_file() and ".csv" in p.name
            }
        return out
    return {"source": spec.provider or "settings (DATA_PROVIDER)"}
