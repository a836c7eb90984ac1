"""Client-side rate limiting: a token bucket that makes callers wait rather than fail."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime
from typing import TypeVar

from agents.data._clock import Clock
from agents.data._errors import PartialFailure
from agents.data._provider import DataProvider, dedupe_symbols, per_symbol
from agents.data._types import (
    Bar,
    Fundamentals,
    Headline,
    MacroObservation,
    MacroSeries,
    ProviderHealth,
)

T = TypeVar("T")


def _merge(parts: Mapping[str, Mapping[str, T]]) -> dict[str, T]:
    return {k: v for part in parts.values() for k, v in part.items()}


class TokenBucket:
    """``rate`` tokens per second, holding at most ``capacity``; starts full.

    :meth:`acquire` waits (on the injected clock) until enough tokens are there. Waiters are served in
    arrival order: the lock is held while sleeping, so a later caller cannot overtake.
    """

    def __init__(self, rate: float, capacity: float, clock: Clock) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("a token bucket needs rate > 0 and capacity >= 1")
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._tokens = float(capacity)
        self._updated = clock.monotonic()
        self._lock = asyncio.Lock()
        self.waited_seconds = 0.0
        self.acquired = 0

    @classmethod
    def per_minute(cls, requests: float, clock: Clock, burst: float | None = None) -> TokenBucket:
        return cls(requests / 60.0, burst if burst is not None else max(1.0, requests / 60.0), clock)

    def _refill(self) -> None:
        now = self._clock.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    async def acquire(self, tokens: float = 1.0) -> float:
        """Take ``tokens``, waiting as long as needed. Returns the seconds waited."""
        if tokens > self.capacity:
            raise ValueError(f"cannot take {tokens} tokens from a bucket of {self.capacity}")
        waited = 0.0
        async with self._lock:
            while True:
                self._refill()
                if self._tokens >= tokens - 1e-9:
                    self._tokens -= tokens
                    self.acquired += 1
                    self.waited_seconds += waited
                    return waited
                delay = (tokens - self._tokens) / self.rate
                await self._clock.sleep(delay)
                waited += delay


class RateLimitedProvider(DataProvider):
    """Spaces out calls to ``inner`` with a :class:`TokenBucket`.

    Every vendor wrapped here answers one symbol (or series) per HTTP request, so by default a
    multi-symbol call is split into one call per symbol, each taking a token: the bucket then counts
    real upstream requests. ``per_symbol=False`` takes one token per call instead.
    """

    def __init__(self, inner: DataProvider, bucket: TokenBucket, *, per_symbol: bool = True) -> None:
        self.inner = inner
        self.bucket = bucket
        self.per_symbol = per_symbol
        self.name = inner.name
        self.capabilities = inner.capabilities

    async def _limited(
        self, symbols: Sequence[str], call: Callable[[list[str]], Awaitable[Mapping[str, T]]]
    ) -> dict[str, T]:
        wanted = dedupe_symbols(symbols)
        if not self.per_symbol:
            await self.bucket.acquire()
            return dict(await call(wanted))

        async def one(sym: str) -> Mapping[str, T]:
            await self.bucket.acquire()
            return await call([sym])

        try:
            parts = await per_symbol(wanted, one)
        except PartialFailure as exc:
            raise PartialFailure(_merge(exc.data), exc.errors) from None
        return _merge(parts)

    async def bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, list[Bar]]:
        return await self._limited(symbols, lambda s: self.inner.bars(s, start, end))

    async def fundamentals(self, symbols: Sequence[str], asof: date) -> dict[str, Fundamentals]:
        return await self._limited(symbols, lambda s: self.inner.fundamentals(s, asof))

    async def headlines(self, symbols: Sequence[str], since: datetime, until: datetime) -> dict[str, list[Headline]]:
        return await self._limited(symbols, lambda s: self.inner.headlines(s, since, until))

    async def macro(self, series: Sequence[MacroSeries], start: date, end: date) -> dict[str, list[MacroObservation]]:
        names = {str(s): s for s in series}
        return await self._limited(list(names), lambda s: self.inner.macro([names[n] for n in s], start, end))

    async def health(self) -> ProviderHealth:
        return await self.inner.health()

    async def aclose(self) -> None:
        await self.inner.aclose()
