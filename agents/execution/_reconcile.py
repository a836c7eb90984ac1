"""Reconciliation rules, pure: the ledger against the venues, and the NAV identity to the cent.

- An order the ledger holds open is compared with the venue's answer: an ``unknown`` (or never-answered
  ``new``) order the venue never received becomes ``rejected``; one it holds becomes ``acknowledged``; one
  it finished (cancelled, expired, rejected) takes that status. Anything else (an acknowledged order the venue
  does not know, filled quantities that differ) is a mismatch.
- A working order at a venue that the ledger does not hold open is a mismatch (an orphan).
- Positions per symbol, ledger against the sum over venues: any difference is a mismatch.
- Cash: ledger cash = initial capital + the cash every venue's fills moved. NAV: the ledger's NAV equals
  cash + sum(qty x price) at the marks, and the same computed from the venues' side. To the cent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agents.execution._broker import BrokerAccount, BrokerOrder
from storage.records import Books, Order

QTY_TOLERANCE = 1e-6
CENT = 0.005  # "to the cent": an absolute difference under half a cent


@dataclass(frozen=True, slots=True)
class OrderResolution:
    """What to do with one open ledger order: a new status (or None) and any mismatch that must halt."""

    client_order_id: str
    status: str | None = None
    broker_order_id: str | None = None
    reason: str = ""
    mismatch: str = ""


def resolve_order(order: Order, at_venue: BrokerOrder | None) -> OrderResolution:
    coid = order.client_order_id
    if at_venue is None:
        if order.status in ("new", "unknown"):
            return OrderResolution(coid, "rejected", reason=f"{order.venue} never received it (reconciled)")
        return OrderResolution(coid, mismatch=f"{order.status} in the ledger, but {order.venue} has no record of it")
    if abs(at_venue.qty - order.qty) > QTY_TOLERANCE or at_venue.side != order.side or at_venue.symbol != order.symbol:
        return OrderResolution(coid, mismatch=f"{order.venue} holds different terms ({at_venue.side} {at_venue.qty}"
                                              f" {at_venue.symbol})")  # fmt: skip
    if abs(at_venue.filled_qty - order.filled_qty) > QTY_TOLERANCE:
        return OrderResolution(
            coid, mismatch=f"{order.venue} filled {at_venue.filled_qty:g}, the ledger {order.filled_qty:g}"
        )
    if at_venue.state == "working":
        if order.status in ("new", "unknown", "sent"):
            status = "partially_filled" if order.filled_qty > 0 else "acknowledged"
            return OrderResolution(coid, status, at_venue.broker_order_id, f"working at {order.venue} (reconciled)")
        return OrderResolution(coid)
    if at_venue.state == "filled":  # equal filled quantities, yet open in the ledger: the fills do not add up
        return OrderResolution(coid, mismatch=f"filled at {order.venue} but open in the ledger")
    return OrderResolution(
        coid, at_venue.state, at_venue.broker_order_id, f"{at_venue.state} at {order.venue}: {at_venue.reason}"
    )


def orphan_orders(venue_open: Mapping[str, BrokerOrder], ledger_open: Iterable[str]) -> dict[str, str]:
    """Working venue orders the ledger does not hold open."""
    known = set(ledger_open)
    return {
        coid: f"working at {o.venue} ({o.side} {o.qty:g} {o.symbol}) but not open in the ledger"
        for coid, o in venue_open.items()
        if coid not in known
    }


def venue_positions(accounts: Iterable[BrokerAccount]) -> dict[str, float]:
    total: dict[str, float] = {}
    for account in accounts:
        for symbol, qty in account.positions.items():
            total[symbol] = total.get(symbol, 0.0) + qty
    return {s: q for s, q in total.items() if abs(q) > QTY_TOLERANCE}


def position_diffs(ledger: Mapping[str, float], venues: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """Every symbol of either side whose quantities differ, in symbol order."""
    if ledger.keys() == venues.keys():  # the usual case: every position compared, none differs, no sorted union
        for symbol, qty in ledger.items():
            if not abs(qty - venues[symbol]) <= QTY_TOLERANCE:
                break
        else:
            return {}
    diffs: dict[str, dict[str, float]] = {}
    for symbol in sorted(set(ledger) | set(venues)):
        mine, theirs = ledger.get(symbol, 0.0), venues.get(symbol, 0.0)
        if abs(mine - theirs) > QTY_TOLERANCE:
            diffs[symbol] = {"ledger": mine, "venues": theirs, "diff": mine - theirs}
    return diffs


@dataclass(frozen=True, slots=True)
class NavCheck:
    nav: float
    cash: float
    marked_nav: float  # cash + sum(qty x mark), recomputed here
    venue_cash: float  # initial capital + the venues' cash flows
    venue_nav: float  # venue cash + sum(venue qty x mark)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def metrics(self) -> dict[str, Any]:
        return {
            "nav": self.nav,
            "cash": self.cash,
            "marked_nav": self.marked_nav,
            "venue_cash": self.venue_cash,
            "venue_nav": self.venue_nav,
            "problems": self.problems,
        }


def check_nav(
    books: Books,
    accounts: Iterable[BrokerAccount],
    marks: Mapping[str, float],
    at_venues: Mapping[str, float] | None = None,
    *,
    marked: bool = False,
) -> NavCheck:
    """The NAV identity, three ways, to the cent. ``marks``: today's prices (others use the ledger's last);
    ``at_venues``: :func:`venue_positions` of ``accounts`` when the caller has it already; ``marked``: the ledger's
    NAV is that of ``books`` once marked at ``marks`` (as :meth:`storage.ledger.Ledger.mark_books` leaves them),
    computed without building the marked books."""
    accounts = list(accounts)

    def mark(symbol: str) -> float:
        price = marks.get(symbol)
        if price is not None:
            return price
        held = books.positions.get(symbol)
        if held is None:
            return 0.0
        return held.last_price if held.last_price is not None else held.avg_cost

    cash = books.account.cash
    if marked:  # Books.nav of the marked books: the same products, summed in the same order
        nav = cash + sum(
            p.qty * marks.get(s, p.last_price if p.last_price is not None else p.avg_cost)
            for s, p in books.positions.items()
        )
    else:
        nav = books.nav
    marked_nav = cash + sum(p.qty * mark(s) for s, p in books.positions.items())
    venue_cash = books.account.initial_capital + sum(a.cash_flow for a in accounts)
    held = venue_positions(accounts) if at_venues is None else at_venues
    venue_nav = venue_cash + sum(q * mark(s) for s, q in held.items())
    problems = []
    if abs(nav - marked_nav) >= CENT:
        problems.append(f"ledger NAV {nav:.2f} != cash + sum(qty x price) {marked_nav:.2f}")
    if abs(cash - venue_cash) >= CENT:
        problems.append(f"ledger cash {cash:.2f} != initial capital + venue cash flows {venue_cash:.2f}")
    if abs(nav - venue_nav) >= CENT:
        problems.append(f"ledger NAV {nav:.2f} != NAV from the venues {venue_nav:.2f}")
    return NavCheck(nav, cash, marked_nav, venue_cash, venue_nav, problems)
