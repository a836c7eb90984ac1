"""What only the MQTT backend has: a network to lose, a socket to tune, a broker that queues."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import threading
from collections.abc import AsyncIterator

import pytest
from pydantic import BaseModel

from runtime.bus import BusError, ConnectionStatus, create_bus
from runtime.bus._mqtt import MqttBus
from runtime.bus._mqtt_support import backoff_delay, parse_broker_url
from runtime.messages import Envelope, make, register_payload
from tests.mqtt_broker import Mosquitto, free_port

pytestmark = pytest.mark.mqtt

TIMEOUT = 10.0


class Seq(BaseModel):
    n: int


register_payload("test.seq", Seq)


def seq(n: int) -> Envelope:
    return make("test.seq", Seq(n=n), source="tests")


@pytest.fixture
async def bus(mosquitto: Mosquitto, bus_env: str) -> AsyncIterator[MqttBus]:
    bus = MqttBus(mosquitto.url, bus_env, publish_timeout=0.5)
    await bus.start()
    yield bus
    await bus.close()


class StatusLog:
    """Records connection states and lets a test await one of them."""

    def __init__(self) -> None:
        self.seen: list[ConnectionStatus] = []
        self._changed = asyncio.Event()

    def __call__(self, status: ConnectionStatus) -> None:
        self.seen.append(status)
        self._changed.set()

    async def reach(self, state: str, min_attempts: int = 0) -> ConnectionStatus:
        async with asyncio.timeout(TIMEOUT):
            while True:
                for status in self.seen:
                    if status.state == state and status.attempts >= min_attempts:
                        return status
                self._changed.clear()
                await self._changed.wait()


async def test_reconnects_after_the_broker_restarts(mosquitto: Mosquitto, bus_env: str) -> None:
    log = StatusLog()
    async with (
        MqttBus(mosquitto.url, bus_env, publish_timeout=TIMEOUT) as bus,
        MqttBus(mosquitto.url, bus_env, publish_timeout=0.3) as impatient,
    ):
        bus.on_connection_change(log)
        orders = bus.subscribe("orders/#")
        await bus.wait_subscribed(orders)

        mosquitto.stop()
        try:
            await log.reach("reconnecting", min_attempts=2)  # it keeps trying, backing off
            fills = bus.subscribe("fills/#")  # made while the link is down
            pending = asyncio.create_task(bus.publish("orders/new", seq(1)))  # waits for the link
            with pytest.raises(BusError, match=re.escape(mosquitto.url)):
                await impatient.publish("orders/new", seq(0))  # a bounded wait, then a clear error
            assert not pending.done()
        finally:
            await asyncio.to_thread(mosquitto.start)
        await log.reach("connected")
        await pending

        assert bus.connected
        assert bus.stats.reconnects == 1
        assert [s.state for s in log.seen][-1] == "connected"
        # subscriptions are restored before the bus says 'connected' and before a waiting publish goes
        assert (await orders.get(TIMEOUT)).envelope.parsed(Seq).n == 1
        await bus.wait_subscribed(fills)
        await bus.publish("fills/1", seq(2))
        assert (await fills.get(TIMEOUT)).envelope.parsed(Seq).n == 2


async def test_start_fails_fast_when_nothing_listens(bus_env: str) -> None:
    url = f"mqtt://ops:s3cret@127.0.0.1:{free_port()}"
    bus = MqttBus(url, bus_env, connect_timeout=1.0)
    with pytest.raises(BusError) as raised:  # bounded by connect_timeout, not by a timer in the test
        await bus.start()

    assert re.search(r"mqtt://ops:\*\*\*@127\.0\.0\.1:\d+", str(raised.value))
    assert "s3cret" not in str(raised.value)  # the URL is named, its password is not
    assert bus.status.state == "disconnected"
    with pytest.raises(BusError, match="closed"):
        await bus.publish("x", seq(0))


async def test_tcp_nodelay_is_set(bus: MqttBus) -> None:
    sock = bus.transport_socket()
    assert sock is not None
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


async def test_no_qos1_message_is_dropped_for_a_slow_subscriber(mosquitto: Mosquitto, bus: MqttBus) -> None:
    """The subscriber's event loop is blocked while 2,000 QoS 1 messages are published from another thread.

    The broker can only have ``max_inflight_messages`` of them in flight to the stalled subscriber and must
    queue the rest; with mosquitto's default ``max_queued_messages 1000`` it would drop about 900.
    """
    count = 2000
    sub = bus.subscribe("load/#")
    await bus.wait_subscribed(sub)
    published = threading.Event()
    failure: list[BaseException] = []

    async def publish_all() -> None:
        producer = MqttBus(mosquitto.url, bus.env)
        async with producer:
            await asyncio.gather(*(producer.publish("load/seq", seq(i), qos=1) for i in range(count)))

    def producer_thread() -> None:
        try:
            asyncio.run(publish_all())
        except BaseException as exc:
            failure.append(exc)
        finally:
            published.set()

    thread = threading.Thread(target=producer_thread, name="mqtt-producer")
    thread.start()
    # a stalled consumer: this loop does not read its socket until every message is at the broker
    assert published.wait(timeout=60)
    thread.join()
    assert not failure, failure

    received: set[int] = set()
    with contextlib.suppress(TimeoutError):
        while len(received) < count:
            received.add((await sub.get(TIMEOUT)).envelope.parsed(Seq).n)
    assert len(received) == count, f"{count - len(received)} of {count} QoS 1 messages never arrived"
    assert bus.stats.rejected_total == 0


async def test_create_bus_builds_an_mqtt_bus_from_the_url(bus_env: str) -> None:
    bus = create_bus("mqtts://user:pa%40ss@broker.example:8884", bus_env)
    assert isinstance(bus, MqttBus)
    assert (bus.address.host, bus.address.port, bus.address.tls) == ("broker.example", 8884, True)
    assert (bus.address.username, bus.address.password) == ("user", "pa@ss")
    assert parse_broker_url("mqtt://localhost").port == 1883
    assert parse_broker_url("mqtts://localhost").port == 8883
    with pytest.raises(ValueError, match="scheme"):
        parse_broker_url("http://localhost")


def test_backoff_doubles_up_to_a_ceiling_with_jitter() -> None:
    assert 0.05 <= backoff_delay(1) <= 0.1
    assert 0.1 <= backoff_delay(2) <= 0.2
    assert all(2.5 <= backoff_delay(n) <= 5.0 for n in (7, 50, 10_000))
