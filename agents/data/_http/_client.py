"""The HTTP behaviour every vendor shares: timeouts, retries with back-off and jitter, 429 with
Retry-After, in-band vendor errors, and keys kept out of logs and error messages.

Retried: connect errors and timeouts, 5xx, 429 (honouring ``Retry-After`` up to a cap) and in-band
"slow down" notes a vendor's ``inspect`` hook turns into :class:`InBandRetry`. Not retried: other 4xx
(auth errors become :class:`ProviderAuthError`, the rest :class:`HttpStatusError` for the vendor module
to map), payloads that are not JSON, and whatever ``inspect`` raises otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from agents.data._errors import (
    ProviderAuthError,
    ProviderError,
    ProviderResponseError,
    ProviderUnreachable,
    RateLimited,
)

log = logging.getLogger(__name__)

SleepFn = Callable[[float], Awaitable[None]]
Inspect = Callable[[Any], None]


class _RedactSecrets(logging.Filter):
    """Replaces registered secrets in records of the loggers it is attached to (httpx logs full URLs,
    query string included, at INFO)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            if any(s in message for s in self.secrets):
                record.msg = redact(message, self.secrets)
                record.args = None
        return True


_REDACTOR = _RedactSecrets()
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(_REDACTOR)


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class InBandRetry(Exception):
    """Raised by an ``inspect`` hook: the vendor answered 200 but asks to come back later."""

    def __init__(self, message: str, delay: float) -> None:
        super().__init__(message)
        self.delay = delay


class HttpStatusError(ProviderResponseError):
    """A 4xx the client does not handle itself. ``payload`` is the parsed JSON body, if any."""

    def __init__(self, provider: str, status: int, body: str, payload: Any) -> None:
        super().__init__(provider, f"HTTP {status}: {body[:300]}")
        self.status = status
        self.body = body
        self.payload = payload


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attributes:
    max_retries: retries after the first attempt.
    backoff_base: the first back-off in seconds, doubled each retry (with jitter).
    backoff_max: the cap of one back-off.
    retry_after_max: a ``Retry-After`` longer than this is not waited for (RateLimited is raised).
    """

    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 60.0


@dataclass
class HttpStats:
    requests: int = 0
    retries: int = 0
    last_latency_ms: float | None = None
    last_error: str | None = None
    last_status: int | None = None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent/invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class HttpClient:
    """A small JSON-over-GET client around :class:`httpx.AsyncClient` for one vendor.

    Args:
        provider: the vendor's provider name (used in errors).
        base_url: scheme, host and optional path prefix.
        timeout: seconds for connect, read, write and pool.
        retry: retry and back-off policy.
        sleep: how to wait between attempts (inject a fake in tests).
        rng: jitter source.
        secrets: strings (API keys) that must never reach a log line or an error message.
        headers: sent with every request.
        transport: an httpx transport (tests only; the default is a real socket).
    """

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        sleep: SleepFn = asyncio.sleep,
        rng: random.Random | None = None,
        secrets: Iterable[str] = (),
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.provider = provider
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._secrets = {s for s in secrets if s}
        _REDACTOR.secrets.update(self._secrets)
        self._client = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout),
            headers=dict(headers or {}),
            transport=transport,
            follow_redirects=False,
        )
        self.stats = HttpStats()

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def backoff(self, attempt: int) -> float:
        """Equal jitter: half the exponential step for sure, the other half at random."""
        step = min(self.retry.backoff_max, self.retry.backoff_base * (2.0**attempt))
        return step / 2 + self._rng.uniform(0, step / 2)

    async def get_json(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        inspect: Inspect | None = None,
    ) -> Any:
        """GET ``path`` and return the decoded JSON, after retries and vendor inspection."""
        last: ProviderError | None = None
        for attempt in range(self.retry.max_retries + 1):
            if attempt:
                self.stats.retries += 1
            try:
                return await self._attempt(path, params, headers, inspect)
            except _Retry as retry:
                last = retry.error
                delay = retry.delay if retry.delay is not None else self.backoff(attempt)
                self.stats.last_error = str(last)
                if attempt == self.retry.max_retries:
                    break
                log.info("%s %s: %s; retry %d in %.2fs", self.provider, path, last, attempt + 1, delay)
                await self._sleep(delay)
            except ProviderError as exc:
                self.stats.last_error = str(exc)
                raise
        assert last is not None
        raise last

    async def _attempt(
        self,
        path: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        inspect: Inspect | None,
    ) -> Any:
        self.stats.requests += 1
        t0 = time.perf_counter()
        try:
            response = await self._client.get(path, params=dict(params or {}), headers=headers)
        except httpx.TimeoutException as exc:
            raise _Retry(ProviderUnreachable(self.provider, f"{path}: timed out ({type(exc).__name__})")) from None
        except httpx.TransportError as exc:
            detail = self._redact(str(exc)) or type(exc).__name__
            raise _Retry(ProviderUnreachable(self.provider, f"{path}: {detail}")) from None
        self.stats.last_latency_ms = (time.perf_counter() - t0) * 1000
        status = response.status_code
        self.stats.last_status = status
        body = self._redact(response.text)
        if status == 429:
            wait = parse_retry_after(response.headers.get("Retry-After"))
            error = RateLimited(self.provider, f"{path}: HTTP 429 {body[:200]}", retry_after=wait)
            if wait is not None and wait > self.retry.retry_after_max:
                raise error
            raise _Retry(error, wait)
        if status >= 500:
            raise _Retry(ProviderResponseError(self.provider, f"{path}: HTTP {status} {body[:200]}"))
        if status >= 400:
            payload = _json_or_none(response)
            if status in (401, 403):
                raise ProviderAuthError(self.provider, f"{path}: HTTP {status} {body[:200]}")
            raise HttpStatusError(self.provider, status, body, payload)
        if status >= 300:
            raise ProviderResponseError(self.provider, f"{path}: unexpected HTTP {status}")
        try:
            payload = response.json()
        except ValueError:
            raise ProviderResponseError(self.provider, f"{path}: response is not JSON: {body[:200]!r}") from None
        if inspect is not None:
            try:
                inspect(payload)
            except InBandRetry as note:
                raise _Retry(RateLimited(self.provider, self._redact(str(note))), note.delay) from None
        self.stats.last_error = None
        return payload

    async def aclose(self) -> None:
        await self._client.aclose()


class _Retry(Exception):
    def __init__(self, error: ProviderError, delay: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.delay = delay


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
