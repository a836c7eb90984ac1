"""Route each dataset to the provider that serves it (e.g. bars from one vendor, macro from FRED)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import date, datetime

from agents.data._clock import Clock, SystemClock
from agents.data._errors import DatasetUnavailable
from agents.data._provider import DataProvider
from agents.data._types import (
    Bar,
    Dataset,
    Fundamentals,
    Headline,
    MacroObservation,
    MacroSeries,
    ProviderHealth,
)


class CompositeProvider(DataProvider):
    """One provider face over several: ``routes`` maps each dataset to the provider that serves it."""

    def __init__(
        self, routes: Mapping[Dataset, DataProvider], *, name: str = "composite", clock: Clock | None = None
    ) -> None:
        for dataset, provider in routes.items():
            if not provider.supports(dataset):
                raise ValueError(f"{provider.name} does not serve {dataset.value}")
        self.routes = dict(routes)
        self.name = name
        self.capabilities = frozenset(routes)
        self._clock: Clock = clock or SystemClock()

    def _route(self, dataset: Dataset) -> DataProvider:
        provider = self.routes.get(dataset)
        if provider is None:
            raise DatasetUnavailable(self.name, dataset, "no provider configured for it")
        return provider

    @property
    def members(self) -> list[DataProvider]:
        return list({id(p): p for p in self.routes.values()}.values())

    async def bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, list[Bar]]:
        return await self._route(Dataset.BARS).bars(symbols, start, end)

    async def fundamentals(self, symbols: Sequence[str], asof: date) -> dict[str, Fundamentals]:
        return await self._route(Dataset.FUNDAMENTALS).fundamentals(symbols, asof)

    async def headlines(self, symbols: Sequence[str], since: datetime, until: datetime) -> dict[str, list[Headline]]:
        return await self._route(Dataset.HEADLINES).headlines(symbols, since, until)

    async def macro(self, series: Sequence[MacroSeries], start: date, end: date) -> dict[str, list[MacroObservation]]:
        return await self._route(Dataset.MACRO).macro(series, start, end)

    async def health(self) -> ProviderHealth:
        reports = await asyncio.gather(*(p.health() for p in self.members))
        errors = [f"{r.name}: {r.last_error}" for r in reports if r.last_error]
        latencies = [r.latency_ms for r in reports if r.latency_ms is not None]
        return ProviderHealth(
            name=self.name,
            ok=all(r.ok for r in reports),
            latency_ms=max(latencies) if latencies else None,
            last_error="; ".join(errors) or None,
            checked_at=self._clock.now(),
            quarantined=frozenset().union(*(r.quarantined for r in reports)),
            detail=", ".join(f"{d.value}={p.name}" for d, p in self.routes.items()),
        )

    async def aclose(self) -> None:
        for provider in self.members:
            await provider.aclose()
