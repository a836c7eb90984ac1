"""The cockpit's tests see no host state: no animations, no cursor blink, no user keymap or config, a fixed
locale and time zone, no COCKPIT_/AGENTHEDGE_ settings from the shell, and a fresh in-process broker."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import textual.constants

from runtime.bus import MemoryBroker


@pytest.fixture(autouse=True)
def quiet_host(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    monkeypatch.setattr(textual.constants, "TEXTUAL_ANIMATIONS", "none")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("LANG", "LC_ALL", "LC_TIME", "LC_NUMERIC"):
        monkeypatch.setenv(name, "C.UTF-8")
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    for name in list(os.environ):
        if name.startswith(("COCKPIT_", "AGENTHEDGE_", "RUNTIME_", "TEXTUAL_THEME")) or name in ("NO_COLOR", "COLUMNS"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env of the developer's checkout
    MemoryBroker.reset()
    yield
    MemoryBroker.reset()
