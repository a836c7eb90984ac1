"""``agenthedge scheduler ...`` (the runbook's day) and ``agenthedge limits ...`` (the limits sign-off).

``ops.scheduler`` (APScheduler, exchange_calendars, pandas) is imported inside the commands: every other
``agenthedge`` command, the daemon's start included, does not pay for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import click

from app.cli_common import Obj, daemon_online, default_operator, echo_json, fail, run
from app.wiring import build_runtime
from runtime.bus import BusError, create_bus
from runtime.control import ControlService
from runtime.errors import Refused
from runtime.lock import HomeLocked
from runtime.settings import load
from storage.db import connect_sync

if TYPE_CHECKING:
    from ops.scheduler import RunRecord, Scheduler

# The job names, spelled here so that listing them costs no import of the scheduler (a test keeps them equal).
JOB_NAMES = (
    "health_check",
    "data_ingestion",
    "pretrade_review",
    "run_daily_trade",
    "reconciliation",
    "midday_check",
    "eod_closure",
    "daily_report",
    "audit_archive",
    "audit_rotate",
)


@click.group()
def scheduler() -> None:
    """The runbook's day on the NYSE calendar: run it, run one job, list the next runs."""


@contextlib.asynccontextmanager
async def _scheduling(obj: Obj, *, serve_control: bool) -> AsyncIterator[Scheduler]:
    """A scheduler on the daemon (when ``--bus`` reaches one) or on a runtime started here on ``--home``."""
    from ops.scheduler import RemoteTarget, Scheduler, SchedulerSettings, scheduler_for

    config = obj.config()
    settings = load(SchedulerSettings)
    home = config.core.home
    if not config.core.bus.startswith("memory"):
        bus = create_bus(config.core.bus, config.core.env, client_id=f"agenthedge-{config.core.env}-scheduler")
        try:
            await bus.start()
        except BusError as exc:
            fail(f"cannot reach the bus: {exc}")
        try:
            if await daemon_online(bus) is not None:
                ledger = home / "ledger.sqlite"
                target = RemoteTarget(
                    bus,
                    settings.actor,
                    home=home,
                    ledger_path=ledger if ledger.exists() else None,
                    timeout=settings.request_timeout,
                )
                yield Scheduler(target, settings)
                return
        finally:
            await bus.close()
    rt = build_runtime(config)
    try:
        await rt.start(role="scheduler")
    except HomeLocked as exc:
        fail(f"{exc}: a daemon owns this home; reach it with --bus mqtt://... (or host the scheduler in it)")
    except BusError as exc:
        fail(f"cannot reach the bus: {exc}")
    control = ControlService(rt) if serve_control else None
    try:
        if control is not None:
            await control.start()
        yield scheduler_for(rt, settings)
    finally:
        if control is not None:
            await control.stop()
        await rt.stop()


@scheduler.command("run")
@click.pass_obj
def run_cmd(obj: Obj) -> None:
    """Run the schedule until Ctrl-C or SIGTERM (on the daemon over --bus, else on a runtime started here)."""

    async def go() -> None:
        async with _scheduling(obj, serve_control=True) as sched:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await sched.start()
            click.echo(
                f"scheduler on {sched.target.where}: {sched.calendar.code} in {sched.tz.key}, "
                f"{len(sched.jobs_due())} job(s) registered (Ctrl-C stops)",
                err=True,
            )
            try:
                await stop.wait()
            finally:
                await sched.stop()
        click.echo("scheduler stopped", err=True)

    run(go())


@scheduler.command("run-once")
@click.argument("job", type=click.Choice(JOB_NAMES), metavar="JOB")
@click.option("--raw", is_flag=True, help="JSON: the run record")
@click.pass_obj
def run_once(obj: Obj, job: str, raw: bool) -> None:
    """Run one JOB now, as a dry run of the schedule; exit 0 if it ran ok, 1 if skipped, blocked or failed.

    JOB is one of: health_check, data_ingestion, pretrade_review, run_daily_trade, reconciliation,
    midday_check, eod_closure, daily_report, audit_archive, audit_rotate.

    The job goes through the same checks as a scheduled run: the persisted state (a HALTED runtime skips
    run_daily_trade), the pre-flight gate, and once-per-session trading.
    """

    async def go() -> RunRecord:
        async with _scheduling(obj, serve_control=False) as sched:
            return await sched.run_now(job)

    record = run(go())
    if raw:
        echo_json(record.to_json())
    else:
        click.echo(f"{record.run_id}: {record.status.upper()} - {record.message}")
    sys.exit(0 if record.ok else 1)


