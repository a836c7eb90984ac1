"""Runs one planned job: lateness, once-per-session, the persisted state, the body, the record.

Every run, whoever fires it (APScheduler, ``scheduler run-once``, the fake-clock driver of the tests), goes
through :meth:`JobRunner.run`, in this order:

1. **Late?** More than ``SCHEDULER_MISFIRE_GRACE_SECONDS`` after its time, a run is not run: it is counted
   (``stats.misses``), logged, recorded as ``missed``, audited and alerted. A 09:30 trade found at 11:00 is
   a missed trade, never a late one.
2. **Already done?** A scheduled run that has a record (a restart after it ran) is not run again; a trading
   job that completed for its session is never run twice for it, manual runs included.
3. **State.** The persisted state is read from the ledger now (never a cached flag). A trading or
   preparation job is skipped, with the state and its reason, unless the state trades (RUNNING/REDUCING):
   so a kill switch pulled on Monday still blocks Tuesday's ``run_daily_trade``, because HALTED is what
   the ledger says until someone signs a resume. Oversight jobs always run and record the state they saw.
4. **Body**, then the record (run store, audit, alert on failure) and the counters.

Runs are serialised: the runbook's day is sequential and two jobs never interleave their reads and writes.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from ops.scheduler.facts import StateView
from ops.scheduler.health import HealthSop
from ops.scheduler.jobs import BODIES, Ingest, JobBody, JobContext
from ops.scheduler.plan import JobKind, PlannedRun
from ops.scheduler.preflight import PreflightGate
from ops.scheduler.runs import JobResult, RunRecord
from ops.scheduler.target import JobTarget
from runtime.payloads import Severity

log = logging.getLogger(__name__)

RunListener = Callable[[RunRecord], None]


@dataclass
class SchedulerStats:
    """Counters for metrics (``scheduler runs and misses``): read them at scrape time, or add a listener."""

    runs: Counter[tuple[str, str]] = field(default_factory=Counter)  # (job, status) -> count
    misses: Counter[str] = field(default_factory=Counter)  # job -> count
    last: dict[str, RunRecord] = field(default_factory=dict)
    listeners: list[RunListener] = field(default_factory=list)

    def feed(self, metrics: Any) -> None:
        """Count every run in an ``ops.metrics`` recorder: ``record_job_run(job, outcome)`` and
        ``record_job_miss(job)`` (``scheduler_job_runs`` / ``scheduler_job_misses``). A run the pre-flight
        gate blocked is counted as ``refused``, that recorder's name for it."""

        def listener(record: RunRecord) -> None:
            if record.status == "missed":
                metrics.record_job_miss(record.job)
            else:
                metrics.record_job_run(record.job, "refused" if record.status == "blocked" else record.status)

        self.listeners.append(listener)

    def record(self, record: RunRecord) -> None:
        self.runs[(record.job, record.status)] += 1
        if record.status == "missed":
            self.misses[record.job] += 1
        self.last[record.job] = record
        for listener in self.listeners:
            try:
                listener(record)
            except Exception:  # an observer never breaks the schedule
                log.exception("scheduler listener failed")


