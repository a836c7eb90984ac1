"""The paper venue's fill model, as a pure function of one working order and one bar.

An order accepted during session T fills on the bar of a later session (the venue makes sure of that), at the
bar's open or its approximate VWAP ``(O+H+L+C)/4``, moved against the trader by ``slippage_bps``. A limit is
respected: a buy fills at no more than its limit (at the limit if the bar only traded through it intraday),
a sell at no less. Above the participation cap (a fraction of the bar's volume) the fill is partial, in whole
shares, and the remainder stays working. Commission is per share with a minimum per order: the minimum is
charged once per order, so partial fills of one order do not each pay it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from agents.data import Bar
from storage.records import Side

PriceBasis = Literal["open", "vwap"]
QTY_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class FillModel:
    """How a paper venue prices and sizes fills. :meth:`no_costs` gives exact fills at the reference price."""

    basis: PriceBasis = "open"
    slippage_bps: float = 0.0
    commission_per_share: float = 0.0
    min_commission: float = 0.0
    participation: float | None = None  # fraction of the bar's volume an order may take; None: no cap

    def __post_init__(self) -> None:
        if self.basis not in ("open", "vwap"):
            raise ValueError(f"unknown price basis {self.basis!r}")
        if self.slippage_bps < 0 or self.commission_per_share < 0 or self.min_commission < 0:
            raise ValueError("slippage and commissions cannot be negative")
        if self.participation is not None and not 0 < self.participation <= 1:
            raise ValueError("participation must be in (0, 1]")

    @classmethod
    def no_costs(cls, basis: PriceBasis = "open", participation: float | None = None) -> FillModel:
        """No slippage, no commission (``--costs none``)."""
        return cls(basis=basis, participation=participation)


@dataclass(frozen=True, slots=True)
class FillQuote:
    """What one bar gives one order."""

    qty: float
    price: float
    commission: float


def reference_price(bar: Bar, basis: PriceBasis) -> float:
    if basis == "open":
        return bar.open
    return (bar.open + bar.high + bar.low + bar.close) / 4.0


def _usable(bar: Bar) -> bool:
    prices = (bar.open, bar.high, bar.low, bar.close)
    return all(math.isfinite(p) and p > 0 for p in prices)


def _limit_price(side: Side, ref: float, price: float, limit: float, bar: Bar) -> float | None:
    """The price a limit order gets on ``bar``, or None if the bar never reached the limit."""
    if side == "buy":
        if ref <= limit:
            return min(price, limit)
        return limit if bar.low <= limit else None
    if ref >= limit:
        return max(price, limit)
    return limit if bar.high >= limit else None


def _quantity(remaining: float, bar: Bar, participation: float | None) -> float:
    if participation is None:
        return remaining
    volume = bar.volume
    if not math.isfinite(volume) or volume <= 0:
        return 0.0
    cap = participation * volume
    if remaining <= cap + QTY_EPSILON:
        return remaining
    return float(math.floor(cap))  # a capped fill is in whole shares


def commission_for(model: FillModel, filled_before: float, qty: float, paid_before: float) -> float:
    """The commission of a fill: the order's running total (at least the minimum), less what it already paid.

    Totals are rounded to the cent, so the sum of an order's commissions is always whole cents.
    """
    if model.commission_per_share == 0 and model.min_commission == 0:
        return 0.0
    total = round(max(model.commission_per_share * (filled_before + qty), model.min_commission), 2)
    return max(round(total - paid_before, 2), 0.0)


def fill_for_bar(
    *,
    side: Side,
    remaining: float,
    limit_price: float | None,
    filled_before: float,
    commission_paid: float,
    bar: Bar,
    model: FillModel,
) -> FillQuote | None:
    """The fill ``bar`` gives a working order, or None (limit not reached, no volume, bad bar)."""
    if remaining <= QTY_EPSILON or not _usable(bar):
        return None
    ref = reference_price(bar, model.basis)
    sign = 1.0 if side == "buy" else -1.0
    price = ref * (1.0 + sign * model.slippage_bps / 10_000.0)
    if limit_price is not None:
        limited = _limit_price(side, ref, price, limit_price, bar)
        if limited is None:
            return None
        price = limited
    qty = _quantity(remaining, bar, model.participation)
    if qty <= QTY_EPSILON:
        return None
    commission = commission_for(model, filled_before, qty, commission_paid)
    return FillQuote(qty, price, commission)
