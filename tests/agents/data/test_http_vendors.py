"""Each vendor provider against a local server speaking the vendor's documented JSON format."""

from __future__ import annotations

import logging
import random
from datetime import UTC, date, datetime

import pytest

from agents.data import (
    DatasetUnavailable,
    ManualClock,
    PartialFailure,
    ProviderAuthError,
    ProviderResponseError,
    RateLimited,
    SymbolNotFound,
)
from agents.data._http import AlphaVantageProvider, FinnhubProvider, FredProvider, NewsApiProvider, RetryPolicy
from tests.agents.data.vendor_server import Reply, VendorServer

KEY = "TESTKEY123456789"
NOW = datetime(2024, 1, 10, 14, 0, tzinfo=UTC)

AV_DAILY = {
    "Meta Data": {
        "1. Information": "Daily Prices (open, high, low, close) and Volumes",
        "2. Symbol": "IBM",
        "3. Last Refreshed": "2024-01-09",
        "4. Output Size": "Compact",
        "5. Time Zone": "US/Eastern",
    },
    "Time Series (Daily)": {
        day: {"1. open": o, "2. high": h, "3. low": lo, "4. close": c, "5. volume": v}
        for day, o, h, lo, c, v in [
            ("2024-01-09", "160.0", "161.5", "159.1", "161.2", "3811"),
            ("2024-01-08", "158.2", "160.4", "158.0", "160.1", "4120"),
            ("2024-01-05", "157.0", "158.9", "156.4", "158.5", "3905"),
        ]
    },
}
AV_ADJUSTED_ROW = {
    "1. open": "160.0",
    "2. high": "161.5",
    "3. low": "159.1",
    "4. close": "161.2",
    "5. adjusted close": "158.9",
    "6. volume": "3811",
    "7. dividend amount": "0.0000",
    "8. split coefficient": "1.0",
}
AV_MINUTE_NOTE = {
    "Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and "
    "500 calls per day. Please visit https://www.alphavantage.co/premium/ if you would like to target a "
    "higher API call frequency."
}
AV_DAILY_LIMIT = {
    "Information": "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day. "
    "Please subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly "
    "remove all daily rate limits."
}
AV_OVERVIEW = {
    "Symbol": "IBM",
    "AssetType": "Common Stock",
    "Name": "International Business Machines",
    "Sector": "TECHNOLOGY",
    "LatestQuarter": "2023-09-30",
    "MarketCapitalization": "147000000000",
    "PERatio": "22.1",
    "BookValue": "24.4",
    "EPS": "7.26",
    "ProfitMargin": "0.1",
    "QuarterlyRevenueGrowthYOY": "0.046",
    "SharesOutstanding": "912000000",
    "DividendYield": "None",
}


def av(vendor: VendorServer, clock: ManualClock, **kwargs: object) -> AlphaVantageProvider:
    return AlphaVantageProvider(KEY, base_url=vendor.base_url, clock=clock, **kwargs)  # type: ignore[arg-type]


async def test_alphavantage_daily_bars(vendor: VendorServer) -> None:
    vendor.route("/query", Reply(200, AV_DAILY), when={"function": "TIME_SERIES_DAILY"})
    p = av(vendor, ManualClock(NOW))
    bars = (await p.bars(["IBM"], date(2024, 1, 6), date(2024, 1, 31)))["IBM"]
    assert [(b.date, b.open, b.high, b.low, b.close, b.volume) for b in bars] == [
        (date(2024, 1, 8), 158.2, 160.4, 158.0, 160.1, 4120.0),
        (date(2024, 1, 9), 160.0, 161.5, 159.1, 161.2, 3811.0),
    ]
    assert bars[0].adj_close is None
    [req] = vendor.requests
    assert req.query == {
        "function": "TIME_SERIES_DAILY",
        "symbol": "IBM",
        "outputsize": "compact",  # the range fits in the last 100 days
        "datatype": "json",
        "apikey": KEY,
    }
    await p.bars(["IBM"], date(2020, 1, 1), date(2024, 1, 9))
    assert vendor.requests[-1].query["outputsize"] == "full"
    health = await p.health()
    assert health.ok
    assert health.latency_ms is not None
    await p.aclose()


