"""Tick latency of the whole pipeline (data -> ... -> reconciliation) for 10, 100 and 500 symbols, on the
memory bus and over mosquitto, with the live durability (every commit and audit line fsync'd).

The demo market is widened by cloning its securities under new tickers (same sectors, same factor model);
each tick is one session replayed on a simulated clock. p50/p99 over the ticks after a warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import tempfile
from datetime import date
from pathlib import Path

from agents.data import DEFAULT_UNIVERSE, DemoProvider, DemoSecurity
from agents.data._failover import FailoverProvider
from agents.data.agent import data_clock
from app.wiring import Market, build_replay, load_config
from bench._common import Row, percentile, report
from runtime.bus import MemoryBroker
from runtime.clock import WallClock
from runtime.gc_tuning import freeze_loaded
from runtime.pipeline import TickOutcome
from tests.mqtt_broker import Mosquitto, launch

START, END = date(2024, 1, 2), date(2024, 4, 30)
WARMUP = 5


def universe(n: int) -> list[DemoSecurity]:
    base = list(DEFAULT_UNIVERSE)
    return [dataclasses.replace(base[i % len(base)], symbol=f"S{i:03d}", name=f"Synthetic {i}") for i in range(n)]


def market(n: int) -> Market:
    securities = universe(n)
    demo = DemoProvider(seed=7, universe=securities)
    provider = FailoverProvider(demo, clock=data_clock(WallClock()))  # quality-checked, as build_provider does
    return Market(provider, [s.symbol for s in securities], {s.symbol: s.sector for s in securities})


async def measure(n: int, bus: str) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(home=Path(tmp) / "home", bus=bus, env="bench")
        replay = build_replay(config, start=START, end=END, market=market(n))
        durations: list[float] = []
        await replay.runtime.start()
        freeze_loaded()  # as the daemon does once started (decision 23)
        try:

            def keep(outcome: TickOutcome) -> None:
                if outcome.status != "completed":
                    raise RuntimeError(f"tick {outcome.tick.id} {outcome.status}: {outcome.reason}")
                durations.append(outcome.duration_ms)

            await replay.run(on_tick=keep)
        finally:
            await replay.runtime.stop()
        MemoryBroker.reset("bench-tick")
        return durations[WARMUP:]


async def run(broker: Mosquitto, sizes: list[int]) -> list[Row]:
    rows: list[Row] = []
    for n in sizes:
        for backend, url in (("memory", "memory://bench-tick"), ("mosquitto", broker.url)):
            samples = await measure(n, url)
            p50, p99 = percentile(samples, 0.5), percentile(samples, 0.99)
            row: dict[str, object] = {
                "symbols": n,
                "backend": backend,
                "ticks": len(samples),
                "p50 ms": p50,
                "p99 ms": p99,
            }
            if n == 100 and backend == "memory":
                row.update(target="p50 <= 20 ms", ok=p50 <= 20.0)
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="10,100,500", help="comma-separated universe sizes")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    with launch() as broker:
        rows = asyncio.run(run(broker, sizes))
    report("bench_tick", rows, meta={"sessions": f"{START}..{END}", "warmup": WARMUP, "durable": True})


if __name__ == "__main__":
    main()
