"""Runbook SOP 2 as code: quarantine a suspect dataset, switch to the backup, say which signals suffer.

:class:`FailoverProvider` sits over a primary and an optional backup provider. For every symbol (or
macro series) of every request it either serves the primary's data, which must pass the quality
checks, or quarantines the key ``(primary, dataset, symbol)`` and serves the backup's data, which must
pass them too. Each change of state is a :class:`DataQualityEvent` (kept in :attr:`events` and sent to
every listener) carrying the failed checks and the quant signals that depend on the dataset, for the
Data agent to turn into an alert and a bus message.

It never raises for a provider or quality failure: a key with no trustworthy data is left out of the
result (and reported). It raises :class:`DatasetUnavailable` only when neither source serves a dataset.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from agents.data._calendar import business_days_between
from agents.data._clock import Clock
from agents.data._errors import DataError, DatasetUnavailable, PartialFailure
from agents.data._provider import DataProvider, dedupe_symbols
from agents.data._quality import (
    QualityConfig,
    QualityReport,
    check_bars,
    check_fundamentals,
    check_headlines,
    check_macro,
)
from agents.data._types import (
    IMPACTED_SIGNALS,
    Bar,
    Dataset,
    DatasetKey,
    Fundamentals,
    Headline,
    MacroObservation,
    MacroSeries,
    ProviderHealth,
)

log = logging.getLogger(__name__)

PROVIDER_ERROR = "provider_error"


class QualityAction(StrEnum):
    FAILED_OVER = "failed_over"
    """The primary's data was bad or missing; the key is quarantined and the backup's data is served."""
    QUARANTINED = "quarantined"
    """No trustworthy data from any source: the key is quarantined and left out of results."""
    RESTORED = "restored"
    """The primary passed again after its quarantine expired (or an operator released it)."""


@dataclass(frozen=True, slots=True)
class DataQualityEvent:
    """One change in the quarantine state of a dataset key."""

    dataset: Dataset
    symbol: str
    checks_failed: frozenset[str]
    action: QualityAction
    impacted_signals: frozenset[str]
    provider: str
    backup: str | None
    detail: str
    ts: datetime

    @property
    def key(self) -> DatasetKey:
        return DatasetKey(self.provider, self.dataset, self.symbol)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready payload (sorted lists, ISO timestamp) for bus messages and alerts."""
        return {
            "dataset": self.dataset.value,
            "symbol": self.symbol,
            "checks_failed": sorted(self.checks_failed),
            "action": self.action.value,
            "impacted_signals": sorted(self.impacted_signals),
            "provider": self.provider,
            "backup": self.backup,
            "detail": self.detail,
            "ts": self.ts.isoformat(),
        }


@dataclass(slots=True)
class _Quarantine:
    until: float
    checks: frozenset[str]
    action: QualityAction
    detail: str = ""


