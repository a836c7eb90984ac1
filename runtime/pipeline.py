"""One tick through the runbook's pipeline: stages in order, each under a deadline.

data -> director -> council -> risk -> compliance -> execution -> feedback -> reconciliation.
A stage's agents run concurrently; the stage is done when all of them return. An error or a missed
deadline aborts the tick: later stages (so execution) do not run. A halt or pause that lands mid-tick
also stops the tick before its next stage.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

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
    for stage, groups in registry.plan():
        if deliveries():
            await asyncio.sleep(0)
        current = state()
        if not current.trades:
            outcome.status, outcome.reason = "aborted", f"runtime became {current} before the {stage} stage"
            break
        stage_started = time.perf_counter()
        try:
            await _run_stage(stage, groups, tick, deadline, metrics)
        except StageFailed as exc:
            outcome.status, outcome.reason, outcome.failed_agent = "aborted", exc.reason, exc.agent
            metrics.errors.labels(component=exc.agent or stage.value).inc()
            log.warning("tick %s aborted: %s", tick.id, exc.reason)
            break
        finally:
            outcome.stages[stage.value] = (time.perf_counter() - stage_started) * 1000
    outcome.duration_ms = (time.perf_counter() - started) * 1000
    return outcome


async def _run_stage(
    stage: Stage, groups: list[list[Agent]], tick: Tick, deadline: float, metrics: RuntimeMetrics
) -> None:
    """Run a stage's groups of agents (equal ``order``) one after the other; the deadline covers the whole stage."""
    try:
        async with asyncio.timeout(deadline):
            for batch in groups:
                if len(batch) == 1:  # no task to spawn for a lone agent (the common case, and the hot path)
                    await _run_agent(batch[0], tick, metrics)
                    continue
                async with asyncio.TaskGroup() as group:
                    for agent in batch:
                        group.create_task(_run_agent(agent, tick, metrics), name=f"{tick.id}:{agent.name}")
    except TimeoutError:
        slow = [a.name for batch in groups for a in batch if a.last_tick_id != tick.id]
        raise StageFailed(
            stage, slow[0] if slow else None, f"{stage} stage missed its {deadline:g}s deadline ({', '.join(slow)})"
        ) from None
    except StageFailed:
        raise
    except ExceptionGroup as group:
        first = group.exceptions[0]
        if isinstance(first, StageFailed):
            raise first from None
        raise StageFailed(stage, None, f"{stage} stage failed: {first!r}") from None


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
