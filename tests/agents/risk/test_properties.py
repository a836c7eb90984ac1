"""Properties of the pre-trade checks over random books and packs: limits hold after the approved trades."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agents.risk import RiskSettings, check_intents, mark
from agents.types import OrderIntent
from tests.agents.risk.helpers import NAV, books, intent, make_market, view_of

VIEW = view_of(make_market())
NAMES = ["AAPL", "MSFT", "JPM", "XOM", "NEE"]
LIMITS = RiskSettings(max_order_notional_nav=0.5, max_order_shares=5_000, max_var_nav=1.0)
EPS = 1e-6

positions = st.dictionaries(st.sampled_from(NAMES), st.integers(min_value=1, max_value=1_500), max_size=5)
orders = st.lists(
    st.tuples(st.sampled_from(NAMES), st.sampled_from(["buy", "sell"]), st.integers(min_value=1, max_value=4_000)),
    max_size=8,
)


def _intents(raw: list[tuple[str, str, int]]) -> list[OrderIntent]:
    return [intent(s, "buy" if side == "buy" else "sell", q, ref=VIEW.last_price(s) or 100.0) for s, side, q in raw]


@settings(max_examples=60, deadline=None)
@given(positions, orders)
def test_no_limit_is_made_worse_and_nav_is_unchanged(held: dict[str, int], raw: list[tuple[str, str, int]]) -> None:
    prices = VIEW.prices()
    book = books(NAV - sum(q * prices[s] for s, q in held.items()), {s: (float(q), 100.0) for s, q in held.items()})
    items = _intents(raw)
    result = check_intents(items, book, VIEW, LIMITS)
    before, after = mark(book, VIEW, LIMITS, NAMES), result.after
    nav = before.nav
    assert abs(after.nav - nav) < EPS * nav
    for v, i in zip(result.verdicts.items, sorted(items, key=lambda x: x.priority), strict=True):
        assert v.intent_id == i.id
        assert 0 <= v.qty <= i.qty
        assert v.approved == (v.qty > 0)
    for s in NAMES:
        pre, post = abs(before.value(s)), abs(after.value(s))
        assert post <= max(LIMITS.max_single_name_nav * nav, pre) + EPS * nav
    pre_sectors, post_sectors = before.sector_gross(), after.sector_gross()
    for sector, gross in post_sectors.items():
        assert gross <= max(LIMITS.max_sector_nav * nav, pre_sectors.get(sector, 0.0)) + EPS * nav
    assert after.gross <= max(LIMITS.max_gross_leverage * nav, before.gross) + EPS * nav


@settings(max_examples=30, deadline=None)
@given(orders)
def test_the_same_inputs_give_the_same_verdicts(raw: list[tuple[str, str, int]]) -> None:
    items = _intents(raw)
    first = check_intents(items, books(NAV), VIEW, RiskSettings())
    second = check_intents(items, books(NAV), VIEW, RiskSettings())
    assert first.verdicts == second.verdicts
