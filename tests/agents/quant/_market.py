"""Markets for the council's tests: the seeded demo market, and crafted ones with exactly the shape a test
needs (an uptrend, a crash, a flat line, chosen headlines or macro series)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta

import numpy as np

from agents.data import Bar, DemoProvider, Fundamentals, Headline, MacroObservation, business_days
from agents.market import MarketData

DEMO_START = date(2017, 1, 2)
DEMO_END = date(2019, 12, 31)


async def demo_market(
    start: date = DEMO_START,
    end: date = DEMO_END,
    seed: int = 7,
    *,
    news_from: date | None = None,
    provider: DemoProvider | None = None,
) -> MarketData:
    """Everything the demo provider has between ``start`` and ``end``: bars, fundamentals, news (from
    ``news_from`` if given: generating headlines is the slow part), macro."""
    provider = provider or DemoProvider(seed)
    symbols = [s.symbol for s in provider.universe]
    bars = await provider.bars(symbols, start, end)
    fundamentals: dict[str, list[Fundamentals]] = {s: [] for s in symbols}
    month = date(start.year - 1, start.month, 1)
    while month <= end:  # a snapshot each month: every quarter's report is in the history once
        for symbol, snap in (await provider.fundamentals(symbols, month)).items():
            if not fundamentals[symbol] or fundamentals[symbol][-1].asof != snap.asof:
                fundamentals[symbol].append(snap)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    since = datetime.combine((news_from or start) - timedelta(days=10), time.min, tzinfo=UTC)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    news = await provider.headlines(symbols, since, until)
    macro = await provider.macro(["rates", "inflation", "unemployment"], date(start.year - 2, 1, 1), end)
    return MarketData(
        bars,
        fundamentals=fundamentals,
        headlines=[h for items in news.values() for h in items],
        macro=[o for series in macro.values() for o in series],
        sectors={s.symbol: s.sector for s in provider.universe},
    )


def sessions(n: int, end: date = date(2021, 6, 30)) -> list[date]:
    """The last ``n`` business days up to ``end``."""
    days = list(business_days(end - timedelta(days=2 * n + 10), end))
    return days[-n:]


def bars_from(closes: Mapping[str, Sequence[float]], days: Sequence[date]) -> dict[str, list[Bar]]:
    """Bars whose OHLC are all the close (the signals only read closes), aligned to the end of ``days``."""
    out: dict[str, list[Bar]] = {}
    for symbol, series in closes.items():
        tail = list(days)[-len(series) :]
        out[symbol] = [Bar(symbol, d, c, c, c, c, 1e6) for d, c in zip(tail, series, strict=True)]
    return out


def trend_path(n: int, daily: float, start: float = 100.0, noise: float = 0.0, seed: int = 1) -> list[float]:
    """A price path compounding ``daily`` per session, with optional seeded noise."""
    rng = np.random.default_rng(seed)
    rets = daily + noise * rng.standard_normal(n - 1)
    return [float(x) for x in start * np.exp(np.concatenate([[0.0], np.cumsum(rets)]))]


def crafted_market(
    closes: Mapping[str, Sequence[float]],
    *,
    n: int | None = None,
    end: date = date(2021, 6, 30),
    sectors: Mapping[str, str] | None = None,
    fundamentals: Mapping[str, Sequence[Fundamentals]] | None = None,
    headlines: Sequence[Headline] = (),
    macro: Sequence[MacroObservation] = (),
) -> MarketData:
    days = sessions(n or max(len(v) for v in closes.values()), end)
    return MarketData(
        bars_from(closes, days),
        fundamentals=fundamentals,
        headlines=headlines,
        macro=macro,
        sectors=sectors,
    )


def headline(symbol: str, day: date, title: str, k: int = 0) -> Headline:
    return Headline(
        id=f"t:{symbol}:{day}:{k}",
        ts=datetime.combine(day, time(21, 0), tzinfo=UTC) + timedelta(minutes=k),
        symbol=symbol,
        source="test",
        title=title,
    )


def monthly(series: str, values: Sequence[float], end: date) -> list[MacroObservation]:
    """Monthly observations dated on the first of the month, the last one in ``end``'s month."""
    out = []
    y, m = end.year, end.month
    for value in reversed(values):
        out.append(MacroObservation(series, date(y, m, 1), value))  # type: ignore[arg-type]
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return list(reversed(out))


@functools.cache
def demo_data() -> MarketData:
    """The demo market of 2017-2019, built once per test session (run outside any event loop)."""
    return asyncio.run(demo_market())
