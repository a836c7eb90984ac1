"""A scriptable in-memory provider for the wrapper tests."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from agents.data import (
    Bar,
    DataError,
    DataProvider,
    Dataset,
    Fundamentals,
    Headline,
    MacroObservation,
    MacroSeries,
    PartialFailure,
    ProviderHealth,
    SymbolNotFound,
    business_days,
)


def make_bars(symbol: str, start: date, end: date, base: float = 100.0) -> list[Bar]:
    """A clean, deterministic series: about 1% a day of wiggle, OHLC consistent."""
    out = []
    price = base
    for i, d in enumerate(business_days(start, end)):
        o = price
        price *= math.exp(0.01 * math.sin(i * 1.3 + len(symbol)))
        out.append(Bar(symbol, d, o, max(o, price) * 1.004, min(o, price) * 0.996, price, 1e6, price))
    return out


class FakeProvider(DataProvider):
    """Serves what it was given; records calls; can fail per symbol or for every call."""

    def __init__(
        self,
        name: str,
        *,
        bars: dict[str, list[Bar]] | None = None,
        fundamentals: dict[str, Fundamentals] | None = None,
        headlines: dict[str, list[Headline]] | None = None,
        macro: dict[str, list[MacroObservation]] | None = None,
        capabilities: frozenset[Dataset] | None = None,
    ) -> None:
        self.name = name
        self.data_bars = bars or {}
        self.data_fundamentals = fundamentals or {}
        self.data_headlines = headlines or {}
        self.data_macro = macro or {}
        self.capabilities = capabilities if capabilities is not None else frozenset(Dataset)
        self.calls: list[tuple[str, tuple[str, ...]]] = []
        self.fail_symbols: dict[str, Exception] = {}
        self.fail_all: Exception | None = None
        self.gate: asyncio.Event | None = None  # when set, calls wait for it (to test concurrency)
        self.partial = False  # answer multi-symbol bars with PartialFailure instead of the first error
        self.closed = False

    async def _enter(self, dataset: str, symbols: Sequence[str]) -> None:
        self.calls.append((dataset, tuple(symbols)))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_all is not None:
            raise self.fail_all
        for s in symbols:
            if s in self.fail_symbols:
                raise self.fail_symbols[s]

    def symbols_called(self, dataset: str) -> list[str]:
        return [s for d, syms in self.calls if d == dataset for s in syms]

    async def bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, list[Bar]]:
        if Dataset.BARS not in self.capabilities:
            raise self._unavailable(Dataset.BARS)
        if self.partial and len(symbols) > 1:
            self.calls.append(("bars", tuple(symbols)))
            good = {s: self.data_bars[s] for s in symbols if s not in self.fail_symbols}
            errs: dict[str, DataError] = {
                s: e for s, e in self.fail_symbols.items() if s in symbols and isinstance(e, DataError)
            }
            if errs:
                raise PartialFailure(good, errs)
            return good
        await self._enter("bars", symbols)
        out = {}
        for s in symbols:
            if s not in self.data_bars:
                raise SymbolNotFound(self.name, s)
            out[s] = [b for b in self.data_bars[s] if start <= b.date <= end]
        return out

    async def fundamentals(self, symbols: Sequence[str], asof: date) -> dict[str, Fundamentals]:
        if Dataset.FUNDAMENTALS not in self.capabilities:
            raise self._unavailable(Dataset.FUNDAMENTALS)
        await self._enter("fundamentals", symbols)
        return {s: self.data_fundamentals[s] for s in symbols if s in self.data_fundamentals}

    async def headlines(self, symbols: Sequence[str], since: datetime, until: datetime) -> dict[str, list[Headline]]:
        if Dataset.HEADLINES not in self.capabilities:
            raise self._unavailable(Dataset.HEADLINES)
        await self._enter("headlines", symbols)
        return {s: [h for h in self.data_headlines.get(s, []) if since <= h.ts < until] for s in symbols}

    async def macro(self, series: Sequence[MacroSeries], start: date, end: date) -> dict[str, list[MacroObservation]]:
        if Dataset.MACRO not in self.capabilities:
            raise self._unavailable(Dataset.MACRO)
        await self._enter("macro", series)
        return {s: [o for o in self.data_macro.get(s, []) if start <= o.date <= end] for s in series}

    async def health(self) -> ProviderHealth:
        return ProviderHealth(self.name, self.fail_all is None, 1.0, None, datetime.now(UTC))

    async def aclose(self) -> None:
        self.closed = True


def headline(symbol: str, i: int, day: date) -> Headline:
    ts = datetime(day.year, day.month, day.day, 21, tzinfo=UTC) + timedelta(minutes=i)
    return Headline(f"{symbol}-{day}-{i}", ts, symbol, "Wire", f"{symbol} news {i}")
