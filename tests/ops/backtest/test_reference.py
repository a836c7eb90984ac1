"""The plain SMA-cross computation: by hand on crafted bars, and against a vectorised integer computation on
the real AAPL bars of tests/data."""

from __future__ import annotations

import csv
import gzip
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from ops.backtest.reference import RefBar, read_csv_bars, sma_cross_reference

STOCKS = Path(__file__).resolve().parents[2] / "data" / "stocks.csv.gz"
D0 = date(2024, 1, 1)


def bars(closes: list[str], opens: list[str]) -> list[RefBar]:
    pairs = enumerate(zip(opens, closes, strict=True))
    return [RefBar(D0 + timedelta(days=i), Decimal(o), Decimal(c)) for i, (o, c) in pairs]


CLOSES = ["10", "10", "13", "11", "8", "9", "12"]
OPENS = ["10", "10", "12", "12", "9", "8", "11"]


def test_by_hand_fast_2_slow_3() -> None:
    # t=2: SMA2 11.5 > SMA3 11 -> long; filled at t=3's open 12. t=4: 9.5 < 10.67 -> flat; filled at t=5's
    # open 8. t=6: 10.5 > 9.67 -> long, but t=6 is the last session: never filled.
    ref = sma_cross_reference(bars(CLOSES, OPENS), fast=2, slow=3, lot=10, capital="1000")
    assert [(f.day, f.side, f.qty, f.price) for f in ref.fills] == [
        (D0 + timedelta(days=3), "buy", 10, Decimal("12")),
        (D0 + timedelta(days=5), "sell", 10, Decimal("8")),
    ]
    assert ref.position == 0
    assert ref.cash == Decimal("960")
    assert ref.final_equity == Decimal("960")
    assert ref.sessions == 7


def test_end_cuts_the_run_and_marks_to_the_last_close() -> None:
    ref = sma_cross_reference(bars(CLOSES, OPENS), fast=2, slow=3, lot=10, capital="1000", end=D0 + timedelta(days=4))
    assert len(ref.fills) == 1  # the sell decided on the last session is never filled
    assert ref.position == 10
    assert ref.last_close == Decimal("8")
    assert ref.final_equity == Decimal("880") + 10 * Decimal("8")


def test_sessions_before_start_only_warm_up_the_averages() -> None:
    ref = sma_cross_reference(bars(CLOSES, OPENS), fast=2, slow=3, lot=10, capital="1000", start=D0 + timedelta(days=4))
    assert ref.fills == []
    assert ref.final_equity == Decimal("1000")
    assert ref.sessions == 3
    day3 = D0 + timedelta(days=3)
    late = sma_cross_reference(bars(CLOSES, OPENS), fast=2, slow=3, lot=10, capital="1000", start=day3)
    # t=3 is long from the start (warmed up on t=0..2), so the first order is a buy at t=4's open 9
    assert [(f.day, f.side) for f in late.fills] == [(D0 + timedelta(days=4), "buy"), (D0 + timedelta(days=5), "sell")]


def test_a_tie_is_flat_and_no_signal_before_slow_closes() -> None:
    flat = bars(["10"] * 8, ["10"] * 8)
    assert sma_cross_reference(flat, fast=2, slow=3, lot=10).fills == []
    rising = bars([str(10 + i) for i in range(3)], ["10"] * 3)
    assert sma_cross_reference(rising, fast=2, slow=3, lot=10).fills == []  # decided on the last bar: unfilled
    rising = bars([str(10 + i) for i in range(4)], ["10", "11", "12", "13"])
    assert [f.day for f in sma_cross_reference(rising, fast=2, slow=3, lot=10).fills] == [D0 + timedelta(days=3)]


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="fast < slow"):
        sma_cross_reference(bars(CLOSES, OPENS), fast=3, slow=3)
    with pytest.raises(ValueError, match="lot"):
        sma_cross_reference(bars(CLOSES, OPENS), lot=0)
    shuffled = list(reversed(bars(CLOSES, OPENS)))
    with pytest.raises(ValueError, match="increasing"):
        sma_cross_reference(shuffled)


def test_the_file_is_read_exactly() -> None:
    aapl = read_csv_bars(STOCKS, "AAPL")
    assert len(aapl) == 3270
    assert aapl[0] == RefBar(date(2000, 3, 1), Decimal("118.56"), Decimal("130.31"))
    # the file's Open/Close are unadjusted: the 2:1 split of 2005-02-28 halves the close
    by_day = {b.day: b for b in aapl}
    assert by_day[date(2005, 2, 25)].close == Decimal("88.99")
    assert by_day[date(2005, 2, 28)].close == Decimal("44.86")


def _integer_sma_cross(fast: int, slow: int) -> tuple[list[str], list[int]]:
    """The same rule, vectorised over integer thousandths: an independent second computation."""
    with gzip.open(STOCKS, "rt") as fh:
        rows = [r for r in csv.DictReader(fh) if r["Ticker"] == "AAPL"]
    closes = np.array([round(float(r["Close"]) * 1000) for r in rows], dtype=np.int64)
    c = np.concatenate(([0], np.cumsum(closes)))
    t = np.arange(slow - 1, len(closes))
    fast_sum, slow_sum = c[t + 1] - c[t + 1 - fast], c[t + 1] - c[t + 1 - slow]
    long = np.zeros(len(closes), dtype=bool)
    long[t] = slow * fast_sum > fast * slow_sum
    target = np.where(long, 100, 0)
    held = np.concatenate(([0], target[:-1]))  # position during session i = target decided on i-1
    changes = np.flatnonzero(np.diff(held) != 0) + 1
    return [rows[i]["Date"] for i in changes], [int(held[i] - held[i - 1]) for i in changes]


def test_real_aapl_agrees_with_an_integer_vectorised_computation() -> None:
    ref = sma_cross_reference(read_csv_bars(STOCKS, "AAPL"), fast=10, slow=30, lot=100, capital="1000000")
    days, deltas = _integer_sma_cross(10, 30)
    assert [f.day.isoformat() for f in ref.fills] == days
    assert [f.qty if f.side == "buy" else -f.qty for f in ref.fills] == deltas
    assert len(ref.fills) == 118
    assert ref.fills[0].day == date(2000, 4, 12)
    assert ref.fills[0].price == Decimal("119.0")
    cash = Decimal("1000000") - sum((f.qty if f.side == "buy" else -f.qty) * f.price for f in ref.fills)
    assert ref.final_equity == cash + ref.position * Decimal("430.47")  # AAPL's last close, 2013-03-01
