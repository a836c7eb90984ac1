"""``agenthedge audit verify``: check the hash chain of the audit log."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from app.cli_common import Obj, echo_json
from storage.audit import verify
from storage.db import connect_sync


@click.group()
def audit() -> None:
    """The append-only, hash-chained audit log."""


@audit.command("verify")
@click.option(
    "--path", type=click.Path(path_type=Path), default=None, help="Log file [<home>/audit/runtime_events.jsonl]"
)
@click.option("--raw", is_flag=True, help="JSON output")
@click.pass_obj
def verify_cmd(obj: Obj, path: Path | None, raw: bool) -> None:
    """Verify every line's hash and link; name the first bad line. Exit 1 if the chain is broken."""
    home = obj.config().core.home
    log_path = path or home / "audit" / "runtime_events.jsonl"
    head = _ledger_head(home / "ledger.sqlite") if path is None else None
    result = verify(log_path, expected_head=head)
    if raw:
        echo_json(
            {
                "ok": result.ok,
                "path": result.path,
                "lines": result.lines,
                "first_bad_line": result.first_bad_line,
                "reason": str(result.reason) if result.reason else None,
                "message": result.message,
            }
        )
    elif result.ok:
        click.echo(f"OK: {result.lines} lines verified in {result.path}" + (" (no log yet)" if result.missing else ""))
    else:
        click.echo(f"BROKEN at line {result.first_bad_line} ({result.reason}): {result.message}", err=True)
    sys.exit(0 if result.ok else 1)


def _ledger_head(ledger: Path) -> tuple[int, str] | None:
    """The last (seq, hash) the runtime recorded: deleting lines at the end of the log is caught with it."""
    if not ledger.exists():
        return None
    conn = connect_sync(ledger, readonly=True)
    try:
        row = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    except Exception:
        return None
    finally:
        conn.close()
    return (int(row[0]), str(row[1])) if row else None
