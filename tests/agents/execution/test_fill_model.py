"""The paper fill model, as a pure function: price basis, slippage, commission, participation cap, limits."""

from __future__ import annotations

import math
from datetime import date

import pytest

from agents.data import Bar
from agents.execution import FillModel, FillQuote, fill_for_bar
from agents.execution._fill_model import commission_for
from storage.records import Side

BAR = Bar("AAA", date(2024, 1, 3), 100.0, 104.0, 96.0, 102.0, 10_000.0)
NONE = FillModel.no_costs()


def fill(
    side: Side = "buy",
    qty: float = 100.0,
    *,
    limit: float | None = None,
    model: FillModel = NONE,
    bar: Bar = BAR,
    filled: float = 0.0,
    paid: float = 0.0,
) -> FillQuote | None:
    return fill_for_bar(
        side=side, remaining=qty, limit_price=limit, filled_before=filled, commission_paid=paid, bar=bar, model=model
    )


def test_no_costs_fills_exactly_at_the_open() -> None:
    quote = fill(qty=250)
    assert quote is not None
    assert (quote.qty, quote.price, quote.commission) == (250, 100.0, 0.0)


def test_vwap_basis_is_the_bar_average() -> None:
    quote = fill(model=FillModel.no_costs("vwap"))
    assert quote is not None
    assert quote.price == (100.0 + 104.0 + 96.0 + 102.0) / 4


@pytest.mark.parametrize(("side", "expected"), [("buy", 100.10), ("sell", 99.90)])
def test_slippage_is_adverse(side: Side, expected: float) -> None:
    quote = fill(side, model=FillModel(slippage_bps=10))
    assert quote is not None
    assert quote.price == pytest.approx(expected)


def test_zero_slippage_does_not_move_the_price() -> None:
    for side in ("buy", "sell"):
        quote = fill(side, model=FillModel(slippage_bps=0))
        assert quote is not None
        assert quote.price == 100.0


def test_commission_is_per_share_with_a_minimum_per_order() -> None:
    model = FillModel(commission_per_share=0.005, min_commission=1.0)
    small, large = fill(qty=100, model=model), fill(qty=1000, model=model)
    assert small is not None
    assert large is not None
    assert small.commission == 1.0  # 100 x 0.005 = 0.50, below the minimum
    assert large.commission == 5.0  # above the minimum: per share


def test_partial_fills_of_one_order_pay_the_minimum_once() -> None:
    model = FillModel(commission_per_share=0.005, min_commission=1.0)
    first = commission_for(model, 0, 100, 0.0)  # 0.50 -> the minimum, 1.00
    second = commission_for(model, 100, 300, first)  # total 2.00 so far, 1.00 more
    third = commission_for(model, 400, 2, first + second)  # total 2.01, so 0.01 more
    assert (first, second, third) == (1.0, 1.0, 0.01)


def test_participation_cap_makes_a_partial_fill_in_whole_shares() -> None:
    capped = FillModel.no_costs(participation=0.1)
    quote = fill(qty=5000, model=capped)  # 10% of 10,000 = 1,000
    assert quote is not None
    assert quote.qty == 1000
    thin = Bar("AAA", BAR.date, 100, 104, 96, 102, 12_345.0)
    quote = fill(qty=5000, model=capped, bar=thin)
    assert quote is not None
    assert quote.qty == 1234  # floor(1234.5)


def test_order_under_the_cap_fills_whole_even_fractional() -> None:
    quote = fill(qty=999.5, model=FillModel.no_costs(participation=0.1))
    assert quote is not None
    assert quote.qty == 999.5


@pytest.mark.parametrize("volume", [0.0, math.nan, 5.0])
def test_no_volume_under_a_cap_means_no_fill(volume: float) -> None:
    quote = fill(model=FillModel.no_costs(participation=0.1), bar=Bar("AAA", BAR.date, 100, 104, 96, 102, volume))
    assert quote is None  # 10% of 5 shares is not one whole share


def test_buy_limit_is_respected() -> None:
    assert fill(limit=95.0) is None  # the low (96) never reached 95
    touched = fill(limit=97.0)  # opened above, traded down through it: filled at the limit
    assert touched is not None
    assert touched.price == 97.0
    above = fill(limit=101.0, model=FillModel(slippage_bps=500))  # the open is inside: slippage capped at the limit
    assert above is not None
    assert above.price == 101.0
    easy = fill(limit=110.0, model=FillModel(slippage_bps=10))
    assert easy is not None
    assert easy.price == pytest.approx(100.10)


def test_sell_limit_is_respected() -> None:
    assert fill("sell", limit=105.0) is None  # the high (104) never reached 105
    touched = fill("sell", limit=103.0)
    assert touched is not None
    assert touched.price == 103.0
    inside = fill("sell", limit=99.0, model=FillModel(slippage_bps=500))
    assert inside is not None
    assert inside.price == 99.0  # never below the limit


@pytest.mark.parametrize("open_", [0.0, -1.0, math.nan, math.inf])
def test_bad_bars_do_not_fill(open_: float) -> None:
    assert fill(bar=Bar("AAA", BAR.date, open_, 104, 96, 102, 10_000)) is None


def test_nothing_remaining_does_not_fill() -> None:
    assert fill(qty=0.0) is None


@pytest.mark.parametrize(
    "kwargs",
    [{"slippage_bps": -1}, {"commission_per_share": -0.1}, {"min_commission": -1}, {"participation": 0.0},
     {"participation": 1.5}, {"basis": "close"}],
)  # fmt: skip
def test_invalid_models_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"."):
        FillModel(**kwargs)  # type: ignore[arg-type]
