"""Kill-switch latency: breach published -> HALTED persisted and broadcast -> every open order cancelled.

Runs a runtime (real SQLite ledger with WAL + synchronous=FULL, real audit log with fsync) holding open orders;
a second client publishes ``risk.kill_switch``; an observer on the bus timestamps the retained HALTED state
(broadcast comes after the SQLite commit) and the ``kill_switch.safe_state`` audit event (after every agent,
the order-holding one included, reported its orders cancelled). p50/p99 over many runs, on both backends.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench._common import Row, percentile, report
from runtime import topics
from runtime.bus import Bus, MemoryBroker, Subscription, create_bus
from runtime.messages import make
from runtime.payloads import AuditEvent, KillSwitch, StateChanged
from runtime.runtime import Runtime
from runtime.signoff import ResumeRequest
from tests.mqtt_broker import Mosquitto, launch
from tests.runtime.harness import OrderAgent, make_runtime

ORDERS = 20


async def _until(sub: Subscription, predicate: str) -> float:
    async for delivery in sub:
        env = delivery.envelope
        if predicate == "halted" and env.type == "runtime.state" and env.parsed(StateChanged).state == "HALTED":
            return time.perf_counter()
        if (
            predicate == "safe"
            and env.type == "audit.event"
            and env.parsed(AuditEvent).event == "kill_switch.safe_state"
        ):
            return time.perf_counter()
    raise RuntimeError("subscription ended")


async def one_run(rt: Runtime, sender: Bus, observer: Bus) -> tuple[float, float]:
    await rt.run_once()  # the order agent opens ORDERS working orders
    assert len(await rt.books.open_orders()) == ORDERS
    states = observer.subscribe(topics.STATE_RUNTIME)
    audits = observer.subscribe(topics.EVENT_AUDIT)
    await observer.wait_subscribed()
    await states.get(timeout=5)  # the retained RUNNING
    message = make("kill_switch", KillSwitch(reason="bench breach"), source="bench")
    start = time.perf_counter()
    await sender.publish(topics.RISK_KILL_SWITCH, message)
    halted = await asyncio.wait_for(_until(states, "halted"), 30)
    safe = await asyncio.wait_for(_until(audits, "safe"), 30)
    assert await rt.books.open_orders() == []
    await states.close()
    await audits.close()
    incident = await rt.open_incident()
    assert incident is not None
    await rt.resume(ResumeRequest("alice", "bench", incident.id))
    return (halted - start) * 1000, (safe - start) * 1000


async def measure(url: str, runs: int, env: str) -> tuple[list[float], list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        rt = make_runtime(Path(tmp) / "home", bus_url=url, env=env, agents=[OrderAgent(per_tick=ORDERS)])
        await rt.start()
        sender, observer = create_bus(url, env), create_bus(url, env)
        await sender.start()
        await observer.start()
        halted, cancelled = [], []
        try:
            for _ in range(runs):
                h, c = await one_run(rt, sender, observer)
                halted.append(h)
                cancelled.append(c)
        finally:
            await sender.close()
            await observer.close()
            await rt.stop()
    return halted, cancelled


def rows_for(backend: str, halted: list[float], cancelled: list[float], targets: bool) -> list[Row]:
    rows: list[Row] = []
    for label, samples, target in (
        ("HALTED persisted+broadcast", halted, 25.0),
        ("all open orders cancelled", cancelled, 100.0),
    ):
        for q in (0.5, 0.99):
            value = percentile(samples, q)
            row: dict[str, object] = {"backend": backend, "measure": f"{label} p{round(q * 100)}", "ms": value}
            if targets and q == 0.99:
                row.update(target=f"<= {target:g} ms", ok=value <= target)
            rows.append(row)
    return rows


async def run(broker: Mosquitto, runs: int) -> list[Row]:
    rows: list[Row] = []
    memory = await measure("memory://bench-kill", runs, "bench")
    MemoryBroker.reset("bench-kill")
    rows += rows_for("memory", *memory, targets=False)
    mqtt = await measure(broker.url, runs, "bench")
    rows += rows_for("mosquitto", *mqtt, targets=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=50, help="kill/resume cycles per backend")
    args = parser.parse_args(argv)
    with launch() as broker:
        rows = asyncio.run(run(broker, args.runs))
    report("bench_killswitch", rows, meta={"runs": args.runs, "open_orders": ORDERS})


if __name__ == "__main__":
    main()
