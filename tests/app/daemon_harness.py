"""Run the real ``agenthedge`` executable: the daemon as a process, the CLI as commands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EXE = str(Path(sys.executable).with_name("agenthedge"))


@dataclass
class Deployment:
    """A home, a bus and an environment, as an operator would pass them on the command line."""

    home: Path
    bus: str
    env: str
    extra_env: dict[str, str] = field(default_factory=dict)

    def environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTHEDGE_", "RUNTIME_"))}
        env.update({"PYTHONPATH": str(ROOT), "RUNTIME_OPERATORS": "alice,bob", **self.extra_env})
        return env

    def argv(self, *args: str) -> list[str]:
        return [EXE, "--home", str(self.home), "--bus", self.bus, "--env", self.env, *args]

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args),
            env=self.environ(),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.home.parent,
            check=False,
        )

    def cli_bare(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """The CLI with only ``--home``: bus and environment come from the environment variables."""
        return subprocess.run(
            [EXE, "--home", str(self.home), *args],
            env=self.environ(),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.home.parent,
            check=False,
        )

    def json(self, *args: str) -> Any:
        done = self.cli(*args)
        assert done.stdout, f"no output from {args}: rc={done.returncode} stderr={done.stderr}"
        return json.loads(done.stdout)

    @contextmanager
    def daemon(self, *args: str) -> Iterator[subprocess.Popen[str]]:
        log = (self.home.parent / "daemon.log").open("a")
        proc = subprocess.Popen(
            self.argv("daemon", *args),
            env=self.environ(),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=self.home.parent,
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            log.close()

    def daemon_log(self) -> str:
        path = self.home.parent / "daemon.log"
        return path.read_text() if path.exists() else ""
