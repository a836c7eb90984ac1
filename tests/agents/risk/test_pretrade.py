"""Each pre-trade rule fires on a crafted case and stays quiet on its mirror case.

The default market prices every symbol at 100 today with 1M shares of daily volume; NAV is 1,000,000, so 100
shares are 0.01% of NAV and 1,000 shares 10%.
"""

from __future__ import annotations

import pytest

from agents.market import MarketView
from agents.risk import PretradeContext, RiskSettings, Rule, check_intents
from agents.types import OrderIntent, Verdict
from storage.records import Books
from tests.agents.risk.helpers import NAV, books, intent, make_market, view_of

VIEW = view_of(make_market())
FLAT = books(NAV)


def one(
    item: OrderIntent,
    book: Books = FLAT,
    settings: RiskSettings | None = None,
    context: PretradeContext | None = None,
    view: MarketView = VIEW,
) -> Verdict:
    result = check_intents([item], book, view, settings or RiskSettings(), context)
    assert len(result.verdicts.items) == 1
    return result.verdicts.items[0]


def rules(verdict: Verdict) -> list[str]:
    return [r.split(":", 1)[0] for r in verdict.reasons]


def test_a_plain_order_is_approved_in_full_with_no_reasons() -> None:
    v = one(intent("AAPL", "buy", 300))
    assert v.approved
    assert v.qty == 300
    assert v.reasons == []


def test_verdicts_are_from_risk_and_in_priority_order() -> None:
    a, b = intent("AAPL", "buy", 10, priority=2), intent("JPM", "buy", 10, priority=0)
    result = check_intents([a, b], FLAT, VIEW, RiskSettings())
    assert result.verdicts.agent == "risk"
    assert [v.intent_id for v in result.verdicts.items] == [b.id, a.id]


# -- single name: against NAV, never against cash ---------------------------------------------------------------
def _invested_book() -> Books:
    """NAV 1,000,000 with only 300,000 of cash; AAPL 450 shares (4.5% NAV)."""
    positions = {
        "AAPL": (450.0, 100.0),
        "MSFT": (800.0, 100.0),
        "JPM": (950.0, 100.0),
        "BAC": (950.0, 100.0),
        "XOM": (950.0, 100.0),
        "CVX": (950.0, 100.0),
        "JNJ": (950.0, 100.0),
        "PFE": (1000.0, 100.0),
    }
    book = books(300_000.0, positions)
    assert book.nav == pytest.approx(NAV)
    return book


def test_a_position_worth_9pct_of_nav_but_30pct_of_cash_is_allowed() -> None:
    book = _invested_book()
    v = one(intent("AAPL", "buy", 450), book)
    post_value = (450 + 450) * 100.0
    assert post_value / NAV == pytest.approx(0.09)
    assert post_value / book.account.cash == pytest.approx(0.30)
    assert v.approved
    assert v.qty == 450
    assert v.reasons == []


def test_11pct_of_nav_is_cut_to_the_10pct_single_name_limit() -> None:
    settings = RiskSettings(max_order_notional_nav=0.5)
    v = one(intent("AAPL", "buy", 1100), settings=settings)
    assert v.approved
    assert v.qty == 1000
    assert rules(v) == ["single_name"]
    assert "AAPL would be 11.0% of NAV > 10.0%" in v.reasons[0]


def test_a_name_already_at_the_limit_cannot_grow_but_can_shrink() -> None:
    book = books(NAV - 100_000, {"AAPL": (1000.0, 100.0)})
    buy = one(intent("AAPL", "buy", 10), book)
    assert not buy.approved
    assert buy.qty == 0
    assert rules(buy) == ["single_name"]
    sell = one(intent("AAPL", "sell", 500), book)
    assert sell.approved
    assert sell.qty == 500


def test_an_over_limit_name_may_be_reduced_even_if_it_stays_over() -> None:
    book = books(NAV - 150_000, {"AAPL": (1500.0, 100.0)})
    v = one(intent("AAPL", "sell", 100), book)
    assert v.approved
    assert v.qty == 100


# -- sector ---------------------------------------------------------------------------------------------------------
def test_sector_gross_is_cut_at_25pct_of_nav() -> None:
    book = books(NAV - 200_000, {"MSFT": (1000.0, 100.0), "NVDA": (1000.0, 100.0)})
    v = one(intent("AAPL", "buy", 1000), book, RiskSettings(max_order_notional_nav=0.5))
    assert v.approved
    assert v.qty == 500
    assert rules(v) == ["sector"]
    assert "sector Technology would be 30.0% of NAV > 25.0%" in v.reasons[0]


