"""End to end: the real ``agenthedge cockpit`` in tmux, attached over a real mosquitto to a real
``agenthedge daemon``. The kill switch is published on the bus, the banner appears, the operator resumes
with a sign-off typed through the keyboard, and the daemon's audit log shows it. Then the terminal goes
away (the tmux session is killed): the cockpit exits and the daemon trades on.

Every wait polls ``capture-pane`` (or the bus) with a deadline; nothing sleeps for a guessed time.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runtime import topics
from runtime.bus import create_bus
from runtime.messages import make
from runtime.payloads import KillSwitch
from tests.app.daemon_harness import EXE, Deployment
from tests.app.test_daemon_mqtt import wait_online
from tests.mqtt_broker import Mosquitto, mosquitto_pub

pytestmark = pytest.mark.mqtt
WAIT = 45.0
TMUX = shutil.which("tmux")


class Tmux:
    """One private tmux server (its own socket) with one session running one command."""

    def __init__(self, socket: Path, name: str = "cockpit") -> None:
        assert TMUX, "tmux is missing: run `make test`, which installs it (Makefile APT_PACKAGES)"
        self.socket = socket
        self.name = name

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        assert TMUX
        return subprocess.run([TMUX, "-S", str(self.socket), *args], capture_output=True, text=True, check=check)

    def start(self, command: str, width: int = 100, height: int = 30) -> None:
        self.run("-f", "/dev/null", "new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height), command)
        self.run("set-option", "-s", "escape-time", "10")

    def pane_pid(self) -> int:
        return int(self.run("list-panes", "-t", self.name, "-F", "#{pane_pid}").stdout.split()[0])

    def screen(self, styles: bool = False) -> str:
        done = self.run("capture-pane", "-p", *(["-e"] if styles else []), "-t", self.name, check=False)
        return done.stdout

    def focused_button(self) -> str | None:
        """The button drawn in reverse video (Textual's focus mark), from the pane with its escape codes."""
        found = re.search(r"\x1b\[1;7m(?:\x1b\[[0-9;]*m)*\s*(Cancel|Resume|KILL|Run once)", self.screen(styles=True))
        return found.group(1) if found else None

    def tab_until(self, focused: str | None, what: str) -> None:
        """Press Tab and wait (polling) until the focus mark is on ``focused`` (None: on no button)."""
        self.keys("Tab")
        deadline = time.monotonic() + WAIT
        while self.focused_button() != focused:
            if time.monotonic() > deadline:
                raise AssertionError(f"focus never reached {what}; the pane shows:\n{self.screen()}")
            time.sleep(0.02)

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.run("send-keys", "-t", self.name, *(["-l"] if literal else []), *keys)

    def wait_for(
        self, predicate: Callable[[str], bool], what: str, timeout: float = WAIT, context: Callable[[], str] = str
    ) -> str:
        deadline = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < deadline:
            shown = self.screen()
            if predicate(shown):
                return shown
            time.sleep(0.05)  # polling the pane, not waiting for something to happen by itself
        raise AssertionError(f"timed out waiting for {what}; the pane shows:\n{shown}\n{context()}")

    def kill(self) -> None:
        self.run("kill-server", check=False)


@pytest.fixture
def deployment(tmp_path: Path, mosquitto: Mosquitto, bus_env: str) -> Deployment:
    return Deployment(
        home=tmp_path / "home",
        bus=mosquitto.url,
        env=bus_env.lower().replace("_", "-")[:30],
        extra_env={"RUNTIME_TICK_INTERVAL": "0.5", "RUNTIME_OPERATORS": "alice,bob", "COCKPIT_REQUEST_TIMEOUT": "15"},
    )


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    session = Tmux(tmp_path / "tmux.sock")
    yield session
    session.kill()


def audit(home: Path) -> list[dict[str, object]]:
    path = home / "audit" / "runtime_events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def daemon_online(deployment: Deployment, pid: int) -> None:
    """Until the daemon ``pid`` has announced itself online (its retained presence): from then on it serves
    control. Between taking the home's lock and announcing, a ``runtime status`` sees no daemon, falls back to
    a runtime of its own and meets the lock (exit 1): a race the test lost on a loaded machine."""

    async def watch() -> None:
        bus = create_bus(deployment.bus, deployment.env)
        await bus.start()
        try:
            await wait_online(bus, pid)
        finally:
            await bus.close()

    asyncio.run(watch())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_kill_switch_banner_and_a_keyboard_signoff_over_mqtt(
    deployment: Deployment, mosquitto: Mosquitto, tmux: Tmux
) -> None:
    with deployment.daemon() as daemon:
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in deployment.environ().items() if k != "TMUX")
        argv = [EXE, "--home", str(deployment.home), "--bus", deployment.bus, "--env", deployment.env]
        command = f"cd {shlex.quote(str(deployment.home.parent))} && exec env -i {env} TERM=xterm-256color " + " ".join(
            shlex.quote(a) for a in [*argv, "cockpit", "--operator", "alice"]
        )
        tmux.start(command)
        daemon_online(deployment, daemon.pid)
        assert deployment.cli("runtime", "status").returncode == 0  # the daemon serves control (and kill topics)

        def log() -> str:
            return "daemon log (tail):\n" + "\n".join(deployment.daemon_log().splitlines()[-30:])

        cockpit_pid = tmux.pane_pid()
        tmux.wait_for(
            lambda s: "RUNNING" in s and "● connected" in s and deployment.env in s, "the cockpit attached", context=log
        )

        kill = make("kill_switch", KillSwitch(reason="e2e: daily loss 3.2% > 3.0%"), source="risk")
        mosquitto_pub(mosquitto, topics.absolute(deployment.env, topics.RISK_KILL_SWITCH), kill.encode())
        shown = tmux.wait_for(lambda s: "KILL SWITCH" in s and "INC-" in s, "the kill-switch banner", context=log)
        incident = re.search(r"INC-\d{8}-\d{6}-[0-9A-F]{4}", shown)
        assert incident is not None, shown
        assert "HALTED" in shown

        tmux.keys("R")
        tmux.wait_for(
            lambda s: "Resume with sign-off" in s and incident.group(0) in s, "the sign-off form", context=log
        )
        tmux.wait_for(lambda s: tmux.focused_button() == "Cancel", "the default button, Cancel, focused")
        # One key at a time, each waited for on screen: Textual may route a key typed in the same instant as a
        # Tab to the widget the Tab is leaving.
        tmux.tab_until("Resume", "Resume")
        tmux.tab_until(None, "the reason field")
        tmux.keys("e2e drill over, positions checked", literal=True)
        tmux.wait_for(lambda s: "e2e drill over, positions checked" in s, "the typed reason", context=log)
        tmux.tab_until(None, "the incident field (prefilled)")
        tmux.tab_until("Cancel", "Cancel")
        tmux.tab_until("Resume", "Resume")
        tmux.keys("Enter")
        tmux.wait_for(lambda s: "KILL SWITCH" not in s and "● RUNNING" in s, "RUNNING again", context=log)

        lines = audit(deployment.home)
        resumed = [
            r
            for r in lines
            if r["event"] == "runtime.transition" and r["data"]["to"] == "RUNNING"  # type: ignore[index]
        ]
        assert resumed, "no transition back to RUNNING in the audit log"
        assert resumed[-1]["actor"] == "alice"
        assert resumed[-1]["data"]["reason"] == "e2e drill over, positions checked"  # type: ignore[index]
        commands = [r for r in lines if r["event"] == "control.command" and r["data"]["verb"] == "resume"]  # type: ignore[index]
        assert commands[-1]["actor"] == "alice"
        assert commands[-1]["data"]["ok"] is True  # type: ignore[index]

        tmux.kill()  # the terminal goes away: SIGHUP
        deadline = time.monotonic() + WAIT
        while alive(cockpit_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(cockpit_pid), "the cockpit outlived its terminal"
        assert daemon.poll() is None, "losing the cockpit must not touch the daemon"
        health = deployment.json("runtime", "health", "--raw")
        assert health["state"]["state"] == "RUNNING"
