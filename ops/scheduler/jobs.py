"""The bodies of the runbook's jobs. Each takes a :class:`JobContext` and returns a :class:`JobResult`.

The runner (:mod:`ops.scheduler.runner`) has already read the persisted state and skipped a trading or
preparation job the state forbids; a body only does its own work. Oversight jobs never change what trades.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ops.scheduler import limits as lim
from ops.scheduler.health import HealthSop
from ops.scheduler.plan import RUNBOOK_STAGES, PlannedRun
from ops.scheduler.preflight import PreflightGate
from ops.scheduler.runs import JobResult
from ops.scheduler.target import JobTarget, TargetError
from runtime.payloads import Severity
from storage.artifacts import write_json_atomic

log = logging.getLogger(__name__)

Ingest = Callable[[date], Awaitable[dict[str, Any]]]


@dataclass
class JobContext:
    target: JobTarget
    run: PlannedRun
    now: datetime
    actor: str
    sop: HealthSop
    gate: PreflightGate
    archive_dir: Path
    ingest: Ingest | None = None
    runtime: Any = None  # the Runtime when in-process (handed to the daily report), else None
    tz_name: str = "America/New_York"

    @property
    def day(self) -> date:
        return self.run.day

    async def alert(self, action: str, severity: Severity, message: str, **details: Any) -> None:
        await self.target.alert(action, severity, message, details, self.actor)


async def health_check(ctx: JobContext) -> JobResult:
    outcome = await ctx.sop.run(ctx.day)
    return JobResult("ok" if outcome.healthy else "failed", outcome.message, outcome.to_json())


async def data_ingestion(ctx: JobContext) -> JobResult:
    if ctx.ingest is None:
        return JobResult(
            "skipped", "no ingestion hook wired (attach_scheduler(..., ingest=...)): the data stage fetches in the tick"
        )
    report = await ctx.ingest(ctx.day)
    if report.get("ok", True):
        return JobResult("ok", report.get("summary", "data refreshed"), report)
    await ctx.alert(
        "data_quality", "warning", f"08:15 ingestion: {report.get('summary', 'quality failures')}", **report
    )
    return JobResult("failed", report.get("summary", "data quality failures"), report)


async def pretrade_review(ctx: JobContext) -> JobResult:
    session = ctx.run.session
    window = session.open if session is not None else ctx.now
    gate = await ctx.gate.evaluate(ctx.now, window=window)
    if gate.ok:
        return JobResult("ok", f"pre-flight would pass for the {window:%H:%M} UTC window", gate.to_json())
    message = f"the execution window will be blocked unless fixed: {'; '.join(gate.reasons)}"
    await ctx.alert("pretrade_review", "warning", message, reasons=gate.reasons)
    return JobResult("blocked", message, gate.to_json())


async def run_daily_trade(ctx: JobContext) -> JobResult:
    gate = await ctx.gate.evaluate(ctx.now)
    if not gate.ok:
        message = f"trading blocked by the pre-flight gate: {'; '.join(gate.reasons)}"
        await ctx.target.audit("preflight.blocked", gate.to_json(), ctx.actor)
        await ctx.alert("trading_blocked", "warning", message, reasons=gate.reasons)
        return JobResult("blocked", message, {"preflight": gate.to_json()})
    await ctx.target.audit("preflight.passed", gate.to_json(), ctx.actor)
    tick = await ctx.target.run_once()
    stages = {RUNBOOK_STAGES.get(k, k): v for k, v in (tick.get("stages") or {}).items()}
    data = {"preflight": gate.to_json(), "tick": tick, "runbook_stages_ms": stages}
    status = tick.get("status")
    if status == "completed":
        return JobResult("ok", f"tick {tick.get('tick_id')} completed in {tick.get('duration_ms', 0):.1f} ms", data)
    if status == "skipped":
        return JobResult("skipped", f"tick skipped: {tick.get('reason')}", data)
    message = f"tick {tick.get('tick_id')} {status}: {tick.get('reason')}"
    await ctx.alert("trade_tick_failed", "error", message, tick_id=tick.get("tick_id"))
    return JobResult("failed", message, data)


async def reconciliation(ctx: JobContext) -> JobResult:
    facts = await ctx.target.facts(ctx.day)
    problems = facts.problems
    data = facts.to_json()
    if problems:
        await ctx.alert("reconciliation", "warning", "; ".join(problems), problems=problems)
        return JobResult("failed", "; ".join(problems), data)
    return JobResult("ok", f"books reconcile: NAV {facts.nav:,.2f}, {facts.open_orders} open order(s)", data)


async def midday_check(ctx: JobContext) -> JobResult:
    view = await ctx.target.state()
    facts = await ctx.target.facts(ctx.day)
    health = await ctx.target.health()
    verdict = lim.compare(ctx.gate.limits(), lim.parse_baseline(await ctx.target.get_json(lim.NAMESPACE, lim.KEY)))
    problems = list(facts.problems) + list(health.get("problems", []))
    if not verdict.ok:
        problems.append(verdict.reason)
    data = {
        "state": view.to_json(),
        "nav": facts.nav,
        "gross_exposure": facts.gross_exposure,
        "gross_leverage": facts.gross_exposure / facts.nav if facts.nav else None,
        "open_orders": facts.open_orders,
        "health_problems": health.get("problems", []),
        "limits": verdict.to_json(),
    }
    if problems:
        await ctx.alert("midday_check", "warning", "; ".join(problems), problems=problems)
        return JobResult("failed", "; ".join(problems), data)
    return JobResult("ok", f"{view.describe()}; NAV {facts.nav:,.2f}, gross {facts.gross_exposure:,.2f}", data)


async def eod_closure(ctx: JobContext) -> JobResult:
    facts = await ctx.target.facts(ctx.day)
    view = await ctx.target.state()
    start = facts.start_of_day_nav
    pnl = facts.nav - start if start is not None and facts.funded else None
    snapshot = {
        "session": ctx.day.isoformat(),
        "at": ctx.now.isoformat(),
        "state": view.to_json(),
        "nav": facts.nav,
        "cash": facts.cash,
        "start_of_day_nav": start,
        "pnl": pnl,
        "pnl_pct": pnl / start if pnl is not None and start else None,
        "gross_exposure": facts.gross_exposure,
        "net_exposure": facts.net_exposure,
        "positions": facts.positions,
        "open_orders": facts.open_orders,
    }
    path = ctx.target.home / "eod" / f"{ctx.day.isoformat()}.json"
    await asyncio.to_thread(write_json_atomic, path, snapshot)
    notes = [f"exposure snapshot {path}", rotate_logs()]
    failed = False
    try:
        archived = await ctx.target.archive_audit(ctx.archive_dir, ctx.now)
        notes.append(f"audit archived to {archived['archive']}")
        snapshot["audit_archive"] = archived
        failed = not archived["verified"]
    except Exception as exc:  # the snapshot above is written whatever happens to the archive
        notes.append(f"audit archive failed: {exc}")
        failed = True
    if failed:
        await ctx.alert("audit_archive", "error", f"end of day: {notes[-1]}")
    shown = f"P&L {pnl:+,.2f}" if pnl is not None else "P&L n/a (unfunded)"
    return JobResult("failed" if failed else "ok", f"{shown}; " + "; ".join(notes), snapshot)


def rotate_logs() -> str:
    """Call the logging setup's rotation hook (``ops.logging.rotate_logs``) if it has one."""
    try:
        hook = getattr(importlib.import_module("ops.logging"), "rotate_logs", None)
    except ImportError:
        hook = None
    if not callable(hook):
        return "no log rotation hook (ops.logging.rotate_logs): the log handlers rotate on their own schedule"
    try:
        rotated = hook()
    except Exception as exc:  # a log-rotation problem never fails the closure of the books
        log.exception("log rotation hook failed")
        return f"log rotation failed: {exc}"
    return f"logs rotated ({rotated})" if rotated is not None else "no log file configured (LOG_DIR): nothing rotated"


