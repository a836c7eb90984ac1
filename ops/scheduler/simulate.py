"""Drive the schedule on a fake clock: the same planner and runner as production, no waiting.

APScheduler reads the wall clock, so a test (or a dry rehearsal of a week) cannot run it on simulated time.
:func:`drive` plays APScheduler's part: it walks the planned runs in time order, moves a
:class:`~runtime.clock.SimClock` to each run's time (plus any lateness asked for, to rehearse misfires) and
hands the run to :meth:`~ops.scheduler.runner.JobRunner.run`, exactly what a fired ``DateTrigger`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from ops.scheduler.plan import PlannedRun
from ops.scheduler.runs import RunRecord
from ops.scheduler.service import Scheduler
from runtime.clock import SimClock


async def drive(
    scheduler: Scheduler,
    clock: SimClock,
    until: datetime,
    *,
    late: Mapping[str, float] | None = None,
    only: Callable[[PlannedRun], bool] | None = None,
) -> list[RunRecord]:
    """Run every planned run from the clock's now up to ``until`` (exclusive), then set the clock to ``until``.

    Args:
        late: seconds of lateness by run id (``run_daily_trade@2026-11-27``) or job name, as if the process
            had been asleep: a run later than the grace is recorded as missed, not run.
        only: run only the planned runs this accepts (others are left alone, not missed).
    """
    start = clock.now()
    tz = scheduler.tz
    first, last = start.astimezone(tz).date(), until.astimezone(tz).date()
    runs = [
        r
        for r in scheduler.plan(first - timedelta(days=1), (last - first).days + 3)
        if start <= r.at < until and (only is None or only(r))
    ]
    delays = late or {}
    records: list[RunRecord] = []
    for run in runs:
        delay = delays.get(run.id, delays.get(run.job, 0.0))
        target = run.at + timedelta(seconds=delay)
        if target > clock.now():
            clock.set(target)
        records.append(await scheduler.runner.run(run))
    if until > clock.now():
        clock.set(until)
    return records
