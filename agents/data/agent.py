"""The Data agent: first stage of every tick. It keeps a :class:`MarketData` window loaded from its provider,
hands later stages a look-ahead-free :class:`MarketView` as of the tick's session, publishes
``market.snapshot``, and turns data-quality events into alerts and impacted signals (runbook SOP 2).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np

from agents.data import MACRO_SERIES, DataProvider, Dataset, DatasetUnavailable, Fundamentals, Headline
from agents.data._clock import Clock as DataClock
from agents.data._errors import DataError, PartialFailure, SymbolNotFound
from agents.data._failover import DataQualityEvent, FailoverProvider
from agents.data._quality import QualityConfig, check_bars
from agents.market import FIELDS, MarketData, MarketView
from agents.types import MARKET, MARKET_SNAPSHOT, MarketSnapshot
from runtime import topics
from runtime.agent import Agent, AgentHealth, Stage, Tick
from runtime.clock import Clock as RuntimeClock
from runtime.payloads import Severity

log = logging.getLogger(__name__)

FUNDAMENTALS_EVERY = timedelta(days=91)  # point-in-time snapshots sampled quarterly over a window


def session_of(ts: datetime) -> date:
    """The session a tick belongs to: its UTC date (ticks run after the close in replay and backtests)."""
    return ts.astimezone(UTC).date()


class DataAgent(Agent):
    """Loads bars and side datasets for ``symbols``; ``preload`` loads a whole replay/backtest range at start."""

    name = "data"
    stage = Stage.DATA

    def __init__(
        self,
        provider: DataProvider,
        symbols: Sequence[str],
        *,
        lookback_days: int = 550,
        preload: tuple[date, date] | None = None,
        sectors: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        if not symbols:
            raise ValueError("the data agent needs at least one symbol")
        self.provider = provider
        self.symbols = list(dict.fromkeys(symbols))
        self.lookback = timedelta(days=lookback_days)
        self.preload = preload
        self.sectors = dict(sectors or {})
        self.data: MarketData | None = None
        self.loaded: tuple[date, date] | None = None
        self._events: list[DataQualityEvent] = []
        # A preload (replay, backtest) reads the primary raw and checks each session as it comes: checking the
        # whole range up front would judge early sessions by later data (look-ahead) and quarantine a symbol
        # for the entire run over one bad day.
        self.source: DataProvider = provider.primary if preload and isinstance(provider, FailoverProvider) else provider
        self.quality = provider.quality if isinstance(provider, FailoverProvider) else QualityConfig()
        # checks run where the provider stack asks for them (a FailoverProvider); a bare provider is "checks off"
        self.session_checks = preload is not None and isinstance(provider, FailoverProvider)
        self._flagged: dict[str, str] = {}  # symbol -> failed checks, this session
        self._health_ok = True
        self._health_detail = ""
        if isinstance(provider, FailoverProvider):
            provider.add_listener(self._events.append)

    async def start(self, ctx: Any) -> None:
        await super().start(ctx)
        if self.preload is not None:
            start, end = self.preload
            await self.load(start - self.lookback, end)

    def sessions(self, start: date, end: date) -> list[date]:
        """Session dates with data between ``start`` and ``end`` (after a preload)."""
        return [d for d in (self.data.dates if self.data else []) if start <= d <= end]

    async def load(self, start: date, end: date) -> MarketData:
        """Fetch every dataset the provider serves for [start, end] and build the panel."""
        bars = await self._fetch_bars(start, end)
        fundamentals = await self._fetch_fundamentals(start, end)
        headlines = await self._optional(
            Dataset.HEADLINES,
            self.source.headlines(
                self.symbols, datetime.combine(start, time.min, UTC), datetime.combine(end, time.max, UTC)
            ),
        )
        macro = await self._optional(Dataset.MACRO, self.source.macro(MACRO_SERIES, start - self.lookback, end))
        flat_headlines: list[Headline] = [h for items in (headlines or {}).values() for h in items]
        flat_macro = [o for items in (macro or {}).values() for o in items]
        sectors = dict(self.sectors)
        for symbol, snaps in fundamentals.items():
            if snaps:
                sectors.setdefault(symbol, snaps[-1].sector)
        self.data = MarketData(
            bars, fundamentals=fundamentals, headlines=flat_headlines, macro=flat_macro, sectors=sectors
        )
        self.loaded = (start, end)
        return self.data

    async def _fetch_bars(self, start: date, end: date) -> dict[str, Any]:
        try:
            return await self.source.bars(self.symbols, start, end)
        except PartialFailure as partial:  # serve what came; the failures are quality events / alerts
            log.warning("bars: %s", partial)
            return dict(partial.data)
        except SymbolNotFound:  # one unknown symbol must not cost the others their bars
            found: dict[str, Any] = {}
            for symbol in self.symbols:
                try:
                    found.update(await self.source.bars([symbol], start, end))
                except SymbolNotFound as exc:
                    log.warning("bars: %s", exc)
            return found

    async def _fetch_fundamentals(self, start: date, end: date) -> dict[str, list[Fundamentals]]:
        if not self.source.supports(Dataset.FUNDAMENTALS):
            return {}
        out: dict[str, list[Fundamentals]] = {}
        when = max(start, end - self.lookback)
        while True:
            found = await self._optional(Dataset.FUNDAMENTALS, self.source.fundamentals(self.symbols, when))
            for symbol, snap in (found or {}).items():
                seen = out.setdefault(symbol, [])
                if not seen or seen[-1].asof != snap.asof:
                    seen.append(snap)
            if when >= end:
                return out
            when = min(end, when + FUNDAMENTALS_EVERY)

    async def _optional(self, dataset: Dataset, fetch: Any) -> Any:
        if not self.source.supports(dataset):
            fetch.close()
            return None
        try:
            return await fetch
        except DatasetUnavailable:
            return None
        except PartialFailure as partial:
            return partial.data
        except DataError as exc:  # a side dataset failing must not stop trading on prices
            log.warning("%s unavailable: %s", dataset.value, exc)
            return None

    async def on_tick(self, tick: Tick) -> None:
        ctx = self.context
        as_of = session_of(tick.ts)
        if self.data is None or self.loaded is None or as_of > self.loaded[1]:
            await self.load(as_of - self.lookback, as_of)
        assert self.data is not None
        view = self.data.view(as_of)
        tick.put(MARKET, view)
        await self._report_quality(tick)
        impacted = self._impacted()
        quarantined = {str(k) for k in getattr(self.provider, "quarantined", ())}
        if self.session_checks:
            await self._check_session(view, tick)
            for symbol in self._flagged:
                quarantined.add(f"{self.source.name}/bars/{symbol}")
                impacted.add(f"technical:{symbol}")
        snapshot = MarketSnapshot(
            as_of=as_of,
            prices=view.prices(),
            volumes=_volumes(view),
            provider=self.provider.name,
            quarantined=sorted(quarantined),
            impacted_signals=sorted(impacted),
        )
        tick.put(MARKET_SNAPSHOT, snapshot)
        await ctx.publish(topics.MARKET_SNAPSHOT, "market.snapshot", snapshot, tick_id=tick.id)
        health = await self.provider.health()
        self._health_ok, self._health_detail = health.ok, health.detail or (health.last_error or "")

    async def _check_session(self, view: MarketView, tick: Tick) -> None:
        """The data quality checks on each symbol's bar of this session against its previous bar (SOP 2):
        a failing symbol's bars are quarantined for the session and its technical signal avoided."""
        self._flagged = {}
        for symbol in _suspects(view, self.quality):
            bars = view.bars(symbol, 2)
            report = check_bars(symbol, bars, config=self.quality)
            if report.ok:
                continue
            checks = ", ".join(sorted(report.failed_checks))
            self._flagged[symbol] = checks
            detail = {
                "dataset": "bars",
                "symbol": symbol,
                "checks_failed": sorted(report.failed_checks),
                "action": "quarantined",
                "impacted_signals": ["technical"],
                "session": view.as_of.isoformat(),
                "detail": report.summary(),
            }
            await self.context.record("data.quality", detail, tick.id)
            await self.context.alert(
                "data_quality",
                "warning",
                f"bars {symbol} on {view.as_of}: quarantined for the session ({checks}); impacted: technical",
                details=detail,
            )

    def _impacted(self) -> set[str]:
        if isinstance(self.provider, FailoverProvider):
            return set(self.provider.impacted_signals())
        return set()

    async def _report_quality(self, tick: Tick) -> None:
        events, self._events[:] = list(self._events), []
        for event in events:
            detail = event.to_dict()
            await self.context.record("data.quality", detail, tick.id)
            severity: Severity = "info" if event.action.value == "restored" else "warning"
            await self.context.alert(
                "data_quality",
                severity,
                f"{event.dataset.value} {event.symbol}: {event.action.value}"
                f" ({', '.join(sorted(event.checks_failed)) or event.detail}); impacted: "
                f"{', '.join(sorted(event.impacted_signals)) or 'none'}",
                details=detail,
            )

    def health(self) -> AgentHealth:
        loaded = f"{self.loaded[0]}..{self.loaded[1]}" if self.loaded else "nothing loaded"
        return AgentHealth(
            self._health_ok,
            self._health_detail or f"{self.provider.name}: {loaded}",
            {"provider": self.provider.name, "symbols": len(self.symbols)},
        )