async def test_alphavantage_adjusted(vendor: VendorServer) -> None:
    payload = {"Meta Data": {}, "Time Series (Daily)": {"2024-01-09": AV_ADJUSTED_ROW}}
    vendor.route("/query", Reply(200, payload), when={"function": "TIME_SERIES_DAILY_ADJUSTED"})
    p = av(vendor, ManualClock(NOW), adjusted=True)
    [bar] = (await p.bars(["IBM"], date(2024, 1, 1), date(2024, 1, 9)))["IBM"]
    assert (bar.close, bar.adj_close, bar.volume) == (161.2, 158.9, 3811.0)
    await p.aclose()


async def test_alphavantage_minute_note_waits_and_retries(vendor: VendorServer) -> None:
    vendor.route("/query", Reply(200, AV_MINUTE_NOTE), Reply(200, AV_DAILY))
    clock = ManualClock(NOW)
    p = av(vendor, clock)
    bars = await p.bars(["IBM"], date(2024, 1, 1), date(2024, 1, 9))
    assert len(bars["IBM"]) == 3  # the note was not mistaken for an empty series
    assert clock.slept == [60.0]
    assert len(vendor.requests) == 2
    await p.aclose()


async def test_alphavantage_daily_limit_fails_fast(vendor: VendorServer) -> None:
    vendor.route("/query", Reply(200, AV_DAILY_LIMIT))
    clock = ManualClock(NOW)
    p = av(vendor, clock)
    with pytest.raises(RateLimited, match="25 requests per day"):
        await p.bars(["IBM"], date(2024, 1, 1), date(2024, 1, 9))
    assert clock.slept == []
    assert len(vendor.requests) == 1
    health = await p.health()
    assert not health.ok
    assert health.last_error is not None
    assert "25 requests per day" in health.last_error
    await p.aclose()


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (
            {"Error Message": "Invalid API call. Please retry or visit the documentation for TIME_SERIES_DAILY."},
            SymbolNotFound,
        ),
        ({"Error Message": "the parameter apikey is invalid or missing."}, ProviderAuthError),
        ({"Information": "Thank you for using Alpha Vantage! This is a premium endpoint."}, ProviderAuthError),
        ({"Information": "Something unexpected"}, ProviderResponseError),
        ({"Meta Data": {}}, ProviderResponseError),
        ([1, 2], ProviderResponseError),
    ],
)
async def test_alphavantage_in_band_errors(vendor: VendorServer, payload: object, error: type[Exception]) -> None:
    vendor.route("/query", Reply(200, payload))
    p = av(vendor, ManualClock(NOW))
    with pytest.raises(error):
        await p.bars(["NOPE"], date(2024, 1, 1), date(2024, 1, 9))
    assert len(vendor.requests) == 1
    await p.aclose()


async def test_alphavantage_overview(vendor: VendorServer) -> None:
    vendor.route("/query", Reply(200, AV_OVERVIEW), when={"function": "OVERVIEW", "symbol": "IBM"})
    vendor.route("/query", Reply(200, {}), when={"function": "OVERVIEW", "symbol": "ZZZ"})
    clock = ManualClock(NOW)
    p = av(vendor, clock)
    f = (await p.fundamentals(["IBM"], NOW.date()))["IBM"]
    assert (f.sector, f.eps, f.book_value_per_share, f.pe_ratio) == ("Technology", 7.26, 24.4, 22.1)
    assert (f.net_margin, f.revenue_growth, f.shares_outstanding) == (0.1, 0.046, 912000000.0)
    assert f.asof == date(2023, 9, 30)
    assert f.name == "International Business Machines"
    with pytest.raises(SymbolNotFound):
        await p.fundamentals(["ZZZ"], NOW.date())
    requests_before = len(vendor.requests)
    with pytest.raises(DatasetUnavailable, match="point-in-time"):
        await p.fundamentals(["IBM"], date(2020, 1, 2))  # a snapshot of today must not feed a backtest
    assert len(vendor.requests) == requests_before
    await p.aclose()


