"""Drive the cockpit the way an operator does, over a real ``memory://`` bus: the app's own reader reads
what a runtime (here :class:`~tests.screens.scenarios.FakeRuntime` or a real one) publishes, and control
requests travel as ``control/<operator>/<verb>`` messages. Waits poll a condition with a deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from textual.pilot import Pilot

from runtime.bus import MemoryBus
from runtime.messages import new_id
from runtime.payloads import ControlReply
from screens import CockpitBase
from screens.views._base import View
from tests.screens.scenarios import ENV, FakeRuntime, Scenario, build, clock, feed

WAIT = 10.0


async def until(pilot: Pilot[Any], predicate: Callable[[], bool], what: str = "", timeout: float = WAIT) -> None:
    """Let the app run until ``predicate()`` holds (fails the test after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.005)  # not pilot.pause(): that forces a screen refresh on every poll


async def quiet(pilot: Pilot[Any]) -> None:
    """Wait until no read or control request is in flight and no view has a deferred repaint pending."""
    app = pilot.app
    await until(pilot, lambda: all(w.is_finished for w in app.workers if w.group in ("reads", "control")), "quiet")
    await until(pilot, lambda: not any(view.pending for view in app.query(View)), "the views repainted")


def refused_form(screen: object) -> bool:
    """The resume form came back with the runtime's refusal and is composed (its fields exist)."""
    from screens.modals.resume import ResumeModal

    return isinstance(screen, ResumeModal) and bool(screen.ctx.refusal) and bool(screen.query("#reason"))


def make_app(url: str, *, operator: str = "alice", read_only: bool = False, **kwargs: Any) -> CockpitBase:
    bus = MemoryBus(url, ENV, client_id=f"cockpit-{new_id()[:6]}")
    return CockpitBase(bus, env=ENV, operator=operator, read_only=read_only, clock=clock(), blink=False, **kwargs)


@dataclass
class World:
    """The other side of the bus: what the runtime publishes and answers."""

    url: str
    scenario: Scenario
    bus: MemoryBus
    fake: FakeRuntime
    extra: dict[str, ControlReply] = field(default_factory=dict)

    async def stop(self) -> None:
        await self.fake.stop()
        await self.bus.close()


async def start_world(url: str, state: str, replies: dict[str, ControlReply] | None = None) -> World:
    bus = MemoryBus(url, ENV, client_id=f"runtime-{new_id()[:6]}")
    await bus.start()
    scenario = build(state)
    fake = FakeRuntime(bus, {**scenario.replies, **(replies or {})})
    await fake.start()
    return World(url, scenario, bus, fake)


async def settle(pilot: Pilot[Any], world: World, *, events: bool = True) -> None:
    """Publish the world's state (and events) and wait until the cockpit has folded all of it."""
    app = pilot.app
    assert isinstance(app, CockpitBase)
    await feed(world.bus, world.scenario, events=False)
    await until(pilot, lambda: app.store.state is not None and app.store.status is not None, "the retained state")
    await until(pilot, lambda: len(app.store.nav) > 2, "the NAV history")
    if events:
        await feed(world.bus, world.scenario, retained=False)
        want_ticks = sum(1 for t, _ in world.scenario.events if t == "events/tick")
        await until(pilot, lambda: len(app.store.ticks) == want_ticks, "the tick reports")
        want_alerts = sum(1 for t, _ in world.scenario.events if t == "events/alert")
        await until(pilot, lambda: len(app.store.alerts) == want_alerts, "the alerts")
    if world.scenario.disconnect:
        await app.bus.close()
        await until(pilot, lambda: app.store.connection.state == "disconnected", "the disconnection")
    await quiet(pilot)
    await pilot.pause()


@asynccontextmanager
async def cockpit(
    state: str = "nominal",
    *,
    operator: str = "alice",
    read_only: bool = False,
    size: tuple[int, int] = (120, 40),
    replies: dict[str, ControlReply] | None = None,
    events: bool = True,
) -> AsyncIterator[tuple[CockpitBase, Pilot[Any], World]]:
    """A cockpit attached to a world in ``state``, settled."""
    url = f"memory://cockpit-{new_id()[:8]}"
    world = await start_world(url, state, replies)
    app = make_app(url, operator=operator, read_only=read_only)
    try:
        async with app.run_test(size=size, notifications=True) as pilot:
            await settle(pilot, world, events=events)
            yield app, pilot, world
    finally:
        await world.stop()