def test_another_sector_is_not_limited_by_technology() -> None:
    book = books(NAV - 200_000, {"MSFT": (1000.0, 100.0), "NVDA": (1000.0, 100.0)})
    v = one(intent("JPM", "buy", 500), book)
    assert v.approved
    assert v.qty == 500


def test_unknown_sectors_pool_by_default_and_can_stand_alone() -> None:
    data = make_market(last={"AAA": 100.0, "BBB": 100.0, "CCC": 100.0}, sectors={})
    view = view_of(data)
    book = books(NAV - 200_000, {"AAA": (1000.0, 100.0), "BBB": (1000.0, 100.0)})
    pooled = one(intent("CCC", "buy", 500), book, view=view)
    assert pooled.approved
    assert pooled.qty == 500
    over = one(intent("CCC", "buy", 600, ref=100.0), book, RiskSettings(max_order_notional_nav=0.5), view=view)
    assert over.qty == 500
    assert rules(over) == ["sector"]
    alone = one(
        intent("CCC", "buy", 600),
        book,
        RiskSettings(max_order_notional_nav=0.5, unknown_sector="per_symbol"),
        view=view,
    )
    assert alone.qty == 600


# -- gross leverage -------------------------------------------------------------------------------------------------
def _levered_book() -> Books:
    """Gross 0.80x of NAV across four sectors (each within its limit); Utilities empty."""
    positions = {
        "AAPL": (950.0, 100.0),
        "MSFT": (950.0, 100.0),
        "JPM": (950.0, 100.0),
        "BAC": (950.0, 100.0),
        "XOM": (950.0, 100.0),
        "CVX": (950.0, 100.0),
        "JNJ": (950.0, 100.0),
        "PFE": (950.0, 100.0),
        "NVDA": (400.0, 100.0),
    }
    return books(NAV - 800_000.0, positions)


def test_gross_leverage_is_cut_at_the_limit() -> None:
    book = _levered_book()
    assert book.gross_exposure / book.nav == pytest.approx(0.80)
    settings = RiskSettings(max_gross_leverage=0.83)
    v = one(intent("NEE", "buy", 500), book, settings)
    assert v.approved
    assert v.qty == 300
    assert rules(v) == ["gross_leverage"]
    assert "gross would be 0.85x NAV > 0.83x" in v.reasons[0]
    assert one(intent("NEE", "buy", 300), book, settings).reasons == []


def test_default_gross_limit_is_1_2x() -> None:
    held = {s: (2300.0, 100.0) for s in ("AAPL", "JPM", "XOM", "JNJ", "NEE")}
    book = books(NAV - 1_150_000.0, held)
    assert book.gross_exposure / book.nav == pytest.approx(1.15)
    loose = RiskSettings(max_single_name_nav=0.5, max_sector_nav=0.5, max_var_nav=1.0)
    v = one(intent("BAC", "buy", 500), book, loose)
    assert v.approved
    assert v.qty == 500
    assert v.reasons == []
    v = one(
        intent("BAC", "buy", 600),
        book,
        RiskSettings(max_order_notional_nav=0.1, max_single_name_nav=0.5, max_sector_nav=0.5, max_var_nav=1.0),
    )
    assert v.approved
    assert v.qty == 500
    assert rules(v) == ["gross_leverage"]


def test_the_drawdown_gross_cap_is_enforced_below_the_limit() -> None:
    book = _levered_book()
    capped = PretradeContext(gross_cap=0.6)
    v = one(intent("NEE", "buy", 100), book, context=capped)
    assert not v.approved
    assert rules(v) == ["gross_leverage"]
    assert "drawdown cap" in v.reasons[0]
    assert one(intent("NEE", "buy", 100), book).approved


# -- order size -----------------------------------------------------------------------------------------------------
def test_order_notional_is_cut_at_5pct_of_nav() -> None:
    v = one(intent("AAPL", "buy", 800))
    assert v.approved
    assert v.qty == 500
    assert rules(v) == ["order_notional"]
    assert one(intent("AAPL", "buy", 500)).reasons == []


def test_order_shares_are_cut_at_the_share_limit() -> None:
    settings = RiskSettings(max_order_shares=100)
    v = one(intent("AAPL", "buy", 150), settings=settings)
    assert v.qty == 100
    assert rules(v) == ["order_shares"]
    assert one(intent("AAPL", "buy", 100), settings=settings).reasons == []


