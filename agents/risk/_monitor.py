"""Portfolio monitoring, run every tick before the pre-trade checks: stop-losses and the loss breakers.

The original system's "daily" stop compared one tick with the next through ``abs()`` and so tripped on gains.
Here the day's return is NAV now against NAV at the *previous session's close* (from the ledger's NAV history)
and only a loss counts; the drawdown is NAV now against the peak closing NAV of the last ``drawdown_sessions``
sessions.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agents.risk._book import Exposure
from agents.risk._settings import RiskSettings
from storage.records import NavPoint


@dataclass(frozen=True, slots=True)
class StopLossHit:
    """A position whose loss from its average cost reached the stop."""

    symbol: str
    qty: float
    avg_cost: float
    price: float
    loss: float  # return of the position since entry: negative

    def describe(self) -> str:
        side = "long" if self.qty > 0 else "short"
        return (
            f"{self.symbol} {side} {abs(self.qty):g} at {self.price:,.4g} is {self.loss:+.2%} from its average cost "
            f"{self.avg_cost:,.4g}"
        )


@dataclass(frozen=True, slots=True)
class MonitorReport:
    session: str
    nav: float
    prev_session: str | None
    prev_close: float | None
    daily_return: float | None
    peak: float
    drawdown: float  # <= 0
    stop_losses: tuple[StopLossHit, ...]
    daily_pause: bool
    daily_kill: bool
    drawdown_breach: bool

    def metrics(self) -> dict[str, float | str | None]:
        return {
            "session": self.session,
            "nav": round(self.nav, 2),
            "prev_session": self.prev_session,
            "prev_close": None if self.prev_close is None else round(self.prev_close, 2),
            "daily_return": None if self.daily_return is None else round(self.daily_return, 6),
            "peak": round(self.peak, 2),
            "drawdown": round(self.drawdown, 6),
        }


def session_closes(points: Sequence[NavPoint]) -> dict[str, float]:
    """The closing NAV of each session: its last point (``points`` in time order)."""
    closes: dict[str, float] = {}
    for point in points:
        closes[point.session] = point.nav
    return closes


def stop_losses(book: Exposure, stop: float) -> tuple[StopLossHit, ...]:
    hits = []
    columns = zip(book.symbols, book.qty.tolist(), book.avg_cost.tolist(), book.price.tolist(), strict=True)
    for symbol, qty, avg, price in columns:  # tolist: the same floats as float(array[j]), without a scalar each
        if qty == 0 or avg <= 0 or math.isnan(price):
            continue
        loss = (price / avg - 1.0) * (1.0 if qty > 0 else -1.0)
        if loss <= -stop:
            hits.append(StopLossHit(symbol, qty, avg, price, loss))
    return tuple(hits)


def monitor(
    book: Exposure,
    closes: Mapping[str, float],
    session: str,
    settings: RiskSettings,
    *,
    initial_capital: float = 0.0,
) -> MonitorReport:
    """Stop-losses, the day's return and the drawdown of ``book`` in ``session`` (ISO date).

    Args:
        book: the positions marked at this session's prices.
        closes: closing NAV per session (ISO date -> NAV); sessions on or after ``session`` are ignored.
        session: today's session.
        settings: the thresholds.
        initial_capital: the funding NAV, the base before the account's first close.
    """
    nav = book.nav
    known = sorted(closes)  # sessions are unique keys: sorting them orders the closes as sorting the pairs did
    prior = known[: bisect.bisect_left(known, session)]  # the sessions before today
    prev_session, prev_close = (
        (prior[-1], closes[prior[-1]]) if prior else (None, initial_capital if initial_capital > 0 else None)
    )
    daily = nav / prev_close - 1.0 if prev_close else None
    window = [closes[s] for s in prior[-settings.drawdown_sessions :]]
    if len(prior) < settings.drawdown_sessions and initial_capital > 0:
        window.append(initial_capital)  # the account's inception is inside the window
    peak = max([*window, nav])
    drawdown = nav / peak - 1.0 if peak > 0 else 0.0
    loss = -daily if daily is not None and daily < 0 else 0.0  # a gain is never a loss
    return MonitorReport(
        session=session,
        nav=nav,
        prev_session=prev_session,
        prev_close=prev_close,
        daily_return=daily,
        peak=peak,
        drawdown=drawdown,
        stop_losses=stop_losses(book, settings.stop_loss),
        daily_pause=loss >= settings.daily_loss_pause - 1e-12,
        daily_kill=loss >= settings.daily_loss_kill - 1e-12,
        drawdown_breach=-drawdown >= settings.drawdown_limit - 1e-12,
    )
