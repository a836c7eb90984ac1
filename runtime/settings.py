"""Core settings (pydantic-settings): where state lives, which bus, which environment, the runtime's rules.

Each package owns the settings of its part; ``app`` composes them. :func:`load` turns a validation error
into :class:`ConfigError`, whose message names the environment variable and the problem (the CLI exits 2).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

S = TypeVar("S", bound=BaseSettings)

_ENV_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class ConfigError(Exception):
    """Invalid configuration; the message names each bad variable and what is wrong with it."""


def split_csv(value: Any) -> Any:
    """``"a, b,,c"`` -> ``["a", "b", "c"]`` for list settings given as one environment string."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class CoreSettings(BaseSettings):
    """Where the runtime keeps its state, which bus it uses and which environment it runs in."""

    model_config = SettingsConfigDict(env_prefix="AGENTHEDGE_", env_file=".env", extra="ignore")

    home: Path = Field(default=Path("var"), description="State directory (ledger, audit log, logs, ...)")
    bus: str = Field(default="memory://", description="memory:// | mqtt://[user:pass@]host[:port] | mqtts://")
    env: str = Field(default="paper", description="Environment name; a topic segment (paper, live, ...)")

    @field_validator("bus")
    @classmethod
    def _check_bus(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("memory", "mqtt", "mqtts"):
            raise ValueError("the scheme must be memory://, mqtt:// or mqtts://")
        if parts.scheme != "memory":
            if not parts.hostname:
                raise ValueError("an mqtt URL needs a host, e.g. mqtt://localhost:1883")
            try:
                parts.port  # noqa: B018 - urlsplit validates the port lazily
            except ValueError as exc:
                raise ValueError(f"bad port: {exc}") from None
        return value

    @field_validator("env")
    @classmethod
    def _check_env(cls, value: str) -> str:
        if not _ENV_NAME.match(value):
            raise ValueError("must be lower-case letters, digits, '-' or '_' (it is a topic segment)")
        return value

    @property
    def bus_display(self) -> str:
        """The bus URL without its password."""
        parts = urlsplit(self.bus)
        if parts.password is None:
            return self.bus
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()


class RuntimeSettings(BaseSettings):
    """The runtime's rules: operators who may sign off, approvals, tick timing."""

    model_config = SettingsConfigDict(env_prefix="RUNTIME_", env_file=".env", extra="ignore")

    operators: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Roster of operators who may resume (comma-separated)"
    )
    resume_approvers: int = Field(default=1, ge=1, le=2, description="Sign-offs needed to resume from HALTED (1 or 2)")
    tick_interval: float = Field(default=60.0, gt=0, description="Seconds between ticks in run-loop")
    stage_deadline: float = Field(default=10.0, gt=0, description="Seconds a pipeline stage may take")
    safe_state_timeout: float = Field(default=5.0, gt=0, description="Seconds agents get to reach safe state")
    heartbeat_interval: float = Field(default=5.0, gt=0, description="Seconds between agent heartbeats")
    durable: bool = Field(
        default=True,
        description="fsync every audit line and SQLite commit; false only for throwaway homes (backtests, tests)",
    )
    extra_agents: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="More agents to host, as module:Class (comma-separated)"
    )

    _split = field_validator("operators", "extra_agents", mode="before")(split_csv)

    @field_validator("extra_agents")
    @classmethod
    def _check_agents(cls, value: list[str]) -> list[str]:
        for spec in value:
            if not re.match(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$", spec):
                raise ValueError(f"{spec!r} is not module:Class")
        return value

    @field_validator("operators")
    @classmethod
    def _check_operators(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.match(r"^[A-Za-z0-9_.\-]+$", name):
                raise ValueError(f"operator {name!r} may only use letters, digits, '.', '-' and '_'")
        return value


def load(model: type[S], **overrides: Any) -> S:
    """Build ``model`` from the environment and ``.env``, with explicit ``overrides`` (CLI options) first.

    Raises:
        ConfigError: naming each bad environment variable and the problem.
    """
    values = {k: v for k, v in overrides.items() if v is not None}
    try:
        return model(**values)
    except ValidationError as exc:
        raise ConfigError(describe(model, exc)) from None


def describe(model: type[BaseSettings], exc: ValidationError) -> str:
    prefix = str(model.model_config.get("env_prefix", ""))
    lines = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        name = f"{prefix}{field}".upper()
        given = err.get("input")
        shown = f" (got {given!r})" if isinstance(given, str | int | float) else ""
        lines.append(f"{name}: {err['msg']}{shown}")
    return "; ".join(lines)