def _volumes(view: MarketView) -> dict[str, float]:
    if view.row < 0:
        return {}
    volumes = view.data.panel["volume"][view.row]
    col = view.data.col
    return {s: float(volumes[col[s]]) for s in view.today()}


_LOOKBACK = 6  # rows MarketView.bars(symbol, 2) searches for the previous bar


def _suspects(view: MarketView, cfg: QualityConfig) -> list[str]:
    """The symbols of the session whose bar might fail a check against the previous one; the others certainly
    pass :func:`check_bars` on ``view.bars(symbol, 2)``, so only the suspects go through it.

    One pass of numpy over the panel's last rows, with tests at least as strict as the checks': every field
    finite, prices positive, high and low bracketing the bar without the checks' tolerance, at most
    ``max_gap_business_days`` *calendar* days missing (business days missing are never more), and the one-day
    log return within ``max_abs_log_return`` (computed as the check does).
    """
    symbols = list(view.today())
    if cfg.mad_window < 1 or not symbols:  # the robust-scale test could run on two bars: check everything
        return symbols
    data, r = view.data, view.row
    cols = np.fromiter((data.col[s] for s in symbols), dtype=np.int64, count=len(symbols))
    start = max(0, r + 1 - _LOOKBACK)
    p = {f: data.panel[f][start : r + 1][:, cols] for f in FIELDS}
    with np.errstate(invalid="ignore", divide="ignore"):
        o, h, lo, c, v = p["open"], p["high"], p["low"], p["close"], p["volume"]
        sound = (
            np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(c) & np.isfinite(v) & (v >= 0)
            & (np.minimum(np.minimum(o, h), np.minimum(lo, c)) > 0)
            & (h >= np.maximum(np.maximum(o, c), lo)) & (lo <= np.minimum(o, c))
        )  # fmt: skip
        last = c.shape[0] - 1
        ok = sound[last]
        if last > 0:
            earlier = ~np.isnan(c[:last])
            has_prev = earlier.any(axis=0)
            prev = np.where(has_prev, last - 1 - np.argmax(earlier[::-1], axis=0), last)  # its last earlier bar
            k = np.arange(len(symbols))
            ordinals = np.array([d.toordinal() for d in data.dates[start : r + 1]], dtype=np.int64)
            gap_ok = ordinals[last] - ordinals[prev] - 1 <= cfg.max_gap_business_days
            ret = np.abs(np.log(c[last]) - np.log(c[prev, k]))
            ret_ok = ret < cfg.max_abs_log_return - 1e-12  # a margin for a last-bit difference of np.log's loops
            ok = ok & (~has_prev | (sound[prev, k] & gap_ok & ret_ok))
    return [symbols[i] for i in np.flatnonzero(~ok)]


class _RuntimeClock:
    """The data layer's clock protocol over a runtime clock, so quarantines and staleness follow simulated time."""

    def __init__(self, clock: RuntimeClock) -> None:
        self.clock = clock

    def now(self) -> datetime:
        return self.clock.now()

    def monotonic(self) -> float:
        return self.clock.now().timestamp()

    async def sleep(self, seconds: float) -> None:
        await self.clock.sleep(seconds)


def data_clock(clock: RuntimeClock) -> DataClock:
    """Adapt a runtime clock (wall, replay or simulated) for the providers."""
    return _RuntimeClock(clock)
