"""Only intents approved by risk AND compliance become orders, at the smaller quantity; anything unclear fails
closed, and no compliance rule can widen what both verdict sets allow."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from agents.compliance import ComplianceGateError
from agents.execution import final_orders_fallback, resolve_final_orders, screen_intents
from agents.types import OrderIntent, TradePack, Verdict, Verdicts
from tests.agents.execution._helpers import intent, verdicts

DAY = date(2024, 1, 3)
A = intent("i-a", "AAA", "buy", 100, 100.0, priority=1)
B = intent("i-b", "BBB", "sell", 50, 200.0, priority=0)
C = intent("i-c", "CCC", "buy", 10, 300.0, priority=1)
PACK = TradePack(as_of=DAY, intents=[A, B, C])


def both(*intents: OrderIntent) -> tuple[Verdicts, Verdicts]:
    return verdicts("risk", list(intents)), verdicts("compliance", list(intents))


def test_approved_by_both_in_priority_order_then_pack_order() -> None:
    final = screen_intents(PACK, *both(A, B, C))
    assert [o.id for o in final.orders] == ["i-b", "i-a", "i-c"]
    assert final.dropped == {}
    assert final_orders_fallback(PACK, *both(A, B, C)) == final.orders


def test_quantity_is_the_smaller_approval() -> None:
    risk = Verdicts(agent="risk", items=[Verdict(intent_id="i-a", symbol="AAA", approved=True, qty=60)])
    compliance = Verdicts(agent="compliance", items=[Verdict(intent_id="i-a", symbol="AAA", approved=True, qty=80)])
    (order,) = screen_intents(TradePack(as_of=DAY, intents=[A]), risk, compliance).orders
    assert order.qty == 60
    wider = Verdicts(agent="risk", items=[Verdict(intent_id="i-a", symbol="AAA", approved=True, qty=500)])
    (order,) = screen_intents(TradePack(as_of=DAY, intents=[A]), wider, compliance).orders
    assert order.qty == 80  # a verdict never raises the intent's quantity above the other approval


@pytest.mark.parametrize("vetoer", ["risk", "compliance"])
def test_a_veto_by_either_blocks(vetoer: str) -> None:
    risk, compliance = both(A)
    veto = Verdicts(agent=vetoer, items=[Verdict(intent_id="i-a", symbol="AAA", approved=False, qty=0,
                                                 reasons=["single_name: 12% > 10%"])])  # fmt: skip
    final = screen_intents(TradePack(as_of=DAY, intents=[A]), *(
        (veto, compliance) if vetoer == "risk" else (risk, veto)))  # fmt: skip
    assert final.orders == []
    assert final.dropped["i-a"] == f"{vetoer}: single_name: 12% > 10%"
    assert final.fail_closed == {}


@pytest.mark.parametrize("missing", ["risk", "compliance", "both"])
def test_a_missing_verdict_set_fails_closed(missing: str) -> None:
    risk, compliance = both(A, B, C)
    final = screen_intents(PACK, None if missing != "compliance" else risk, None if missing != "risk" else compliance)
    assert final.orders == []
    assert set(final.fail_closed) == {"i-a", "i-b", "i-c"}


def test_swapped_verdict_sets_fail_closed() -> None:
    risk, compliance = both(A)
    assert screen_intents(TradePack(as_of=DAY, intents=[A]), compliance, risk).orders == []


def test_a_missing_verdict_on_one_intent_fails_closed_for_that_intent() -> None:
    final = screen_intents(PACK, verdicts("risk", [A, B, C]), verdicts("compliance", [A, C]))
    assert [o.id for o in final.orders] == ["i-a", "i-c"]
    assert final.fail_closed == {"i-b": "no compliance verdict: fail closed"}


def test_a_verdict_on_another_symbol_fails_closed() -> None:
    risk = Verdicts(agent="risk", items=[Verdict(intent_id="i-a", symbol="ZZZ", approved=True, qty=100)])
    final = screen_intents(TradePack(as_of=DAY, intents=[A]), risk, verdicts("compliance", [A]))
    assert final.orders == []
    assert "another symbol" in final.fail_closed["i-a"]


def test_duplicated_verdicts_fail_closed() -> None:
    risk = verdicts("risk", [A, A])
    final = screen_intents(TradePack(as_of=DAY, intents=[A]), risk, verdicts("compliance", [A]))
    assert final.orders == []
    assert "ambiguous" in final.fail_closed["i-a"]


def test_zero_approved_quantity_sends_nothing() -> None:
    final = screen_intents(TradePack(as_of=DAY, intents=[A]), verdicts("risk", [A], qty=0), verdicts("compliance", [A]))
    assert final.orders == []


def test_no_pack_no_orders() -> None:
    assert screen_intents(None, *both(A)).orders == []


def test_a_compliance_rule_cannot_widen_both_approvals() -> None:
    unapproved = intent("i-x", "XXX", "buy", 1, 1.0)

    def generous(pack: TradePack, risk: Verdicts, compliance: Verdicts) -> list[OrderIntent]:
        return [A.model_copy(update={"qty": 10_000}), unapproved, C]

    final = resolve_final_orders(PACK, verdicts("risk", [A, C]), verdicts("compliance", [A, C]), rule=generous)
    assert [(o.id, o.qty) for o in final.orders] == [("i-a", 100), ("i-c", 10)]


def test_a_compliance_rule_may_narrow() -> None:
    def narrow(pack: TradePack, risk: Verdicts, compliance: Verdicts) -> list[OrderIntent]:
        return [C.model_copy(update={"qty": 4})]

    final = resolve_final_orders(PACK, *both(A, B, C), rule=narrow)
    assert [(o.id, o.qty) for o in final.orders] == [("i-c", 4)]
    assert final.dropped["i-a"] == "not among the compliance gate's final orders"


def test_a_compliance_rule_answering_junk_fails_closed() -> None:
    def junk(pack: TradePack, risk: Verdicts, compliance: Verdicts) -> Any:
        return {"orders": []}

    with pytest.raises(TypeError, match="not a list"):
        resolve_final_orders(PACK, *both(A), rule=junk)

    def pairs_of_junk(pack: TradePack, risk: Verdicts, compliance: Verdicts) -> Any:
        return [(A, "100")]

    with pytest.raises(TypeError, match=r"not \(OrderIntent, qty\)"):
        resolve_final_orders(PACK, *both(A), rule=pairs_of_junk)


def test_the_default_rule_is_the_compliance_gate() -> None:
    risk = Verdicts(agent="risk", items=[Verdict(intent_id="i-a", symbol="AAA", approved=True, qty=70),
                                         *verdicts("risk", [B, C]).items])  # fmt: skip
    final = resolve_final_orders(PACK, risk, verdicts("compliance", [A, B, C]))
    assert [(o.id, o.qty) for o in final.orders] == [("i-b", 50), ("i-a", 70), ("i-c", 10)]


def test_the_compliance_gate_refusing_inconsistent_verdicts_propagates() -> None:
    """Risk approved i-b but compliance said nothing about it: the gate fails closed for the whole pack."""
    with pytest.raises(ComplianceGateError, match="no verdict"):
        resolve_final_orders(PACK, verdicts("risk", [A, B, C]), verdicts("compliance", [A, C]))


def test_pairs_with_a_quantity_are_understood() -> None:
    def pairs(pack: TradePack, risk: Verdicts, compliance: Verdicts) -> Any:
        return [(B, 20), (A, 0)]

    final = resolve_final_orders(PACK, *both(A, B, C), rule=pairs)
    assert [(o.id, o.qty) for o in final.orders] == [("i-b", 20)]
