"""The README tells the truth: its key table is the cockpit's bindings, its commands exist."""

from __future__ import annotations

import re
import subprocess
import sys

import click
from click.testing import CliRunner

from app.cli import cli
from tests.app.daemon_harness import ROOT


def test_the_key_table_is_generated_from_the_bindings() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("<!-- keys:start -->")[1].split("<!-- keys:end -->")[0].strip()
    generated = subprocess.run(
        [sys.executable, "-m", "app.cockpit", "--keys-markdown"], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.strip()
    assert table == generated, "regenerate: python -m app.cockpit --keys-markdown"


def test_every_command_in_the_readme_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = set(re.findall(r"`agenthedge ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?", readme))
    assert commands
    runner = CliRunner()
    for group, sub in sorted(commands):
        known = cli.commands.get(group)
        assert known is not None, f"agenthedge {group} is in the README but not a command"
        if sub and isinstance(known, click.Group) and sub in known.commands:
            assert runner.invoke(cli, [group, sub, "--help"]).exit_code == 0