async def daily_report(ctx: JobContext) -> JobResult:
    """``ops.report.write_daily_report`` for the session, then its ``daily_report`` alert on the bus.

    The alert goes out through the runtime (audited, published on ``events/alert``), where the alert
    notifier fans it out to the channels like any other alert.
    """
    try:
        report = importlib.import_module("ops.report")
        writer, make_alert = report.write_daily_report, report.report_alert
    except (ImportError, AttributeError):
        return JobResult("skipped", "ops.report.write_daily_report is not available: no daily report written")
    ledger = getattr(ctx.runtime, "ledger", None)
    if ledger is None:
        return JobResult("skipped", "the daily report needs the runtime's ledger: host the scheduler in the daemon")
    written = await writer(
        ctx.target.home, ledger, ctx.day, generated_at=ctx.now, env=getattr(ctx.runtime, "env", ""), tz=ctx.tz_name
    )
    alert = make_alert(written, ts=ctx.now)
    await ctx.target.alert(alert.action, alert.severity, alert.message, dict(alert.details), ctx.actor)
    paths = {"markdown": str(written.md_path), "json": str(written.json_path)}
    return JobResult("ok", f"daily report {paths['markdown']} written and dispatched", paths)


async def audit_archive(ctx: JobContext) -> JobResult:
    archived = await ctx.target.archive_audit(ctx.archive_dir, ctx.now)
    if not archived["verified"]:
        await ctx.alert(
            "audit_archive", "error", f"nightly audit archive does not verify: {archived['verify_message']}"
        )
        return JobResult("failed", archived["verify_message"], archived)
    return JobResult("ok", f"archived to {archived['archive']}", archived)


async def audit_rotate(ctx: JobContext) -> JobResult:
    try:
        rotated = await ctx.target.rotate_audit(ctx.archive_dir, ctx.now, ctx.actor)
    except TargetError as exc:
        return JobResult("skipped", str(exc))
    return JobResult("ok", f"rotated; archive {rotated['archive']}", rotated)


JobBody = Callable[[JobContext], Awaitable[JobResult]]

BODIES: dict[str, JobBody] = {
    "health_check": health_check,
    "data_ingestion": data_ingestion,
    "pretrade_review": pretrade_review,
    "run_daily_trade": run_daily_trade,
    "reconciliation": reconciliation,
    "midday_check": midday_check,
    "eod_closure": eod_closure,
    "daily_report": daily_report,
    "audit_archive": audit_archive,
    "audit_rotate": audit_rotate,
}