async def test_missing_key_fails_without_a_request(vendor: VendorServer) -> None:
    p = AlphaVantageProvider(None, base_url=vendor.base_url, clock=ManualClock(NOW))
    with pytest.raises(ProviderAuthError, match="no API key"):
        await p.bars(["IBM"], date(2024, 1, 1), date(2024, 1, 9))
    assert vendor.requests == []
    assert not (await p.health()).ok
    await p.aclose()


FINNHUB_NEWS = [
    {
        "category": "company news",
        "datetime": 1704830400,  # 2024-01-09 20:00 UTC
        "headline": "Apple unveils new product",
        "id": 125003,
        "image": "",
        "related": "AAPL",
        "source": "Yahoo",
        "summary": "Apple said ...",
        "url": "https://example.com/a",
    },
    {
        "category": "company news",
        "datetime": 1704787200,  # 2024-01-09 08:00 UTC
        "headline": "Apple supplier warns",
        "id": 125002,
        "image": "",
        "related": "AAPL",
        "source": "Reuters",
        "summary": "",
        "url": "https://example.com/b",
    },
    {
        "category": "company news",
        "datetime": 1704700800,  # 2024-01-08 08:00 UTC: before `since`
        "headline": "Old news",
        "id": 125001,
        "image": "",
        "related": "AAPL",
        "source": "Reuters",
        "summary": "",
        "url": "https://example.com/c",
    },
]


async def test_finnhub_company_news(vendor: VendorServer) -> None:
    vendor.route("/api/v1/company-news", Reply(200, FINNHUB_NEWS))
    p = FinnhubProvider(KEY, base_url=f"{vendor.base_url}/api/v1", clock=ManualClock(NOW))
    since, until = datetime(2024, 1, 9, tzinfo=UTC), datetime(2024, 1, 10, tzinfo=UTC)
    items = (await p.headlines(["AAPL"], since, until))["AAPL"]
    assert [(h.id, h.title, h.source) for h in items] == [
        ("finnhub:125002", "Apple supplier warns", "Reuters"),
        ("finnhub:125003", "Apple unveils new product", "Yahoo"),
    ]
    assert items[1].ts == datetime(2024, 1, 9, 20, tzinfo=UTC)
    [req] = vendor.requests
    assert req.query == {"symbol": "AAPL", "from": "2024-01-09", "to": "2024-01-10"}
    assert req.headers["X-Finnhub-Token"] == KEY
    assert KEY not in req.raw  # the key is a header, not part of the URL
    await p.aclose()


async def test_finnhub_candles_and_errors(vendor: VendorServer) -> None:
    candle = {
        "c": [185.64, 184.25],
        "h": [186.4, 187.05],
        "l": [183.92, 183.62],
        "o": [184.35, 187.15],
        "s": "ok",
        "t": [1704672000, 1704758400],  # 2024-01-08, 2024-01-09 00:00 UTC
        "v": [59144470, 42841809],
    }
    vendor.route("/api/v1/stock/candle", Reply(200, candle), when={"symbol": "AAPL"})
    vendor.route("/api/v1/stock/candle", Reply(200, {"s": "no_data"}), when={"symbol": "EMPTY"})
    vendor.route(
        "/api/v1/stock/candle",
        Reply(429, {"error": "API limit reached. Please try again later. Remaining Limit: 0"}),
        Reply(200, candle),
        when={"symbol": "BUSY"},
    )
    vendor.route(
        "/api/v1/stock/candle",
        Reply(403, {"error": "You don't have access to this resource."}),
        when={"symbol": "PAID"},
    )
    clock = ManualClock(NOW)
    p = FinnhubProvider(KEY, base_url=f"{vendor.base_url}/api/v1", clock=clock, rng=random.Random(0))
    bars = await p.bars(["AAPL", "EMPTY"], date(2024, 1, 1), date(2024, 1, 31))
    assert [(b.date, b.close, b.volume) for b in bars["AAPL"]] == [
        (date(2024, 1, 8), 185.64, 59144470.0),
        (date(2024, 1, 9), 184.25, 42841809.0),
    ]
    assert bars["EMPTY"] == []
    busy = await p.bars(["BUSY"], date(2024, 1, 1), date(2024, 1, 31))
    assert len(busy["BUSY"]) == 2
    assert len(clock.slept) == 1  # one back-off after the 429 (no Retry-After header)
    with pytest.raises(ProviderAuthError, match="403"):
        await p.bars(["PAID"], date(2024, 1, 1), date(2024, 1, 31))
    first = vendor.hits("/api/v1/stock/candle")[0].query
    assert (first["resolution"], first["from"], first["to"]) == ("D", "1704067200", "1706745599")
    await p.aclose()


