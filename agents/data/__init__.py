"""The Data agent's data layer: typed records, providers, wrappers and quality checks.

A pure library: nothing here touches the bus. The Data agent composes a provider stack with
:func:`~agents.data.settings.build_provider` and turns :class:`DataQualityEvent`\\ s into alerts.
"""

from agents.data._cache import CachedProvider, CacheStats
from agents.data._calendar import business_days, business_days_between, previous_business_day
from agents.data._clock import Clock, ManualClock, SystemClock
from agents.data._composite import CompositeProvider
from agents.data._csv import CsvProvider, adjust_bars, read_bars_csv
from agents.data._demo import DEFAULT_UNIVERSE, DemoProvider, DemoSecurity
from agents.data._errors import (
    CsvFormatError,
    DataError,
    DatasetUnavailable,
    PartialFailure,
    ProviderAuthError,
    ProviderError,
    ProviderResponseError,
    ProviderUnreachable,
    RateLimited,
    SymbolNotFound,
)
from agents.data._failover import DataQualityEvent, FailoverProvider, QualityAction
from agents.data._http import (
    AlphaVantageProvider,
    FinnhubProvider,
    FredProvider,
    HttpProvider,
    NewsApiProvider,
    RetryPolicy,
)
from agents.data._provider import DataProvider, per_symbol
from agents.data._quality import (
    QualityCheck,
    QualityConfig,
    QualityFailure,
    QualityReport,
    check_bars,
    check_fundamentals,
    check_headlines,
    check_macro,
)
from agents.data._ratelimit import RateLimitedProvider, TokenBucket
from agents.data._types import (
    IMPACTED_SIGNALS,
    MACRO_SERIES,
    Bar,
    Dataset,
    DatasetKey,
    Fundamentals,
    Headline,
    MacroObservation,
    MacroSeries,
    ProviderHealth,
)
from agents.data.settings import DataSettings, build_provider

__all__ = [
    "DEFAULT_UNIVERSE",
    "IMPACTED_SIGNALS",
    "MACRO_SERIES",
    "AlphaVantageProvider",
    "Bar",
    "CacheStats",
    "CachedProvider",
    "Clock",
    "CompositeProvider",
    "CsvFormatError",
    "CsvProvider",
    "DataError",
    "DataProvider",
    "DataQualityEvent",
    "DataSettings",
    "Dataset",
    "DatasetKey",
    "DatasetUnavailable",
    "DemoProvider",
    "DemoSecurity",
    "FailoverProvider",
    "FinnhubProvider",
    "FredProvider",
    "Fundamentals",
    "Headline",
    "HttpProvider",
    "MacroObservation",
    "MacroSeries",
    "ManualClock",
    "NewsApiProvider",
    "PartialFailure",
    "ProviderAuthError",
    "ProviderError",
    "ProviderHealth",
    "ProviderResponseError",
    "ProviderUnreachable",
    "QualityAction",
    "QualityCheck",
    "QualityConfig",
    "QualityFailure",
    "QualityReport",
    "RateLimited",
    "RateLimitedProvider",
    "RetryPolicy",
    "SymbolNotFound",
    "SystemClock",
    "TokenBucket",
    "adjust_bars",
    "build_provider",
    "business_days",
    "business_days_between",
    "check_bars",
    "check_fundamentals",
    "check_headlines",
    "check_macro",
    "per_symbol",
    "previous_business_day",
    "read_bars_csv",
]
