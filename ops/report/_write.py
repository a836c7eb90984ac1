"""Writing the daily report under ``<home>/reports/`` and dispatching it to the alert channels."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ops.alerts import DAILY_REPORT, REPORT_JSON, REPORT_MARKDOWN, REPORT_NAME, Notifier
from ops.report._build import KV, PNL_KEY, TZ, build_daily_report, iter_lines, read_audit_lines, sectors_from_portfolio
from ops.report._model import DailyReport
from ops.report._render import render_markdown
from runtime import topics
from runtime.bus import Bus
from runtime.messages import new_id
from runtime.payloads import Alert
from storage.artifacts import write_json_atomic
from storage.audit import AUDIT_FILE
from storage.ledger import Ledger

SOURCE = "ops.report"


@dataclass(frozen=True)
class WrittenReport:
    report: DailyReport
    markdown: str
    md_path: Path
    json_path: Path
    dispatched: bool


def report_paths(home: Path, session_date: date) -> tuple[Path, Path]:
    """``<home>/reports/daily-YYYY-MM-DD.md`` and ``.json``."""
    stem = home / "reports" / f"daily-{session_date.isoformat()}"
    return stem.with_suffix(".md"), stem.with_suffix(".json")


def _write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def report_alert(written: WrittenReport, *, ts: datetime) -> Alert:
    """The ``daily_report`` info alert that carries the report to the channels."""
    report, perf = written.report, written.report.performance
    day = f", day {perf.day_return * 100:+.2f}%" if perf.day_return is not None else ""
    breaches = sum(report.breaches.alerts_by_action.values())
    return Alert(
        id=new_id(),
        action=DAILY_REPORT,
        severity="info",
        message=(
            f"Daily report {report.session_date.isoformat()}: NAV {perf.nav:,.2f}{day}; "
            f"{breaches} alert(s), {len(report.incidents)} incident(s)"
        ),
        source=SOURCE,
        ts=ts,
        details={
            REPORT_MARKDOWN: written.markdown,
            REPORT_NAME: report.name,
            REPORT_JSON: report.to_json(),
            "md_path": str(written.md_path),
            "json_path": str(written.json_path),
        },
    )


async def write_daily_report(
    home: Path,
    ledger: Ledger,
    session_date: date,
    *,
    generated_at: datetime,
    env: str = "",
    sectors: dict[str, str] | None = None,
    portfolio_state: dict[str, Any] | None = None,
    bus: Bus | None = None,
    audit_path: Path | None = None,
    notifier: Notifier | None = None,
    tz: str = TZ,
) -> WrittenReport:
    """Build, write (atomically) and, given a notifier, dispatch the report of ``session_date``.

    Also keeps the realised-P&L snapshot the next report needs for its day figure (ledger kv ``reports``).

    Args:
        home: ``AGENTHEDGE_HOME``.
        ledger: The runtime's ledger.
        session_date: The NYSE session reported on.
        generated_at: When (the runtime's clock).
        sectors: ``symbol -> sector``; else taken from ``portfolio_state`` (the retained ``state/portfolio``
            payload), else read from ``bus`` (that retained message); names without one are "Unclassified".
        audit_path: The audit log (default ``<home>/audit/runtime_events.jsonl``).
        notifier: Sends the report to the alert channels as a ``daily_report`` info alert.
    """
    if sectors is None and portfolio_state is None and bus is not None:
        portfolio_state = await retained_portfolio(bus)
    path = audit_path or home / AUDIT_FILE
    records, unreadable = await asyncio.to_thread(lambda: read_audit_lines(iter_lines(path)))
    report = await build_daily_report(
        ledger,
        session_date,
        generated_at=generated_at,
        audit_records=records,
        audit_unreadable=unreadable,
        sectors=sectors if sectors is not None else sectors_from_portfolio(portfolio_state),
        env=env,
        tz=tz,
    )
    markdown = render_markdown(report)
    md_path, json_path = report_paths(home, session_date)
    await asyncio.to_thread(_write_text_atomic, md_path, markdown)
    await asyncio.to_thread(write_json_atomic, json_path, report.to_json())
    await _keep_snapshot(ledger, report, generated_at)
    written = WrittenReport(report, markdown, md_path, json_path, dispatched=False)
    if notifier is not None:
        dispatched = await notifier.notify(report_alert(written, ts=generated_at), env=env or None)
        written = WrittenReport(report, markdown, md_path, json_path, dispatched=dispatched)
    return written


async def retained_portfolio(bus: Bus, timeout: float = 2.0) -> dict[str, Any] | None:
    """The retained ``state/portfolio`` payload, or None when there is none within ``timeout`` seconds."""
    async with bus.subscribe(topics.STATE_PORTFOLIO) as sub:
        wait = getattr(bus, "wait_subscribed", None)
        if wait is not None:
            await wait(sub)
        try:
            delivery = await sub.get(timeout=timeout)
        except TimeoutError:
            return None
    return dict(delivery.envelope.payload)


async def _keep_snapshot(ledger: Ledger, report: DailyReport, ts: datetime) -> None:
    session = report.session_date.isoformat()
    snapshot = {"session": session, "realised": report.performance.realised_pnl}
    last = await ledger.get_json(KV, PNL_KEY)
    previous = None
    if isinstance(last, dict):
        # re-running a day's report keeps the snapshot before that day as the base
        previous = last.get("previous") if last.get("session") == session else last
        if isinstance(previous, dict):
            previous = {k: previous[k] for k in ("session", "realised") if k in previous}
    await ledger.put_json(KV, PNL_KEY, {**snapshot, "previous": previous}, ts=ts)