class JobRunner:
    def __init__(
        self,
        target: JobTarget,
        *,
        gate: PreflightGate,
        sop: HealthSop,
        kinds: Mapping[str, JobKind],
        actor: str,
        grace_seconds: float,
        archive_dir: Path,
        ingest: Ingest | None = None,
        runtime: Any = None,
        tz_name: str = "America/New_York",
        bodies: Mapping[str, JobBody] | None = None,
        stats: SchedulerStats | None = None,
    ) -> None:
        self.target = target
        self.gate = gate
        self.sop = sop
        self.kinds = dict(kinds)
        self.actor = actor
        self.grace = grace_seconds
        self.archive_dir = archive_dir
        self.ingest = ingest
        self.runtime = runtime
        self.tz_name = tz_name
        self.bodies = dict(bodies or BODIES)
        self.stats = stats or SchedulerStats()
        self._lock = asyncio.Lock()

    async def idle(self) -> None:
        """Return once no run is in progress."""
        async with self._lock:
            return

    async def run(self, run: PlannedRun, *, manual: bool = False) -> RunRecord:
        now = self.target.clock.now()
        late = (now - run.at).total_seconds()
        async with self._lock:
            if not manual and late > self.grace:
                return await self.record_miss(run, late_seconds=late, noticed_at=now)
            return await self._run(run, now, manual=manual)

    async def _run(self, run: PlannedRun, fired: datetime, *, manual: bool) -> RunRecord:
        run_key = run.id if not manual else f"{run.id}#manual-{fired:%H%M%S}"
        if not manual:
            previous = await self.target.runs.get(run.id)
            if previous is not None:
                log.info("%s already has a record (%s): not run again", run.id, previous.status)
                return previous
        view = await self.target.state()
        if run.kind == JobKind.TRADING:
            done = await self.target.runs.get(_done_key(run))
            if done is not None:
                result = JobResult(
                    "skipped", f"{run.job} already completed for {run.day.isoformat()} at {done.finished}"
                )
                return await self._finish(run_key, run, fired, view, result, manual=manual)
        if run.kind in (JobKind.TRADING, JobKind.PREPARATION) and not view.state.trades:
            result = JobResult("skipped", f"{run.job} skipped: {view.describe()}")
            return await self._finish(run_key, run, fired, view, result, manual=manual)
        body = self.bodies[run.job]
        ctx = JobContext(
            target=self.target,
            run=run,
            now=self.target.clock.now(),
            actor=self.actor,
            sop=self.sop,
            gate=self.gate,
            archive_dir=self.archive_dir,
            ingest=self.ingest,
            runtime=self.runtime,
            tz_name=self.tz_name,
        )
        try:
            result = await body(ctx)
        except Exception as exc:
            log.exception("job %s failed", run_key)
            result = JobResult("failed", f"{type(exc).__name__}: {exc}")
            await self._safe_alert("scheduler_job_failed", "error", f"{run_key} failed: {result.message}", run_key)
        return await self._finish(run_key, run, fired, view, result, manual=manual)

    async def record_miss(self, run: PlannedRun, *, late_seconds: float, noticed_at: datetime) -> RunRecord:
        """Count and record a run that will not happen because it is too late (or APScheduler missed it)."""
        existing = await self.target.runs.get(run.id)
        if existing is not None:
            return existing  # ran (or was already counted) before: not a new miss
        message = f"{run.id} missed: {late_seconds:.0f}s late (grace {self.grace:.0f}s); not run"
        log.warning(message)
        try:
            view = await self.target.state()
        except Exception as exc:
            log.warning("state unreadable while recording a miss: %s", exc)
            view = None
        result = JobResult("missed", message, {"late_seconds": late_seconds})
        record = await self._finish(run.id, run, noticed_at, view, result, manual=False)
        await self._safe_alert("scheduler_job_missed", "warning", message, run.id)
        return record

    async def _finish(
        self,
        key: str,
        run: PlannedRun,
        fired: datetime,
        view: StateView | None,
        result: JobResult,
        *,
        manual: bool,
    ) -> RunRecord:
        record = RunRecord(
            run_id=key,
            job=run.job,
            day=run.day.isoformat(),
            scheduled_for=run.at.isoformat(),
            started=fired.isoformat(),
            finished=self.target.clock.now().isoformat(),
            status=result.status,
            message=result.message,
            state_seen=view.to_json() if view else {},
            manual=manual,
            data=result.data,
        )
        await self.target.runs.put(record)
        if run.kind == JobKind.TRADING and record.status == "ok":
            await self.target.runs.put(replace(record, run_id=_done_key(run)))
        try:
            await self.target.audit("scheduler.job", _audit_view(record), self.actor)
        except Exception:  # the run store has the record; the audit copy is best effort for a remote target
            log.exception("could not audit %s", key)
        self.stats.record(record)
        log.info("%s: %s - %s", key, record.status, record.message)
        return record

    async def _safe_alert(self, action: str, severity: Severity, message: str, key: str) -> None:
        try:
            await self.target.alert(action, severity, message, {"run": key}, self.actor)
        except Exception:
            log.exception("could not alert about %s", key)


def _done_key(run: PlannedRun) -> str:
    return f"{run.id}!done"


def _audit_view(record: RunRecord) -> dict[str, Any]:
    data = record.to_json()
    data.pop("data", None)  # the full result is in the run store; the audit line stays small
    return data
