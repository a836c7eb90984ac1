"""The pipeline's stage deadlines: one timer a tick (``runtime.pipeline.StageWatchdog``), driven here by a loop
whose time the test sets, so each case is exact and nothing waits on the wall clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from runtime.agent import Agent, Stage, Tick
from runtime.pipeline import StageWatchdog
from tests.runtime.harness import make_runtime


@dataclass
class _Timer:
    when: float
    callback: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class _Loop:
    """What the watchdog uses of a loop: ``time`` (set by the test) and ``call_at``; ``run_due`` plays the loop
    running the timers that are due."""

    now: float = 0.0
    timers: list[_Timer] = field(default_factory=list)

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], None]) -> _Timer:
        timer = _Timer(when, callback)
        self.timers.append(timer)
        return timer

    def run_due(self) -> None:
        due = [t for t in self.timers if not t.cancelled and t.when <= self.now]
        self.timers = [t for t in self.timers if t not in due]
        for timer in due:
            timer.callback()

    def pending(self) -> list[float]:
        return [t.when for t in self.timers if not t.cancelled]


@dataclass
class _Task:
    """What the watchdog uses of a task: its cancellation count."""

    count: int = 0

    def cancel(self) -> bool:
        self.count += 1
        return True

    def cancelling(self) -> int:
        return self.count

    def uncancel(self) -> int:
        self.count -= 1
        return self.count


def _watchdog(deadline: float = 5.0) -> tuple[StageWatchdog, _Loop, _Task]:
    loop, task = _Loop(), _Task()
    dog = StageWatchdog(deadline, loop=cast(asyncio.AbstractEventLoop, loop), task=cast("asyncio.Task[Any]", task))
    return dog, loop, task


def test_one_timer_serves_every_stage_of_a_tick() -> None:
    dog, loop, task = _watchdog()
    for at in (0.0, 1.0, 2.5, 4.0):  # four stages, each done in time
        loop.now = at
        dog.begin()
        loop.run_due()
        dog.end()
    assert loop.pending() == [5.0]  # armed once, at the first stage's end
    dog.close()
    assert loop.pending() == []
    assert task.count == 0


def test_a_stage_gets_its_whole_deadline_even_when_the_first_timer_falls_inside_it() -> None:
    dog, loop, task = _watchdog()
    loop.now = 0.0
    dog.begin()
    dog.end()
    loop.now = 4.0
    dog.begin()  # this stage ends at 9.0
    loop.now = 5.0
    loop.run_due()  # the timer armed for the first stage fires: it re-arms, it does not cancel
    assert task.count == 0
    assert not dog.expired
    assert loop.pending() == [9.0]
    loop.now = 9.0
    loop.run_due()
    assert dog.expired
    assert task.count == 1
    assert dog.expired_here()  # its own cancellation: the stage reports the missed deadline
    assert task.count == 0


def test_no_deadline_runs_between_stages() -> None:
    dog, loop, task = _watchdog()
    dog.begin()
    dog.end()
    loop.now = 7.0  # the loop gets a turn between stages, long after the first stage's end
    loop.run_due()
    assert task.count == 0
    assert loop.pending() == []
    dog.begin()  # the next stage arms a timer again
    assert loop.pending() == [12.0]


def test_a_cancellation_from_elsewhere_is_not_taken_for_a_timeout() -> None:
    dog, loop, task = _watchdog()
    dog.begin()
    task.cancel()  # the tick's task is cancelled by its owner (a stop)
    assert not dog.expired_here()
    loop.now = 5.0
    loop.run_due()  # and the deadline passes as well
    assert dog.expired
    assert not dog.expired_here()  # the owner's cancellation is still pending: re-raise it
    assert task.count == 1


def test_a_swallowed_cancellation_is_taken_back_when_the_stage_ends() -> None:
    dog, loop, task = _watchdog()
    dog.begin()
    loop.now = 5.0
    loop.run_due()
    assert task.count == 1
    dog.end()  # the stage caught the CancelledError and returned
    assert task.count == 0
    assert not dog.expired


class _Stuck(Agent):
    """A risk agent that awaits something that never comes; ``cancelled`` says whether the deadline ended it."""

    name = "stuck"
    stage = Stage.RISK

    def __init__(self) -> None:
        super().__init__()
        self.cancelled = False

    async def on_tick(self, tick: Tick) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise


async def test_a_stuck_stage_is_cancelled_and_the_next_tick_runs(tmp_path: Path) -> None:
    stuck = _Stuck()
    runtime = make_runtime(tmp_path / "home", bus_url="memory://watchdog", agents=[stuck], stage_deadline=0.01)
    await runtime.start()
    try:
        first = await runtime.run_once()
        assert stuck.cancelled
        assert first.status == "aborted"
        assert first.reason == "risk stage missed its 0.01s deadline (stuck)"
        assert first.failed_agent == "stuck"
        current = asyncio.current_task()
        assert current is not None
        assert current.cancelling() == 0
        second = await runtime.run_once()
        assert second.status == "aborted"
        assert second.tick.seq == first.tick.seq + 1
    finally:
        await runtime.stop()