def fred_payload(series: list[tuple[str, str]]) -> dict[str, object]:
    return {
        "realtime_start": "2024-01-10",
        "realtime_end": "2024-01-10",
        "observation_start": "2022-11-01",
        "observation_end": "2024-01-10",
        "units": "lin",
        "output_type": 1,
        "file_type": "json",
        "order_by": "observation_date",
        "sort_order": "asc",
        "count": len(series),
        "offset": 0,
        "limit": 100000,
        "observations": [
            {"realtime_start": "2024-01-10", "realtime_end": "2024-01-10", "date": d, "value": v} for d, v in series
        ],
    }


async def test_fred_series_mapping_and_cpi_yoy(vendor: VendorServer) -> None:
    cpi = [(f"{2022 + (m // 12)}-{m % 12 + 1:02d}-01", f"{300 + m:.3f}") for m in range(10, 24)]  # 2022-11..2023-12
    vendor.route("/fred/series/observations", Reply(200, fred_payload(cpi)), when={"series_id": "CPIAUCSL"})
    vendor.route(
        "/fred/series/observations",
        Reply(200, fred_payload([("2023-11-01", "4.50"), ("2023-12-01", "."), ("2024-01-01", "4.02")])),
        when={"series_id": "DGS10"},
    )
    vendor.route(
        "/fred/series/observations",
        Reply(200, fred_payload([("2023-11-01", "3.7"), ("2023-12-01", "3.7")])),
        when={"series_id": "UNRATE"},
    )
    p = FredProvider(KEY, base_url=vendor.base_url, clock=ManualClock(NOW))
    out = await p.macro(["rates", "inflation", "unemployment"], date(2023, 11, 1), date(2024, 1, 10))
    assert [(o.date, o.value) for o in out["rates"]] == [(date(2023, 11, 1), 4.5), (date(2024, 1, 1), 4.02)]
    assert [(o.date, o.value) for o in out["unemployment"]] == [(date(2023, 11, 1), 3.7), (date(2023, 12, 1), 3.7)]
    # CPI 2023-11 = 322 vs 2022-11 = 310 -> +3.871%; 2023-12 = 323 vs 2022-12 = 311 -> +3.859%
    assert [(o.date, o.value) for o in out["inflation"]] == [(date(2023, 11, 1), 3.871), (date(2023, 12, 1), 3.859)]
    cpi_req = next(r for r in vendor.requests if r.query["series_id"] == "CPIAUCSL")
    assert cpi_req.query["observation_start"] == "2022-10-01"  # 13 months earlier for the YoY
    assert cpi_req.query["file_type"] == "json"
    assert cpi_req.query["api_key"] == KEY
    await p.aclose()


