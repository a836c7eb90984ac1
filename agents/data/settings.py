"""Settings of the data layer (pydantic-settings) and the factory that turns them into a provider stack.

Environment variables (all optional; the default is the embedded demo market)::

    DATA_PROVIDER=demo|csv|alphavantage|finnhub     DATA_BACKUP_PROVIDER=(same choices, or unset)
    DATA_CSV_PATH=./prices  DATA_CSV_ADJUST=false    DATA_SEED=7
    ALPHAVANTAGE_API_KEY  FINNHUB_API_KEY  FRED_API_KEY  NEWSAPI_API_KEY
    DATA_HTTP_TIMEOUT_S  DATA_HTTP_MAX_RETRIES  DATA_CACHE_TTL_S  DATA_QUARANTINE_S
    ALPHAVANTAGE_REQUESTS_PER_MINUTE (and FINNHUB_, FRED_, NEWSAPI_)
    ALPHAVANTAGE_BASE_URL (and FINNHUB_, FRED_, NEWSAPI_): override to point at a test server

A vendor primary serves what it can and borrows the other datasets from the vendors whose keys are
set: Alpha Vantage (bars, fundamentals), Finnhub (bars, headlines), FRED (macro), NewsAPI (headlines).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from agents.data._cache import CachedProvider
from agents.data._clock import Clock
from agents.data._composite import CompositeProvider
from agents.data._csv import CsvProvider
from agents.data._demo import DemoProvider
from agents.data._failover import FailoverProvider
from agents.data._http import (
    AlphaVantageProvider,
    FinnhubProvider,
    FredProvider,
    HttpProvider,
    NewsApiProvider,
    RetryPolicy,
)
from agents.data._provider import DataProvider
from agents.data._quality import QualityConfig
from agents.data._ratelimit import RateLimitedProvider, TokenBucket
from agents.data._types import Dataset

ProviderName = Literal["demo", "csv", "alphavantage", "finnhub"]
Vendor = Literal["alphavantage", "finnhub", "fred", "newsapi"]


class DataSettings(BaseSettings):
    """Where market data comes from, and how carefully it is fetched."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, env_file=".env")

    data_provider: ProviderName = Field(
        default="demo", description="Primary market-data source: demo (seeded, no key), csv, alphavantage or finnhub"
    )
    data_symbols: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Symbols to trade (comma-separated); empty: the demo universe or every symbol in the CSV data",
    )
    data_backup_provider: ProviderName | None = Field(
        default=None, description="Source to fail over to when the primary fails or its data fails the quality checks"
    )
    data_csv_path: Path | None = Field(
        default=None,
        description="CSV file (long format with a Ticker column, .gz allowed) or directory of <SYMBOL>.csv files",
    )
    data_csv_adjust: bool = Field(
        default=False, description="Back-adjust CSV bars for splits and dividends with the Adj Close column"
    )
    data_seed: int = Field(
        default=7, description="Seed of the demo market (the same seed gives the same prices, news and macro series)"
    )

    alphavantage_api_key: SecretStr | None = Field(
        default=None, description="Alpha Vantage API key (daily bars, company overview)"
    )
    finnhub_api_key: SecretStr | None = Field(default=None, description="Finnhub API key (company news, candles)")
    fred_api_key: SecretStr | None = Field(default=None, description="FRED API key (rates, CPI, unemployment)")
    newsapi_api_key: SecretStr | None = Field(default=None, description="NewsAPI key (headlines)")

    data_http_timeout_s: float = Field(
        10.0, gt=0, description="Timeout of one HTTP request to a data vendor, in seconds"
    )
    data_http_max_retries: int = Field(
        3, ge=0, le=10, description="Retries of a failed vendor request (connection errors, 5xx, 429)"
    )
    data_http_backoff_base_s: float = Field(
        0.5, gt=0, description="First back-off between retries, in seconds (doubles, with jitter)"
    )
    data_http_retry_after_max_s: float = Field(
        60.0, ge=0, description="Longest Retry-After a vendor may impose before the request fails, in seconds"
    )
    alphavantage_requests_per_minute: float = Field(5.0, gt=0, description="Rate limit for Alpha Vantage requests")
    finnhub_requests_per_minute: float = Field(60.0, gt=0, description="Rate limit for Finnhub requests")
    fred_requests_per_minute: float = Field(120.0, gt=0, description="Rate limit for FRED requests")
    newsapi_requests_per_minute: float = Field(30.0, gt=0, description="Rate limit for NewsAPI requests")
    data_cache_ttl_s: float = Field(300.0, ge=0, description="How long vendor answers are cached, in seconds")
    data_quarantine_s: float = Field(
        3600.0, ge=0, description="How long a dataset failing the quality checks stays quarantined, in seconds"
    )
    data_stale_business_days: int = Field(
        3, ge=0, description="Bars older than this many business days are stale (quality check)"
    )

    alphavantage_base_url: str = Field(
        default="https://www.alphavantage.co", description="Alpha Vantage base URL (tests point it at a local server)"
    )
    finnhub_base_url: str = Field(default="https://finnhub.io/api/v1", description="Finnhub base URL")
    fred_base_url: str = Field(default="https://api.stlouisfed.org", description="FRED base URL")
    newsapi_base_url: str = Field(default="https://newsapi.org", description="NewsAPI base URL")
    data_fred_rates_series: Literal["DGS10", "FEDFUNDS"] = Field(
        default="DGS10", description="FRED series used as the rates input of the macro plug-in"
    )
    data_news_queries: dict[str, str] = Field(
        default_factory=dict, description='NewsAPI query per symbol, as JSON ({"AAPL": "Apple"}); default: the symbol'
    )

    @field_validator("data_symbols", mode="before")
    @classmethod
    def _split_symbols(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().upper() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        chosen = [self.data_provider] + ([self.data_backup_provider] if self.data_backup_provider else [])
        if self.data_backup_provider == self.data_provider:
            raise ValueError("DATA_BACKUP_PROVIDER must differ from DATA_PROVIDER")
        if "csv" in chosen and self.data_csv_path is None:
            raise ValueError("the csv provider needs DATA_CSV_PATH")
        for name in chosen:
            if name in ("alphavantage", "finnhub") and not self.key(name):
                raise ValueError(f"DATA_PROVIDER {name} needs {name.upper()}_API_KEY")
        return self

    def key(self, vendor: Vendor) -> SecretStr | None:
        value: SecretStr | None = getattr(self, f"{vendor}_api_key")
        return value if value is not None and value.get_secret_value() else None


class _Vendors:
    """One rate-limited instance per vendor, shared by the primary and the backup (one key, one quota)."""

    def __init__(self, settings: DataSettings, clock: Clock) -> None:
        self.s = settings
        self.clock = clock
        self._made: dict[Vendor, DataProvider] = {}

    def get(self, vendor: Vendor) -> DataProvider | None:
        if vendor in self._made:
            return self._made[vendor]
        s = self.s
        key = s.key(vendor)
        if key is None:
            return None
        retry = RetryPolicy(
            max_retries=s.data_http_max_retries,
            backoff_base=s.data_http_backoff_base_s,
            retry_after_max=s.data_http_retry_after_max_s,
        )
        timeout, clock = s.data_http_timeout_s, self.clock
        provider: HttpProvider
        if vendor == "alphavantage":
            provider = AlphaVantageProvider(
                key, base_url=s.alphavantage_base_url, timeout=timeout, retry=retry, clock=clock
            )
        elif vendor == "finnhub":
            provider = FinnhubProvider(key, base_url=s.finnhub_base_url, timeout=timeout, retry=retry, clock=clock)
        elif vendor == "fred":
            provider = FredProvider(
                key,
                base_url=s.fred_base_url,
                rates_series=s.data_fred_rates_series,
                timeout=timeout,
                retry=retry,
                clock=clock,
            )
        else:
            provider = NewsApiProvider(
                key,
                base_url=s.newsapi_base_url,
                queries=s.data_news_queries,
                timeout=timeout,
                retry=retry,
                clock=clock,
            )
        per_minute: float = getattr(s, f"{vendor}_requests_per_minute")
        bucket = TokenBucket.per_minute(per_minute, self.clock, burst=max(1.0, min(5.0, per_minute / 12)))
        self._made[vendor] = RateLimitedProvider(provider, bucket)
        return self._made[vendor]

    def vendor_stack(self, name: Literal["alphavantage", "finnhub"]) -> DataProvider:
        preferences: dict[Dataset, tuple[Vendor, ...]] = {
            Dataset.BARS: (name, "alphavantage", "finnhub"),
            Dataset.FUNDAMENTALS: ("alphavantage",),
            Dataset.HEADLINES: (name, "finnhub", "newsapi") if name == "finnhub" else ("finnhub", "newsapi"),
            Dataset.MACRO: ("fred",),
        }
        routes: dict[Dataset, DataProvider] = {}
        for dataset, vendors in preferences.items():
            for vendor in vendors:
                provider = self.get(vendor)
                if provider is not None and provider.supports(dataset):
                    routes[dataset] = provider
                    break
        composite = CompositeProvider(routes, name=name, clock=self.clock)
        ttl = self.s.data_cache_ttl_s
        return CachedProvider(composite, clock=self.clock, ttl=ttl) if ttl > 0 else composite


def _source(name: ProviderName, settings: DataSettings, clock: Clock, vendors: _Vendors) -> DataProvider:
    if name == "demo":
        return DemoProvider(settings.data_seed, clock=clock)
    if name == "csv":
        assert settings.data_csv_path is not None  # checked by the settings validator
        return CsvProvider(settings.data_csv_path, adjust=settings.data_csv_adjust, clock=clock)
    return vendors.vendor_stack(name)


def build_provider(settings: DataSettings, *, clock: Clock) -> FailoverProvider:
    """The Data agent's provider stack: quality-checked primary, optional backup, quarantine events.

    The result is a :class:`FailoverProvider` even without a backup, so that bad data is always
    checked, quarantined and reported (subscribe with ``add_listener``). HTTP vendors are
    rate-limited (one bucket per vendor) and cached for ``DATA_CACHE_TTL_S``.
    """
    vendors = _Vendors(settings, clock)
    primary = _source(settings.data_provider, settings, clock, vendors)
    backup = _source(settings.data_backup_provider, settings, clock, vendors) if settings.data_backup_provider else None
    quality = QualityConfig(stale_business_days=settings.data_stale_business_days)
    return FailoverProvider(
        primary, backup, clock=clock, quality=quality, quarantine_seconds=settings.data_quarantine_s
    )
