"""The scheduler: the runbook's day planned on the exchange calendar and fired by APScheduler 3.11.

A daily planner (a cron job at 00:01 in ``SCHEDULER_TIMEZONE``, and once at start) computes each day's
concrete run times from the calendar (:func:`ops.scheduler.plan.plan_days`) and registers one
``DateTrigger`` job per run, id ``<job>@<date>``, with ``misfire_grace_time`` and ``coalesce`` set. A run
whose time passed more than the grace ago when it is planned (the scheduler was down) is counted and
recorded as missed, as is one APScheduler reports missed (``EVENT_JOB_MISSED``: the host slept, the loop
was blocked). APScheduler reads the wall clock; tests drive the same planner and runner on a fake clock
with :func:`ops.scheduler.simulate.drive` instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from agents.data import DataProvider
from ops.scheduler import limits as lim
from ops.scheduler.calendar import CalendarError, TradingCalendar
from ops.scheduler.health import CheckResult, HealthSop, Sleep, standard_checks
from ops.scheduler.ingest import provider_ingest
from ops.scheduler.jobs import Ingest
from ops.scheduler.plan import Anchor, JobSpec, PlannedRun, default_jobs, plan_days, spec_named
from ops.scheduler.preflight import PreflightGate
from ops.scheduler.runner import JobRunner, SchedulerStats
from ops.scheduler.runs import RunRecord
from ops.scheduler.settings import SchedulerSettings
from ops.scheduler.target import InProcessTarget, JobTarget
from runtime.agent import Stage
from runtime.runtime import Runtime
from runtime.settings import load

log = logging.getLogger(__name__)

PLANNER_ID = "planner"
CALENDAR_LOOKAHEAD = timedelta(days=30)


def job_specs(settings: SchedulerSettings) -> list[JobSpec]:
    """The runbook's jobs with this deployment's maintenance times."""
    return default_jobs(
        archive_at=time(*settings.parse_time(settings.archive_time)),
        rotate_at=time(*settings.parse_time(settings.rotate_time)),
        rotate_weekday=settings.rotate_weekday,
    )


class Scheduler:
    """Plans and runs the runbook's jobs against a :class:`~ops.scheduler.target.JobTarget`."""

    def __init__(
        self,
        target: JobTarget,
        settings: SchedulerSettings,
        *,
        providers: Callable[[], Sequence[DataProvider]] = tuple,
        limits: lim.LimitsSource = lim.default_limits,
        ingest: Ingest | None = None,
        sleep: Sleep | None = None,
        runtime: Runtime | None = None,
        calendar: TradingCalendar | None = None,
    ) -> None:
        self.target = target
        self.settings = settings
        self.tz = settings.tz
        self.calendar = calendar or TradingCalendar(settings.calendar)
        self.jobs: list[JobSpec] = job_specs(settings)
        self.stats = SchedulerStats()
        self.gate = PreflightGate(target, self.calendar, providers=providers, limits=limits)
        self.sop = HealthSop(
            target,
            standard_checks(target, providers=providers, scheduler=self.self_check),
            actor=settings.actor,
            retries=settings.health_retries,
            backoff=settings.health_backoff_seconds,
            auto_recover=settings.auto_recover,
            sleep=sleep,
            local_date=self.calendar.local_date,
        )
        self.runner = JobRunner(
            target,
            gate=self.gate,
            sop=self.sop,
            kinds={spec.name: spec.kind for spec in self.jobs},
            actor=settings.actor,
            grace_seconds=settings.misfire_grace_seconds,
            archive_dir=settings.archive_folder(target.home),
            ingest=ingest,
            runtime=runtime,
            tz_name=settings.timezone,
            stats=self.stats,
        )
        self._aps: AsyncIOScheduler | None = None
        self._planned: dict[str, PlannedRun] = {}
        self._pending: set[asyncio.Task[Any]] = set()

    # -- planning ------------------------------------------------------------------------------------
    def plan(self, start: date, days: int) -> list[PlannedRun]:
        return plan_days(start, days, self.calendar, self.tz, self.jobs)

    def today(self) -> date:
        return self.target.clock.now().astimezone(self.tz).date()

    def manual_run(self, job: str, at: datetime | None = None) -> PlannedRun:
        """A run of ``job`` now (``scheduler run-once``): on today's session if there is one."""
        spec = spec_named(self.jobs, job)
        when = at or self.target.clock.now()
        day = self.calendar.local_date(when) if spec.anchor != Anchor.WALL else when.astimezone(self.tz).date()
        return PlannedRun(spec.name, spec.kind, day, when, self.calendar.session(day))

    async def run_now(self, job: str) -> RunRecord:
        return await self.runner.run(self.manual_run(job), manual=True)

    # -- APScheduler ---------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._aps is not None and self._aps.running

    async def start(self, *, paused: bool = False) -> None:
        """Start APScheduler and plan; ``paused`` registers the runs without firing any (inspection, tests)."""
        grace = self.settings.misfire_grace_seconds
        aps = AsyncIOScheduler(
            timezone=self.tz, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": grace}
        )
        aps.add_listener(self._on_event, EVENT_JOB_MISSED | EVENT_JOB_ERROR | EVENT_JOB_MAX_INSTANCES)
        aps.start(paused=paused)
        self._aps = aps
        aps.add_job(
            self.replan,
            CronTrigger(hour=0, minute=1, timezone=self.tz),
            id=PLANNER_ID,
            name="daily planner",
            coalesce=True,
            misfire_grace_time=None,  # a late plan is still the plan
            replace_existing=True,
        )
        await self.replan()
        log.info("scheduler started (%s, %s): %d run(s) planned", self.calendar.code, self.tz.key, len(self.jobs_due()))

    async def replan(self) -> list[PlannedRun]:
        """Register the runs of today and the next ``horizon_days``; count those already too late as missed."""
        now = self.target.clock.now()
        added: list[PlannedRun] = []
        for run in self.plan(self.today(), self.settings.horizon_days + 1):
            if run.id in self._planned:
                continue
            self._planned[run.id] = run
            late = (now - run.at).total_seconds()
            if await self.target.runs.get(run.id) is not None:
                continue  # it ran (or was counted) before a restart
            if late > self.settings.misfire_grace_seconds:
                await self.runner.record_miss(run, late_seconds=late, noticed_at=now)
                continue
            self.register(run)
            added.append(run)
        self._forget_before(self.today() - timedelta(days=2))
        return added

    def register(self, run: PlannedRun) -> None:
        """Add one run as an APScheduler ``DateTrigger`` job."""
        assert self._aps is not None, "start() first"
        self._planned[run.id] = run
        self._aps.add_job(
            self._fire,
            DateTrigger(run_date=run.at),
            kwargs={"run_id": run.id},
            id=run.id,
            name=run.job,
            misfire_grace_time=self.settings.misfire_grace_seconds,
            coalesce=True,
            max_instances=1,
            replace_existing=True,
        )

    async def _fire(self, run_id: str) -> str:
        """APScheduler's job function; returns the outcome (``ok``, ``skipped``, ...) as the job's value."""
        run = self._planned.get(run_id)
        if run is None:
            log.error("fired %s, which is not planned", run_id)
            return "failed"
        return (await self.runner.run(run)).status

    def _on_event(self, event: JobExecutionEvent) -> None:
        run = self._planned.get(event.job_id)
        if event.code == EVENT_JOB_ERROR:
            log.error("scheduler job %s raised: %s", event.job_id, getattr(event, "exception", None))
            return
        if run is None:
            log.warning("APScheduler event %s for %s", event.code, event.job_id)
            return
        now = self.target.clock.now()
        scheduled: datetime = getattr(event, "scheduled_run_time", None) or run.at
        task = asyncio.get_running_loop().create_task(
            self.runner.record_miss(run, late_seconds=(now - scheduled).total_seconds(), noticed_at=now)
        )
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _forget_before(self, day: date) -> None:
        for key in [k for k, r in self._planned.items() if r.day < day]:
            del self._planned[key]

    def jobs_due(self) -> list[tuple[str, datetime | None]]:
        """APScheduler's registered jobs and their next run time (planner included)."""
        if self._aps is None:
            return []
        return [(job.id, job.next_run_time) for job in self._aps.get_jobs()]

    async def stop(self) -> None:
        """No new runs; let the run in progress finish (up to ``stop_timeout``); shut APScheduler down."""
        aps, self._aps = self._aps, None
        if aps is None:
            return
        aps.pause()
        try:
            async with asyncio.timeout(self.settings.stop_timeout):
                await self.runner.idle()
        except TimeoutError:
            log.error("a scheduler job still runs after %.0fs: shutting down anyway", self.settings.stop_timeout)
        aps.shutdown(wait=False)
        await asyncio.sleep(0)  # AsyncIOScheduler.shutdown runs on the loop
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    # -- the scheduler's own health (SOP 1 names the scheduler as a component) -------------------------
    async def self_check(self) -> CheckResult:
        problems: list[str] = []
        now = self.target.clock.now()
        try:
            self.calendar.session(self.calendar.local_date(now) + CALENDAR_LOOKAHEAD)
        except CalendarError as exc:
            problems.append(f"calendar cannot see 30 days ahead: {exc}")
        if self._aps is not None and not self._aps.running:
            problems.append("APScheduler is not running")
        data = {
            "running": self.running,
            "registered": len(self.jobs_due()),
            "misses": sum(self.stats.misses.values()),
            "calendar": self.calendar.code,
            "timezone": self.tz.key,
        }
        return CheckResult("scheduler", not problems, "; ".join(problems) or "planner and calendar ok", data)


