"""The pre-flight gate before the execution window: every reason not to trade, checked at once.

Five checks, all run (an operator fixing one problem should see all of them): data providers, the calendar
(a session, and inside its hours), the kill-switch latch (the persisted state must trade: HALTED, DEGRADED
and PAUSED all block), ledger sanity (integrity, finite books, the NAV identity of the last recorded NAV
point, no order left in ``unknown``) and the risk and compliance limits against the approved baseline.
The gate fails closed: a check that cannot be made (an exception, a ledger out of reach) blocks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from agents.data import DataProvider
from ops.scheduler import limits as lim
from ops.scheduler.calendar import TradingCalendar
from ops.scheduler.health import provider_check
from ops.scheduler.target import JobTarget
from runtime.state import RuntimeState


@dataclass(frozen=True, slots=True)
class GateCheck:
    name: str
    ok: bool
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GateResult:
    ok: bool
    at: datetime
    window: datetime
    checks: list[GateCheck]

    @property
    def reasons(self) -> list[str]:
        return [f"{c.name}: {c.detail}" for c in self.checks if not c.ok]

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "at": self.at.isoformat(),
            "window": self.window.isoformat(),
            "reasons": self.reasons,
            "checks": [asdict(c) for c in self.checks],
        }


class PreflightGate:
    def __init__(
        self,
        target: JobTarget,
        calendar: TradingCalendar,
        *,
        providers: Callable[[], Sequence[DataProvider]] = tuple,
        limits: lim.LimitsSource = lim.default_limits,
    ) -> None:
        self.target = target
        self.calendar = calendar
        self.providers = providers
        self.limits = limits

    async def evaluate(self, at: datetime, *, window: datetime | None = None) -> GateResult:
        """Check now (``at``) whether trading may happen at ``window`` (default: now)."""
        when = window or at
        steps: list[tuple[str, Callable[[], Awaitable[GateCheck]]]] = [
            ("providers", self._providers),
            ("calendar", lambda: self._calendar(when)),
            ("kill_switch", self._latch),
            ("ledger", self._ledger),
            ("limits", self._limits),
        ]
        checks: list[GateCheck] = []
        for name, step in steps:
            try:
                checks.append(await step())
            except Exception as exc:  # fail closed
                checks.append(GateCheck(name, False, f"could not be checked: {type(exc).__name__}: {exc}"))
        return GateResult(all(c.ok for c in checks), at, when, checks)

    async def _providers(self) -> GateCheck:
        result = await provider_check(self.providers(), await self.target.health())
        return GateCheck("providers", result.ok, result.detail, result.data)

    async def _calendar(self, when: datetime) -> GateCheck:
        session = self.calendar.session_at(when)
        day = self.calendar.local_date(when)
        if session is None:
            return GateCheck("calendar", False, f"{day.isoformat()} is not a {self.calendar.code} session")
        data = {"session": day.isoformat(), "open": session.open.isoformat(), "close": session.close.isoformat()}
        if not session.contains(when):
            return GateCheck(
                "calendar",
                False,
                f"{when.isoformat()} is outside the session's hours ({session.open:%H:%M}-{session.close:%H:%M} UTC)",
                data,
            )
        early = " (early close)" if session.early_close else ""
        return GateCheck("calendar", True, f"session {day.isoformat()} open{early}", data)

    async def _latch(self) -> GateCheck:
        view = await self.target.state()
        data = view.to_json()
        if view.state == RuntimeState.HALTED:
            return GateCheck(
                "kill_switch",
                False,
                f"kill switch latched: HALTED since {data['since']} [incident {view.incident_id}]; "
                "only a signed-off resume releases it",
                data,
            )
        if not view.state.trades:
            return GateCheck("kill_switch", False, view.describe(), data)
        return GateCheck("kill_switch", True, f"not latched ({view.state.value})", data)

    async def _ledger(self) -> GateCheck:
        facts = await self.target.facts()
        problems = facts.problems
        data = {"nav": facts.nav, "open_orders": facts.open_orders, "integrity": facts.integrity}
        return GateCheck("ledger", not problems, "; ".join(problems) or "integrity ok, NAV identity holds", data)

    async def _limits(self) -> GateCheck:
        baseline = lim.parse_baseline(await self.target.get_json(lim.NAMESPACE, lim.KEY))
        verdict = lim.compare(self.limits(), baseline)
        return GateCheck("limits", verdict.ok, verdict.reason, verdict.to_json())
