"""Alpha Vantage: daily bars (TIME_SERIES_DAILY / _ADJUSTED) and fundamentals (OVERVIEW).

Alpha Vantage answers HTTP 200 whatever happens and puts problems in the body: ``Error Message``
(bad call or unknown symbol; a bad key too), ``Note`` or ``Information`` (rate limit, premium-only
endpoint, demo key). Those are turned into the right errors here instead of being parsed as empty data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import SecretStr

from agents.data._errors import (
    DatasetUnavailable,
    ProviderAuthError,
    ProviderResponseError,
    RateLimited,
    SymbolNotFound,
)
from agents.data._http._base import HttpProvider
from agents.data._http._client import InBandRetry
from agents.data._provider import per_symbol
from agents.data._types import Bar, Dataset, Fundamentals

_RATE = re.compile(r"rate limit|call frequency|requests per|calls per|spreading out", re.IGNORECASE)
_PER_SECOND = re.compile(r"per second", re.IGNORECASE)
_PER_MINUTE = re.compile(r"per minute", re.IGNORECASE)
_KEY = re.compile(r"api ?key|apikey", re.IGNORECASE)
_COMPACT_POINTS = 100


class AlphaVantageProvider(HttpProvider):
    """Bars and fundamentals from Alpha Vantage (one request per symbol).

    Args:
        api_key: the key (sent as the ``apikey`` query parameter, never logged).
        adjusted: use TIME_SERIES_DAILY_ADJUSTED (a premium endpoint at the time of writing) to get
            the adjusted close; otherwise TIME_SERIES_DAILY and ``adj_close`` is None.
        outputsize: ``compact`` (last 100 days), ``full``, or ``auto`` (compact when the range fits).
        minute_limit_wait: seconds to wait on an in-band per-minute limit note before retrying.
        **kwargs: see :class:`~agents.data._http._base.HttpProvider`.
    """

    default_base_url = "https://www.alphavantage.co"
    capabilities = frozenset({Dataset.BARS, Dataset.FUNDAMENTALS})

    def __init__(
        self,
        api_key: str | SecretStr | None,
        *,
        adjusted: bool = False,
        outputsize: Literal["auto", "compact", "full"] = "auto",
        minute_limit_wait: float = 60.0,
        name: str = "alphavantage",
        **kwargs: Any,
    ) -> None:
        super().__init__(api_key, name=name, **kwargs)
        self.adjusted = adjusted
        self.outputsize = outputsize
        self.minute_limit_wait = minute_limit_wait

    def _inspect(self, symbol: str) -> Any:
        def inspect(payload: Any) -> None:
            if not isinstance(payload, dict):
                raise ProviderResponseError(self.name, f"expected a JSON object, got {type(payload).__name__}")
            if "Error Message" in payload:
                message = str(payload["Error Message"])
                if _KEY.search(message):
                    raise ProviderAuthError(self.name, message)
                raise SymbolNotFound(self.name, symbol, message)
            for field in ("Note", "Information"):
                if field not in payload:
                    continue
                message = str(payload[field])
                if _RATE.search(message):
                    if _PER_SECOND.search(message):
                        raise InBandRetry(message, 1.5)
                    if _PER_MINUTE.search(message):
                        raise InBandRetry(message, self.minute_limit_wait)
                    raise RateLimited(self.name, message)  # a daily quota: waiting minutes will not help
                if "premium" in message.lower() or _KEY.search(message):
                    raise ProviderAuthError(self.name, message)
                raise ProviderResponseError(self.name, message)

        return inspect

    def _size(self, start: date) -> str:
        if self.outputsize != "auto":
            return self.outputsize
        days_back = (self._today() - start).days
        return "compact" if days_back * 5 / 7 < _COMPACT_POINTS - 10 else "full"

    async def bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, list[Bar]]:
        function = "TIME_SERIES_DAILY_ADJUSTED" if self.adjusted else "TIME_SERIES_DAILY"

        async def one(symbol: str) -> list[Bar]:
            params = {
                "function": function,
                "symbol": symbol,
                "outputsize": self._size(start),
                "datatype": "json",
                "apikey": self._api_key(),
            }
            payload = await self.http.get_json("/query", params, inspect=self._inspect(symbol))
            return [b for b in self._parse_series(symbol, payload) if start <= b.date <= end]

        return await per_symbol(symbols, one)

    def _parse_series(self, symbol: str, payload: dict[str, Any]) -> list[Bar]:
        series = payload.get("Time Series (Daily)")
        if not isinstance(series, dict):
            raise ProviderResponseError(self.name, f"no 'Time Series (Daily)' in response (keys: {sorted(payload)})")
        volume_key = "6. volume" if self.adjusted else "5. volume"
        bars = []
        for day, row in series.items():
            try:
                bars.append(
                    Bar(
                        symbol=symbol,
                        date=date.fromisoformat(day),
                        open=float(row["1. open"]),
                        high=float(row["2. high"]),
                        low=float(row["3. low"]),
                        close=float(row["4. close"]),
                        volume=float(row[volume_key]),
                        adj_close=float(row["5. adjusted close"]) if self.adjusted else None,
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise ProviderResponseError(self.name, f"{symbol} {day}: malformed bar ({exc!r})") from None
        return sorted(bars, key=lambda b: b.date)

    async def fundamentals(self, symbols: Sequence[str], asof: date) -> dict[str, Fundamentals]:
        """OVERVIEW is a snapshot of *now*: asking for an as-of date in the past would leak the future
        into a backtest, so that raises :class:`DatasetUnavailable`."""
        if asof < self._today() - timedelta(days=5):
            raise DatasetUnavailable(self.name, Dataset.FUNDAMENTALS, f"no point-in-time history before {asof}")

        async def one(symbol: str) -> Fundamentals:
            params = {"function": "OVERVIEW", "symbol": symbol, "apikey": self._api_key()}
            payload = await self.http.get_json("/query", params, inspect=self._inspect(symbol))
            if not payload:
                raise SymbolNotFound(self.name, symbol, "empty OVERVIEW")
            return self._parse_overview(symbol, payload, asof)

        return await per_symbol(symbols, one)

    def _parse_overview(self, symbol: str, p: dict[str, Any], asof: date) -> Fundamentals:
        try:
            latest = date.fromisoformat(str(p.get("LatestQuarter", "")))
        except ValueError:
            latest = asof
        return Fundamentals(
            symbol=symbol,
            asof=min(latest, asof),
            sector=str(p.get("Sector") or "").strip().title(),
            eps=_number(p.get("EPS")),
            book_value_per_share=_number(p.get("BookValue")),
            revenue_growth=_number(p.get("QuarterlyRevenueGrowthYOY")),
            net_margin=_number(p.get("ProfitMargin")),
            shares_outstanding=_number(p.get("SharesOutstanding")),
            pe_ratio=_number(p.get("PERatio")),
            name=str(p.get("Name") or ""),
        )


def _number(value: Any) -> float | None:
    """Alpha Vantage writes numbers as strings and missing ones as "None", "-" or ""."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
