"""A real mosquitto broker for the tests and the benches, started on a free port of 127.0.0.1.

aiomqtt's own suite runs against a real broker; so do we (no mocks of the broker). The configuration
matters for what the tests prove:

* ``set_tcp_nodelay true``: without it a QoS 1 round trip costs about 40 ms (Nagle + delayed ACK).
* ``max_queued_messages 0``: no limit. The default (1000 per client, above those in flight) silently drops
  QoS 1 messages to a slow subscriber, which would make "every command arrives" untestable.
* ``max_inflight_messages 100``: enough in flight per client to keep the pipe full; the rest queue (above).
* ``persistence false``: every start is a clean broker, so a restart in the reconnect test loses nothing
  another test depends on (each test also has its own environment, so retained messages never leak).

Import :class:`Mosquitto` (the benches do) or use the ``mosquitto`` fixture from ``tests/conftest.py``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

#: Debian installs the broker in /usr/sbin, which is not on every user's PATH.
_EXTRA_DIRS = ("/usr/sbin", "/usr/local/sbin")
_READY_TIMEOUT = 10.0


def find_mosquitto() -> str | None:
    """The mosquitto binary on PATH (or in the sbin directories), or None."""
    search = os.pathsep.join([os.environ.get("PATH", ""), *_EXTRA_DIRS])
    return shutil.which("mosquitto", path=search)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class Mosquitto:
    """One mosquitto process with a generated config; :meth:`stop` and :meth:`start` keep the same port.

    Args:
        workdir: where the config and the broker's log go.
        binary: the mosquitto executable (default: :func:`find_mosquitto`).
        port: the port to listen on (default: a free one).
    """

    host = "127.0.0.1"

    def __init__(self, workdir: Path, *, binary: str | None = None, port: int | None = None) -> None:
        found = binary or find_mosquitto()
        if found is None:
            raise RuntimeError(
                "mosquitto is not installed (looked on PATH and in /usr/sbin): run `make test`, which "
                "installs it, or `apt-get install mosquitto`. The MQTT tests need a real broker."
            )
        self.binary = found
        self.workdir = workdir
        self.port = port or free_port(self.host)
        self.config = workdir / "mosquitto.conf"
        self.log = workdir / "mosquitto.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self.config.write_text(
            "\n".join(
                [
                    f"listener {self.port} {self.host}",
                    "allow_anonymous true",
                    "set_tcp_nodelay true",
                    "max_queued_messages 0",
                    "max_inflight_messages 100",
                    "persistence false",
                    # running as root, mosquitto would otherwise drop to a 'mosquitto' user
                    f"user {_current_user()}",
                    "log_dest stderr",
                    "log_type error",
                    "log_type warning",
                    "",
                ]
            )
        )

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the broker and return once its port accepts connections."""
        if self.running:
            return
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen([self.binary, "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + _READY_TIMEOUT
        while not port_accepts(self.host, self.port):
            if self._proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self._proc.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mosquitto did not listen on {self.port} within {_READY_TIMEOUT}s")
            time.sleep(0.01)  # polling the port, not waiting for a guessed duration

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL); its clients see the connection drop."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def restart(self) -> None:
        self.stop()
        self.start()

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _current_user() -> str:
    return pwd.getpwuid(os.getuid()).pw_name


@contextlib.contextmanager
def launch(workdir: Path | None = None) -> Iterator[Mosquitto]:
    """``with launch() as broker:`` runs a broker for the duration of the block (benches, scripts)."""
    with tempfile.TemporaryDirectory(prefix="agenthedge-mosquitto-") as tmp:
        broker = Mosquitto(workdir or Path(tmp))
        broker.start()
        try:
            yield broker
        finally:
            broker.stop()


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A real mosquitto for the whole session. Fails (never skips) when the broker is not installed."""
    try:
        broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
        broker.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield broker
    finally:
        broker.stop()


def mosquitto_pub(broker: Mosquitto, topic: str, payload: bytes) -> None:
    """Publish ``payload`` on the absolute ``topic`` with the real ``mosquitto_pub`` (QoS 1, bytes as given)."""
    exe = shutil.which("mosquitto_pub")
    assert exe, "mosquitto_pub is missing: run `make test`, which installs mosquitto-clients"
    subprocess.run(
        [exe, "-h", broker.host, "-p", str(broker.port), "-q", "1", "-t", topic, "-s"],
        input=payload,
        check=True,
        timeout=10,
    )
