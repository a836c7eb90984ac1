"""The only way from verdicts to orders: :func:`final_orders`. A compliance veto cannot be overridden.

Execution must call this and nothing else to learn what it may send. An intent becomes an order only when
risk *and* compliance approved it, at the smallest quantity any of them allowed. A duplicated verdict cannot
sneak an approval past a veto (any veto wins), and a risk-approved intent without a compliance verdict stops
the tick: the gate fails closed.
"""

from __future__ import annotations

from collections import defaultdict

from agents.types import OrderIntent, TradePack, Verdict, Verdicts


class ComplianceGateError(RuntimeError):
    """The verdicts do not add up (missing, mislabelled or mismatched): nothing may be sent."""


def _collect(verdicts: Verdicts, agent: str) -> dict[str, list[Verdict]]:
    if verdicts.agent != agent:
        raise ComplianceGateError(f"{agent} verdicts expected, got verdicts from {verdicts.agent}")
    found: dict[str, list[Verdict]] = defaultdict(list)
    for verdict in verdicts.items:
        found[verdict.intent_id].append(verdict)
    return found


def _allowed(found: list[Verdict], intent: OrderIntent, agent: str) -> float:
    """The quantity ``agent`` allows for ``intent`` (0 if any of its verdicts on it is a rejection)."""
    for verdict in found:
        if verdict.symbol != intent.symbol:
            raise ComplianceGateError(
                f"{agent} verdict on intent {intent.id} names {verdict.symbol}, the intent {intent.symbol}"
            )
    if not found or not all(v.approved for v in found):
        return 0.0
    return min(v.qty for v in found)


def final_orders(
    trade_pack: TradePack | None, risk_verdicts: Verdicts | None, compliance_verdicts: Verdicts | None
) -> list[tuple[OrderIntent, float]]:
    """The intents both risk and compliance approved, in priority order, each with the quantity to send.

    Raises:
        ComplianceGateError: a risk-approved intent has no compliance verdict, or the verdicts are not from
            the agents they claim to be, or name another symbol than the intent.
    """
    if trade_pack is None or risk_verdicts is None:
        return []  # nothing was approved by risk: nothing goes out
    risk = _collect(risk_verdicts, "risk")
    compliance = _collect(compliance_verdicts, "compliance") if compliance_verdicts is not None else {}
    out: list[tuple[OrderIntent, float]] = []
    ordered = sorted(enumerate(trade_pack.intents), key=lambda e: (e[1].priority, e[0]))
    for _, intent in ordered:
        risk_qty = _allowed(risk.get(intent.id, []), intent, "risk")
        if risk_qty <= 0:
            continue
        if intent.id not in compliance:
            raise ComplianceGateError(
                f"risk approved intent {intent.id} ({intent.side} {intent.symbol}) but compliance gave no verdict: "
                "failing closed"
            )
        qty = min(intent.qty, risk_qty, _allowed(compliance[intent.id], intent, "compliance"))
        if qty > 0:
            out.append((intent, qty))
    return out


def final_intents(
    trade_pack: TradePack | None, risk_verdicts: Verdicts | None, compliance_verdicts: Verdicts | None
) -> list[OrderIntent]:
    """:func:`final_orders` as intents whose ``qty`` is the quantity to send (same rules, same failures)."""
    return [
        intent if qty == intent.qty else intent.model_copy(update={"qty": qty})
        for intent, qty in final_orders(trade_pack, risk_verdicts, compliance_verdicts)
    ]