@scheduler.command("jobs")
@click.option("--sessions", default=5, show_default=True, type=click.IntRange(1, 250), help="Sessions to show")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First day [today]")
@click.option("--raw", is_flag=True, help="JSON: every run with its local and UTC time")
def jobs(sessions: int, start: datetime | None, raw: bool) -> None:
    """The next runs with the exchange calendar applied (holidays skipped, early closes moved)."""
    from ops.scheduler import SchedulerSettings, TradingCalendar, job_specs, plan_sessions

    settings = load(SchedulerSettings)
    tz = settings.tz
    now = datetime.now(tz)
    first: date = start.date() if start is not None else now.date()
    calendar = TradingCalendar(settings.calendar)
    specs = job_specs(settings)
    runs = [r for r in plan_sessions(first, sessions, calendar, tz, specs) if start is not None or r.at >= now]
    rows: list[dict[str, Any]] = [
        {
            "job": r.job,
            "kind": r.kind.value,
            "day": r.day.isoformat(),
            "local": r.local(tz).isoformat(),
            "utc": r.at.isoformat(),
            "session": r.session is not None,
            "early_close": bool(r.session and r.session.early_close),
        }
        for r in runs
    ]
    if raw:
        echo_json({"timezone": tz.key, "calendar": calendar.code, "runs": rows})
        return
    click.echo(f"{calendar.code} sessions, times in {tz.key}")
    day = None
    for r in runs:
        if r.day != day:
            day = r.day
            note = (
                ""
                if r.session is None
                else f"  session {r.session.open.astimezone(tz):%H:%M}-{r.session.close.astimezone(tz):%H:%M}"
                + ("  EARLY CLOSE" if r.session.early_close else "")
            )
            click.echo(f"{day:%Y-%m-%d %a}{note if r.session else '  (no session)'}")
        click.echo(f"  {r.local(tz):%H:%M}  {r.job:<16} {r.kind.value}")


# -- limits ----------------------------------------------------------------------------------------------
@click.group()
def limits() -> None:
    """Risk and compliance limits against the approved baseline (the pre-flight gate checks it)."""


@limits.command("show")
@click.option("--raw", is_flag=True, help="JSON: the verdict and every changed limit")
@click.pass_obj
def limits_show(obj: Obj, raw: bool) -> None:
    """Compare this environment's limits with the approved baseline; exit 1 if they differ."""
    from ops.scheduler import compare, default_limits
    from ops.scheduler.limits import KEY, NAMESPACE, parse_baseline

    home = obj.config().core.home
    ledger = home / "ledger.sqlite"
    raw_baseline: Any = None
    if ledger.exists():
        conn = connect_sync(ledger, readonly=True)
        try:
            row = conn.execute("SELECT value FROM kv WHERE namespace = ? AND key = ?", (NAMESPACE, KEY)).fetchone()
        finally:
            conn.close()
        raw_baseline = None if row is None else json.loads(row[0])
    baseline = parse_baseline(raw_baseline)
    verdict = compare(default_limits(), baseline)
    if raw:
        echo_json(verdict.to_json() | {"baseline": baseline.to_json() if baseline else None})
    else:
        click.echo(("OK: " if verdict.ok else "CHANGED: ") + verdict.reason)
        if baseline is not None:
            click.echo(f"baseline {baseline.hash[:12]} approved by {baseline.approved_by} at {baseline.approved_at}")
        for change in verdict.changes:
            click.echo(f"  {change.describe()}")
    sys.exit(0 if verdict.ok else 1)


@limits.command("approve")
@click.option("--operator", default=default_operator, show_default="$USER", help="Who signs (on RUNTIME_OPERATORS)")
@click.option("--reason", required=True, help="Why (change request, ticket)")
@click.option("--approver", default=None, help="Second approver when RUNTIME_RESUME_APPROVERS=2")
@click.option("--raw", is_flag=True, help="JSON output")
@click.pass_obj
def limits_approve(obj: Obj, operator: str, reason: str, approver: str | None, raw: bool) -> None:
    """Sign off this environment's limits as the new baseline (audited with the diff).

    Run it in the change window, with the daemon stopped, from the environment the daemon will run with.
    """
    from ops.scheduler import approve, default_limits

    config = obj.config()

    async def go() -> None:
        rt = build_runtime(config)
        try:
            await rt.start(role="cli")
        except HomeLocked as exc:
            fail(f"{exc}: approve limits with the daemon stopped (change window), then start it")
        try:
            baseline, changes = await approve(rt, default_limits(), operator=operator, reason=reason, approver=approver)
        except Refused as exc:
            fail(f"limits approve refused: {exc.reason}")
        finally:
            await rt.stop()
        if raw:
            echo_json({"baseline": baseline.to_json(), "changes": [c.to_json() for c in changes]})
            return
        click.echo(f"approved limits {baseline.hash[:12]} by {baseline.approved_by}: {len(changes)} change(s)")
        for change in changes:
            click.echo(f"  {change.describe()}")

    run(go())
