"""Panel windows: the remembered columns of a symbol list are the ones a fresh lookup gives."""

from __future__ import annotations

import random

import numpy as np

from agents.quant import window
from tests.agents.quant._market import crafted_market, trend_path


def test_remembered_columns_are_a_fresh_lookup_whatever_the_list() -> None:
    data = crafted_market({s: trend_path(40, 0.001, seed=i) for i, s in enumerate("ABCDEFGH")})
    rng = random.Random(3)
    for _ in range(200):  # more distinct lists than are remembered: some are forgotten and looked up again
        symbols = [rng.choice([*"ABCDEFGH", "NOPE", "ZZ"]) for _ in range(rng.randint(0, 12))]
        known, cols = data.columns(symbols)
        fresh = [s for s in symbols if s in data.col]
        assert known == fresh
        assert cols.tolist() == [data.col[s] for s in fresh]
        assert cols.dtype == np.int64
        assert not cols.flags.writeable
        known.append("MINE")  # the list is the caller's: the next answer is not changed by it
        assert data.columns(symbols)[0] == fresh
    assert len(data._columns) <= 16


def test_a_window_is_the_same_through_remembered_columns() -> None:
    data = crafted_market({"A": trend_path(60, 0.001), "B": trend_path(30, -0.002), "C": trend_path(60, 0.0)})
    view = data.view(data.dates[-1])
    first = window(view, ["C", "NOPE", "A", "B"], 40)
    again = window(view, ["C", "NOPE", "A", "B"], 40)
    assert first.symbols == again.symbols == ["C", "A", "B"]
    assert np.array_equal(first.values, again.values)
    assert first.history.tolist() == again.history.tolist() == [40, 40, 30]


def test_today_is_the_sessions_traded_closes_in_symbol_order() -> None:
    data = crafted_market({"B": [1.0, 2.0, 3.0], "A": [5.0, 6.0, 7.0], "C": [9.0, 8.0]})
    early, late = data.view(data.dates[0]), data.view(data.dates[-1])
    assert list(early.today().items()) == [("A", 5.0), ("B", 1.0)]  # C had no bar yet: not traded
    assert list(late.today().items()) == [("A", 7.0), ("B", 3.0), ("C", 8.0)]
    assert late.today() is late.today()  # computed once a view
