"""The embedded default provider: a seeded synthetic market. No key, no network."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from agents.data._calendar import business_days
from agents.data._clock import Clock, SystemClock
from agents.data._demo._engine import MarketSim, day_dates, day_index, index_range
from agents.data._demo._fundamentals import FundamentalsSim
from agents.data._demo._macro import MacroSim, month_index, month_start
from agents.data._demo._news import headlines_for_day
from agents.data._demo._universe import DEFAULT_UNIVERSE, EPOCH, REGIME_NAMES, DemoSecurity
from agents.data._errors import SymbolNotFound
from agents.data._provider import DataProvider, check_aware, dedupe_symbols
from agents.data._types import (
    MACRO_SERIES,
    Bar,
    Dataset,
    Fundamentals,
    Headline,
    MacroObservation,
    MacroSeries,
    ProviderHealth,
)


class DemoProvider(DataProvider):
    """Deterministic synthetic bars, fundamentals, headlines and macro series.

    The same seed gives byte-identical data for any date range, whatever subset of symbols is asked
    and in whatever order; overlapping ranges agree on every common day. Business days (Monday to
    Friday) from 1990-01-01 on; nothing before. See ``agents/data/_demo/_engine.py`` for the model.

    Args:
        seed: the seed of everything.
        universe: the securities it knows (default: eight large caps in four sectors).
        name: provider name in health reports and quarantine keys.
        clock: stamps health reports.
    """

    capabilities = frozenset(Dataset)

    def __init__(
        self,
        seed: int = 7,
        *,
        universe: Sequence[DemoSecurity] = DEFAULT_UNIVERSE,
        name: str = "demo",
        clock: Clock | None = None,
    ) -> None:
        self.seed = seed
        self.name = name
        self._clock: Clock = clock or SystemClock()
        self._universe = {s.symbol: s for s in universe}
        self._market = MarketSim(seed, universe)
        self._fundamentals = FundamentalsSim(self._market)
        self._macro = MacroSim(self._market)
        self._latency_ms: float | None = None

    @property
    def universe(self) -> tuple[DemoSecurity, ...]:
        return tuple(self._universe.values())

    def security(self, symbol: str) -> DemoSecurity:
        try:
            return self._universe[symbol]
        except KeyError:
            raise SymbolNotFound(self.name, symbol, f"demo universe is {sorted(self._universe)}") from None

    async def bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, list[Bar]]:
        t0 = time.perf_counter()
        wanted = [self.security(s) for s in dedupe_symbols(symbols)]
        i0, i1 = index_range(start, end)
        path = self._market.path(i1)
        dates = day_dates(i0, i1)
        out: dict[str, list[Bar]] = {}
        for sec in wanted:
            p = path.securities[sec.symbol]
            cols = zip(
                dates,
                p.open[i0:i1].tolist(),
                p.high[i0:i1].tolist(),
                p.low[i0:i1].tolist(),
                p.close[i0:i1].tolist(),
                p.volume[i0:i1].tolist(),
                strict=True,
            )
            out[sec.symbol] = [Bar(sec.symbol, d, o, h, lo, c, v, c) for d, o, h, lo, c, v in cols]
        self._latency_ms = (time.perf_counter() - t0) * 1000
        return out

    async def fundamentals(self, symbols: Sequence[str], asof: date) -> dict[str, Fundamentals]:
        """Snapshots known on ``asof``; symbols with none yet (before mid-1990) are left out."""
        wanted = [self.security(s) for s in dedupe_symbols(symbols)]
        out = {}
        for sec in wanted:
            snap = self._fundamentals.snapshot(sec, asof)
            if snap is not None:
                out[sec.symbol] = snap
        return out

    async def headlines(self, symbols: Sequence[str], since: datetime, until: datetime) -> dict[str, list[Headline]]:
        check_aware(since, until)
        wanted = [self.security(s) for s in dedupe_symbols(symbols)]
        first = max(since.date() - timedelta(days=1), EPOCH)
        last = until.date()
        days = list(business_days(first, last))
        out: dict[str, list[Headline]] = {sec.symbol: [] for sec in wanted}
        if not days:
            return out
        path = self._market.path(day_index(days[-1]) + 1)
        reports = self._report_days(wanted, days[0], days[-1])
        for sec in wanted:
            p = path.securities[sec.symbol]
            for day in days:
                i = day_index(day)
                prev_close = float(p.close[i - 1]) if i > 0 else float(p.open[i])
                items = headlines_for_day(
                    self.seed,
                    sec,
                    day,
                    zscore=float(p.zscore[i]),
                    pct_move=(float(p.close[i]) / prev_close - 1.0) * 100.0,
                    close=float(p.close[i]),
                    earnings_surprise=reports.get((sec.symbol, day)),
                )
                out[sec.symbol].extend(h for h in items if since <= h.ts < until)
        return out

    def _report_days(
        self, securities: Sequence[DemoSecurity], first: date, last: date
    ) -> dict[tuple[str, date], float]:
        q_last = self._fundamentals.latest_quarter(last)
        if q_last is None:
            return {}
        found: dict[tuple[str, date], float] = {}
        for sec in securities:
            for quarter in reversed(self._fundamentals.quarters(sec, q_last)):
                if quarter.reported < first:
                    break
                found[(sec.symbol, quarter.reported)] = quarter.surprise
        return found

    async def macro(self, series: Sequence[MacroSeries], start: date, end: date) -> dict[str, list[MacroObservation]]:
        for s in series:
            if s not in MACRO_SERIES:
                raise SymbolNotFound(self.name, s, f"macro series are {MACRO_SERIES}")
        out: dict[str, list[MacroObservation]] = {s: [] for s in dict.fromkeys(series)}
        if end < EPOCH:
            return out
        m0 = month_index(max(start, EPOCH))
        if month_start(m0) < start:
            m0 += 1
        m1 = month_index(end)
        if m1 < m0:
            return out
        months = self._macro.months(m1)[m0:]
        for name in dict.fromkeys(series):
            out[name] = [MacroObservation(name, m.month, float(getattr(m, name))) for m in months]
        return out

    def regime(self, day: date) -> str:
        """The market regime (bull, bear, volatile) on a business day: for demos and tests."""
        i = day_index(day)
        return REGIME_NAMES[int(self._market.path(i + 1).regimes[i])]

    async def health(self) -> ProviderHealth:
        return ProviderHealth(
            name=self.name,
            ok=True,
            latency_ms=self._latency_ms,
            last_error=None,
            checked_at=self._clock.now(),
            detail=f"seed={self.seed}, {len(self._universe)} symbols",
        )
