"""Finnhub: company news (``/company-news``) as headlines and daily candles (``/stock/candle``) as bars.

The key travels in the ``X-Finnhub-Token`` header, never in the URL. Errors come as HTTP statuses with
``{"error": "..."}`` bodies (401/403 key or plan, 429 limit); a candle answer of ``{"s": "no_data"}``
is an empty range, not an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import SecretStr

from agents.data._errors import ProviderResponseError, SymbolNotFound
from agents.data._http._base import HttpProvider
from agents.data._http._client import HttpStatusError
from agents.data._provider import check_aware, per_symbol
from agents.data._types import Bar, Dataset, Headline


class FinnhubProvider(HttpProvider):
    """Headlines and bars from Finnhub (one request per symbol)."""

    default_base_url = "https://finnhub.io/api/v1"
    capabilities = frozenset({Dataset.BARS, Dataset.HEADLINES})

    def __init__(self, api_key: str | SecretStr | None, *, name: str = "finnhub", **kwargs: Any) -> None:
        super().__init__(api_key, name=name, **kwargs)

    def _inspect(self, payload: Any) -> None:
        if isinstance(payload, dict) and "error" in payload:
            raise ProviderResponseError(self.name, str(payload["error"]))

    async def _get(self, path: str, params: dict[str, str], symbol: str) -> Any:
        headers = {"X-Finnhub-Token": self._api_key()}
        try:
            return await self.http.get_json(path, params, headers=headers, inspect=self._inspect)
        except HttpStatusError as exc:
            if exc.status in (404, 422):
                raise SymbolNotFound(self.name, symbol, exc.body[:200]) from None
            raise

    async def headlines(self, symbols: Sequence[str], since: datetime, until: datetime) -> dict[str, list[Headline]]:
        check_aware(since, until)

        async def one(symbol: str) -> list[Headline]:
            params = {
                "symbol": symbol,
                "from": since.astimezone(UTC).date().isoformat(),
                "to": until.astimezone(UTC).date().isoformat(),
            }
            payload = await self._get("/company-news", params, symbol)
            if not isinstance(payload, list):
                raise ProviderResponseError(self.name, "company-news: expected a JSON array")
            items = {h.id: h for h in (self._headline(symbol, row) for row in payload) if since <= h.ts < until}
            return sorted(items.values(), key=lambda h: (h.ts, h.id))

        return await per_symbol(symbols, one)

    def _headline(self, symbol: str, row: Any) -> Headline:
        try:
            return Headline(
                id=f"finnhub:{row['id']}",
                ts=datetime.fromtimestamp(int(row["datetime"]), UTC),
                symbol=symbol,
                source=str(row.get("source") or "finnhub"),
                title=str(row.get("headline") or ""),
                summary=str(row.get("summary") or ""),
                url=str(row.get("url") or ""),
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise ProviderResponseError(self.name, f"company-news: malformed item ({exc!r})") from None

    async def bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, list[Bar]]:
        t0 = int(datetime.combine(start, time(0), tzinfo=UTC).timestamp())
        t1 = int(datetime.combine(end + timedelta(days=1), time(0), tzinfo=UTC).timestamp()) - 1

        async def one(symbol: str) -> list[Bar]:
            params = {"symbol": symbol, "resolution": "D", "from": str(t0), "to": str(t1)}
            payload = await self._get("/stock/candle", params, symbol)
            return [b for b in self._candles(symbol, payload) if start <= b.date <= end]

        return await per_symbol(symbols, one)

    def _candles(self, symbol: str, payload: Any) -> list[Bar]:
        if not isinstance(payload, dict):
            raise ProviderResponseError(self.name, "stock/candle: expected a JSON object")
        status = payload.get("s")
        if status == "no_data":
            return []
        if status != "ok":
            raise ProviderResponseError(self.name, f"stock/candle: status {status!r}")
        try:
            columns = [list(payload[k]) for k in ("t", "o", "h", "l", "c", "v")]
        except (KeyError, TypeError) as exc:
            raise ProviderResponseError(self.name, f"stock/candle: missing array {exc}") from None
        if len({len(c) for c in columns}) != 1:
            raise ProviderResponseError(self.name, "stock/candle: arrays of different lengths")
        bars = {}
        for t, o, h, lo, c, v in zip(*columns, strict=True):
            day = datetime.fromtimestamp(int(t), UTC).date()
            bars[day] = Bar(symbol, day, float(o), float(h), float(lo), float(c), float(v))
        return [bars[d] for d in sorted(bars)]