def test_adv_cuts_an_order_above_20pct_of_the_20_day_average_volume() -> None:
    view = view_of(make_market(volume={"AAPL": 2_000.0}))
    v = one(intent("AAPL", "buy", 450), view=view)
    assert v.approved
    assert v.qty == 400
    assert rules(v) == ["adv"]
    assert "of the 20-day ADV 2,000" in v.reasons[0]
    assert one(intent("AAPL", "buy", 400), view=view).reasons == []


def test_adv_rejects_a_symbol_without_volume() -> None:
    view = view_of(make_market(volume={"AAPL": 0.0}))
    v = one(intent("AAPL", "buy", 10), view=view)
    assert not v.approved
    assert rules(v) == ["adv"]


# -- price collar, prices -------------------------------------------------------------------------------------------
def test_price_collar_rejects_a_decision_price_6pct_away_and_passes_4pct() -> None:
    far = one(intent("AAPL", "buy", 10, ref=106.0))
    assert not far.approved
    assert rules(far) == ["price_collar"]
    assert "+6.00%" in far.reasons[0]
    low = one(intent("AAPL", "sell", 10, ref=94.0), books(NAV - 1000, {"AAPL": (10.0, 100.0)}))
    assert not low.approved
    assert rules(low) == ["price_collar"]
    assert one(intent("AAPL", "buy", 10, ref=104.0)).approved


def test_no_price_today_rejects() -> None:
    view = view_of(make_market(missing_today=("AAPL",)))
    v = one(intent("AAPL", "buy", 10), view=view)
    assert not v.approved
    assert rules(v) == ["no_price"]
    assert one(intent("JPM", "buy", 10), view=view).approved


# -- throttle -------------------------------------------------------------------------------------------------------
def test_throttle_per_tick() -> None:
    settings = RiskSettings(max_orders_per_tick=2)
    items = [intent(s, "buy", 10) for s in ("AAPL", "JPM", "XOM")]
    verdicts = check_intents(items, FLAT, VIEW, settings).verdicts.items
    assert [v.approved for v in verdicts] == [True, True, False]
    assert rules(verdicts[2]) == ["throttle"]


def test_throttle_per_window_counts_earlier_approvals() -> None:
    settings = RiskSettings(max_orders_per_window=5)
    items = [intent(s, "buy", 10) for s in ("AAPL", "JPM")]
    full = check_intents(items, FLAT, VIEW, settings, PretradeContext(orders_in_window=4)).verdicts.items
    assert [v.approved for v in full] == [True, False]
    room = check_intents(items, FLAT, VIEW, settings, PretradeContext(orders_in_window=3)).verdicts.items
    assert [v.approved for v in room] == [True, True]


def test_a_rejected_intent_does_not_use_the_throttle() -> None:
    settings = RiskSettings(max_orders_per_tick=1)
    items = [intent("AAPL", "buy", 10, ref=150.0), intent("JPM", "buy", 10)]
    verdicts = check_intents(items, FLAT, VIEW, settings).verdicts.items
    assert [v.approved for v in verdicts] == [False, True]


# -- cumulative, in priority order ---------------------------------------------------------------------------------
def test_each_intent_sees_the_earlier_approved_ones() -> None:
    settings = RiskSettings(max_order_notional_nav=0.5)
    first = intent("AAPL", "buy", 600, priority=0)
    second = intent("AAPL", "buy", 600, priority=1)
    a, b = check_intents([second, first], FLAT, VIEW, settings).verdicts.items
    assert a.intent_id == first.id
    assert a.qty == 600
    assert b.intent_id == second.id
    assert b.qty == 400
    assert rules(b) == ["single_name"]


def test_a_rejected_intent_leaves_room_for_the_next() -> None:
    settings = RiskSettings(max_order_notional_nav=0.5)
    first = intent("AAPL", "buy", 600, priority=0, ref=200.0)  # collar: rejected, not applied
    second = intent("AAPL", "buy", 1000, priority=1)
    a, b = check_intents([first, second], FLAT, VIEW, settings).verdicts.items
    assert not a.approved
    assert b.approved
    assert b.qty == 1000


def test_a_duplicate_intent_id_is_rejected() -> None:
    a = intent("AAPL", "buy", 10, id="same")
    b = intent("JPM", "buy", 10, id="same")
    verdicts = check_intents([a, b], FLAT, VIEW, RiskSettings()).verdicts.items
    assert verdicts[0].approved
    assert not verdicts[1].approved
    assert rules(verdicts[1]) == ["duplicate_intent"]


