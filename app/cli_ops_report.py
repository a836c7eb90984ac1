"""``agenthedge ops report`` (the daily report, by hand) and ``agenthedge ops alert-test`` (the channels)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from app.cli_common import Obj, echo_json, fail, run
from app.wiring import AppConfig, build_market, parse_day
from ops.alerts import AlertSettings, Notifier
from ops.report import write_daily_report
from runtime.clock import WallClock
from runtime.messages import new_id
from runtime.payloads import SEVERITIES, Alert
from runtime.settings import load
from storage.ledger import Ledger

NEW_YORK = ZoneInfo("America/New_York")


@click.group("ops")
def ops() -> None:
    """The daily report and a test of the alert channels (ALERT_*)."""


def _sectors(config: AppConfig) -> dict[str, str] | None:
    try:
        return build_market(config, WallClock()).sectors or None
    except Exception:  # the sector map is a convenience: without it names are "Unclassified"
        return None


def _outcomes(notifier: Notifier) -> dict[str, dict[str, int]]:
    """Per channel: notifications sent, failed and dropped."""
    registry = notifier.metrics.registry

    def count(channel: str, outcome: str) -> int:
        labels = {"channel": channel, "outcome": outcome}
        return int(registry.get_sample_value("alert_notifications_total", labels) or 0)

    return {c: {o: count(c, o) for o in ("sent", "failed", "dropped")} for c in notifier.channels}


@ops.command("report")
@click.option("--date", "day", metavar="YYYY-MM-DD", help="The session [today in New York]")
@click.option("--dispatch", is_flag=True, help="Also send it to the ALERT_* channels")
@click.option("--raw", is_flag=True, help="Print the report as JSON")
@click.pass_obj
def report_cmd(obj: Obj, day: str | None, dispatch: bool, raw: bool) -> None:
    """Write <home>/reports/daily-YYYY-MM-DD.{md,json} (what the scheduler does at 16:30)."""
    config = obj.config()
    home = config.core.home
    session = parse_day(day) if day else datetime.now(NEW_YORK).date()
    path = home / "ledger.sqlite"
    if not path.exists():
        fail(f"{path} does not exist: nothing has run on this home yet")
    settings = load(AlertSettings) if dispatch else None

    async def go() -> tuple[Any, dict[str, dict[str, int]]]:
        ledger = await Ledger.open(path)
        notifier = None
        if settings is not None:
            notifier = Notifier.from_settings(settings, housekeeping_interval=None, env=config.core.env)
            await notifier.start()
        try:
            written = await write_daily_report(
                home,
                ledger,
                session,
                generated_at=datetime.now(UTC),
                env=config.core.env,
                sectors=_sectors(config),
                notifier=notifier,
            )
            outcomes: dict[str, dict[str, int]] = {}
            if notifier is not None:
                await notifier.wait_idle()
                outcomes = _outcomes(notifier)
            return written, outcomes
        finally:
            if notifier is not None:
                await notifier.stop()
            await ledger.close()

    written, outcomes = run(go())
    if raw:
        echo_json(written.report.to_json())
    else:
        click.echo(f"{written.md_path}\n{written.json_path}")
    _finish_dispatch(outcomes, dispatch)


def _finish_dispatch(outcomes: dict[str, dict[str, int]], wanted: bool) -> None:
    if not wanted:
        return
    if not outcomes:
        fail("no alert channel configured (ALERT_WEBHOOK_URL, ALERT_SLACK_WEBHOOK_URL, ALERT_SMTP_HOST)", 2)
    for channel, counts in outcomes.items():
        state = "sent" if counts["sent"] and not counts["failed"] else "FAILED"
        click.echo(f"{channel}: {state}", err=True)
    if any(c["failed"] or c["dropped"] or not c["sent"] for c in outcomes.values()):
        sys.exit(1)


@ops.command("alert-test")
@click.option("--severity", type=click.Choice(SEVERITIES), default="warning", show_default=True)
@click.option("--message", default="AgentHedge alert channel test: no action needed", show_default=True)
@click.pass_obj
def alert_test(obj: Obj, severity: str, message: str) -> None:
    """Send a test alert on every configured channel; exit 1 if one fails (the severity gate is bypassed)."""
    config = obj.config()
    settings = load(AlertSettings).model_copy(update={"min_severity": "info", "severity_overrides": {}})
    home = str(Path(config.core.home).resolve())

    async def go() -> dict[str, dict[str, int]]:
        notifier = Notifier.from_settings(settings, housekeeping_interval=None, env=config.core.env)
        if not notifier.channels:
            return {}
        alert = Alert(
            id=new_id(),
            action="alert_test",
            severity=severity,
            message=message,
            source="cli",
            ts=datetime.now(UTC),
            details={"home": home},
        )
        async with notifier:
            await notifier.notify(alert)
            await notifier.wait_idle()
            return _outcomes(notifier)

    _finish_dispatch(run(go()), True)
