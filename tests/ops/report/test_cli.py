"""``agenthedge ops report``: the daily report by hand, on a crafted home."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from click.testing import CliRunner

from app.cli import cli
from tests.ops.alerts.receivers import HttpReceiver
from tests.ops.report.test_report import craft_audit, craft_ledger


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"

    async def make() -> None:
        ledger = await craft_ledger(home / "ledger.sqlite")
        await ledger.close()

    asyncio.run(make())
    craft_audit(home)
    return home


def test_report_writes_the_files(tmp_path: Path) -> None:
    home = _home(tmp_path)
    result = CliRunner().invoke(cli, ["--home", str(home), "ops", "report", "--date", "2026-11-24"])
    assert result.exit_code == 0, result.output
    md, js = home / "reports" / "daily-2026-11-24.md", home / "reports" / "daily-2026-11-24.json"
    assert result.output.split() == [str(md), str(js)]
    assert json.loads(js.read_text(encoding="utf-8"))["performance"]["nav"] == 1_040_000.0
    assert md.read_text(encoding="utf-8").startswith("# AgentHedge daily report: 2026-11-24")


def test_report_raw_and_dispatched(tmp_path: Path, webhook: HttpReceiver) -> None:
    home = _home(tmp_path)
    env = {"ALERT_WEBHOOK_URL": webhook.url}
    args = ["--home", str(home), "ops", "report", "--date", "2026-11-24", "--raw", "--dispatch"]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    assert "webhook: sent" in result.output
    (body,) = webhook.bodies
    assert body["action"] == "daily_report"
    assert body["details"]["report_name"] == "daily-2026-11-24"


def test_report_on_an_empty_home(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--home", str(tmp_path), "ops", "report"])
    assert result.exit_code == 1
    assert "nothing has run on this home yet" in result.output
    assert not (tmp_path / "ledger.sqlite").exists()