async def test_fred_errors(vendor: VendorServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    vendor.route(
        "/fred/series/observations",
        Reply(400, {"error_code": 400, "error_message": "Bad Request.  The series does not exist."}),
        when={"series_id": "UNRATE"},
    )
    vendor.route(
        "/fred/series/observations",
        Reply(
            400, {"error_code": 400, "error_message": "Bad Request.  The value for variable api_key is not registered."}
        ),
        when={"series_id": "DGS10"},
    )
    p = FredProvider(KEY, base_url=vendor.base_url, clock=ManualClock(NOW))
    with pytest.raises(SymbolNotFound):
        await p.macro(["unemployment"], date(2023, 1, 1), date(2023, 12, 1))
    with pytest.raises(ProviderAuthError, match="api_key"):
        await p.macro(["rates"], date(2023, 1, 1), date(2023, 12, 1))
    assert KEY not in caplog.text
    await p.aclose()


NEWSAPI_OK = {
    "status": "ok",
    "totalResults": 3,
    "articles": [
        {
            "source": {"id": None, "name": "Example Times"},
            "author": "A. Writer",
            "title": "Microsoft shares climb on cloud growth",
            "description": "Azure revenue rose ...",
            "url": "https://example.com/msft-1",
            "urlToImage": None,
            "publishedAt": "2024-01-09T15:04:05Z",
            "content": "...",
        },
        {
            "source": {"id": None, "name": "[Removed]"},
            "author": None,
            "title": "[Removed]",
            "description": "[Removed]",
            "url": "https://removed.com",
            "urlToImage": None,
            "publishedAt": "1970-01-01T00:00:00Z",
            "content": "[Removed]",
        },
        {
            "source": {"id": "wire", "name": "Wire"},
            "author": None,
            "title": "Microsoft to hold investor day",
            "description": None,
            "url": "https://example.com/msft-0",
            "urlToImage": None,
            "publishedAt": "2024-01-09T09:00:00Z",
            "content": None,
        },
    ],
}


async def test_newsapi_everything(vendor: VendorServer) -> None:
    vendor.route("/v2/everything", Reply(200, NEWSAPI_OK))
    p = NewsApiProvider(KEY, base_url=vendor.base_url, queries={"MSFT": "Microsoft"}, clock=ManualClock(NOW))
    items = (await p.headlines(["MSFT"], datetime(2024, 1, 9, tzinfo=UTC), NOW))["MSFT"]
    assert [(h.title, h.source, h.ts.hour) for h in items] == [
        ("Microsoft to hold investor day", "Wire", 9),
        ("Microsoft shares climb on cloud growth", "Example Times", 15),
    ]
    assert items[1].summary == "Azure revenue rose ..."
    [req] = vendor.requests
    assert req.query["q"] == "Microsoft"
    assert req.query["from"] == "2024-01-09T00:00:00Z"
    assert req.headers["X-Api-Key"] == KEY
    assert KEY not in req.raw
    await p.aclose()


async def test_newsapi_errors(vendor: VendorServer) -> None:
    vendor.route(
        "/v2/everything",
        Reply(401, {"status": "error", "code": "apiKeyInvalid", "message": "Your API key is invalid."}),
        when={"q": "BAD"},
    )
    vendor.route(
        "/v2/everything",
        Reply(426, {"status": "error", "code": "parameterInvalid", "message": "too far in the past"}),
        when={"q": "OLD"},
    )
    vendor.route(
        "/v2/everything",
        Reply(429, {"status": "error", "code": "rateLimited", "message": "You have made too many requests."}),
        Reply(200, NEWSAPI_OK),
        when={"q": "BUSY"},
    )
    clock = ManualClock(NOW)
    p = NewsApiProvider(KEY, base_url=vendor.base_url, clock=clock, retry=RetryPolicy(max_retries=1))
    since = datetime(2024, 1, 9, tzinfo=UTC)
    with pytest.raises(ProviderAuthError, match=r"apiKeyInvalid|401"):
        await p.headlines(["BAD"], since, NOW)
    with pytest.raises(ProviderResponseError, match="too far in the past"):
        await p.headlines(["OLD"], since, NOW)
    assert len((await p.headlines(["BUSY"], since, NOW))["BUSY"]) == 2
    assert len(clock.slept) == 1
    await p.aclose()


async def test_alphavantage_quota_error_keeps_earlier_symbols_and_stops(vendor: VendorServer) -> None:
    vendor.route("/query", Reply(200, AV_DAILY), when={"symbol": "IBM"})
    vendor.route("/query", Reply(200, AV_DAILY_LIMIT), when={"symbol": "MSFT"})
    vendor.route("/query", Reply(200, AV_DAILY), when={"symbol": "AAPL"})
    p = av(vendor, ManualClock(NOW))
    with pytest.raises(PartialFailure) as info:
        await p.bars(["IBM", "MSFT", "AAPL"], date(2024, 1, 1), date(2024, 1, 9))
    assert len(info.value.data["IBM"]) == 3
    assert set(info.value.errors) == {"MSFT", "AAPL"}
    assert all(isinstance(e, RateLimited) for e in info.value.errors.values())
    assert [r.query["symbol"] for r in vendor.requests] == ["IBM", "MSFT"]  # AAPL would waste quota
    await p.aclose()
