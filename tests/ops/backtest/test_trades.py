"""Round trips and per-symbol P&L from fills, by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ops.backtest.trades import TradeFill, build_trades


def at(day: int) -> datetime:
    return datetime(2024, 1, day, 14, 30, tzinfo=UTC)


def test_scaling_in_crossing_zero_and_commissions() -> None:
    fills = [
        TradeFill(at(2), "X", "buy", 100, 10.0, 1.0),
        TradeFill(at(3), "X", "buy", 100, 12.0, 1.0),  # average cost 11
        TradeFill(at(4), "X", "sell", 150, 13.0, 1.5),  # +300 realised, 50 left
        TradeFill(at(5), "X", "sell", 100, 9.0, 2.0),  # closes 50 (-100), opens a 50 short
    ]
    book = build_trades(fills, {"X": 8.0})
    first, second = book.trips
    assert (first.direction, first.opened, first.closed) == ("long", date(2024, 1, 2), date(2024, 1, 5))
    assert first.realised == pytest.approx(200.0)
    assert first.commissions == pytest.approx(1 + 1 + 1.5 + 1.0)  # half of the crossing fill's commission
    assert first.pnl == pytest.approx(200.0 - 4.5)
    assert first.entry_price == pytest.approx(11.0)
    assert first.exit_price == pytest.approx((13.0 * 150 + 9.0 * 50) / 200)
    assert first.max_qty == 200
    assert second.is_open
    assert second.direction == "short"
    assert second.entry_price == 9.0
    assert second.mark == 8.0
    assert second.pnl == pytest.approx((8.0 - 9.0) * -50 - 1.0)
    assert book.closed_pnls == [pytest.approx(195.5)]
    pnl = book.by_symbol["X"]
    assert pnl.commissions == pytest.approx(5.5)
    assert pnl.realised == pytest.approx(200.0 - 5.5)
    assert pnl.unrealised == pytest.approx(50.0)
    assert pnl.position == -50
    assert pnl.avg_cost == 9.0
    assert pnl.round_trips == 2
    assert pnl.traded_notional == pytest.approx(1000 + 1200 + 1950 + 900)


def test_pnl_adds_up_to_the_nav_change() -> None:
    fills = [
        TradeFill(at(2), "A", "buy", 10, 50.0, 0.5),
        TradeFill(at(2), "B", "buy", 7, 20.0, 0.25),
        TradeFill(at(3), "A", "sell", 4, 55.0, 0.5),
        TradeFill(at(4), "B", "sell", 7, 18.0, 0.25),
        TradeFill(at(5), "A", "buy", 2, 52.0, 0.5),
    ]
    last = {"A": 60.0, "B": 17.0}
    book = build_trades(fills, last)
    cash = -sum((f.signed_qty * f.price) + f.commission for f in fills)
    position_value = (10 - 4 + 2) * 60.0
    assert sum(p.total for p in book.by_symbol.values()) == pytest.approx(cash + position_value)
    assert [t.symbol for t in book.trips] == ["A", "B"]
    assert book.trips[1].closed == date(2024, 1, 4)
    assert book.trips[1].pnl == pytest.approx(-14.5)


def test_flat_to_flat_twice_is_two_round_trips_and_a_loser_counts() -> None:
    fills = [
        TradeFill(at(2), "X", "buy", 100, 10.0),
        TradeFill(at(3), "X", "sell", 100, 11.0),
        TradeFill(at(4), "X", "buy", 100, 11.0),
        TradeFill(at(5), "X", "sell", 100, 10.5),
    ]
    book = build_trades(fills)
    assert book.closed_pnls == [pytest.approx(100.0), pytest.approx(-50.0)]
    assert not any(t.is_open for t in book.trips)


def test_an_open_position_without_a_price_is_marked_at_cost() -> None:
    book = build_trades([TradeFill(at(2), "X", "buy", 100, 10.0, 1.0)])
    (trip,) = book.trips
    assert trip.is_open
    assert trip.mark == 10.0
    assert trip.pnl == pytest.approx(-1.0)
    assert book.closed_pnls == []


def test_fills_are_taken_in_time_order() -> None:
    fills = [TradeFill(at(3), "X", "sell", 100, 11.0), TradeFill(at(2), "X", "buy", 100, 10.0)]
    assert build_trades(fills).closed_pnls == [pytest.approx(100.0)]
