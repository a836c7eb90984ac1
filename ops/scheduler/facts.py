"""What the jobs read from the ledger: state, books, orders, NAV identity. Typed, JSON-ready, read fresh.

The same functions serve the in-process target (the runtime's own :class:`~storage.ledger.Ledger`) and the
remote one (a read-only connection to the daemon's ledger file on the same host).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from runtime.state import RuntimeState
from storage.ledger import Ledger

_HISTORY = 2000  # NAV points read back to find the day's starting NAV (a few sessions of ticks)
NAV_TOLERANCE = 0.01  # currency units: a recorded NAV point may differ from cash + positions by rounding only


@dataclass(frozen=True, slots=True)
class StateView:
    """The runtime's persisted state as read at job time."""

    state: RuntimeState
    reason: str = ""
    actor: str = ""
    since: datetime | None = None
    incident_id: str | None = None

    def describe(self) -> str:
        incident = f" [incident {self.incident_id}]" if self.incident_id else ""
        why = f": {self.reason}" if self.reason else ""
        return f"runtime is {self.state.value}{why}{incident}"

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "reason": self.reason,
            "actor": self.actor,
            "since": self.since.isoformat() if self.since else None,
            "incident_id": self.incident_id,
        }


@dataclass(frozen=True, slots=True)
class LedgerFacts:
    """Books and order facts for the pre-flight gate, reconciliation and the end-of-day snapshot."""

    integrity: str
    funded: bool
    nav: float
    cash: float
    initial_capital: float
    gross_exposure: float
    net_exposure: float
    open_orders: int
    unknown_orders: list[str] = field(default_factory=list)
    positions: dict[str, dict[str, float | None]] = field(default_factory=dict)
    last_nav_point: dict[str, Any] | None = None
    nav_identity_error: float | None = None  # |nav - (cash + net exposure)| of the last recorded NAV point
    start_of_day_nav: float | None = None  # the last NAV recorded before the day asked for (else initial capital)

    @property
    def problems(self) -> list[str]:
        """Why the ledger is not sane to trade on (empty when it is)."""
        return self.problems_for(health=False)

    def problems_for(self, *, health: bool) -> list[str]:
        """Integrity, finite figures and the NAV identity; for trading also orders left unreconciled."""
        out: list[str] = []
        if self.integrity != "ok":
            out.append(f"ledger integrity check: {self.integrity}")
        figures = {"NAV": self.nav, "cash": self.cash, "gross exposure": self.gross_exposure}
        out += [
            f"{name} is not a finite number ({value})" for name, value in figures.items() if not math.isfinite(value)
        ]
        if self.nav_identity_error is not None and self.nav_identity_error > NAV_TOLERANCE:
            point = self.last_nav_point or {}
            books = point.get("cash", 0) + point.get("net_exposure", 0)
            out.append(
                f"NAV identity broken: the NAV recorded at {point.get('ts')} is {point.get('nav')} but cash + net "
                f"exposure is {books} (off by {self.nav_identity_error:.4f})"
            )
        if self.unknown_orders and not health:
            ids = ", ".join(self.unknown_orders[:5]) + (" ..." if len(self.unknown_orders) > 5 else "")
            out.append(f"{len(self.unknown_orders)} order(s) in status 'unknown' need reconciliation ({ids})")
        return out

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


async def read_state(ledger: Ledger) -> StateView:
    """The persisted state (the ``runtime_state`` row), never a cached copy."""
    record = await ledger.state()
    if record is None:
        return StateView(RuntimeState.RUNNING, "no state recorded yet (first start)")
    return StateView(RuntimeState(record.state), record.reason, record.actor, record.since, record.incident_id)


async def read_facts(ledger: Ledger, day: date | None = None) -> LedgerFacts:
    """Books, orders and NAV checks; with ``day``, also the NAV the day started from (for its P&L)."""
    integrity = await ledger.integrity_check()
    books = await ledger.books()
    orders = await ledger.open_orders()
    points = await ledger.nav_history(limit=1)
    last = points[-1] if points else None
    start_nav: float | None = None
    if day is not None:
        earlier = [p for p in await ledger.nav_history(limit=_HISTORY) if p.session < day.isoformat()]
        start_nav = earlier[-1].nav if earlier else (books.account.initial_capital or None)
    positions = {
        symbol: {
            "qty": p.qty,
            "avg_cost": p.avg_cost,
            "last_price": p.last_price,
            "market_value": p.market_value,
            "realised_pnl": p.realised_pnl,
        }
        for symbol, p in books.positions.items()
    }
    return LedgerFacts(
        integrity=integrity,
        funded=books.account.initial_capital > 0,
        nav=books.nav,
        cash=books.account.cash,
        initial_capital=books.account.initial_capital,
        gross_exposure=books.gross_exposure,
        net_exposure=books.net_exposure,
        open_orders=len(orders),
        unknown_orders=[o.client_order_id for o in orders if o.status == "unknown"],
        positions=positions,
        last_nav_point=(
            {
                "ts": last.ts.isoformat(),
                "session": last.session,
                "nav": last.nav,
                "cash": last.cash,
                "gross_exposure": last.gross_exposure,
                "net_exposure": last.net_exposure,
            }
            if last
            else None
        ),
        nav_identity_error=abs(last.nav - (last.cash + last.net_exposure)) if last else None,
        start_of_day_nav=start_nav,
    )
