"""The composition root: settings of every package composed, agents chosen, the runtime built.

Live (wall clock), replay (historical sessions on a simulated clock) and backtests use the same agents;
only the clock, the data window and the home differ.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic_settings import BaseSettings

from agents.compliance import ComplianceSettings, build_compliance_agent
from agents.data import CsvProvider, DataProvider, DemoProvider
from agents.data.agent import DataAgent, data_clock
from agents.data.settings import DataSettings, build_provider
from agents.director import CouncilSettings, DirectorSettings, build_council_agents
from agents.execution import ExecutionSettings, build_execution_agents
from agents.quant import PluginConfigError, QuantSettings
from agents.risk import RiskSettings, build_risk_agent
from agents.trace import TraceAgent
from runtime.agent import Agent, AgentRegistry
from runtime.bus import Bus
from runtime.clock import Clock, SimClock, WallClock
from runtime.loading import LoadError, load_class
from runtime.pipeline import TickOutcome
from runtime.replay import replay, session_time
from runtime.runtime import Runtime
from runtime.settings import ConfigError, CoreSettings, RuntimeSettings, load

S = TypeVar("S", bound=BaseSettings)


@dataclass(frozen=True)
class AppConfig:
    """Every package's settings, composed."""

    core: CoreSettings
    runtime: RuntimeSettings
    data: DataSettings = field(default_factory=DataSettings)
    quant: QuantSettings = field(default_factory=QuantSettings)
    council: CouncilSettings = field(default_factory=CouncilSettings)
    director: DirectorSettings = field(default_factory=DirectorSettings)
    risk: RiskSettings = field(default_factory=RiskSettings)
    compliance: ComplianceSettings = field(default_factory=ComplianceSettings)
    execution: ExecutionSettings = field(default_factory=ExecutionSettings)

    def sections(self) -> dict[str, BaseSettings]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def load_config(*, home: Path | None = None, bus: str | None = None, env: str | None = None) -> AppConfig:
    """Every package's settings from the environment and ``.env``; CLI options win.

    Raises:
        runtime.settings.ConfigError: naming every bad variable.
    """
    problems: list[str] = []

    def section(model: type[S], **overrides: Any) -> S | None:
        try:
            return load(model, **overrides)
        except ConfigError as exc:
            problems.append(str(exc))
            return None

    parts = {
        "core": section(CoreSettings, home=home, bus=bus, env=env),
        "runtime": section(RuntimeSettings),
        "data": section(DataSettings),
        "quant": section(QuantSettings),
        "council": section(CouncilSettings),
        "director": section(DirectorSettings),
        "risk": section(RiskSettings),
        "compliance": section(ComplianceSettings),
        "execution": section(ExecutionSettings),
    }
    core, rt = parts["core"], parts["runtime"]
    if isinstance(core, CoreSettings) and isinstance(rt, RuntimeSettings) and not rt.durable and core.env == "live":
        problems.append("RUNTIME_DURABLE: cannot be false in the live environment (every write must be fsync'd)")
    if problems:
        raise ConfigError("; ".join(problems))
    return AppConfig(**parts)  # type: ignore[arg-type]


@dataclass
class Market:
    """Where the data comes from and what is traded."""

    provider: DataProvider
    symbols: list[str]
    sectors: dict[str, str] = field(default_factory=dict)


def build_market(
    config: AppConfig,
    clock: Clock,
    *,
    data_path: Path | None = None,
    symbols: list[str] | None = None,
    adjust: bool | None = None,
) -> Market:
    """The provider stack from ``DATA_*`` (or a CSV file/directory given on the command line) and the universe.

    ``adjust`` back-adjusts CSV bars for splits and dividends (``Adj Close``); None keeps ``DATA_CSV_ADJUST``.
    """
    settings = config.data
    if data_path is not None:
        settings = settings.model_copy(update={"data_provider": "csv", "data_csv_path": data_path})
    if adjust is not None:
        settings = settings.model_copy(update={"data_csv_adjust": adjust})
    provider = build_provider(settings, clock=data_clock(clock))
    primary = provider.primary
    chosen = [s.upper() for s in (symbols or settings.data_symbols)]
    sectors: dict[str, str] = {}
    if isinstance(primary, DemoProvider):
        sectors = {s.symbol: s.sector for s in primary.universe}
        chosen = chosen or [s.symbol for s in primary.universe]
    elif isinstance(primary, CsvProvider):
        chosen = chosen or primary.symbols()
    if not chosen:
        raise ConfigError("DATA_SYMBOLS: no symbols to trade (set DATA_SYMBOLS or pass --symbol)")
    return Market(provider, chosen, sectors)