def discover_data(runtime: Runtime) -> tuple[list[DataProvider], Ingest | None]:
    """The data-stage agents' provider stacks, and an 08:15 ingestion through the first one for its symbols.

    An agent qualifies by having a ``provider`` (a :class:`~agents.data.DataProvider`) and ``symbols``; fetching
    through the agent's own provider object warms the cache its 09:30 tick reads.
    """
    providers: list[DataProvider] = []
    ingest: Ingest | None = None
    for agent in runtime.registry.by_stage(Stage.DATA):
        provider = getattr(agent, "provider", None)
        if isinstance(provider, DataProvider):
            providers.append(provider)
            symbols = getattr(agent, "symbols", None)
            if ingest is None and symbols:
                ingest = provider_ingest(provider, list(symbols))
    return providers, ingest


def scheduler_for(
    runtime: Runtime,
    settings: SchedulerSettings | None = None,
    *,
    providers: Callable[[], Sequence[DataProvider]] | None = None,
    limits: lim.LimitsSource = lim.default_limits,
    ingest: Ingest | None = None,
) -> Scheduler:
    """A scheduler on a started runtime in this process; providers and ingestion found on its data agents
    unless given."""
    found, found_ingest = discover_data(runtime)
    return Scheduler(
        InProcessTarget(runtime),
        settings or load(SchedulerSettings),
        providers=providers if providers is not None else (lambda: found),
        limits=limits,
        ingest=ingest or found_ingest,
        runtime=runtime,
    )


async def attach_scheduler(
    runtime: Runtime,
    settings: SchedulerSettings | None = None,
    *,
    providers: Callable[[], Sequence[DataProvider]] | None = None,
    limits: lim.LimitsSource = lim.default_limits,
    ingest: Ingest | None = None,
) -> Scheduler:
    """Host the scheduler inside a started runtime (the daemon): returns it started; ``await stop()`` it
    before stopping the runtime."""
    scheduler = scheduler_for(runtime, settings, providers=providers, limits=limits, ingest=ingest)
    await scheduler.start()
    return scheduler
