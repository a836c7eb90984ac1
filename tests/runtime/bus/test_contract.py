"""The bus contract: one suite, run against every backend (``memory://`` and a real mosquitto).

Nothing here waits for a guessed duration. "Nothing else arrived" is shown with a marker: a message
published afterwards on a topic the same subscription matches, which must be the next one delivered
(one publisher's messages reach a subscriber in order on both backends).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, Protocol

import pytest
from pydantic import BaseModel

from runtime.bus import Bus, BusError, MemoryBroker, MemoryBus, RequestTimeout, Subscription, Will, create_bus
from runtime.bus._mqtt import MqttBus
from runtime.messages import MAX_MESSAGE_BYTES, Envelope, make, register_payload
from tests.mqtt_broker import Mosquitto

TIMEOUT = 5.0  # an upper bound on waiting for a message that must come, never a wait for time to pass


class Note(BaseModel):
    text: str
    n: int = 0


register_payload("test.note", Note)


def note(text: str, n: int = 0, **kwargs: Any) -> Envelope:
    return make("test.note", Note(text=text, n=n), source="tests", **kwargs)


class MakeBus(Protocol):
    async def __call__(self, env: str | None = None, *, will: Will | None = None) -> Bus: ...


@pytest.fixture(params=["memory", "mqtt"])
async def make_bus(request: pytest.FixtureRequest, bus_env: str) -> AsyncIterator[MakeBus]:
    """Start buses of the backend under test; all of them are closed at the end of the test."""
    url = f"memory://{bus_env}"
    if request.param == "mqtt":  # only the mqtt half needs (and fails without) mosquitto
        broker: Mosquitto = request.getfixturevalue("mosquitto")
        url = broker.url
    buses: list[Bus] = []

    async def make(env: str | None = None, *, will: Will | None = None) -> Bus:
        bus = create_bus(url, env or bus_env, will=will)
        buses.append(bus)
        await bus.start()
        return bus

    yield make
    for bus in buses:
        await bus.close()
    MemoryBroker.reset(bus_env)


async def ready(bus: Bus, *subs: Subscription) -> None:
    """Wait until the transport has the subscriptions (the memory bus has them at once)."""
    if isinstance(bus, MqttBus):
        for sub in subs:
            await bus.wait_subscribed(sub, timeout=TIMEOUT)


async def crash(bus: Bus) -> None:
    assert isinstance(bus, MemoryBus | MqttBus)
    await bus.crash()


async def test_publish_subscribe(make_bus: MakeBus) -> None:
    producer, consumer = await make_bus(), await make_bus()
    sub = consumer.subscribe("orders/new")
    await ready(consumer, sub)
    sent = [note("order", i) for i in range(3)]
    for message in sent:
        await producer.publish("orders/new", message)

    got = [await sub.get(TIMEOUT) for _ in sent]

    assert [d.envelope for d in got] == sent
    assert {d.topic for d in got} == {"orders/new"}
    assert not any(d.retained for d in got)
    assert producer.stats.published == 3


async def test_wildcards(make_bus: MakeBus) -> None:
    producer, consumer = await make_bus(), await make_bus()
    one_level = consumer.subscribe("+/fill")
    multi_level = consumer.subscribe("state/#")
    await ready(consumer, one_level, multi_level)
    for topic in ("execution/fill", "risk/fill", "execution/venue/fill", "state", "state/agents/data", "x"):
        await producer.publish(topic, note(topic))
    await producer.publish("end/fill", note("end"))
    await producer.publish("state/end", note("end"))

    async def topics_until_end(sub: Subscription) -> set[str]:
        seen: set[str] = set()
        while (d := await sub.get(TIMEOUT)).envelope.payload["text"] != "end":
            seen.add(d.topic)
        return seen

    assert await topics_until_end(one_level) == {"execution/fill", "risk/fill"}
    # '#' also matches the parent level itself
    assert await topics_until_end(multi_level) == {"state", "state/agents/data"}


async def test_a_retained_message_built_on_demand_reaches_late_subscribers(make_bus: MakeBus) -> None:
    producer, consumer = await make_bus(), await make_bus()
    built: list[Envelope] = []

    def build() -> Envelope:
        built.append(note("portfolio"))
        return built[-1]

    await producer.publish_retained("state/portfolio", build)
    # in-process, no one subscribes yet: nothing is built until someone reads it; over MQTT it is sent now
    assert len(built) == (0 if producer.scheme == "memory" else 1)
    first = await consumer.subscribe("state/portfolio").get(TIMEOUT)
    second = await consumer.subscribe("state/#").get(TIMEOUT)
    assert len(built) == 1
    assert (first.envelope, first.retained) == (built[0], True)
    assert (second.envelope, second.retained) == (built[0], True)


async def test_retained_reaches_late_subscribers_once_until_cleared(make_bus: MakeBus) -> None:
    producer, consumer = await make_bus(), await make_bus()
    state = note("running")
    await producer.publish("state/runtime", state, retain=True)

    early = consumer.subscribe("state/runtime")
    first = await early.get(TIMEOUT)
    assert (first.envelope, first.retained) == (state, True)

    # a second, overlapping subscription gets the retained message; the first does not see it twice
    late = consumer.subscribe("state/#")
    second = await late.get(TIMEOUT)
    assert (second.topic, second.envelope, second.retained) == ("state/runtime", state, True)
    live = note("paused")
    await producer.publish("state/runtime", live)
    assert (await early.get(TIMEOUT)).envelope == live
    assert (await late.get(TIMEOUT)).retained is False

    await producer.clear_retained("state/runtime")
    after = consumer.subscribe("state/#")
    await ready(consumer, after)
    marker = note("marker")
    await producer.publish("state/runtime", marker)
    assert (await after.get(TIMEOUT)).envelope == marker  # nothing retained came first
    # over MQTT the deletion reaches live subscribers as an empty payload: ignored, not rejected
    assert (await early.get(TIMEOUT)).envelope == marker
    assert consumer.stats.rejected_total == 0


async def test_request_reply(make_bus: MakeBus) -> None:
    server, client = await make_bus(), await make_bus()
    requests = server.subscribe("control/+/status")
    await ready(server, requests)

    async def answer() -> None:
        async for delivery in requests:
            asked = delivery.envelope.parsed(Note)
            await server.reply(delivery.envelope, note(f"re: {asked.text}", asked.n + 1))

    responder = asyncio.create_task(answer())
    try:
        reply = await client.request("control/alice/status", note("status?", 41), timeout=TIMEOUT)
        again = await client.request("control/alice/status", note("again", 1), timeout=TIMEOUT)
    finally:
        responder.cancel()
    assert reply.parsed(Note) == Note(text="re: status?", n=42)
    assert reply.correlation_id is not None
    assert again.parsed(Note).n == 2


async def test_request_times_out_when_nobody_answers(make_bus: MakeBus) -> None:
    client = await make_bus()
    with pytest.raises(RequestTimeout, match="control/bob/pause"):
        await client.request("control/bob/pause", note("pause"), timeout=0.2)
    assert issubclass(RequestTimeout, BusError)


def _envelope_json(**changes: object) -> bytes:
    body = json.loads(note("bad").encode())
    body.update(changes)
    return json.dumps(body).encode()


REJECTS = {
    "malformed": b'{"v": 1, "type": "test.note", ',
    "unknown_version": _envelope_json(v=99),
    "oversized": b"x" * (MAX_MESSAGE_BYTES + 1),
    "unknown_type": _envelope_json(type="nobody.knows"),
    "bad_payload": _envelope_json(payload={"text": 7}),
}


@pytest.mark.parametrize("reason", list(REJECTS))
async def test_rejected_message_is_counted_and_the_consumer_carries_on(make_bus: MakeBus, reason: str) -> None:
    producer, consumer = await make_bus(), await make_bus()
    sub = consumer.subscribe("in/#")
    await ready(consumer, sub)
    await producer.publish_raw("in/cmd", REJECTS[reason])
    good = note("good")
    await producer.publish("in/cmd", good)

    delivery = await sub.get(TIMEOUT)

    assert delivery.envelope == good
    assert dict(consumer.stats.rejected) == {reason: 1}


async def test_depth_is_the_real_backlog(make_bus: MakeBus) -> None:
    producer, consumer = await make_bus(), await make_bus()
    work = consumer.subscribe("work/#")
    marker = consumer.subscribe("marker")
    await ready(consumer, work, marker)
    for i in range(5):
        await producer.publish(f"work/{i}", note("job", i))
    await producer.publish("marker", note("marker"))
    await marker.get(TIMEOUT)  # sent after the jobs: they have all arrived by now
    await marker.close()
    assert consumer.stats.depth == 5

    for i in range(5):
        assert (await work.get(TIMEOUT)).envelope.parsed(Note).n == i
        assert consumer.stats.depth == 5 - i  # the one in hand still counts until the next is asked for
    with pytest.raises(TimeoutError):
        await work.get(timeout=0)  # asking for the next one hands the last one back
    assert consumer.stats.depth == 0


async def test_last_will_on_crash(make_bus: MakeBus) -> None:
    observer = await make_bus()
    watch = observer.subscribe("state/agents/+")
    await ready(observer, watch)
    will = note("agent data is gone")
    agent = await make_bus(will=Will("state/agents/data", will))

    await crash(agent)

    delivery = await watch.get(TIMEOUT)
    assert (delivery.topic, delivery.envelope) == ("state/agents/data", will)
    late = observer.subscribe("state/agents/data")  # the will is retained
    assert (await late.get(TIMEOUT)).envelope == will


async def test_no_last_will_on_clean_close(make_bus: MakeBus) -> None:
    observer = await make_bus()
    watch = observer.subscribe("state/agents/+")
    await ready(observer, watch)
    agent = await make_bus(will=Will("state/agents/data", note("gone")))

    await agent.close()
    marker = note("marker")
    await observer.publish("state/agents/marker", marker)

    assert (await watch.get(TIMEOUT)).envelope == marker


async def test_environments_are_isolated(make_bus: MakeBus, bus_env: str) -> None:
    prod, other = await make_bus(f"{bus_env[:24]}_a"), await make_bus(f"{bus_env[:24]}_b")
    sub = other.subscribe("#")
    await ready(other, sub)
    await prod.publish("orders/new", note("for env a only"))
    marker = note("marker")
    await other.publish("orders/new", marker)

    assert (await sub.get(TIMEOUT)).envelope == marker