def trading_agents(
    config: AppConfig, home: Path, *, strategy: list[Agent] | None = None, capital: float | None = None
) -> list[Agent]:
    """Director and council (or a given strategy), risk, compliance, execution and reconciliation."""
    try:
        council = (
            strategy
            if strategy is not None
            else build_council_agents(config.council, config.quant, config.director, compliance=config.compliance)
        )
    except PluginConfigError as exc:
        raise ConfigError(str(exc)) from None
    return [
        *council,
        build_risk_agent(config.risk),
        build_compliance_agent(config.compliance),
        *build_execution_agents(config.execution, home, capital=capital, durable=config.runtime.durable),
        TraceAgent(),
    ]


def build_registry(
    config: AppConfig,
    *,
    clock: Clock | None = None,
    market: Market | None = None,
    preload: tuple[date, date] | None = None,
    strategy: list[Agent] | None = None,
    capital: float | None = None,
) -> AgentRegistry:
    """The agents this deployment runs, plus any ``RUNTIME_EXTRA_AGENTS``."""
    market = market or build_market(config, clock or WallClock())
    registry = AgentRegistry(
        [
            DataAgent(market.provider, market.symbols, preload=preload, sectors=market.sectors),
            *trading_agents(config, config.core.home, strategy=strategy, capital=capital),
        ]
    )
    for spec in config.runtime.extra_agents:
        try:
            registry.register(load_class(spec, Agent, setting="RUNTIME_EXTRA_AGENTS")())
        except LoadError as exc:
            raise ConfigError(str(exc)) from None
    return registry


def build_runtime(
    config: AppConfig, *, registry: AgentRegistry | None = None, clock: Clock | None = None, bus: Bus | None = None
) -> Runtime:
    """A live runtime (wall clock unless one is given)."""
    clock = clock or WallClock()
    return Runtime(
        config.core,
        config.runtime,
        registry if registry is not None else build_registry(config, clock=clock),
        clock=clock,
        bus=bus,
    )


@dataclass
class Replay:
    """A runtime stepping through historical sessions on a simulated clock."""

    runtime: Runtime
    clock: SimClock
    data: DataAgent
    start: date
    end: date

    def sessions(self) -> list[date]:
        return self.data.sessions(self.start, self.end)

    async def pending_sessions(self) -> list[date]:
        """The sessions still to run: a replay restarted on the same home resumes after the last session whose
        tick completed (its NAV is recorded); a session cut short by a crash is run again, under the same id."""
        history = await self.runtime.books.nav_history(limit=1)
        done = date.fromisoformat(history[-1].session) if history else None
        return [s for s in self.sessions() if done is None or s > done]

    async def run(
        self,
        *,
        speed: float | None = None,
        stop: asyncio.Event | None = None,
        on_tick: Callable[[TickOutcome], Awaitable[None] | None] | None = None,
    ) -> int:
        """Tick once per pending session (the runtime must be started: that preloads the data)."""
        sessions = await self.pending_sessions()
        return await replay(self.runtime, self.clock, sessions, speed=speed, stop=stop, on_tick=on_tick)


def build_replay(
    config: AppConfig,
    *,
    start: date,
    end: date,
    data_path: Path | None = None,
    symbols: list[str] | None = None,
    bus: Bus | None = None,
    strategy: list[Agent] | None = None,
    capital: float | None = None,
    adjust: bool | None = None,
    market: Market | None = None,
) -> Replay:
    """The live pipeline over historical bars: the same agents, a simulated clock, the data preloaded."""
    if end < start:
        raise ConfigError(f"--end {end} is before --start {start}")
    clock = SimClock(session_time(date.fromordinal(start.toordinal() - 1)))
    market = market or build_market(config, clock, data_path=data_path, symbols=symbols, adjust=adjust)
    registry = build_registry(
        config, clock=clock, market=market, preload=(start, end), strategy=strategy, capital=capital
    )
    data_agent = registry.get("data")
    assert isinstance(data_agent, DataAgent)
    runtime = Runtime(config.core, config.runtime, registry, clock=clock, bus=bus)
    return Replay(runtime, clock, data_agent, start, end)


def parse_day(value: str) -> date:
    return datetime.strptime(value, "%Y-%m-%d").date()  # noqa: DTZ007 - a calendar date, not an instant


DEMO_START = date(2022, 1, 3)


def build_demo(config: AppConfig, *, today: date | None = None, bus: Bus | None = None) -> Replay:
    """The embedded default: the configured market (the seeded demo unless ``DATA_*`` says otherwise) replayed
    session by session from :data:`DEMO_START` to today, resuming where an earlier run on the home stopped."""
    end = today or datetime.now().astimezone().date()
    return build_replay(config, start=DEMO_START, end=end, bus=bus)
