"""NewsAPI.org: ``/v2/everything`` as headlines.

The key travels in the ``X-Api-Key`` header. Errors are ``{"status": "error", "code": ..., "message":
...}`` bodies, with HTTP 401 (key), 429 (``rateLimited``) or 426 (the free plan's history limit).
Articles taken down by their publisher come back titled ``[Removed]`` and are dropped. One page (up to
100 articles) per symbol and window: enough for a daily run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

from pydantic import SecretStr

from agents.data._errors import ProviderAuthError, ProviderResponseError, RateLimited
from agents.data._http._base import HttpProvider
from agents.data._http._client import HttpStatusError
from agents.data._provider import check_aware, per_symbol
from agents.data._types import Dataset, Headline


class NewsApiProvider(HttpProvider):
    """Headlines from NewsAPI.org (one request per symbol).

    Args:
        queries: the search query per symbol (e.g. ``{"AAPL": "Apple"}``); the symbol itself otherwise.
    """

    default_base_url = "https://newsapi.org"
    capabilities = frozenset({Dataset.HEADLINES})

    def __init__(
        self,
        api_key: str | SecretStr | None,
        *,
        queries: Mapping[str, str] | None = None,
        language: str = "en",
        name: str = "newsapi",
        **kwargs: Any,
    ) -> None:
        super().__init__(api_key, name=name, **kwargs)
        self.queries = dict(queries or {})
        self.language = language

    def _raise_for(self, payload: Any, fallback: str) -> NoReturn:
        code = str(payload.get("code", "")) if isinstance(payload, dict) else ""
        message = str(payload.get("message", fallback)) if isinstance(payload, dict) else fallback
        if code.startswith("apiKey"):
            raise ProviderAuthError(self.name, f"{code}: {message}")
        if code == "rateLimited":
            raise RateLimited(self.name, message)
        raise ProviderResponseError(self.name, f"{code or 'error'}: {message}")

    def _inspect(self, payload: Any) -> None:
        if not isinstance(payload, dict) or payload.get("status") != "ok":
            self._raise_for(payload, "unexpected response")

    async def headlines(self, symbols: Sequence[str], since: datetime, until: datetime) -> dict[str, list[Headline]]:
        check_aware(since, until)

        async def one(symbol: str) -> list[Headline]:
            params = {
                "q": self.queries.get(symbol, symbol),
                "from": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "to": until.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "language": self.language,
                "sortBy": "publishedAt",
                "pageSize": "100",
            }
            try:
                payload = await self.http.get_json(
                    "/v2/everything", params, headers={"X-Api-Key": self._api_key()}, inspect=self._inspect
                )
            except HttpStatusError as exc:
                self._raise_for(exc.payload, exc.body[:200])
            articles = payload.get("articles")
            if not isinstance(articles, list):
                raise ProviderResponseError(self.name, "everything: no 'articles' array")
            items: dict[str, Headline] = {}
            for row in articles:
                h = self._headline(symbol, row)
                if h is not None and since <= h.ts < until:
                    items[h.id] = h
            return sorted(items.values(), key=lambda h: (h.ts, h.id))

        return await per_symbol(symbols, one)

    def _headline(self, symbol: str, row: Any) -> Headline | None:
        try:
            title = str(row.get("title") or "").strip()
            if not title or title == "[Removed]":
                return None
            url = str(row.get("url") or "")
            ts = datetime.fromisoformat(str(row["publishedAt"]).replace("Z", "+00:00"))
            if ts.tzinfo is None:
                ts = ts.replace(tzinfo=UTC)
            source = row.get("source") or {}
            digest = hashlib.sha1(f"{url}|{title}".encode(), usedforsecurity=False).hexdigest()[:16]
            return Headline(
                id=f"newsapi:{digest}",
                ts=ts,
                symbol=symbol,
                source=str(source.get("name") or "newsapi") if isinstance(source, dict) else "newsapi",
                title=title,
                summary=str(row.get("description") or ""),
                url=url,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ProviderResponseError(self.name, f"everything: malformed article ({exc!r})") from None
