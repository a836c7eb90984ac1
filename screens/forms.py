"""What the operator types, checked before anything is sent: the resume sign-off, the kill confirmation and
the backtest launch form. Pure functions of the fields (and of today's date, given), tested without a screen.

These checks only spare a round trip: the runtime checks every request again and its refusal, with its
reason, is what the operator finally sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from runtime.payloads import ControlRequest

_TICKER = re.compile(r"^[A-Z][A-Z0-9.\-]{0,9}$")
MAX_SYMBOLS = 100
MAX_CAPITAL = 1e12


@dataclass(frozen=True)
class ResumeContext:
    """What the resume modal is prefilled with."""

    operator: str
    state: str
    incident_id: str = ""
    approvers_needed: int = 1
    reason: str = ""
    approver: str = ""
    refusal: str = ""


@dataclass(frozen=True)
class ResumeForm:
    reason: str
    incident_id: str
    approver: str

    def request(self) -> ControlRequest:
        return ControlRequest(
            reason=self.reason.strip(),
            incident_id=self.incident_id.strip() or None,
            approver=self.approver.strip() or None,
        )


def resume_problems(ctx: ResumeContext, form: ResumeForm) -> dict[str, str]:
    """Field -> what is missing, mirroring :func:`runtime.signoff.check_resume` (the runtime decides)."""
    problems: dict[str, str] = {}
    if ctx.state in ("HALTED", "DEGRADED", "REDUCING") and not form.reason.strip():
        problems["reason"] = "a reason is required"
    if ctx.state == "HALTED" and not form.incident_id.strip():
        problems["incident"] = "the open incident's id is required"
    if ctx.state == "HALTED" and ctx.approvers_needed >= 2:
        approver = form.approver.strip()
        if not approver:
            problems["approver"] = "a second approver is required"
        elif approver == ctx.operator:
            problems["approver"] = "the approver must be someone else"
    return problems


def kill_confirmed(typed: str, env: str) -> bool:
    """The typed confirmation of the kill switch: the environment's name, or ``KILL``."""
    given = typed.strip()
    return given == "KILL" or (bool(env) and given == env)


@dataclass(frozen=True)
class BacktestSpec:
    symbols: list[str]
    start: date
    end: date
    capital: float

    def request(self) -> ControlRequest:
        args: dict[str, Any] = {
            "symbols": self.symbols,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "capital": self.capital,
        }
        return ControlRequest(args=args)


@dataclass
class BacktestCheck:
    spec: BacktestSpec | None = None
    problems: dict[str, str] = field(default_factory=dict)


def check_backtest(symbols: str, start: str, end: str, capital: str, *, today: date) -> BacktestCheck:
    """Validate the launch form; ``spec`` is set only when every field is right."""
    problems: dict[str, str] = {}
    names = [s.strip().upper() for s in re.split(r"[,\s]+", symbols) if s.strip()]
    if not names:
        problems["symbols"] = "at least one symbol, e.g. AAPL, MSFT"
    elif len(names) > MAX_SYMBOLS:
        problems["symbols"] = f"at most {MAX_SYMBOLS} symbols"
    else:
        bad = [n for n in names if not _TICKER.match(n)]
        if bad:
            problems["symbols"] = f"not a ticker: {', '.join(bad[:3])}"
        elif len(set(names)) != len(names):
            problems["symbols"] = "a symbol is listed twice"
    first = _date(start, "start", problems)
    last = _date(end, "end", problems)
    if first and last:
        if first >= last:
            problems["end"] = "the end must come after the start"
        elif last > today:
            problems["end"] = f"the end is in the future (today is {today.isoformat()})"
    amount: float | None = None
    try:
        amount = float(capital.replace(",", "").replace("_", ""))
    except ValueError:
        problems["capital"] = "a number, e.g. 1000000"
    else:
        if not amount > 0:
            problems["capital"] = "must be positive"
        elif amount > MAX_CAPITAL:
            problems["capital"] = "too large"
    if problems or first is None or last is None or amount is None:
        return BacktestCheck(None, problems)
    return BacktestCheck(BacktestSpec(names, first, last, amount))


def _date(text: str, name: str, problems: dict[str, str]) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        problems[name] = "a date as YYYY-MM-DD"
        return None
