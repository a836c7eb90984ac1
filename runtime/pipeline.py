"""One tick through the runbook's pipeline: stages in order, each under a deadline.

data -> director -> council -> risk -> compliance -> execution -> feedback -> reconciliation.
A stage's agents run concurrently; the stage is done when all of them return. An error or a missed
deadline aborts the tick: later stages (so execution) do not run. A halt or pause that lands mid-tick
also stops the tick before its next stage.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from runtime.agent import Agent, AgentRegistry, Stage, Tick
from runtime.metrics import RuntimeMetrics
from runtime.state import RuntimeState

log = logging.getLogger(__name__)


@dataclass
class TickOutcome:
    tick: Tick
    status: Literal["completed", "aborted", "skipped"]
    reason: str = ""
    duration_ms: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    failed_agent: str | None = None


class StageFailed(Exception):
    def __init__(self, stage: Stage, agent: str | None, reason: str) -> None:
        super().__init__(reason)
        self.stage = stage
        self.agent = agent
        self.reason = reason


async def run_pipeline(
    tick: Tick,
    registry: AgentRegistry,
    *,
    deadline: float,
    state: Callable[[], RuntimeState],
    metrics: RuntimeMetrics,
    deliveries: Callable[[], bool] = lambda: True,
) -> TickOutcome:
    """Run ``tick`` through the stages. Before each stage the loop gets a turn when ``deliveries()`` says a
    message may be waiting for it (``Bus.may_hold_deliveries``), so a halt or pause already delivered lands
    before the stage can act."""
    started = time.perf_counter()
    outcome = TickOutcome(tick, "completed")
    watchdog = StageWatchdog(deadline)
    try:
        for stage, groups in registry.plan():
            if deliveries():
                await asyncio.sleep(0)
            current = state()
            if not current.trades:
                outcome.status, outcome.reason = "aborted", f"runtime became {current} before the {stage} stage"
                break
            stage_started = time.perf_counter()
            try:
                await _run_stage(stage, groups, tick, watchdog, metrics)
            except StageFailed as exc:
                outcome.status, outcome.reason, outcome.failed_agent = "aborted", exc.reason, exc.agent
                metrics.errors.labels(component=exc.agent or stage.value).inc()
                log.warning("tick %s aborted: %s", tick.id, exc.reason)
                break
            finally:
                outcome.stages[stage.value] = (time.perf_counter() - stage_started) * 1000
    finally:
        watchdog.close()
    outcome.duration_ms = (time.perf_counter() - started) * 1000
    return outcome


class StageWatchdog:
    """Every stage's deadline from one timer a tick.

    It does what an ``asyncio.timeout(deadline)`` around each stage does: when a stage runs past its deadline,
    the task running the tick is cancelled and the stage's ``CancelledError`` becomes a timeout
    (:meth:`expired_here`), unless someone else cancelled the task too. But a timeout a stage cost two timer-heap
    operations and its context (about 5 us a stage, half of what a tick of idle agents costs); here a stage's
    start only moves the end (:meth:`begin`). The one timer, armed at the first stage's end, re-arms itself at
    the current stage's end when it fires early; between stages (:meth:`end`) there is no deadline.
    """

    __slots__ = ("_armed_at", "_cancelling", "_deadline", "_ends", "_handle", "_loop", "_task", "expired")

    def __init__(
        self, deadline: float, *, loop: asyncio.AbstractEventLoop | None = None, task: asyncio.Task[Any] | None = None
    ) -> None:
        task = task or asyncio.current_task()
        if task is None:
            raise RuntimeError("a tick runs in a task")
        self._loop = loop or asyncio.get_running_loop()
        self._task = task
        self._cancelling = task.cancelling()
        self._deadline = deadline
        self._ends = math.inf
        self._armed_at = math.inf
        self._handle: asyncio.TimerHandle | None = None
        self.expired = False

    @property
    def deadline(self) -> float:
        return self._deadline

    def begin(self) -> None:
        """A stage starts: its deadline runs from now."""
        self._ends = self._loop.time() + self._deadline
        if self._handle is None:
            self._arm()

    def end(self) -> None:
        """The stage is done (or failed): no deadline until the next one begins. A cancellation this watchdog
        made that the stage swallowed is taken back, as leaving an expired ``asyncio.timeout`` does."""
        self._ends = math.inf
        if self.expired:
            self.expired = False
            self._task.uncancel()

    def expired_here(self) -> bool:
        """Whether the ``CancelledError`` being handled is this watchdog's doing (and no one else's): if so it
        is taken back and the caller reports the missed deadline; otherwise the caller re-raises it."""
        if not self.expired:
            return False
        self.expired = False
        return self._task.uncancel() <= self._cancelling

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _arm(self) -> None:
        self._armed_at = self._ends
        self._handle = self._loop.call_at(self._ends, self._fire)

    def _fire(self) -> None:
        self._handle = None
        if self._ends == math.inf:  # between stages; the next stage arms again
            return
        if self._armed_at < self._ends:  # armed for an earlier stage, which finished in time
            self._arm()
            return
        self.expired = True
        self._task.cancel()


async def _run_stage(
    stage: Stage, groups: list[list[Agent]], tick: Tick, watchdog: StageWatchdog, metrics: RuntimeMetrics
) -> None:
    """Run a stage's groups of agents (equal ``order``) one after the other; the deadline covers the whole stage."""
    watchdog.begin()
    try:
        for batch in groups:
            if len(batch) == 1:  # no task to spawn for a lone agent (the common case, and the hot path)
                await _run_agent(batch[0], tick, metrics)
                continue
            async with asyncio.TaskGroup() as group:
                for agent in batch:
                    group.create_task(_run_agent(agent, tick, metrics), name=f"{tick.id}:{agent.name}")
    except asyncio.CancelledError:
        if not watchdog.expired_here():
            raise
        slow = [a.name for batch in groups for a in batch if a.last_tick_id != tick.id]
        raise StageFailed(
            stage,
            slow[0] if slow else None,
            f"{stage} stage missed its {watchdog.deadline:g}s deadline ({', '.join(slow)})",
        ) from None
    except StageFailed:
        raise
    except ExceptionGroup as group:
        first = group.exceptions[0]
        if isinstance(first, StageFailed):
            raise first from None
        raise StageFailed(stage, None, f"{stage} stage failed: {first!r}") from None
    finally:
        watchdog.end()


async def _run_agent(agent: Agent, tick: Tick, metrics: RuntimeMetrics) -> None:
    started = time.perf_counter()
    try:
        await agent.on_tick(tick)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        agent.errors += 1
        log.exception("agent %s failed on tick %s", agent.name, tick.id)
        raise StageFailed(agent.stage, agent.name, f"agent {agent.name} failed: {exc}") from exc
    elapsed = time.perf_counter() - started
    agent.last_tick_id, agent.last_tick_ms = tick.id, elapsed * 1000
    metrics.agent_timer(agent.name).observe(elapsed)
