"""The pipeline's floor: what a backtest tick costs when every agent does nothing.

A backtest ticks the runtime once per session through the live stages (data, director, council, risk,
compliance, execution, feedback, reconciliation), each under its deadline, every agent timed into the
metrics. This runs that machinery, the real ``Runtime`` on the in-process bus with a non-durable ledger and
``runtime.replay``, over ``ticks`` sessions with as many agents as a one-plug-in backtest has (eleven), each
of which returns at once. No agent work, no data, no orders: the result bounds from above what any backtest
of one symbol can reach, so it says how far a bars-per-second target is from the framework alone.

``python -m bench.pipeline_floor [TICKS] [--json]`` prints one line (or the figures as JSON, which
``bench.bench_backtest`` reads); :func:`measure` returns them.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from runtime.agent import Agent, AgentRegistry, Stage, Tick
from runtime.clock import SimClock
from runtime.gc_tuning import freeze_loaded
from runtime.replay import replay, session_time
from runtime.runtime import Runtime
from runtime.settings import CoreSettings, RuntimeSettings

# the agents of `agenthedge backtest --strategy sma-cross`, stage by stage (app.wiring.build_registry)
LAYOUT: tuple[tuple[str, Stage], ...] = (
    ("data", Stage.DATA),
    ("quant.technical", Stage.DATA),
    ("director", Stage.DIRECTOR),
    ("council", Stage.COUNCIL),
    ("risk", Stage.RISK),
    ("compliance", Stage.COMPLIANCE),
    ("execution", Stage.EXECUTION),
    ("settlement", Stage.EXECUTION),
    ("feedback", Stage.FEEDBACK),
    ("reconciliation", Stage.RECONCILIATION),
    ("trace", Stage.RECONCILIATION),
)


class IdleAgent(Agent):
    """An agent whose tick does nothing."""

    def __init__(self, name: str, stage: Stage, order: int) -> None:
        super().__init__()
        self.name = name
        self.stage = stage
        self.order = order

    async def on_tick(self, tick: Tick) -> None:
        return None


async def _run(ticks: int, home: Path) -> dict[str, Any]:
    registry = AgentRegistry([IdleAgent(name, stage, i) for i, (name, stage) in enumerate(LAYOUT)])
    first = date(2000, 1, 3)
    sessions = [first + timedelta(days=i) for i in range(ticks)]
    clock = SimClock(session_time(first - timedelta(days=1)))
    core = CoreSettings(home=home, bus="memory://pipeline-floor", env="backtest")
    runtime = Runtime(core, RuntimeSettings(durable=False), registry, clock=clock)
    await runtime.start(role="backtest")
    try:
        freeze_loaded()  # as a one-shot backtest does
        started = time.perf_counter()
        count = await replay(runtime, clock, sessions)
        seconds = time.perf_counter() - started
    finally:
        await runtime.stop()
    return {"agents": len(LAYOUT), "ticks": count, "seconds": seconds, "ticks_per_s": count / seconds}


def measure(ticks: int) -> dict[str, Any]:
    """Tick a runtime of idle agents ``ticks`` times (on a throwaway home); its figures."""
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        return asyncio.run(_run(ticks, Path(tmp)))


def main(argv: list[str]) -> None:
    numbers = [a for a in argv if a != "--json"]
    out = measure(int(numbers[0]) if numbers else 3270)
    if "--json" in argv:
        print(json.dumps(out))
        return
    print(
        f"{out['agents']} idle agents, {out['ticks']:,} ticks: {out['seconds']:.3f} s, "
        f"{1e6 * out['seconds'] / out['ticks']:.0f} us a tick, {out['ticks_per_s']:,.0f} ticks/s"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
