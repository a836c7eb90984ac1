"""Each quality check fires on a crafted bad series and stays quiet on a clean one."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from agents.data import (
    Bar,
    CsvProvider,
    Fundamentals,
    Headline,
    MacroObservation,
    QualityCheck,
    business_days,
    check_bars,
    check_fundamentals,
    check_headlines,
    check_macro,
)

STOCKS = Path(__file__).resolve().parents[2] / "data" / "stocks.csv.gz"
ASOF = date(2024, 6, 28)


def clean_series(n: int = 120, end: date = ASOF) -> list[Bar]:
    days = list(business_days(end - timedelta(days=2 * n), end))[-n:]
    out = []
    price = 100.0
    for i, d in enumerate(days):
        step = 0.01 * math.sin(i * 1.7) + 0.002  # deterministic wiggle, about 1% a day
        o = price
        price = price * math.exp(step)
        out.append(Bar("TEST", d, o, max(o, price) * 1.005, min(o, price) * 0.995, price, 1e6 + i))
    return out


def failed(bars: list[Bar], **kwargs: object) -> set[str]:
    return set(check_bars("TEST", bars, asof=ASOF, **kwargs).failed_checks)  # type: ignore[arg-type]


def test_clean_series_passes() -> None:
    report = check_bars("TEST", clean_series(), asof=ASOF)
    assert report.ok, report.summary()
    assert report.summary() == "bars/TEST: ok"


def test_stale() -> None:
    bars = clean_series(end=ASOF - timedelta(days=7))
    assert failed(bars) == {"stale"}
    assert check_bars("TEST", bars, asof=None).ok


def test_gaps() -> None:
    bars = clean_series()
    holed = bars[:50] + bars[56:]  # six business days missing
    report = check_bars("TEST", holed, asof=ASOF)
    assert report.failed_checks == {"gaps"}
    assert report.failures[0].dates == (bars[56].date,)
    assert "6 business days missing" in report.failures[0].detail
    assert failed(bars[:50] + bars[54:]) == set()  # four missing (e.g. 2001-09-11..14) is tolerated


def test_non_positive_prices() -> None:
    bars = clean_series()
    bars[30] = replace(bars[30], low=0.0)
    bars[31] = replace(bars[31], volume=-5)
    report = check_bars("TEST", bars, asof=ASOF)
    assert "non_positive" in report.failed_checks
    assert {bars[30].date, bars[31].date} <= set(report.failures[0].dates)


def test_ohlc_inconsistent() -> None:
    bars = clean_series()
    b = bars[40]
    bars[40] = replace(b, high=min(b.open, b.close) * 0.999)
    assert failed(bars) == {"ohlc_inconsistent"}


def test_outlier_absolute_and_robust() -> None:
    bars = clean_series()
    b = bars[100]
    bars[100] = replace(b, close=b.close * 1.8, high=b.close * 1.8)  # +59% spike
    report = check_bars("TEST", bars, asof=ASOF)
    assert report.failed_checks == {"outlier"}
    assert bars[100].date in report.failures[0].dates
    calm = clean_series()
    c = calm[90]
    calm[90] = replace(c, close=c.close * 0.82, low=c.close * 0.82)  # -20%: many robust sigmas
    report = check_bars("TEST", calm, asof=ASOF)
    assert report.failed_checks == {"outlier"}
    assert "robust sigmas" in report.failures[0].detail


def test_missing_fields_and_nan() -> None:
    bars = clean_series()
    bars[10] = replace(bars[10], close=float("nan"))
    bars[11] = replace(bars[11], adj_close=float("inf"))
    report = check_bars("TEST", bars, asof=ASOF)
    assert report.failed_checks == {"missing"}
    assert report.failures[0].dates == (bars[10].date, bars[11].date)
    assert failed([], expect_data=True) == {"missing"}
    assert failed([]) == set()
    assert failed([replace(b, symbol="OTHER") for b in clean_series()]) == {"missing"}


def test_duplicates_and_order() -> None:
    bars = clean_series()
    assert failed([*bars[:60], bars[59], *bars[60:]]) == {"duplicates"}
    swapped = [*bars[:60], bars[61], bars[60], *bars[62:]]
    assert failed(swapped) == {"unordered"}


def test_every_failure_is_listed() -> None:
    bars = clean_series(end=ASOF - timedelta(days=10))
    bars[5] = replace(bars[5], open=-1.0)
    bars[6] = replace(bars[6], high=bars[6].low * 0.5)
    bars.insert(8, bars[7])
    report = check_bars("TEST", bars[:70] + bars[80:], asof=ASOF)
    assert report.failed_checks == {"stale", "gaps", "non_positive", "ohlc_inconsistent", "duplicates"}
    assert [f.check for f in report.failures] == [
        QualityCheck.STALE,
        QualityCheck.GAPS,
        QualityCheck.NON_POSITIVE,
        QualityCheck.OHLC,
        QualityCheck.DUPLICATES,
    ]


async def test_real_prices_pass_apart_from_a_genuine_crash() -> None:
    p = CsvProvider(STOCKS)
    bars = await p.bars(["AAPL", "IBM", "MSFT", "GOOG"], date(2000, 1, 1), date(2013, 12, 31))
    for symbol in ("IBM", "MSFT", "GOOG"):
        report = check_bars(symbol, bars[symbol], asof=date(2013, 3, 1))
        assert report.ok, report.summary()
    aapl = check_bars("AAPL", bars["AAPL"], asof=date(2013, 3, 1))
    assert aapl.failed_checks == {"outlier"}
    assert aapl.failures[0].dates == (date(2000, 9, 29),)  # -52% on a profit warning: a real crash
    recent = [b for b in bars["AAPL"] if b.date >= date(2005, 1, 1)]
    assert check_bars("AAPL", recent, asof=date(2013, 3, 4)).ok  # a Monday: one business day lag


FUND = Fundamentals("AAA", date(2024, 4, 30), "Technology", 5.0, 20.0, 0.08, 0.2, 1e9, 20.0, 100.0)


def test_fundamentals_checks() -> None:
    asof = date(2024, 6, 3)
    assert check_fundamentals("AAA", FUND, asof=asof).ok

    def checks(**changes: object) -> frozenset[str]:
        return check_fundamentals("AAA", replace(FUND, **changes), asof=asof).failed_checks  # type: ignore[arg-type]

    assert checks(eps=None) == {"missing"}
    assert checks(net_margin=float("nan")) == {"missing"}
    assert checks(sector="") == {"missing"}
    assert checks(shares_outstanding=0.0) == {"non_positive"}
    assert checks(asof=date(2024, 7, 1)) == {"lookahead"}
    assert checks(asof=date(2023, 6, 1)) == {"stale"}


def _headline(i: int, minutes: int) -> Headline:
    ts = datetime(2024, 6, 3, 14, tzinfo=UTC) + timedelta(minutes=minutes)
    return Headline(f"id{i}", ts, "AAA", "Wire", f"Title {i}")


def test_headline_checks() -> None:
    until = datetime(2024, 6, 4, tzinfo=UTC)
    items = [_headline(i, 10 * i) for i in range(5)]
    assert check_headlines("AAA", items, until=until).ok
    assert check_headlines("AAA", [*items, items[2]], until=until).failed_checks == {"duplicates", "unordered"}
    assert check_headlines("AAA", [items[1], items[0]]).failed_checks == {"unordered"}
    late = replace(items[4], ts=until + timedelta(hours=1))
    assert check_headlines("AAA", [*items[:4], late], until=until).failed_checks == {"lookahead"}
    assert check_headlines("AAA", [replace(items[0], title="  ")]).failed_checks == {"missing"}
    with pytest.raises(ValueError, match="timezone-aware"):
        Headline("x", datetime(2024, 1, 1), None, "s", "t")  # noqa: DTZ001 - the point of the test


def _months(n: int, value: float = 4.0) -> list[MacroObservation]:
    return [MacroObservation("unemployment", date(2020 + m // 12, m % 12 + 1, 1), value) for m in range(n)]


def test_macro_checks() -> None:
    obs = _months(24)
    asof = date(2022, 1, 20)
    assert check_macro("unemployment", obs, asof=asof).ok
    assert check_macro("unemployment", obs, asof=date(2022, 6, 1)).failed_checks == {"stale"}
    assert check_macro("unemployment", obs[:5] + obs[8:], asof=asof).failed_checks == {"gaps"}
    bad = [*obs[:3], replace(obs[3], value=float("nan")), replace(obs[4], value=-2.0), *obs[5:]]
    assert check_macro("unemployment", bad, asof=asof).failed_checks == {"missing", "outlier"}
    assert check_macro("unemployment", [*obs, obs[-1]], asof=asof).failed_checks == {"duplicates"}
    assert check_macro("unemployment", [], expect_data=True).failed_checks == {"missing"}
    with pytest.raises(ValueError, match="unknown macro series"):
        MacroObservation("gdp", date(2020, 1, 1), 1.0)  # type: ignore[arg-type]
