"""Limit utilisation of the post-trade book and which of it deserves a soft-breach alert (80%)."""

from __future__ import annotations

import pytest

from agents.risk import RiskSettings, check_intents, mark, monitor, soft_breaches, usages
from tests.agents.risk.helpers import NAV, books, intent, make_market, view_of

VIEW = view_of(make_market())
S = RiskSettings()


def _soft(cash: float, positions: dict[str, tuple[float, float]], prev_close: float = NAV) -> dict[str, float]:
    b = books(cash, positions)
    result = check_intents([], b, VIEW, S)
    report = monitor(mark(b, VIEW, S), {"2000-01-01": prev_close}, "2099-01-01", S)
    return {u.key: u.utilisation for u in soft_breaches(usages(result, report, S, S.max_gross_leverage), 0.8)}


def test_a_name_at_8_5pct_of_nav_is_a_soft_breach() -> None:
    found = _soft(NAV - 85_000, {"AAPL": (850.0, 100.0)})
    assert found == {"single_name:AAPL": pytest.approx(0.85)}


def test_a_name_at_7_9pct_is_not() -> None:
    assert _soft(NAV - 79_000, {"AAPL": (790.0, 100.0)}) == {}


def test_the_post_trade_book_is_measured() -> None:
    b = books(NAV)
    result = check_intents([intent("AAPL", "buy", 450)], b, VIEW, S)
    report = monitor(mark(b, VIEW, S), {}, "2099-01-01", S)
    found = {u.key for u in soft_breaches(usages(result, report, S, S.max_gross_leverage), 0.8)}
    assert found == set()
    result = check_intents([intent("AAPL", "buy", 450), intent("AAPL", "buy", 400)], b, VIEW, S)
    found = {u.key for u in soft_breaches(usages(result, report, S, S.max_gross_leverage), 0.8)}
    assert found == {"single_name:AAPL"}


def test_sector_and_daily_loss_soft_breaches() -> None:
    found = _soft(NAV - 210_000, {"AAPL": (700.0, 100.0), "MSFT": (700.0, 100.0), "NVDA": (700.0, 100.0)}, 1_017_000)
    assert found["sector:Technology"] == pytest.approx(0.84)
    assert found["daily_loss"] == pytest.approx((1 - NAV / 1_017_000) / 0.02)


def test_a_breach_with_its_own_action_is_not_a_soft_breach_again() -> None:
    found = _soft(NAV, {}, prev_close=1_030_000)  # -2.9%: the pause breaker's business
    assert "daily_loss" not in found
