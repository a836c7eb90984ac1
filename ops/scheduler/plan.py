"""The runbook's day as data, and the planner that turns it into concrete run times per calendar day.

Trading-day jobs are anchored to the session's own open or close from the exchange calendar, so a holiday
has no trading-day run at all and an early close moves the close-relative jobs with it (2026-11-27 closes
13:00 ET: ``eod_closure`` at 13:00, ``daily_report`` at 13:30). The offsets reproduce the runbook's table on
a regular day (open 09:30 ET, close 16:00 ET). Maintenance jobs are anchored to the wall clock of
``SCHEDULER_TIMEZONE`` and run on calendar days.

How the runbook's 08:30-09:15 rows map onto the runtime: the briefing (Director), the specialist analysis
(quant council), the pre-trade review (Risk + Compliance) and the trade pack (Director) are *stages of one
tick* of the runtime's pipeline, and the runtime can only run a tick whole (an interrupted tick executes
nothing). Splitting them across an hour would mean computing a trade pack at 09:15 and executing it at
09:30 on 15-minute-old data, through a hand-off the runtime does not have. So ``run_daily_trade`` runs the
pre-flight gate and then exactly one tick at the 09:30 execution window: the four stages run back to back
inside it, in the runbook's order, and the job's result lists each stage's duration under its runbook name.
The 09:00 slot keeps its runbook meaning as ``pretrade_review``: the same pre-flight gate run 30 minutes
early, advisory only, so an operator has time to act (sign off a limit change, fix a provider) before 09:30.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from ops.scheduler.calendar import Session, TradingCalendar


class JobKind(StrEnum):
    """How a job honours the runtime's state (read fresh from the ledger when the job runs)."""

    TRADING = "trading"  # sends orders: runs only when the state trades (RUNNING/REDUCING), after the gate
    PREPARATION = "preparation"  # prepares trading: skipped with the reason when the state does not trade
    OVERSIGHT = "oversight"  # checks, snapshots, reports, archives: always runs, never trades, records the state


class Anchor(StrEnum):
    OPEN = "open"  # the session's open + offset (trading days only)
    CLOSE = "close"  # the session's close + offset (trading days only)
    WALL = "wall"  # a local wall-clock time on the given weekdays (every calendar day by default)


@dataclass(frozen=True, slots=True)
class JobSpec:
    name: str
    kind: JobKind
    anchor: Anchor
    offset: timedelta = timedelta()
    wall: time | None = None
    weekdays: frozenset[int] = frozenset(range(7))
    runbook: str = ""  # the runbook's time and activity this job carries out

    def __post_init__(self) -> None:
        if (self.anchor == Anchor.WALL) != (self.wall is not None):
            raise ValueError(f"{self.name}: a wall time goes with the WALL anchor and only with it")


def _m(minutes: int) -> timedelta:
    return timedelta(minutes=minutes)


def default_jobs(
    *, archive_at: time = time(23, 45), rotate_at: time = time(10), rotate_weekday: int = 5
) -> list[JobSpec]:
    """The runbook's day (ET on a regular session: open 09:30, close 16:00) plus the audit-log maintenance."""
    return [
        JobSpec("health_check", JobKind.OVERSIGHT, Anchor.OPEN, _m(-90), runbook="08:00 health checks (SOP 1)"),
        JobSpec("data_ingestion", JobKind.PREPARATION, Anchor.OPEN, _m(-75), runbook="08:15 data ingestion refresh"),
        JobSpec(
            "pretrade_review",
            JobKind.PREPARATION,
            Anchor.OPEN,
            _m(-30),
            runbook="09:00 risk & compliance pre-trade review (advisory pre-flight gate)",
        ),
        JobSpec(
            "run_daily_trade",
            JobKind.TRADING,
            Anchor.OPEN,
            _m(0),
            runbook="08:30 briefing, 08:35 analysis, 09:00 pre-trade review, 09:15 trade pack, 09:30 execution: "
            "the pre-flight gate then one tick at the execution window",
        ),
        JobSpec("reconciliation", JobKind.OVERSIGHT, Anchor.OPEN, _m(30), runbook="10:00 post-trade reconciliation"),
        JobSpec("midday_check", JobKind.OVERSIGHT, Anchor.OPEN, _m(150), runbook="12:00 midday risk/compliance check"),
        JobSpec(
            "eod_closure",
            JobKind.OVERSIGHT,
            Anchor.CLOSE,
            _m(0),
            runbook="16:00 end-of-day P&L, exposure snapshot, log rotation, audit archive",
        ),
        JobSpec("daily_report", JobKind.OVERSIGHT, Anchor.CLOSE, _m(30), runbook="16:30 daily report dispatched"),
        JobSpec("audit_archive", JobKind.OVERSIGHT, Anchor.WALL, wall=archive_at, runbook="nightly audit-log archive"),
        JobSpec(
            "audit_rotate",
            JobKind.OVERSIGHT,
            Anchor.WALL,
            wall=rotate_at,
            weekdays=frozenset({rotate_weekday}),
            runbook="weekly audit-log rotation (maintenance window)",
        ),
    ]


