"""Every setting is documented, and the committed .env.example is what the code generates."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from app.config_catalog import SECTIONS, env_name, example, undocumented
from tests.app.daemon_harness import EXE, ROOT


def test_every_variable_has_a_description() -> None:
    assert undocumented() == []


def test_variable_names_are_unique() -> None:
    names = [env_name(m, f) for _, m in SECTIONS for f in m.model_fields]
    assert len(names) == len(set(names))


def test_the_committed_env_example_is_up_to_date() -> None:
    committed = (ROOT / ".env.example").read_text()
    assert committed == example(), "regenerate it: agenthedge config example > .env.example"


def test_config_show_masks_secrets_and_names_bad_variables(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "ALPHAVANTAGE_API_KEY": "s3cret-key", "RISK_MAX_SINGLE_NAME_NAV": "0.1"}
    done = subprocess.run(
        [EXE, "--home", str(tmp_path), "config", "show"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "ALPHAVANTAGE_API_KEY=***" in done.stdout
    assert "s3cret-key" not in done.stdout
    env["RISK_MAX_SINGLE_NAME_NAV"] = "lots"
    bad = subprocess.run(
        [EXE, "--home", str(tmp_path), "config", "show"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert bad.returncode == 2
    assert "RISK_MAX_SINGLE_NAME_NAV" in bad.stderr
