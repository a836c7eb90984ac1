"""Realised P&L attribution: which plug-ins opened a position, and what closing it made or lost.

Each intent carries its votes (``plugin -> weight x score``). The plug-ins that voted *for* the intent's
direction share it pro rata to their vote (``supporter_shares``). A fill that opens or adds to a position
blends those shares into the position's, weighted by quantity; a fill that reduces it realises
``qty x (price - average cost)`` and credits it to the plug-ins that opened the position, in their shares.
Commissions are charged to the plug-ins behind the fill's own intent. Attributed amounts of one fill sum to
its realised P&L less its commission (or to nothing, for a fill nobody voted for: see ``unattributed``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agents.types import FillReport, OrderIntent

_EPS = 1e-9
NOBODY = "(unattributed)"
"""The share of a position nobody voted for (never a plug-in name: parentheses cannot be in a topic segment)."""


def supporter_shares(intent: OrderIntent) -> dict[str, float]:
    """Plug-ins that voted in the intent's direction, pro rata to their vote; empty if nobody did."""
    direction = 1.0 if intent.side == "buy" else -1.0
    support = {p: v * direction for p, v in intent.votes.items() if v * direction > 0}
    total = sum(support.values())
    return {p: v / total for p, v in sorted(support.items())} if total > 0 else {}


@dataclass
class AttributedPosition:
    """The tracker's own small book of one symbol: quantity, average cost and who opened it."""

    qty: float = 0.0
    avg_cost: float = 0.0
    shares: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"qty": self.qty, "avg_cost": self.avg_cost, "shares": dict(self.shares)}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> AttributedPosition:
        return cls(float(doc["qty"]), float(doc["avg_cost"]), {str(k): float(v) for k, v in doc["shares"].items()})


def _blend(a: dict[str, float], wa: float, b: dict[str, float], wb: float) -> dict[str, float]:
    total = wa + wb
    if total <= 0:
        return {}
    keys = sorted(set(a) | set(b))
    out = {k: (a.get(k, 0.0) * wa + b.get(k, 0.0) * wb) / total for k in keys}
    return {k: v for k, v in out.items() if v > _EPS}


def attribute_fill(
    book: AttributedPosition, fill: FillReport, shares: dict[str, float]
) -> tuple[dict[str, float], float]:
    """Apply ``fill`` to ``book`` (in place). Returns ``(P&L per plug-in, unattributed P&L)`` in currency."""
    out: dict[str, float] = {}
    unattributed = 0.0

    def credit(amount: float, to: dict[str, float]) -> None:
        nonlocal unattributed
        for p, s in (to or {NOBODY: 1.0}).items():
            if p == NOBODY:
                unattributed += amount * s
            else:
                out[p] = out.get(p, 0.0) + amount * s

    if fill.commission:
        credit(-fill.commission, shares)
    dq = fill.qty if fill.side == "buy" else -fill.qty
    remaining = dq
    if book.qty != 0 and (book.qty > 0) != (dq > 0):
        closing = min(abs(dq), abs(book.qty))
        sign = 1.0 if book.qty > 0 else -1.0
        credit(closing * (fill.price - book.avg_cost) * sign, book.shares)
        book.qty -= sign * closing
        remaining = dq + sign * closing
        if abs(book.qty) < _EPS:
            book.qty, book.avg_cost, book.shares = 0.0, 0.0, {}
    if abs(remaining) > _EPS:
        new_qty = book.qty + remaining
        book.avg_cost = (book.avg_cost * abs(book.qty) + fill.price * abs(remaining)) / abs(new_qty)
        book.shares = _blend(book.shares or {NOBODY: 1.0}, abs(book.qty), shares or {NOBODY: 1.0}, abs(remaining))
        book.qty = new_qty
    return out, unattributed
