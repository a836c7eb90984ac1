"""DemoProvider: determinism, structure of the synthetic market, and consistency of its datasets."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from agents.data import (
    MACRO_SERIES,
    Bar,
    DemoProvider,
    SymbolNotFound,
    business_days,
    check_bars,
    check_fundamentals,
    check_headlines,
    check_macro,
)

ALL = ["AAPL", "MSFT", "JPM", "BAC", "XOM", "CVX", "JNJ", "PFE"]
SINCE = datetime(2023, 3, 1, tzinfo=UTC)
UNTIL = datetime(2023, 6, 1, tzinfo=UTC)


async def _everything(p: DemoProvider, symbols: list[str]) -> bytes:
    bars = await p.bars(symbols, date(2022, 1, 1), date(2023, 12, 31))
    fund = await p.fundamentals(symbols, date(2023, 6, 30))
    news = await p.headlines(symbols, SINCE, UNTIL)
    macro = await p.macro(list(MACRO_SERIES), date(2020, 1, 1), date(2023, 12, 31))
    parts = [repr(bars[s]) + repr(fund[s]) + repr(news[s]) for s in sorted(symbols)] + [repr(macro)]
    return "\n".join(parts).encode()


async def test_same_seed_is_byte_identical() -> None:
    a = await _everything(DemoProvider(seed=42), ALL)
    b = await _everything(DemoProvider(seed=42), ALL)
    assert a == b
    assert len(a) > 100_000


async def test_different_seed_differs() -> None:
    a = await DemoProvider(seed=1).bars(["AAPL"], date(2023, 1, 1), date(2023, 3, 31))
    b = await DemoProvider(seed=2).bars(["AAPL"], date(2023, 1, 1), date(2023, 3, 31))
    assert [x.close for x in a["AAPL"]] != [x.close for x in b["AAPL"]]


async def test_subset_and_order_do_not_change_a_symbol() -> None:
    full = await DemoProvider(seed=5).bars(ALL, date(2021, 1, 1), date(2023, 12, 31))
    subset = await DemoProvider(seed=5).bars(["PFE", "XOM", "PFE"], date(2021, 1, 1), date(2023, 12, 31))
    assert list(subset) == ["PFE", "XOM"]
    assert subset["PFE"] == full["PFE"]
    assert subset["XOM"] == full["XOM"]
    news_full = await DemoProvider(seed=5).headlines(ALL, SINCE, UNTIL)
    news_one = await DemoProvider(seed=5).headlines(["JNJ"], SINCE, UNTIL)
    assert news_one["JNJ"] == news_full["JNJ"]


async def test_overlapping_ranges_agree_whatever_was_generated_first() -> None:
    p = DemoProvider(seed=9)
    short = await p.bars(["MSFT"], date(2023, 5, 1), date(2023, 5, 31))
    long = await DemoProvider(seed=9).bars(["MSFT"], date(1995, 1, 1), date(2045, 1, 1))
    assert short["MSFT"] == [b for b in long["MSFT"] if date(2023, 5, 1) <= b.date <= date(2023, 5, 31)]
    again = await p.bars(["MSFT"], date(2023, 5, 1), date(2023, 5, 31))  # after a longer path was cached
    await p.bars(["MSFT"], date(2040, 1, 1), date(2041, 1, 1))
    assert again == short == await p.bars(["MSFT"], date(2023, 5, 1), date(2023, 5, 31))


async def test_business_days_only_from_any_start() -> None:
    bars = (await DemoProvider().bars(["AAPL"], date(2023, 7, 1), date(2023, 7, 31)))["AAPL"]  # a Saturday
    assert bars[0].date == date(2023, 7, 3)
    assert bars[-1].date == date(2023, 7, 31)
    assert len(bars) == 21
    assert all(b.date.weekday() < 5 for b in bars)
    assert [b.date for b in bars] == sorted({b.date for b in bars})
    weekend = await DemoProvider().bars(["AAPL"], date(2023, 7, 1), date(2023, 7, 2))
    assert weekend == {"AAPL": []}
    assert (await DemoProvider().bars(["AAPL"], date(1980, 1, 1), date(1989, 12, 31))) == {"AAPL": []}


async def test_ohlc_sanity_and_quality_over_thirty_years() -> None:
    p = DemoProvider(seed=3)
    bars = await p.bars(ALL, date(1995, 1, 1), date(2025, 12, 31))
    for symbol, series in bars.items():
        assert len(series) == int(np.busday_count(date(1995, 1, 1), date(2026, 1, 1)))
        for b in series:
            assert b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high
            assert b.low > 0
            assert b.volume > 0
            assert b.adj_close == b.close
        report = check_bars(symbol, series, asof=date(2025, 12, 31))
        assert report.ok, report.summary()


def _log_returns(series: list[Bar]) -> np.ndarray:
    closes = np.array([b.close for b in series])
    return np.diff(np.log(closes))


@pytest.mark.parametrize("seed", [7, 11, 2024])
async def test_same_sector_correlates_more_than_cross_sector(seed: int) -> None:
    p = DemoProvider(seed=seed)
    bars = await p.bars(ALL, date(2022, 1, 1), date(2023, 12, 31))  # two years
    corr = np.corrcoef(np.array([_log_returns(bars[s]) for s in ALL]))
    sector = {s.symbol: s.sector for s in p.universe}
    same: list[float] = []
    cross: list[float] = []
    for i, j in itertools.combinations(range(len(ALL)), 2):
        (same if sector[ALL[i]] == sector[ALL[j]] else cross).append(float(corr[i, j]))
    # configured (bull regime): about 0.5-0.6 within a sector, 0.2-0.3 across
    assert 0.35 < float(np.mean(same)) < 0.8
    assert 0.1 < float(np.mean(cross)) < 0.45
    assert float(np.mean(same)) > float(np.mean(cross)) + 0.15
    assert min(same) > max(cross) - 0.1


async def test_regimes_switch_and_set_volatility() -> None:
    p = DemoProvider(seed=7)
    bars = (await p.bars(["JPM"], date(2000, 1, 1), date(2019, 12, 31)))["JPM"]
    rets = _log_returns(bars)
    regimes = [p.regime(b.date) for b in bars[1:]]
    by_regime = {r: rets[[x == r for x in regimes]] for r in ("bull", "bear", "volatile")}
    assert all(len(v) > 200 for v in by_regime.values())
    assert by_regime["bull"].std() < by_regime["bear"].std() < by_regime["volatile"].std()
    assert by_regime["bull"].mean() > 0 > by_regime["bear"].mean()
    switches = sum(a != b for a, b in itertools.pairwise(regimes))
    assert 20 < switches < 400


async def test_fundamentals_consistent_with_price_and_slow() -> None:
    p = DemoProvider(seed=7)
    asofs = [date(2018, 1, 2) + timedelta(days=91 * k) for k in range(24)]
    for symbol in ALL:
        prev = None
        for asof in asofs:
            f = (await p.fundamentals([symbol], asof))[symbol]
            close = (await p.bars([symbol], asof - timedelta(days=6), asof))[symbol][-1].close
            assert f.asof <= asof
            assert (asof - f.asof).days < 100
            assert f.price == close
            assert f.eps is not None
            assert f.eps > 0
            assert f.pe_ratio is not None
            assert math.isclose(f.pe_ratio, close / f.eps, rel_tol=1e-3)
            assert 3 < f.pe_ratio < 80
            assert f.sector == next(s.sector for s in p.universe if s.symbol == symbol)
            assert check_fundamentals(symbol, f, asof=asof).ok
            if prev is not None and prev.eps is not None:
                assert abs(math.log(f.eps / prev.eps)) < 0.25  # drifts, does not jump
                assert f.shares_outstanding is not None
                assert prev.shares_outstanding is not None
                assert abs(f.shares_outstanding / prev.shares_outstanding - 1) < 0.02
            prev = f
    assert await p.fundamentals(["AAPL"], date(1990, 2, 1)) == {}  # nothing reported yet


async def test_headlines_are_aware_in_range_and_ordered() -> None:
    news = await DemoProvider(seed=7).headlines(ALL, SINCE, UNTIL)
    total = sum(len(v) for v in news.values())
    days = list(business_days(SINCE.date(), UNTIL.date() - timedelta(days=1)))
    assert 8 * len(days) * 1.5 < total < 8 * len(days) * 3  # a few per symbol per business day
    for symbol, items in news.items():
        assert check_headlines(symbol, items, until=UNTIL).ok
        assert {h.ts.date() for h in items} == set(days)  # every business day has news
        for h in items:
            assert h.ts.tzinfo is not None
            assert SINCE <= h.ts < UNTIL
            assert h.symbol == symbol
            assert h.title
            assert h.source
            assert h.ts.hour >= 20  # after the US close: no look-ahead for the next session


async def test_headline_sentiment_correlates_with_the_day_move() -> None:
    p = DemoProvider(seed=7)
    since, until = datetime(2022, 1, 1, tzinfo=UTC), datetime(2023, 1, 1, tzinfo=UTC)
    news = await p.headlines(ALL, since, until)
    bars = await p.bars(ALL, date(2021, 12, 30), date(2022, 12, 31))
    vader = SentimentIntensityAnalyzer()
    scores, moves = [], []
    for symbol in ALL:
        ret = {b.date: r for b, r in zip(bars[symbol][1:], _log_returns(bars[symbol]), strict=True)}
        for h in news[symbol]:
            scores.append(vader.polarity_scores(h.title)["compound"])
            moves.append(ret[h.ts.date()])
    rho = float(np.corrcoef(scores, moves)[0, 1])
    assert rho > 0.4, rho
    titles = [h.title for items in news.values() for h in items]
    assert any("beats profit estimates" in t for t in titles)
    assert any("misses estimates" in t for t in titles)


async def test_macro_monthly_plausible_with_regimes() -> None:
    p = DemoProvider(seed=7)
    macro = await p.macro(["rates", "inflation", "unemployment"], date(1995, 1, 15), date(2024, 12, 31))
    assert set(macro) == {"rates", "inflation", "unemployment"}
    for name, obs in macro.items():
        assert obs[0].date == date(1995, 2, 1)
        assert obs[-1].date == date(2024, 12, 1)
        assert len(obs) == 359
        assert all(o.date.day == 1 and o.series == name for o in obs)
        assert check_macro(name, obs, asof=date(2024, 12, 31)).ok
    u = np.array([o.value for o in macro["unemployment"]])
    assert u.min() >= 3.0
    assert u.max() <= 11.0
    assert u.max() - u.min() > 2.0


async def test_unknown_symbol_and_health() -> None:
    p = DemoProvider()
    with pytest.raises(SymbolNotFound, match="ZZZZ"):
        await p.bars(["AAPL", "ZZZZ"], date(2024, 1, 1), date(2024, 1, 5))
    with pytest.raises(SymbolNotFound):
        await p.macro(["gdp"], date(2024, 1, 1), date(2024, 2, 1))  # type: ignore[list-item]
    health = await p.health()
    assert health.ok
    assert health.name == "demo"
    assert health.last_error is None
