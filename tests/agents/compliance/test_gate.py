"""final_orders: only intents approved by both risk and compliance go out; it fails closed."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents.compliance import ComplianceGateError, final_intents, final_orders
from agents.types import TradePack, Verdict, Verdicts
from tests.agents.risk.helpers import intent

A = intent("AAPL", "buy", 100, id="a", priority=1)
B = intent("JPM", "buy", 50, id="b", priority=0)
PACK = TradePack(as_of=date(2024, 1, 2), intents=[A, B])


def ok(i: str, symbol: str, qty: float) -> Verdict:
    return Verdict(intent_id=i, symbol=symbol, approved=True, qty=qty)


def no(i: str, symbol: str, why: str = "rule: detail") -> Verdict:
    return Verdict(intent_id=i, symbol=symbol, approved=False, qty=0, reasons=[why])


def risk(*items: Verdict) -> Verdicts:
    return Verdicts(agent="risk", items=list(items))


def comp(*items: Verdict) -> Verdicts:
    return Verdicts(agent="compliance", items=list(items))


def test_both_approve_in_priority_order_at_the_smallest_quantity() -> None:
    orders = final_orders(
        PACK, risk(ok("a", "AAPL", 60), ok("b", "JPM", 50)), comp(ok("a", "AAPL", 60), ok("b", "JPM", 40))
    )
    assert orders == [(B, 40), (A, 60)]


def test_a_compliance_veto_removes_the_intent() -> None:
    orders = final_orders(
        PACK, risk(ok("a", "AAPL", 100), ok("b", "JPM", 50)), comp(no("a", "AAPL"), ok("b", "JPM", 50))
    )
    assert orders == [(B, 50)]


def test_a_risk_rejection_needs_no_compliance_verdict() -> None:
    assert final_orders(PACK, risk(no("a", "AAPL"), ok("b", "JPM", 50)), comp(ok("b", "JPM", 50))) == [(B, 50)]


def test_a_missing_compliance_verdict_fails_closed() -> None:
    with pytest.raises(ComplianceGateError, match="compliance gave no verdict"):
        final_orders(PACK, risk(ok("a", "AAPL", 100), ok("b", "JPM", 50)), comp(ok("b", "JPM", 50)))
    with pytest.raises(ComplianceGateError, match="failing closed"):
        final_orders(PACK, risk(ok("b", "JPM", 50)), None)


def test_without_risk_verdicts_nothing_goes_out() -> None:
    assert final_orders(PACK, None, comp(ok("a", "AAPL", 100), ok("b", "JPM", 50))) == []
    assert final_orders(None, risk(ok("a", "AAPL", 100)), comp(ok("a", "AAPL", 100))) == []


def test_a_compliance_approval_cannot_raise_riskss_quantity() -> None:
    assert final_orders(PACK, risk(ok("a", "AAPL", 30)), comp(ok("a", "AAPL", 100))) == [(A, 30)]


def test_mislabelled_verdicts_are_refused() -> None:
    with pytest.raises(ComplianceGateError, match="compliance verdicts expected"):
        final_orders(PACK, risk(ok("a", "AAPL", 100)), risk(ok("a", "AAPL", 100)))
    with pytest.raises(ComplianceGateError, match="risk verdicts expected"):
        final_orders(PACK, comp(ok("a", "AAPL", 100)), comp(ok("a", "AAPL", 100)))


def test_a_verdict_on_another_symbol_is_refused() -> None:
    with pytest.raises(ComplianceGateError, match="names MSFT"):
        final_orders(PACK, risk(ok("a", "AAPL", 100)), comp(ok("a", "MSFT", 100)))


@pytest.mark.parametrize("veto_first", [True, False])
def test_a_duplicated_approval_cannot_override_a_veto(veto_first: bool) -> None:
    pair = [no("a", "AAPL"), ok("a", "AAPL", 100)]
    verdicts = comp(*(pair if veto_first else pair[::-1]))
    assert final_orders(PACK, risk(ok("a", "AAPL", 100)), verdicts) == []


_verdict = st.tuples(st.booleans(), st.floats(min_value=0, max_value=200, allow_nan=False))


@given(st.lists(st.tuples(_verdict, _verdict), min_size=1, max_size=6))
def test_every_order_was_approved_by_both_and_sized_by_both(cases: list[tuple[tuple[bool, float], ...]]) -> None:
    intents = [intent("AAPL", "buy", 100, id=f"x{n}", priority=n % 3) for n in range(len(cases))]
    pack = TradePack(as_of=date(2024, 1, 2), intents=intents)
    r = [
        Verdict(intent_id=i.id, symbol="AAPL", approved=ra, qty=rq)
        for i, ((ra, rq), _) in zip(intents, cases, strict=True)
    ]
    c = [
        Verdict(intent_id=i.id, symbol="AAPL", approved=ca, qty=cq)
        for i, (_, (ca, cq)) in zip(intents, cases, strict=True)
    ]
    orders = final_orders(pack, Verdicts(agent="risk", items=r), Verdicts(agent="compliance", items=c))
    by_id = {i.id: n for n, i in enumerate(intents)}
    for item, qty in orders:
        (ra, rq), (ca, cq) = cases[by_id[item.id]]
        assert ra
        assert ca
        assert 0 < qty <= min(rq, cq, item.qty)
    assert [i.priority for i, _ in orders] == sorted(i.priority for i, _ in orders)


def test_final_intents_carry_the_quantity_to_send() -> None:
    (only,) = final_intents(PACK, risk(ok("a", "AAPL", 30)), comp(ok("a", "AAPL", 100)))
    assert only.id == "a"
    assert only.qty == 30
    assert A.qty == 100  # the pack's intent is untouched (frozen)
    with pytest.raises(ComplianceGateError):
        final_intents(PACK, risk(ok("a", "AAPL", 30)), comp())
