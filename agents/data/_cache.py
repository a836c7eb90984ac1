"""A TTL cache in front of any provider, keyed per symbol so that overlapping requests share entries."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from agents.data._clock import Clock
from agents.data._errors import DataError, PartialFailure
from agents.data._provider import DataProvider, dedupe_symbols
from agents.data._types import (
    Bar,
    Dataset,
    Fundamentals,
    Headline,
    MacroObservation,
    MacroSeries,
    ProviderHealth,
)

_ABSENT = object()  # the inner provider had nothing for this key (e.g. no fundamentals yet)


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0


class CachedProvider(DataProvider):
    """Caches each symbol's answer for ``ttl`` seconds of the injected clock.

    A request is split per symbol: cached symbols are served from memory, the rest are fetched from
    the inner provider in one call. Concurrent requests for a key being fetched wait for that fetch
    instead of starting another (important in front of rate-limited vendors). Errors are not cached.

    Args:
        inner: the provider to cache.
        clock: supplies ``monotonic()`` for expiry.
        ttl: seconds, for every dataset or per dataset (a dataset left out is not cached).
        max_entries: least recently used entries are evicted beyond this.
    """

    def __init__(
        self,
        inner: DataProvider,
        *,
        clock: Clock,
        ttl: float | Mapping[Dataset, float] = 300.0,
        max_entries: int = 10_000,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.capabilities = inner.capabilities
        self._clock = clock
        self._ttl: dict[Dataset, float] = (
            dict.fromkeys(Dataset, float(ttl)) if isinstance(ttl, int | float) else dict(ttl)
        )
        self._max = max_entries
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._inflight: dict[Hashable, asyncio.Future[Any]] = {}
        self.stats = CacheStats()

    def invalidate(self, dataset: Dataset | None = None) -> None:
        """Drop every entry, or those of one dataset."""
        if dataset is None:
            self._entries.clear()
            return
        for key in [k for k in self._entries if isinstance(k, tuple) and k[0] == dataset]:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)

    async def _cached(
        self,
        dataset: Dataset,
        symbols: Sequence[str],
        params: tuple[Hashable, ...],
        fetch: Callable[[list[str]], Awaitable[Mapping[str, Any]]],
    ) -> dict[str, Any]:
        wanted = dedupe_symbols(symbols)
        ttl = self._ttl.get(dataset)
        if not ttl or ttl <= 0:
            return dict(await fetch(wanted))
        now = self._clock.monotonic()
        found: dict[str, Any] = {}
        waiting: dict[str, asyncio.Future[Any]] = {}
        missing: list[str] = []
        for sym in wanted:
            key = (dataset, sym, *params)
            entry = self._entries.get(key)
            if entry is not None and entry[0] > now:
                self._entries.move_to_end(key)
                self.stats.hits += 1
                found[sym] = entry[1]
            elif key in self._inflight:
                self.stats.hits += 1
                waiting[sym] = self._inflight[key]
            else:
                self.stats.misses += 1
                missing.append(sym)
        errors: dict[str, DataError] = {}
        if missing:
            try:
                found.update(await self._fill(dataset, missing, params, fetch, ttl))
            except PartialFailure as exc:
                found.update(exc.data)
                errors.update(exc.errors)
            except DataError as exc:
                errors.update(dict.fromkeys(missing, exc))
        for sym, fut in waiting.items():
            try:
                found[sym] = await asyncio.shield(fut)
            except DataError as exc:
                errors[sym] = exc
        if errors:
            if len(wanted) == 1:
                raise errors[wanted[0]]
            data = {sym: v for sym, v in found.items() if v is not _ABSENT and sym not in errors}
            raise PartialFailure(data, errors)
        return {sym: found[sym] for sym in wanted if found[sym] is not _ABSENT}

    async def _fill(
        self,
        dataset: Dataset,
        missing: list[str],
        params: tuple[Hashable, ...],
        fetch: Callable[[list[str]], Awaitable[Mapping[str, Any]]],
        ttl: float,
    ) -> dict[str, Any]:
        """Fetch ``missing`` and cache each answer; with a partial failure, cache what succeeded."""
        loop = asyncio.get_running_loop()
        keys = {sym: (dataset, sym, *params) for sym in missing}
        futures = {sym: loop.create_future() for sym in missing}
        for sym, key in keys.items():
            self._inflight[key] = futures[sym]
        failed: dict[str, DataError] = {}
        partial: PartialFailure | None = None
        try:
            try:
                data = dict(await fetch(missing))
            except PartialFailure as exc:
                data, failed, partial = dict(exc.data), dict(exc.errors), exc
        except asyncio.CancelledError:
            for fut in futures.values():
                fut.cancel()
            raise
        except Exception as exc:
            for fut in futures.values():
                fut.set_exception(exc)
                fut.exception()  # retrieved: waiters re-raise it, nobody else should log it
            raise
        finally:
            for key in keys.values():
                self._inflight.pop(key, None)
        expires = self._clock.monotonic() + ttl
        values: dict[str, Any] = {}
        for sym, key in keys.items():
            if sym in failed:
                futures[sym].set_exception(failed[sym])
                futures[sym].exception()
                continue
            values[sym] = data.get(sym, _ABSENT)
            self._entries[key] = (expires, values[sym])
            self._entries.move_to_end(key)
            futures[sym].set_result(values[sym])
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
            self.stats.evictions += 1
        if partial is not None:
            raise PartialFailure({k: v for k, v in values.items() if v is not _ABSENT}, failed)
        return values

    async def bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, list[Bar]]:
        return await self._cached(Dataset.BARS, symbols, (start, end), lambda s: self.inner.bars(s, start, end))

    async def fundamentals(self, symbols: Sequence[str], asof: date) -> dict[str, Fundamentals]:
        return await self._cached(Dataset.FUNDAMENTALS, symbols, (asof,), lambda s: self.inner.fundamentals(s, asof))

    async def headlines(self, symbols: Sequence[str], since: datetime, until: datetime) -> dict[str, list[Headline]]:
        return await self._cached(
            Dataset.HEADLINES, symbols, (since, until), lambda s: self.inner.headlines(s, since, until)
        )

    async def macro(self, series: Sequence[MacroSeries], start: date, end: date) -> dict[str, list[MacroObservation]]:
        async def fetch(names: list[str]) -> Mapping[str, Any]:
            return await self.inner.macro([n for n in series if n in names], start, end)

        return await self._cached(Dataset.MACRO, series, (start, end), fetch)

    async def health(self) -> ProviderHealth:
        return await self.inner.health()

    async def aclose(self) -> None:
        await self.inner.aclose()
