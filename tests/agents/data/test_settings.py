"""DataSettings from the environment, and build_provider end to end (demo, csv, vendors on a local server)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from agents.data import (
    CsvProvider,
    DataSettings,
    DemoProvider,
    FailoverProvider,
    ManualClock,
    QualityAction,
    build_provider,
)
from tests.agents.data.test_http_vendors import AV_DAILY, AV_DAILY_LIMIT, FINNHUB_NEWS, fred_payload
from tests.agents.data.vendor_server import Reply, VendorServer

STOCKS = Path(__file__).resolve().parents[2] / "data" / "stocks.csv.gz"
VARS = [
    "DATA_PROVIDER",
    "DATA_BACKUP_PROVIDER",
    "DATA_CSV_PATH",
    "DATA_CSV_ADJUST",
    "DATA_SEED",
    "ALPHAVANTAGE_API_KEY",
    "FINNHUB_API_KEY",
    "FRED_API_KEY",
    "NEWSAPI_API_KEY",
    "DATA_CACHE_TTL_S",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARS:
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_the_embedded_demo() -> None:
    s = DataSettings()
    assert s.data_provider == "demo"
    assert s.data_backup_provider is None
    assert s.data_seed == 7
    assert s.alphavantage_api_key is None


def test_environment_and_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_PROVIDER", "alphavantage")
    monkeypatch.setenv("ALPHAVANTAGE_API_KEY", "av-secret-1")
    monkeypatch.setenv("DATA_BACKUP_PROVIDER", "csv")
    monkeypatch.setenv("DATA_CSV_PATH", str(STOCKS))
    monkeypatch.setenv("DATA_SEED", "42")
    s = DataSettings()
    assert (s.data_provider, s.data_backup_provider, s.data_seed) == ("alphavantage", "csv", 42)
    assert s.data_csv_path == STOCKS
    assert s.alphavantage_api_key is not None
    assert s.alphavantage_api_key.get_secret_value() == "av-secret-1"
    assert "av-secret-1" not in repr(s)
    assert "av-secret-1" not in str(s.model_dump())


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATA_PROVIDER": "csv"}, "DATA_CSV_PATH"),
        ({"DATA_PROVIDER": "alphavantage"}, "ALPHAVANTAGE_API_KEY"),
        ({"DATA_PROVIDER": "demo", "DATA_BACKUP_PROVIDER": "finnhub"}, "FINNHUB_API_KEY"),
        ({"DATA_PROVIDER": "demo", "DATA_BACKUP_PROVIDER": "demo"}, "must differ"),
        ({"DATA_PROVIDER": "bloomberg"}, "literal_error|Input should be"),
    ],
)
def test_invalid_settings_fail_fast(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ValidationError, match=message):
        DataSettings()


async def test_build_demo() -> None:
    clock = ManualClock(datetime(2024, 6, 28, 22, tzinfo=UTC))
    stack = build_provider(DataSettings(data_seed=3), clock=clock)
    assert isinstance(stack, FailoverProvider)
    assert isinstance(stack.primary, DemoProvider)
    assert stack.backup is None
    bars = await stack.bars(["AAPL", "JPM"], date(2024, 1, 1), date(2024, 6, 28))
    assert bars == await DemoProvider(3).bars(["AAPL", "JPM"], date(2024, 1, 1), date(2024, 6, 28))
    assert stack.events == []
    assert (await stack.health()).ok


async def test_build_csv_with_demo_backup() -> None:
    clock = ManualClock(datetime(2013, 3, 1, 22, tzinfo=UTC))
    settings = DataSettings(data_provider="csv", data_csv_path=STOCKS, data_backup_provider="demo")
    stack = build_provider(settings, clock=clock)
    assert isinstance(stack.primary, CsvProvider)
    out = await stack.bars(["AAPL", "JPM"], date(2012, 1, 1), date(2013, 3, 1))
    assert out["AAPL"][-1].close == 430.47  # real data from the file
    assert out["JPM"] == (await DemoProvider(7).bars(["JPM"], date(2012, 1, 1), date(2013, 3, 1)))["JPM"]
    [event] = stack.events  # JPM is not in the file: the backup serves it, and that is reported
    assert (event.symbol, event.action, event.checks_failed) == (
        "JPM",
        QualityAction.FAILED_OVER,
        frozenset({"provider_error"}),
    )
    news = await stack.headlines(["AAPL"], datetime(2013, 2, 1, tzinfo=UTC), datetime(2013, 3, 1, tzinfo=UTC))
    assert len(news["AAPL"]) > 10  # csv has no headlines: routed to the backup without an event
    assert len(stack.events) == 1


async def test_build_vendor_stack_against_local_server(vendor: VendorServer) -> None:
    vendor.route("/query", Reply(200, AV_DAILY), when={"symbol": "IBM"})
    vendor.route("/query", Reply(200, AV_DAILY_LIMIT), when={"symbol": "MSFT"})
    vendor.route("/api/v1/company-news", Reply(200, FINNHUB_NEWS))
    vendor.route(
        "/fred/series/observations",
        Reply(200, fred_payload([("2023-11-01", "3.7"), ("2023-12-01", "3.7")])),
        when={"series_id": "UNRATE"},
    )
    clock = ManualClock(datetime(2024, 1, 10, 14, tzinfo=UTC))
    settings = DataSettings(
        data_provider="alphavantage",
        data_backup_provider="demo",
        alphavantage_api_key="av-key",
        finnhub_api_key="fh-key",
        fred_api_key="fred-key",
        alphavantage_base_url=vendor.base_url,
        finnhub_base_url=f"{vendor.base_url}/api/v1",
        fred_base_url=vendor.base_url,
    )
    stack = build_provider(settings, clock=clock)
    bars = await stack.bars(["IBM", "MSFT"], date(2024, 1, 5), date(2024, 1, 9))
    assert [b.close for b in bars["IBM"]] == [158.5, 160.1, 161.2]  # from "Alpha Vantage"
    assert bars["MSFT"] == (await DemoProvider(7).bars(["MSFT"], date(2024, 1, 5), date(2024, 1, 9)))["MSFT"]
    [event] = stack.events
    assert event.symbol == "MSFT"
    assert event.action is QualityAction.FAILED_OVER
    assert "25 requests per day" in event.detail
    assert clock.slept == [12.0]  # 5 requests a minute: the second Alpha Vantage call waited its turn

    macro = await stack.macro(["unemployment"], date(2023, 11, 1), date(2024, 1, 10))
    assert [o.value for o in macro["unemployment"]] == [3.7, 3.7]
    news = await stack.headlines(["AAPL"], datetime(2024, 1, 9, tzinfo=UTC), datetime(2024, 1, 10, tzinfo=UTC))
    assert len(news["AAPL"]) == 2

    requests = len(vendor.requests)
    await stack.bars(["IBM"], date(2024, 1, 5), date(2024, 1, 9))  # cached
    assert len(vendor.requests) == requests
    health = await stack.health()
    assert health.ok  # the backup is healthy, whatever the primary says
    assert "alphavantage" in health.detail
    await stack.aclose()
