"""What ``agenthedge cockpit`` imports before its first paint: the command line loads a command's module only
when that command runs, so the cockpit does not pay for the agents, pandas or the exchange calendars."""

from __future__ import annotations

import subprocess
import sys

import click
from click.testing import CliRunner

from app.cli import COMMANDS, cli
from tests.app.daemon_harness import ROOT

HEAVY = ("pandas", "numpy", "exchange_calendars", "app.wiring", "agents.compliance", "agents.data")


def imported_after(statement: str) -> set[str]:
    """Top modules (and ``app.wiring``, ``agents.*``) in ``sys.modules`` after ``statement``, in a fresh
    interpreter."""
    code = f"{statement}\nimport sys\nprint('\\n'.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return set(done.stdout.split())


def test_the_command_line_imports_no_command_module_up_front() -> None:
    loaded = imported_after("import app.cli")
    assert not loaded & set(HEAVY)
    assert not {m for m in loaded if m.startswith("app.cli_") and m != "app.cli_common"}
    assert "textual" not in loaded


def test_the_cockpit_command_imports_only_what_the_cockpit_needs() -> None:
    loaded = imported_after("from app.cli import cli; cli.commands['cockpit']")
    assert "app.cockpit" in loaded
    assert not loaded & set(HEAVY)


def test_the_cockpit_registers_its_payloads_without_the_agents() -> None:
    """``portfolio.state`` comes from ``agents.execution``, whose agents, compliance and market data (pandas)
    load only when one of their names is used."""
    loaded = imported_after(
        "from app.cockpit import register_payloads\n"
        "register_payloads()\n"
        "from runtime.messages import payload_model\n"
        "assert payload_model('portfolio.state').__name__ == 'PortfolioState'"
    )
    assert "agents.execution" in loaded
    assert not loaded & set(HEAVY)
    assert "agents.execution._agent" not in loaded


def test_the_execution_package_still_gives_every_public_name() -> None:
    loaded = imported_after(
        "import agents.execution as ex\n"
        "missing = [n for n in ex.__all__ if getattr(ex, n, None) is None]\n"
        "assert not missing, missing\n"
        "assert set(ex.__all__) <= set(dir(ex))\n"
        "from agents.execution import ExecutionAgent, build_execution_agents\n"
        "from agents.execution._agent import ExecutionAgent as same\n"
        "assert ExecutionAgent is same"
    )
    assert "agents.execution._agent" in loaded


def test_help_lists_every_command_with_its_help() -> None:
    shown = CliRunner().invoke(cli, ["--help"])
    assert shown.exit_code == 0, shown.output
    listing = shown.output.split("Commands:")[1]
    for name in COMMANDS:
        command = cli.commands[name]
        assert isinstance(command, click.Command)
        assert command.name == name
        line = next(line for line in listing.splitlines() if line.split()[:1] == [name])
        assert command.get_short_help_str(limit=1000)[:12] in line


def test_an_unknown_command_is_a_usage_error() -> None:
    assert CliRunner().invoke(cli, ["no-such-command"]).exit_code == 2