JOB_NAMES: tuple[str, ...] = tuple(spec.name for spec in default_jobs())

# The runtime's pipeline stages under the runbook's names, for run_daily_trade's result.
RUNBOOK_STAGES: dict[str, str] = {
    "data": "08:15 data (within the tick)",
    "director": "08:30 strategy briefing",
    "council": "08:35 specialist analysis",
    "risk": "09:00 risk pre-trade review",
    "compliance": "09:00 compliance pre-trade review",
    "execution": "09:30 execution window",
    "feedback": "feedback",
    "reconciliation": "reconciliation (within the tick)",
}


@dataclass(frozen=True, slots=True)
class PlannedRun:
    """One run of one job. ``day`` is the session date (trading-day jobs) or the calendar date (wall jobs)."""

    job: str
    kind: JobKind
    day: date
    at: datetime  # aware UTC
    session: Session | None

    @property
    def id(self) -> str:
        return run_id(self.job, self.day)

    def local(self, tz: ZoneInfo) -> datetime:
        return self.at.astimezone(tz)


def run_id(job: str, day: date) -> str:
    return f"{job}@{day.isoformat()}"


def plan_day(day: date, calendar: TradingCalendar, tz: ZoneInfo, jobs: Sequence[JobSpec]) -> list[PlannedRun]:
    """Every run of ``jobs`` on ``day``, in time order; trading-day jobs only if ``day`` is a session."""
    session = calendar.session(day)
    runs: list[PlannedRun] = []
    for spec in jobs:
        if spec.anchor == Anchor.WALL:
            assert spec.wall is not None
            if day.weekday() in spec.weekdays:
                local = datetime.combine(day, spec.wall, tzinfo=tz)
                runs.append(PlannedRun(spec.name, spec.kind, day, local.astimezone(UTC), session))
            continue
        if session is None:
            continue
        base = session.open if spec.anchor == Anchor.OPEN else session.close
        runs.append(PlannedRun(spec.name, spec.kind, day, base + spec.offset, session))
    return sorted(runs, key=lambda r: (r.at, r.job))


def plan_days(
    start: date, days: int, calendar: TradingCalendar, tz: ZoneInfo, jobs: Sequence[JobSpec]
) -> list[PlannedRun]:
    """Runs of ``days`` consecutive calendar days from ``start``, in time order."""
    out: list[PlannedRun] = []
    for i in range(days):
        out.extend(plan_day(start + timedelta(days=i), calendar, tz, jobs))
    return sorted(out, key=lambda r: (r.at, r.job))


def plan_sessions(
    start: date, sessions: int, calendar: TradingCalendar, tz: ZoneInfo, jobs: Sequence[JobSpec]
) -> list[PlannedRun]:
    """Runs from ``start`` through the ``sessions``-th session on or after it (non-session days included)."""
    if sessions < 1:
        return []
    last = calendar.sessions(start, sessions)[-1].date
    return plan_days(start, (last - start).days + 1, calendar, tz, jobs)


def spec_named(jobs: Iterable[JobSpec], name: str) -> JobSpec:
    for spec in jobs:
        if spec.name == name:
            return spec
    raise KeyError(name)
