"""Which intents become orders: only those approved by risk AND compliance, at the smaller approved quantity.

``agents.compliance.final_orders(trade_pack, risk_verdicts, compliance_verdicts)`` is the rule's owner (the gate
no agent can override). Execution calls it and, whatever it returns, re-checks every order against both verdict
sets with :func:`screen_intents`, which fails closed on its own: a missing verdict set, a missing or repeated
verdict, a verdict naming another symbol or a zero quantity all mean no order. An order leaves only if both say
so, at the smaller of their quantities.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agents.compliance import final_orders as compliance_final_orders
from agents.types import OrderIntent, TradePack, Verdicts

FinalOrdersFn = Callable[[TradePack, Verdicts, Verdicts], Any]


@dataclass(frozen=True, slots=True)
class FinalOrders:
    """Orders to send in priority order, and why each other intent is not one (intent id -> reason)."""

    orders: list[OrderIntent] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)
    fail_closed: dict[str, str] = field(default_factory=dict)  # dropped for a missing/invalid verdict


def screen_intents(pack: TradePack | None, risk: Verdicts | None, compliance: Verdicts | None) -> FinalOrders:
    """The strict rule: approved by both, quantity = min(intent, risk, compliance), priority order."""
    if pack is None or not pack.intents:
        return FinalOrders()
    if risk is None or compliance is None or risk.agent != "risk" or compliance.agent != "compliance":
        why = "no risk and compliance verdict sets: fail closed"
        return FinalOrders([], {i.id: why for i in pack.intents}, {i.id: why for i in pack.intents})
    ids = Counter(i.id for i in pack.intents)
    r_count, c_count = Counter(v.intent_id for v in risk.items), Counter(v.intent_id for v in compliance.items)
    r_by, c_by = risk.by_intent(), compliance.by_intent()
    orders: list[tuple[int, int, OrderIntent]] = []
    dropped: dict[str, str] = {}
    closed: dict[str, str] = {}
    for index, intent in enumerate(pack.intents):
        rv, cv = r_by.get(intent.id), c_by.get(intent.id)
        if ids[intent.id] > 1 or r_count[intent.id] > 1 or c_count[intent.id] > 1:
            dropped[intent.id] = closed[intent.id] = "ambiguous: the intent or a verdict on it is repeated: fail closed"
            continue
        if rv is None or cv is None:
            missing = "risk" if rv is None else "compliance"
            dropped[intent.id] = closed[intent.id] = f"no {missing} verdict: fail closed"
            continue
        if rv.symbol != intent.symbol or cv.symbol != intent.symbol:
            dropped[intent.id] = closed[intent.id] = "a verdict names another symbol: fail closed"
            continue
        if not rv.approved or not cv.approved:
            vetoes = [f"{name}: {'; '.join(v.reasons) or 'not approved'}"
                      for name, v in (("risk", rv), ("compliance", cv)) if not v.approved]  # fmt: skip
            dropped[intent.id] = " | ".join(vetoes)
            continue
        qty = min(intent.qty, rv.qty, cv.qty)
        if qty <= 0:
            dropped[intent.id] = "approved quantity is zero"
            continue
        order = intent if qty == intent.qty else intent.model_copy(update={"qty": qty})
        orders.append((intent.priority, index, order))
    orders.sort(key=lambda t: (t[0], t[1]))
    return FinalOrders([o for _, _, o in orders], dropped, closed)


def _as_orders(answer: Any) -> list[OrderIntent]:
    """The rule's answer as intents carrying the quantity to send: ``(intent, qty)`` pairs or intents."""
    if not isinstance(answer, list | tuple):
        raise TypeError(f"the final-orders rule returned {type(answer).__name__}, not a list")
    orders: list[OrderIntent] = []
    for item in answer:
        if isinstance(item, OrderIntent):
            orders.append(item)
        elif (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], OrderIntent)
              and isinstance(item[1], int | float) and not isinstance(item[1], bool)):  # fmt: skip
            intent, qty = item
            if qty > 0:
                orders.append(intent if qty == intent.qty else intent.model_copy(update={"qty": float(qty)}))
        else:
            raise TypeError(f"the final-orders rule returned a {type(item).__name__}, not (OrderIntent, qty)")
    return orders


def resolve_final_orders(
    pack: TradePack | None,
    risk: Verdicts | None,
    compliance: Verdicts | None,
    *,
    rule: FinalOrdersFn | None = compliance_final_orders,
) -> FinalOrders:
    """The orders to send: the compliance gate's answer intersected with :func:`screen_intents`.

    Raises:
        ComplianceGateError: the gate found the verdicts inconsistent (fail closed: send nothing).
        TypeError: the rule answered something that is not a list of orders (fail closed).
    """
    strict = screen_intents(pack, risk, compliance)
    if rule is None or pack is None or risk is None or compliance is None or not strict.orders:
        return strict
    answer = _as_orders(rule(pack, risk, compliance))
    allowed = {o.id: o for o in strict.orders}
    chosen: dict[str, OrderIntent] = {}
    dropped = dict(strict.dropped)
    for order in answer:
        mine = allowed.get(order.id)
        if mine is None or order.symbol != mine.symbol or order.side != mine.side or order.id in chosen:
            continue  # not approved by both (or malformed): never sent, whatever the rule says
        qty = min(order.qty, mine.qty)
        chosen[order.id] = mine if qty == mine.qty else mine.model_copy(update={"qty": qty})
    for intent_id in allowed.keys() - chosen.keys():
        dropped[intent_id] = "not among the compliance gate's final orders"
    return FinalOrders([chosen[o.id] for o in strict.orders if o.id in chosen], dropped, strict.fail_closed)


def final_orders_fallback(
    trade_pack: TradePack, risk_verdicts: Verdicts, compliance_verdicts: Verdicts
) -> list[OrderIntent]:
    """The local stand-in for ``agents.compliance.final_orders``, with its exact signature (equally strict)."""
    return screen_intents(trade_pack, risk_verdicts, compliance_verdicts).orders
