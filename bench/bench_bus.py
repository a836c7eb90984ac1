"""Bus throughput and request/reply latency, memory and MQTT, with raw aiomqtt as the anchor.

Run: ``.venv/bin/python -m bench.bench_bus`` (``--quick`` for a smoke run). It starts its own mosquitto
on a free port (the same launcher as the tests) and measures, in one run and on one broker:

* memory bus throughput: one publisher -> one subscriber, pre-built envelopes;
* MQTT bus throughput at QoS 1 and QoS 0, and raw aiomqtt with the *same payload bytes* and the same
  client settings (TCP_NODELAY, in-flight window), so the ratio bus/raw is the cost of this layer
  (encode, validate once, route, queue) and not of the machine;
* request/reply round trips, p50/p99, on both backends, and a raw aiomqtt ping-pong for scale.

Publishers keep WINDOW publishes in flight (as many agents publishing at once would); each figure is the
median of REPEATS runs, raw and bus interleaved so drift on the machine hits both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiomqtt
from pydantic import BaseModel

from bench._common import Row, percentile, report
from runtime.bus import MemoryBroker, create_bus
from runtime.bus._mqtt import MqttBus
from runtime.messages import Envelope, make, new_id, register_payload
from tests.mqtt_broker import Mosquitto, launch

MEMORY_TARGET = 300_000.0  # msg/s
RATIO_TARGET = 0.80  # mqtt bus / raw aiomqtt
POOL = 1000  # distinct pre-built envelopes, cycled
NODELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Tick(BaseModel):
    """A market-snapshot-sized payload: what the hot topics carry."""

    symbol: str
    seq: int
    bid: float
    ask: float
    last: float
    volume: int


register_payload("bench.tick", Tick)


@dataclass(frozen=True)
class Sizes:
    memory: int
    mqtt: int
    rtt: int
    repeats: int
    window: int


FULL = Sizes(memory=200_000, mqtt=20_000, rtt=2_000, repeats=3, window=64)
QUICK = Sizes(memory=20_000, mqtt=2_000, rtt=200, repeats=1, window=64)


def envelopes(n: int = POOL) -> list[Envelope]:
    return [
        make(
            "bench.tick",
            Tick(symbol="AAPL", seq=i, bid=189.01, ask=189.03, last=189.02, volume=1200 + i),
            source="bench",
            run_id="bench",
            tick_id=f"t{i}",
        )
        for i in range(n)
    ]


async def publish_window(send: Callable[[int], Awaitable[None]], n: int, window: int) -> None:
    """Call ``send(0..n-1)`` with at most ``window`` calls in flight."""
    for start in range(0, n, window):
        await asyncio.gather(*(send(i) for i in range(start, min(n, start + window))))


# -- throughput ------------------------------------------------------------------------------------
async def bus_throughput(url: str, n: int, *, qos: int, window: int, pool: list[Envelope]) -> float:
    env = f"bench{new_id()[:8]}"
    producer, consumer = create_bus(url, env), create_bus(url, env)
    await producer.start()
    await consumer.start()
    try:
        sub = consumer.subscribe("bench/tp")
        if isinstance(consumer, MqttBus):
            await consumer.wait_subscribed(sub)
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()

        async def drain() -> None:
            got = 0
            async for _ in sub:
                got += 1
                if got == n:
                    done.set_result(time.perf_counter())
                    return

        reader = asyncio.create_task(drain())
        size = len(pool)

        async def send(i: int) -> None:
            await producer.publish("bench/tp", pool[i % size], qos=qos)

        started = time.perf_counter()
        if isinstance(producer, MqttBus):
            await publish_window(send, n, window)
        else:  # the memory publish never suspends: a window would only add gather's overhead
            for i in range(n):
                await send(i)
        finished = await asyncio.wait_for(done, timeout=120)
        await reader
        return n / (finished - started)
    finally:
        await producer.close()
        await consumer.close()
        MemoryBroker.reset(env)


def raw_client(broker: Mosquitto) -> aiomqtt.Client:
    client = aiomqtt.Client(
        broker.host,
        broker.port,
        identifier=f"raw-{new_id()[:8]}",
        socket_options=(NODELAY,),
        max_inflight_messages=100,  # the same client settings as MqttBus: only the layer above differs
    )
    client.pending_calls_threshold = 10_000
    return client


async def raw_throughput(broker: Mosquitto, n: int, *, qos: int, window: int, payloads: list[bytes]) -> float:
    topic = f"raw/{new_id()[:8]}/tp"
    async with raw_client(broker) as producer, raw_client(broker) as consumer:
        await consumer.subscribe(topic, qos=1)
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()

        async def drain() -> None:
            got = 0
            async for _ in consumer.messages:
                got += 1
                if got == n:
                    done.set_result(time.perf_counter())
                    return

        reader = asyncio.create_task(drain())
        size = len(payloads)

        async def send(i: int) -> None:
            await producer.publish(topic, payloads[i % size], qos=qos)

        started = time.perf_counter()
        await publish_window(send, n, window)
        finished = await asyncio.wait_for(done, timeout=120)
        await reader
        return n / (finished - started)


# -- request / reply -------------------------------------------------------------------------------
async def bus_rtt(url: str, n: int, pool: list[Envelope]) -> list[float]:
    env = f"bench{new_id()[:8]}"
    server, client = create_bus(url, env), create_bus(url, env)
    await server.start()
    await client.start()
    requests = server.subscribe("control/bench/ping")
    if isinstance(server, MqttBus):
        await server.wait_subscribed(requests)

    async def answer() -> None:
        async for d in requests:
            await server.reply(d.envelope, pool[0])

    responder = asyncio.create_task(answer())
    samples: list[float] = []
    try:
        for i in range(n):
            started = time.perf_counter()
            await client.request("control/bench/ping", pool[i % len(pool)], timeout=5)
            samples.append(time.perf_counter() - started)
    finally:
        responder.cancel()
        await server.close()
        await client.close()
        MemoryBroker.reset(env)
    return samples


async def raw_rtt(broker: Mosquitto, n: int, payload: bytes) -> list[float]:
    base = f"raw/{new_id()[:8]}"
    async with raw_client(broker) as server, raw_client(broker) as client:
        await server.subscribe(f"{base}/req", qos=1)
        await client.subscribe(f"{base}/rep", qos=1)

        async def answer() -> None:
            async for message in server.messages:
                await server.publish(f"{base}/rep", message.payload, qos=1)

        responder = asyncio.create_task(answer())
        replies = aiter(client.messages)
        samples: list[float] = []
        try:
            for _ in range(n):
                started = time.perf_counter()
                await client.publish(f"{base}/req", payload, qos=1)
                await anext(replies)
                samples.append(time.perf_counter() - started)
        finally:
            responder.cancel()
        return samples


# -- the run ---------------------------------------------------------------------------------------
async def run(broker: Mosquitto, sizes: Sizes) -> list[Row]:
    pool = envelopes()
    payloads = [e.encode() for e in pool]
    rows: list[Row] = []

    # warm up imports, pydantic's validators and the broker's allocations; not measured
    await bus_throughput("memory://bench", 2_000, qos=1, window=1, pool=pool)
    await bus_throughput(broker.url, 1_000, qos=1, window=sizes.window, pool=pool)
    await raw_throughput(broker, 1_000, qos=1, window=sizes.window, payloads=payloads)

    memory_runs = []
    for _ in range(sizes.repeats):
        memory_runs.append(await bus_throughput("memory://bench", sizes.memory, qos=1, window=1, pool=pool))
    memory = statistics.median(memory_runs)
    rows.append(row("memory bus throughput", memory, "msg/s", f">= {MEMORY_TARGET:,.0f}", MEMORY_TARGET))

    for qos in (1, 0):
        raw_runs: list[float] = []
        bus_runs: list[float] = []
        for _ in range(sizes.repeats):
            raw_runs.append(await raw_throughput(broker, sizes.mqtt, qos=qos, window=sizes.window, payloads=payloads))
            bus_runs.append(await bus_throughput(broker.url, sizes.mqtt, qos=qos, window=sizes.window, pool=pool))
        raw, bus = statistics.median(raw_runs), statistics.median(bus_runs)
        rows.append(row(f"raw aiomqtt throughput QoS {qos} (anchor)", raw, "msg/s"))
        rows.append(row(f"mqtt bus throughput QoS {qos}", bus, "msg/s"))
        rows.append(
            row(f"mqtt bus / raw aiomqtt QoS {qos}", bus / raw, "ratio", f">= {RATIO_TARGET:.0%}", RATIO_TARGET)
        )

    for label, samples in (
        ("memory bus request/reply", await bus_rtt("memory://bench", sizes.rtt, pool)),
        ("mqtt bus request/reply", await bus_rtt(broker.url, sizes.rtt, pool)),
        ("raw aiomqtt ping-pong QoS 1 (anchor)", await raw_rtt(broker, sizes.rtt, payloads[0])),
    ):
        for q in (0.5, 0.99):
            rows.append(row(f"{label} p{round(q * 100)}", percentile(samples, q) * 1e6, "us"))
    return rows


def row(measure: str, value: float, unit: str, target: str = "", floor: float | None = None) -> Row:
    """One result; with a ``floor`` it is judged (``ok``) against its ``target``."""
    judged: dict[str, object] = {"target": target, "ok": value >= floor} if floor is not None else {}
    return {"measure": measure, "value": value, "unit": unit, **judged}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run, not a measurement")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    with launch() as broker:
        rows = asyncio.run(run(broker, sizes))
    report(
        "bench_bus" + ("_quick" if args.quick else ""),
        rows,
        meta={"sizes": sizes.__dict__, "payload_bytes": len(envelopes(1)[0].encode())},
    )


if __name__ == "__main__":
    main()
