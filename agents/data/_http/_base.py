"""What the vendor providers have in common: a key, an :class:`HttpClient` and passive health."""

from __future__ import annotations

import random
from datetime import date, datetime

import httpx
from pydantic import SecretStr

from agents.data._clock import Clock, SystemClock
from agents.data._errors import ProviderAuthError
from agents.data._http._client import HttpClient, RetryPolicy, SleepFn
from agents.data._provider import DataProvider
from agents.data._types import ProviderHealth


def _secret(key: str | SecretStr | None) -> SecretStr:
    if isinstance(key, SecretStr):
        return key
    return SecretStr(key or "")


class HttpProvider(DataProvider):
    """Base of the vendor providers.

    Health is passive: it reports the outcome and latency of the last request rather than spending a
    request (free tiers allow as few as 25 a day). Before any request it is ok if a key is configured.
    """

    default_base_url = ""

    def __init__(
        self,
        api_key: str | SecretStr | None,
        *,
        name: str,
        base_url: str | None = None,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        sleep: SleepFn | None = None,
        rng: random.Random | None = None,
        clock: Clock | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self._key = _secret(api_key)
        self._clock: Clock = clock or SystemClock()
        self.http = HttpClient(
            name,
            base_url or self.default_base_url,
            timeout=timeout,
            retry=retry,
            sleep=sleep or self._clock.sleep,
            rng=rng,
            secrets=[self._key.get_secret_value()],
            headers=headers,
            transport=transport,
        )

    def _api_key(self) -> str:
        key = self._key.get_secret_value()
        if not key:
            raise ProviderAuthError(self.name, "no API key configured")
        return key

    def _today(self) -> date:
        return self._clock.now().date()

    def _now(self) -> datetime:
        return self._clock.now()

    async def health(self) -> ProviderHealth:
        stats = self.http.stats
        has_key = bool(self._key.get_secret_value())
        error = stats.last_error if has_key else "no API key configured"
        return ProviderHealth(
            name=self.name,
            ok=has_key and stats.last_error is None,
            latency_ms=stats.last_latency_ms,
            last_error=error,
            checked_at=self._clock.now(),
            detail=f"{stats.requests} requests, {stats.retries} retries",
        )

    async def aclose(self) -> None:
        await self.http.aclose()
