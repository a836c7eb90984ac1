"""Each compliance rule vetoes a crafted case and lets its mirror case through.

The market prices every symbol at 100 today; NAV is 1,000,000 (so 1,000 shares are 10% of NAV).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta

import pytest

from agents.compliance import ComplianceSettings, LastFill, review
from agents.market import MarketView
from agents.types import OrderIntent, Verdict
from storage.records import Books
from tests.agents.risk.helpers import NAV, books, intent, make_market, view_of

VIEW = view_of(make_market())
TODAY: date = VIEW.as_of
FLAT = books(NAV)


def judge(
    items: Sequence[OrderIntent],
    book: Books = FLAT,
    settings: ComplianceSettings | None = None,
    fills: Mapping[str, LastFill] | None = None,
    view: MarketView = VIEW,
) -> list[Verdict]:
    approved = [(i, i.qty) for i in items]
    verdicts = review(approved, book, view, settings or ComplianceSettings(), fills or {}, TODAY)
    assert verdicts.agent == "compliance"
    return verdicts.items


def rules(verdict: Verdict) -> list[str]:
    return [r.split(":", 1)[0] for r in verdict.reasons]


def fill(side: str, days_ago: int, qty: float = 100.0) -> LastFill:
    when = datetime.combine(TODAY - timedelta(days=days_ago), datetime.min.time(), tzinfo=UTC)
    return LastFill("buy" if side == "buy" else "sell", when, qty, 100.0)


def test_a_clean_intent_passes_at_the_quantity_risk_approved() -> None:
    item = intent("AAPL", "buy", 300)
    verdicts = review([(item, 120.0)], FLAT, VIEW, ComplianceSettings(), {}, TODAY).items
    assert verdicts == [Verdict(intent_id=item.id, symbol="AAPL", approved=True, qty=120.0)]


def test_restricted_list_vetoes_both_sides() -> None:
    settings = ComplianceSettings(restricted=["AAPL"])
    held = books(NAV - 10_000, {"AAPL": (100.0, 100.0)})
    buy, sell, other = judge(
        [intent("AAPL", "buy", 10), intent("AAPL", "sell", 10), intent("JPM", "buy", 10)],
        held,
        ComplianceSettings(restricted=["AAPL"], block_self_cross=False),
    )
    assert rules(buy) == ["restricted"]
    assert rules(sell) == ["restricted"]
    assert other.approved
    assert judge([intent("JPM", "buy", 10)], settings=settings)[0].approved


def test_the_restricted_list_reads_a_comma_separated_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLIANCE_RESTRICTED", "aapl, msft,,")
    assert ComplianceSettings().restricted == ["AAPL", "MSFT"]


def test_no_price_today_is_vetoed() -> None:
    view = view_of(make_market(missing_today=("AAPL",)))
    (v,) = judge([intent("AAPL", "buy", 10)], view=view)
    assert rules(v) == ["no_price"]
    assert judge([intent("JPM", "buy", 10)], view=view)[0].approved


def test_penny_stocks_take_no_new_exposure_but_can_be_sold() -> None:
    view = view_of(make_market(last={"PENY": 3.0, "JPM": 100.0}))
    held = books(NAV - 300, {"PENY": (100.0, 3.0)})
    (buy,) = judge([intent("PENY", "buy", 100, ref=3.0)], held, view=view)
    assert rules(buy) == ["penny_stock"]
    assert judge([intent("PENY", "sell", 100, ref=3.0)], held, view=view)[0].approved
    cheap_ok = view_of(make_market(last={"PENY": 6.0}))
    assert judge([intent("PENY", "buy", 100, ref=6.0)], view=cheap_ok)[0].approved


def test_self_crossing_vetoes_both_legs() -> None:
    held = books(NAV - 10_000, {"AAPL": (100.0, 100.0)})
    buy, sell = judge([intent("AAPL", "buy", 10), intent("AAPL", "sell", 10)], held)
    assert rules(buy) == ["self_cross"]
    assert rules(sell) == ["self_cross"]
    a, b = judge([intent("AAPL", "buy", 10), intent("JPM", "buy", 10)], held)
    assert a.approved
    assert b.approved


def test_self_cross_switch_off() -> None:
    held = books(NAV - 10_000, {"AAPL": (100.0, 100.0)})
    verdicts = judge(
        [intent("AAPL", "buy", 10), intent("AAPL", "sell", 10)], held, ComplianceSettings(block_self_cross=False)
    )
    assert all(v.approved for v in verdicts)


def test_split_orders_that_together_evade_the_size_limit_are_vetoed() -> None:
    a, b = judge([intent("AAPL", "buy", 300), intent("AAPL", "buy", 300)])  # 60k > 5% of NAV, 30k each
    assert rules(a) == ["order_splitting"]
    assert rules(b) == ["order_splitting"]
    assert "2 buy orders of AAPL total 600 shares" in a.reasons[0]


def test_split_orders_within_the_limit_pass() -> None:
    assert all(v.approved for v in judge([intent("AAPL", "buy", 200), intent("AAPL", "buy", 200)]))
    assert judge([intent("AAPL", "buy", 600)])[0].approved  # one order: its size is risk's business


def test_short_selling_is_vetoed_unless_allowed() -> None:
    (v,) = judge([intent("AAPL", "sell", 10)])
    assert rules(v) == ["short_sale"]
    held = books(NAV - 1_000, {"AAPL": (10.0, 100.0)})
    assert judge([intent("AAPL", "sell", 10)], held)[0].approved
    (over,) = judge([intent("AAPL", "sell", 11)], held)
    assert rules(over) == ["short_sale"]
    assert judge([intent("AAPL", "sell", 10)], settings=ComplianceSettings(allow_short=True))[0].approved


def test_wash_trade_inside_the_window_is_vetoed() -> None:
    (v,) = judge([intent("AAPL", "buy", 10)], fills={"AAPL": fill("sell", 10)})
    assert rules(v) == ["wash_trade"]
    assert "10 day(s) after a sell fill" in v.reasons[0]
    (edge,) = judge([intent("AAPL", "buy", 10)], fills={"AAPL": fill("sell", 30)})
    assert rules(edge) == ["wash_trade"]


def test_wash_trade_outside_the_window_passes() -> None:
    assert judge([intent("AAPL", "buy", 10)], fills={"AAPL": fill("sell", 31)})[0].approved


def test_same_side_is_not_a_wash_trade() -> None:
    assert judge([intent("AAPL", "buy", 10)], fills={"AAPL": fill("buy", 2)})[0].approved


def test_closing_a_position_bought_days_ago_is_not_a_wash_unless_configured() -> None:
    held = books(NAV - 10_000, {"AAPL": (100.0, 100.0)})
    recent_buy = {"AAPL": fill("buy", 5)}
    assert judge([intent("AAPL", "sell", 100)], held, fills=recent_buy)[0].approved
    strict = ComplianceSettings(wash_exempt_reducing=False)
    (v,) = judge([intent("AAPL", "sell", 100)], held, strict, fills=recent_buy)
    assert rules(v) == ["wash_trade"]


def test_issuer_concentration_against_nav() -> None:
    held = books(NAV - 50_000, {"AAPL": (500.0, 100.0)})
    settings = ComplianceSettings(block_order_splitting=False)
    (over,) = judge([intent("AAPL", "buy", 600)], held, settings)
    assert rules(over) == ["concentration_issuer"]
    assert "issuer AAPL would be 11.0% of NAV > 10.0%" in over.reasons[0]
    assert judge([intent("AAPL", "buy", 400)], held, settings)[0].approved


def test_symbols_of_one_issuer_count_together() -> None:
    view = view_of(make_market(last={"GOOG": 100.0, "GOOGL": 100.0}))
    held = books(NAV - 60_000, {"GOOGL": (600.0, 100.0)})
    settings = ComplianceSettings(issuers={"GOOG": "Alphabet", "GOOGL": "Alphabet"})
    (v,) = judge([intent("GOOG", "buy", 500)], held, settings, view=view)
    assert rules(v) == ["concentration_issuer"]
    assert judge([intent("GOOG", "buy", 500)], held, view=view)[0].approved


def test_sector_concentration_is_cumulative_over_the_pack() -> None:
    held = books(NAV - 200_000, {"AAPL": (1000.0, 100.0), "NVDA": (1000.0, 100.0)})
    first, second = judge([intent("MSFT", "buy", 500, priority=0), intent("VOL", "buy", 600, priority=1)], held)
    assert first.approved  # 20% + 5% = 25%
    assert rules(second) == ["concentration_sector"]  # 25% + 6% = 31% > 30%
    assert "sector Technology would be 31.0% of NAV > 30.0%" in second.reasons[0]
    alone = judge([intent("VOL", "buy", 600)], held)[0]
    assert alone.approved  # without MSFT before it: 26%


def test_reducing_an_over_concentrated_name_is_allowed() -> None:
    held = books(NAV - 150_000, {"AAPL": (1500.0, 100.0)})
    assert judge([intent("AAPL", "sell", 100)], held)[0].approved


def test_every_broken_rule_is_named() -> None:
    (v,) = judge([intent("AAPL", "sell", 10)], settings=ComplianceSettings(restricted=["AAPL"]))
    assert rules(v) == ["restricted", "short_sale"]
    assert v.qty == 0


def test_remembered_issuers_and_sectors_follow_the_settings_and_the_data() -> None:
    from agents.compliance._rules import _GROUPS, _groups
    from tests.agents.risk.helpers import SECTORS

    other = view_of(make_market(sectors={**SECTORS, "AAPL": "Hardware", "MSFT": "Hardware"}))
    plain, merged = ComplianceSettings(), ComplianceSettings(issuers={"GOOG": "ABC", "GOOGL": "ABC", "MSFT": "AAPL"})
    held = books(NAV - 500_000.0, {"AAPL": (1_500.0, 100.0), "MSFT": (1_500.0, 100.0), "GOOGL": (2_000.0, 100.0)})
    pack = [intent("AAPL", "buy", 200), intent("MSFT", "buy", 300), intent("GOOG", "buy", 100), intent("XOM", "buy", 1)]
    for view, settings in [(VIEW, plain), (other, plain), (other, merged), (VIEW, merged), (VIEW, plain)]:
        warm = judge(pack, held, settings, view=view)
        groups = _groups(view, settings)
        for symbol, (issuer, sector) in groups.items():
            assert (issuer, sector) == (settings.issuer_of(symbol), view.sector(symbol))
        _GROUPS.clear()
        assert judge(pack, held, settings, view=view) == warm  # the same verdicts from a fresh memo
    assert rules(judge(pack, held, merged, view=other)[1]) == ["concentration_issuer", "concentration_sector"]
