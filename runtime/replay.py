"""Driving the runtime over historical sessions on a simulated clock (replay, drills, backtests).

One tick per session, after its close, keyed by the session date (a re-run after a crash is the same tick).
``speed`` is sessions per second of wall time (``None``: as fast as the pipeline goes). The clock only moves
forward, so nothing can read a later session's data.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, time

from runtime.clock import SimClock
from runtime.pipeline import TickOutcome
from runtime.runtime import Runtime

AFTER_CLOSE = time(21, 30)  # UTC: after the NYSE close (16:00 ET) in winter and summer


def session_time(session: date) -> datetime:
    return datetime.combine(session, AFTER_CLOSE, UTC)


async def replay(
    runtime: Runtime,
    clock: SimClock,
    sessions: Sequence[date],
    *,
    speed: float | None = None,
    stop: asyncio.Event | None = None,
    on_tick: Callable[[TickOutcome], Awaitable[None] | None] | None = None,
) -> int:
    """Run one tick per session in order; returns the number of ticks run (stops early when ``stop`` is set)."""
    if speed is not None and speed <= 0:
        raise ValueError("speed must be positive (sessions per second) or None for as fast as possible")
    count = 0
    for session in sessions:
        if stop is not None and stop.is_set():
            break
        when = session_time(session)
        if when > clock.now():
            clock.set(when)
        outcome = await runtime.run_once(key=session.isoformat())
        count += 1
        if on_tick is not None:
            result = on_tick(outcome)
            if result is not None:
                await result
        if speed is not None:
            await _pause(1.0 / speed, stop)
    return count


async def _pause(seconds: float, stop: asyncio.Event | None) -> None:
    if stop is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
