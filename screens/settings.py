"""The cockpit's settings (``COCKPIT_*``): keymap file, timeouts, how stale data may get."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_keymap_path() -> Path:
    """``$XDG_CONFIG_HOME/agenthedge/keymap.toml`` (``~/.config`` when XDG_CONFIG_HOME is unset)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "agenthedge" / "keymap.toml"


class CockpitSettings(BaseSettings):
    """How the cockpit behaves; the bus, home and environment come from ``AGENTHEDGE_*`` (CoreSettings)."""

    model_config = SettingsConfigDict(env_prefix="COCKPIT_", env_file=".env", extra="ignore")

    keymap: Path | None = Field(
        default=None,
        description="User keymap (TOML, binding id = key); default $XDG_CONFIG_HOME/agenthedge/keymap.toml",
    )
    request_timeout: float = Field(default=10.0, gt=0, description="Seconds to wait for a control reply")
    stale_after: float = Field(
        default=30.0, gt=0, description="Seconds without any message before the data age is flagged STALE"
    )
    speed: float = Field(
        default=0.5, gt=0, description="Embedded demo: trading days replayed per second of wall time (--speed)"
    )
    theme: str = Field(default="textual-dark", description="Textual theme name")

    def keymap_path(self) -> Path:
        return self.keymap or default_keymap_path()
