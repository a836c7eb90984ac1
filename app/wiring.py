"""The composition root: settings of every package composed, agents chosen, the runtime built."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runtime.agent import Agent, AgentRegistry
from runtime.bus import Bus
from runtime.clock import Clock
from runtime.loading import LoadError, load_class
from runtime.runtime import Runtime
from runtime.settings import ConfigError, CoreSettings, RuntimeSettings, load


@dataclass(frozen=True)
class AppConfig:
    core: CoreSettings
    runtime: RuntimeSettings


def load_config(*, home: Path | None = None, bus: str | None = None, env: str | None = None) -> AppConfig:
    """Every package's settings from the environment and ``.env``; CLI options win.

    Raises:
        runtime.settings.ConfigError: naming the bad variable.
    """
    return AppConfig(core=load(CoreSettings, home=home, bus=bus, env=env), runtime=load(RuntimeSettings))


def build_registry(config: AppConfig) -> AgentRegistry:
    """The agents this deployment runs, plus any ``RUNTIME_EXTRA_AGENTS``."""
    registry = AgentRegistry()
    for spec in config.runtime.extra_agents:
        try:
            registry.register(load_class(spec, Agent, setting="RUNTIME_EXTRA_AGENTS")())
        except LoadError as exc:
            raise ConfigError(str(exc)) from None
    return registry


def build_runtime(
    config: AppConfig, *, registry: AgentRegistry | None = None, clock: Clock | None = None, bus: Bus | None = None
) -> Runtime:
    return Runtime(
        config.core,
        config.runtime,
        registry if registry is not None else build_registry(config),
        clock=clock,
        bus=bus,
    )
