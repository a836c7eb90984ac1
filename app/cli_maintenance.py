"""``agenthedge drill kill-switch``, ``agenthedge backup`` and ``agenthedge restore``.

``ops.maintenance`` is imported inside the commands, so that the other commands start no slower for it.
"""

from __future__ import annotations

import dataclasses
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from app.cli_common import Obj, echo_json, fail, run
from app.wiring import build_registry
from runtime.agent import AgentRegistry
from runtime.lock import HomeLocked
from runtime.settings import CoreSettings, load


@click.group()
def drill() -> None:
    """The runbook's monthly drills."""


@drill.command("kill-switch")
@click.option("--keep", is_flag=True, help="Keep the drill's temporary home (for forensics)")
@click.option("--raw", is_flag=True, help="JSON: the whole drill report")
@click.pass_obj
def kill_switch(obj: Obj, keep: bool, raw: bool) -> None:
    """Kill-switch drill on a temporary replay runtime; exit 1 if it fails. Never touches the live home.

    Replays a few sessions so working orders exist, publishes runtime.kill_switch, measures the time to
    HALTED and to every order cancelled, checks every agent's safe state; the report (JSON + Markdown) goes
    under <home>/drills/<ts>/.
    """
    from ops.maintenance import MaintenanceSettings, run_drill
    from ops.maintenance._drill_report import report_json

    config = obj.config()

    def registry(core: CoreSettings) -> AgentRegistry:
        return build_registry(dataclasses.replace(config, core=core))  # the agents, built on the drill's home

    report = run(
        run_drill(
            config.core.home,
            load(MaintenanceSettings),
            registry_factory=registry,
            runtime_settings=config.runtime,
            now=datetime.now(UTC),
            keep=keep,
        )
    )
    if raw:
        echo_json(report_json(report))
    else:
        click.echo(f"kill-switch drill {'PASSED' if report.ok else 'FAILED'}  ({report.agents_source})")
        for check in report.checks:
            click.echo(f"  [{'ok' if check.ok else 'FAIL'}] {check.name}: {check.detail}")
        for warning in report.warnings:
            click.echo(f"  warning: {warning}")
        click.echo(f"report: {report.report_dir}/drill.md")
    sys.exit(0 if report.ok else 1)


@click.command()
@click.option("--dest", type=click.Path(path_type=Path), default=None, help="New directory [<backups>/<ts>]")
@click.option("--raw", is_flag=True, help="JSON: the manifest")
@click.pass_obj
def backup(obj: Obj, dest: Path | None, raw: bool) -> None:
    """Back up the ledger (SQLite online backup) and the audit log (chain verified), with a manifest.

    Safe while the daemon runs. Exit 1 if anything in the copy does not verify.
    """
    from ops.maintenance import MaintenanceError, MaintenanceSettings, backup_home
    from ops.scheduler.settings import SchedulerSettings

    home = obj.config().core.home
    now = datetime.now(UTC)
    target = dest or load(MaintenanceSettings).backups(home) / now.strftime("%Y%m%dT%H%M%S")
    try:
        result = backup_home(home, target, now=now, archive_dir=load(SchedulerSettings).archive_folder(home))
    except MaintenanceError as exc:
        fail(f"backup refused: {exc}")
    if raw:
        echo_json(result.manifest)
    else:
        audit = result.manifest["audit"]
        tables = result.manifest["databases"]["ledger.sqlite"]["tables"]
        click.echo(f"backup {'OK' if result.ok else 'WITH PROBLEMS'}: {target}")
        click.echo(f"  ledger: {len(tables)} tables, {sum(t['rows'] for t in tables.values())} rows")
        chain = "verified" if audit.get("verified") else "NOT verified"
        click.echo(f"  audit log: {audit.get('lines', 0)} lines, chain {chain}")
        for problem in result.problems:
            click.echo(f"  problem: {problem}", err=True)
    sys.exit(0 if result.ok else 1)


@click.command()
@click.option("--from", "source", type=click.Path(path_type=Path, exists=True, file_okay=False), required=True)
@click.option("--verify/--no-verify", "check", default=True, show_default=True, help="Verify the restored home")
@click.option("--force", is_flag=True, help="Move an existing ledger and audit log aside instead of refusing")
@click.option("--raw", is_flag=True, help="JSON: what was restored and checked")
@click.pass_obj
def restore(obj: Obj, source: Path, check: bool, force: bool, raw: bool) -> None:
    """Restore a backup into --home; refused while a runtime holds the home. Exit 1 on refusal or failed checks."""
    from ops.maintenance import MaintenanceError, restore_home

    home = obj.config().core.home
    try:
        result = restore_home(source, home, now=datetime.now(UTC), force=force, check=check)
    except HomeLocked as exc:
        fail(f"restore refused: {exc}: stop it first")
    except MaintenanceError as exc:
        fail(f"restore refused: {exc}")
    if raw:
        echo_json(
            {
                "ok": result.ok,
                "home": str(result.home),
                "restored": result.restored,
                "moved_aside": str(result.moved_aside) if result.moved_aside else None,
                "checks": result.checks,
                "problems": result.problems,
            }
        )
    else:
        click.echo(f"restored {len(result.restored)} file(s) into {home}")
        if result.moved_aside is not None:
            click.echo(f"  the previous files are in {result.moved_aside}")
        if check:
            click.echo(
                "  verified: integrity, every table's rows, audit chain" if result.ok else "  VERIFICATION FAILED"
            )
        for problem in result.problems:
            click.echo(f"  problem: {problem}", err=True)
    sys.exit(0 if result.ok else 1)