@dataclass(slots=True)
class _Outcome:
    data: dict[str, Any] = field(default_factory=dict)
    failures: dict[str, tuple[frozenset[str], str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # not served, not a fault (absent / unsupported)
    unavailable: bool = False  # the provider does not serve the dataset (for this request)


class FailoverProvider(DataProvider):
    """Quality-checked primary with quarantine and failover to a backup.

    Args:
        primary: the preferred source.
        backup: where to go when the primary fails or its data fails the checks; None for no failover.
        clock: quarantine expiry (``monotonic``), event stamps and "today" (``now``).
        quality: thresholds of the checks.
        quarantine_seconds: how long a key stays quarantined before the primary is tried again.
        max_events: how many events :attr:`events` keeps (oldest dropped first).
        name: provider name in health reports.
    """

    def __init__(
        self,
        primary: DataProvider,
        backup: DataProvider | None = None,
        *,
        clock: Clock,
        quality: QualityConfig | None = None,
        quarantine_seconds: float = 3600.0,
        max_events: int = 1000,
        name: str | None = None,
    ) -> None:
        self.primary = primary
        self.backup = backup
        self.name = name or (f"{primary.name}+{backup.name}" if backup else primary.name)
        self.capabilities = primary.capabilities | (backup.capabilities if backup else frozenset())
        self.quality = quality or QualityConfig()
        self.quarantine_seconds = quarantine_seconds
        self._clock = clock
        self._quarantine: dict[DatasetKey, _Quarantine] = {}
        self._probation: set[DatasetKey] = set()
        self._events: deque[DataQualityEvent] = deque(maxlen=max_events)
        self._listeners: list[Callable[[DataQualityEvent], None]] = []

    # -- events and quarantine state -------------------------------------------------------------

    @property
    def events(self) -> list[DataQualityEvent]:
        """Events so far, oldest first."""
        return list(self._events)

    def add_listener(self, listener: Callable[[DataQualityEvent], None]) -> None:
        """Call ``listener`` with every new event (synchronously; it must not block or raise)."""
        self._listeners.append(listener)

    @property
    def quarantined(self) -> frozenset[DatasetKey]:
        self._expire()
        return frozenset(self._quarantine)

    def impacted_signals(self) -> dict[str, frozenset[str]]:
        """For each quant signal, the symbols (or series) whose data is currently quarantined."""
        out: dict[str, set[str]] = {}
        for key in self.quarantined:
            for signal in IMPACTED_SIGNALS[key.dataset]:
                out.setdefault(signal, set()).add(key.symbol)
        return {signal: frozenset(symbols) for signal, symbols in out.items()}

    def release(self, key: DatasetKey) -> None:
        """End a quarantine now (operator action): the primary is tried on the next request."""
        if self._quarantine.pop(key, None) is not None:
            self._probation.add(key)

    def _expire(self) -> None:
        now = self._clock.monotonic()
        for key in [k for k, q in self._quarantine.items() if q.until <= now]:
            del self._quarantine[key]
            self._probation.add(key)

    def _emit(self, key: DatasetKey, checks: frozenset[str], action: QualityAction, detail: str) -> None:
        from_primary = key.provider == self.primary.name
        event = DataQualityEvent(
            dataset=key.dataset,
            symbol=key.symbol,
            checks_failed=checks,
            action=action,
            impacted_signals=IMPACTED_SIGNALS[key.dataset],
            provider=key.provider,
            backup=self.backup.name if self.backup is not None and from_primary else None,
            detail=detail,
            ts=self._clock.now(),
        )
        self._events.append(event)
        log.warning(
            "data quality: %s %s checks=%s signals=%s: %s",
            action.value,
            key,
            sorted(checks),
            sorted(event.impacted_signals),
            detail,
        )
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                log.exception("data quality listener failed")

    def _restore(self, keys: list[DatasetKey]) -> None:
        for key in keys:
            if key in self._probation:
                self._probation.discard(key)
                self._emit(key, frozenset(), QualityAction.RESTORED, f"{key.provider} passed the checks again")

    def _set(self, key: DatasetKey, checks: frozenset[str], action: QualityAction, detail: str) -> None:
        until = self._clock.monotonic() + self.quarantine_seconds
        self._quarantine[key] = _Quarantine(until, checks, action, detail)
        self._probation.discard(key)

    # -- the generic path --------------------------------------------------------------------------

    async def _fetch(
        self,
        provider: DataProvider,
        dataset: Dataset,
        keys: list[str],
        fetch: Callable[[DataProvider, list[str]], Awaitable[Mapping[str, Any]]],
        check: Callable[[str, Any], QualityReport],
    ) -> _Outcome:
        out = _Outcome()
        if not keys:
            return out
        if not provider.supports(dataset):
            out.skipped, out.unavailable = list(keys), True
            return out
        try:
            data = dict(await fetch(provider, keys))
        except DatasetUnavailable:
            out.skipped, out.unavailable = list(keys), True
            return out
        except PartialFailure as exc:
            data = dict(exc.data)
            for key, err in exc.errors.items():
                if isinstance(err, DatasetUnavailable):
                    out.skipped.append(key)
                else:
                    out.failures[key] = (frozenset({PROVIDER_ERROR}), str(err))
        except DataError as exc:
            if len(keys) == 1:
                out.failures[keys[0]] = (frozenset({PROVIDER_ERROR}), str(exc))
                return out
            for key in keys:  # a provider without partial answers: isolate the culprit one key at a time
                single = await self._fetch(provider, dataset, [key], fetch, check)
                out.data.update(single.data)
                out.failures.update(single.failures)
                out.skipped.extend(single.skipped)
            return out
        for key in keys:
            if key in out.failures or key in out.skipped:
                continue
            if key not in data:
                out.skipped.append(key)
                continue
            report = check(key, data[key])
            if report.ok:
                out.data[key] = data[key]
            else:
                out.failures[key] = (report.failed_checks, report.summary())
        return out

    async def _serve(
        self,
        dataset: Dataset,
        keys: Sequence[str],
        fetch: Callable[[DataProvider, list[str]], Awaitable[Mapping[str, Any]]],
        check: Callable[[str, Any], QualityReport],
    ) -> dict[str, Any]:
        if dataset not in self.capabilities:
            raise DatasetUnavailable(self.name, dataset)
        self._expire()
        wanted = dedupe_symbols(keys)
        pkey = {k: DatasetKey(self.primary.name, dataset, k) for k in wanted}
        primary = await self._fetch(
            self.primary, dataset, [k for k in wanted if pkey[k] not in self._quarantine], fetch, check
        )
        self._restore([pkey[k] for k in primary.data])
        result = dict(primary.data)
        rest = [k for k in wanted if k not in result]
        backup = _Outcome(skipped=list(rest), unavailable=True)
        bkey: dict[str, DatasetKey] = {}
        if self.backup is not None:
            bkey = {k: DatasetKey(self.backup.name, dataset, k) for k in rest}
            backup = await self._fetch(
                self.backup, dataset, [k for k in rest if bkey[k] not in self._quarantine], fetch, check
            )
            self._restore([bkey[k] for k in backup.data])
            result.update(backup.data)
        for k in rest:
            self._account(pkey[k], bkey.get(k), primary.failures.get(k), backup.failures.get(k), k in result)
        if wanted and not result and primary.unavailable and backup.unavailable:
            raise DatasetUnavailable(self.name, dataset, "no source serves this request")
        return {k: result[k] for k in wanted if k in result}

    def _account(
        self,
        pkey: DatasetKey,
        bkey: DatasetKey | None,
        pfail: tuple[frozenset[str], str] | None,
        bfail: tuple[frozenset[str], str] | None,
        served: bool,
    ) -> None:
        """Update the quarantine of a key the primary did not serve, and report changes."""
        action = QualityAction.FAILED_OVER if served else QualityAction.QUARANTINED
        if bkey is not None and bfail is not None:
            self._set(bkey, bfail[0], QualityAction.QUARANTINED, bfail[1])
        if pfail is not None:
            checks, detail = pfail
            if bfail is not None and bkey is not None:
                detail = f"{detail}; backup {bkey.provider}: {bfail[1]}"
            self._set(pkey, checks, action, detail)
            self._emit(pkey, checks, action, detail)
            return
        current = self._quarantine.get(pkey)
        if current is not None:
            if current.action is not action:  # the backup stopped (or started) delivering
                current.action = action
                self._emit(pkey, current.checks, action, bfail[1] if bfail else current.detail)
        elif bfail is not None and bkey is not None:  # the backup is the only source and it is bad
            self._emit(bkey, bfail[0], QualityAction.QUARANTINED, bfail[1])

    # -- datasets ----------------------------------------------------------------------------------

    def _today(self) -> date:
        return self._clock.now().date()

    async def bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, list[Bar]]:
        asof = min(end, self._today())
        expect = business_days_between(start - timedelta(days=1), asof) > self.quality.stale_business_days

        def check(symbol: str, bars: list[Bar]) -> QualityReport:
            return check_bars(symbol, bars, asof=asof, expect_data=expect, config=self.quality)

        return await self._serve(Dataset.BARS, symbols, lambda p, s: p.bars(s, start, end), check)

    async def fundamentals(self, symbols: Sequence[str], asof: date) -> dict[str, Fundamentals]:
        def check(symbol: str, snapshot: Fundamentals) -> QualityReport:
            return check_fundamentals(symbol, snapshot, asof=asof, config=self.quality)

        return await self._serve(Dataset.FUNDAMENTALS, symbols, lambda p, s: p.fundamentals(s, asof), check)

    async def headlines(self, symbols: Sequence[str], since: datetime, until: datetime) -> dict[str, list[Headline]]:
        def check(symbol: str, items: list[Headline]) -> QualityReport:
            return check_headlines(symbol, items, until=until)

        return await self._serve(Dataset.HEADLINES, symbols, lambda p, s: p.headlines(s, since, until), check)

    async def macro(self, series: Sequence[MacroSeries], start: date, end: date) -> dict[str, list[MacroObservation]]:
        asof = min(end, self._today())
        expect = (asof - start).days > self.quality.macro_max_gap_days
        names: dict[str, MacroSeries] = {str(s): s for s in series}

        def check(name: str, obs: list[MacroObservation]) -> QualityReport:
            return check_macro(name, obs, asof=asof, expect_data=expect, config=self.quality)

        return await self._serve(
            Dataset.MACRO, list(names), lambda p, s: p.macro([names[n] for n in s], start, end), check
        )

    async def health(self) -> ProviderHealth:
        primary = await self.primary.health()
        backup = await self.backup.health() if self.backup else None
        detail = f"primary {primary.name} {'ok' if primary.ok else 'failing'}"
        if backup is not None:
            detail += f", backup {backup.name} {'ok' if backup.ok else 'failing'}"
        return ProviderHealth(
            name=self.name,
            ok=primary.ok or (backup is not None and backup.ok),
            latency_ms=primary.latency_ms,
            last_error=primary.last_error or (backup.last_error if backup else None),
            checked_at=self._clock.now(),
            quarantined=self.quarantined,
            detail=detail,
        )

    async def aclose(self) -> None:
        await self.primary.aclose()
        if self.backup is not None:
            await self.backup.aclose()