# -- REDUCING, stop-loss, breakers ----------------------------------------------------------------------------------
def test_reducing_only_rejects_what_increases_gross_and_passes_what_reduces() -> None:
    book = books(NAV - 50_000, {"AAPL": (500.0, 100.0)})
    reducing = PretradeContext(reducing_only=True)
    assert rules(one(intent("JPM", "buy", 10), book, context=reducing)) == ["reducing_only"]
    assert rules(one(intent("AAPL", "buy", 10), book, context=reducing)) == ["reducing_only"]
    sell = one(intent("AAPL", "sell", 200), book, context=reducing)
    assert sell.approved
    assert sell.qty == 200
    assert sell.reasons == []
    flip = one(intent("AAPL", "sell", 800), book, context=reducing)
    assert flip.approved
    assert flip.qty == 500
    assert rules(flip) == ["reducing_only"]
    assert one(intent("JPM", "buy", 10), book).approved  # the mirror: not REDUCING


def test_nothing_may_add_to_a_position_under_its_stop_loss() -> None:
    book = books(NAV - 50_000, {"AAPL": (500.0, 110.0)})
    stopped = PretradeContext(stop_loss=frozenset({"AAPL"}))
    assert rules(one(intent("AAPL", "buy", 10), book, context=stopped)) == ["stop_loss"]
    assert one(intent("AAPL", "sell", 500), book, context=stopped).approved
    assert one(intent("AAPL", "buy", 10), book).approved


def test_a_breaker_rejects_everything_with_its_reason() -> None:
    blocked = PretradeContext(blocked="daily_loss_pause: day's return -2.10%")
    v = one(intent("AAPL", "sell", 1), books(NAV - 100, {"AAPL": (1.0, 100.0)}), context=blocked)
    assert not v.approved
    assert v.reasons == ["breaker: daily_loss_pause: day's return -2.10%"]


def test_a_non_positive_nav_rejects() -> None:
    broke = books(-10.0)
    assert rules(one(intent("AAPL", "buy", 1), broke)) == ["nav"]


# -- VaR --------------------------------------------------------------------------------------------------------------
VOLATILE = view_of(make_market(vol={"VOL": 0.05}, last={"VOL": 100.0, "AAPL": 100.0}))
LOOSE = RiskSettings(max_order_notional_nav=1.0, max_single_name_nav=1.0, max_sector_nav=1.0)


def test_var_within_the_limit_passes() -> None:
    v = one(intent("VOL", "buy", 4000), settings=LOOSE, view=VOLATILE)
    assert v.approved
    assert v.qty == 4000
    assert v.reasons == []


def test_var_breach_is_cut_to_the_limit() -> None:
    result = check_intents([intent("VOL", "buy", 7000)], FLAT, VOLATILE, LOOSE)
    v = result.verdicts.items[0]
    assert v.approved
    assert 4000 < v.qty < 7000
    assert rules(v) == ["var"]
    assert result.var_method == "historical"
    assert result.var_after / NAV <= 0.04 + 1e-9
    assert result.var_after / NAV > 0.039  # the largest lot that fits, not an arbitrary cut


def test_a_reducing_trade_is_never_cut_for_var() -> None:
    book = books(NAV - 700_000, {"VOL": (7000.0, 100.0)})
    v = one(intent("VOL", "sell", 1000), book, settings=LOOSE, view=VOLATILE)
    assert v.approved
    assert v.qty == 1000


def test_stress_blocks_orders_only_when_configured() -> None:
    settings = RiskSettings(stress_max_loss_nav=0.02, stress_blocks_orders=True)
    cut = one(intent("AAPL", "buy", 500), settings=settings)
    assert cut.approved
    assert rules(cut) == ["stress"]
    assert cut.qty == 444  # tech_crash shocks AAPL -45%: 444 x 100 x 45% <= 2% of NAV < 445 x 100 x 45%
    assert one(intent("AAPL", "buy", 500), settings=RiskSettings(stress_max_loss_nav=0.02)).qty == 500


def test_rule_ids_are_the_reason_prefixes() -> None:
    assert {r.value for r in Rule} >= {"single_name", "sector", "gross_leverage", "var", "adv", "price_collar"}


def test_the_post_trade_book_pays_for_what_it_buys() -> None:
    result = check_intents([intent("AAPL", "buy", 450), intent("JPM", "sell", 100)], FLAT, VIEW, RiskSettings())
    assert result.after.cash == pytest.approx(NAV - 45_000 + 10_000)
    assert result.after.nav == pytest.approx(NAV)
