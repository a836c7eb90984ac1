"""What an agent is to the runtime: a named participant of one pipeline stage, with a lifecycle.

The runtime imports no agent. Agents subclass :class:`Agent`; ``app`` (or a test) registers instances in
an :class:`AgentRegistry`. The runtime calls ``start``, ``on_tick`` (in stage order, under a deadline),
``safe_state`` (on a halt) and ``stop``.
"""

from __future__ import annotations

import abc
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from runtime.context import AgentContext

T = TypeVar("T")


class Stage(StrEnum):
    """The runbook's pipeline, in order."""

    DATA = "data"
    DIRECTOR = "director"
    COUNCIL = "council"
    RISK = "risk"
    COMPLIANCE = "compliance"
    EXECUTION = "execution"
    FEEDBACK = "feedback"
    RECONCILIATION = "reconciliation"


STAGE_ORDER: tuple[Stage, ...] = tuple(Stage)


@dataclass
class Tick:
    """One pass of the pipeline. Stages hand typed results to later stages through :meth:`put`/:meth:`get`."""

    id: str
    seq: int
    ts: datetime
    reducing_only: bool = False
    outputs: dict[str, Any] = field(default_factory=dict)

    def put(self, key: str, value: Any) -> None:
        self.outputs[key] = value

    def get(self, key: str, kind: type[T]) -> T | None:
        value = self.outputs.get(key)
        if value is not None and not isinstance(value, kind):
            raise TypeError(f"tick output {key!r} is {type(value).__name__}, not {kind.__name__}")
        return value


@dataclass
class SafeState:
    """What an agent reports after being told to stop trading (a halt)."""

    safe: bool
    detail: str = ""
    cancelled_orders: list[str] = field(default_factory=list)


@dataclass
class AgentHealth:
    ok: bool
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class Agent(abc.ABC):
    """Base class of every agent."""

    name: str = ""
    stage: Stage = Stage.DATA
    order: int = 0  # within a stage: lower first; agents of equal order run concurrently
    version: str = "1"

    def __init__(self) -> None:
        self.ctx: AgentContext | None = None
        self.errors = 0
        self.last_tick_id: str | None = None
        self.last_tick_ms: float | None = None

    @property
    def context(self) -> AgentContext:
        if self.ctx is None:
            raise RuntimeError(f"agent {self.name} used before start()")
        return self.ctx

    async def start(self, ctx: AgentContext) -> None:
        """Called once when the runtime starts; keep ``ctx`` for publishing, the ledger, the clock."""
        self.ctx = ctx

    @abc.abstractmethod
    async def on_tick(self, tick: Tick) -> None:
        """Do this stage's work for ``tick``; raise to abort the tick."""

    async def safe_state(self, reason: str) -> SafeState:
        """Stop trading activity (cancel what is open). The default agent holds nothing: already safe."""
        return SafeState(True, "holds no orders")

    async def stop(self) -> None:
        """Called once when the runtime stops."""

    def health(self) -> AgentHealth:
        return AgentHealth(True)


class AgentRegistry:
    """The agents a runtime hosts, by unique name, iterated in pipeline order."""

    def __init__(self, agents: list[Agent] | None = None) -> None:
        self._agents: dict[str, Agent] = {}
        self._plan: list[tuple[Stage, list[list[Agent]]]] | None = None
        for agent in agents or []:
            self.register(agent)

    def register(self, agent: Agent) -> None:
        if not agent.name:
            raise ValueError(f"{type(agent).__name__} has no name")
        if agent.name in self._agents:
            raise ValueError(f"an agent named {agent.name!r} is already registered")
        self._agents[agent.name] = agent
        self._plan = None

    def get(self, name: str) -> Agent | None:
        return self._agents.get(name)

    def by_stage(self, stage: Stage) -> list[Agent]:
        return sorted((a for a in self._agents.values() if a.stage == stage), key=lambda a: a.order)

    def plan(self) -> list[tuple[Stage, list[list[Agent]]]]:
        """The pipeline as it runs: each stage with agents, in order, its agents in groups of equal ``order``
        (a group runs concurrently). Computed once per registration, not every tick."""
        if self._plan is None:
            self._plan = [
                (stage, [list(group) for _, group in itertools.groupby(agents, key=lambda a: a.order)])
                for stage in STAGE_ORDER
                if (agents := self.by_stage(stage))
            ]
        return self._plan

    def __iter__(self) -> Iterator[Agent]:
        order = {s: i for i, s in enumerate(STAGE_ORDER)}
        return iter(sorted(self._agents.values(), key=lambda a: (order[a.stage], a.order)))

    def __len__(self) -> int:
        return len(self._agents)
