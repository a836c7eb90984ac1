"""The MQTT bus (``mqtt://`` / ``mqtts://``): a real broker (mosquitto, EMQX, HiveMQ) through aiomqtt 2.

One background task owns the connection: it connects, re-subscribes every live subscription, pumps
incoming messages into :meth:`Bus._dispatch_raw` and, when the connection drops, reconnects with
exponential back-off. Callers never see the reconnection except as a status change and a publish that
waits (boundedly) for the link to come back.

Wire details:

* Topics are absolute on the wire (``agenthedge/<env>/...``) and relative on the Bus API.
* QoS 1 by default, clean sessions: after a reconnect the subscriptions are restored by this class, not
  by the broker, and QoS 1 means a consumer may see a message twice (consumers deduplicate by id).
* MQTT re-sends retained messages on every SUBSCRIBE of a matching filter (a second subscription with an
  overlapping pattern, a reconnect). A retained message is delivered to a subscription only if it has
  not already seen that message id on that topic, so each subscription sees the current state once, as
  on the memory bus, and again after a reconnect only if it changed meanwhile.
* An empty retained payload is how MQTT deletes a retained message (:meth:`clear_retained`); the pump
  ignores empty payloads rather than counting them as malformed.
* TCP_NODELAY on the client socket: without it a QoS 1 round trip waits on Nagle + delayed ACK (~40 ms).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import Counter
from collections.abc import Callable

import aiomqtt

from runtime import topics
from runtime.bus._base import Bus, BusError, Delivery, Subscription, Will
from runtime.bus._mqtt_support import BrokerAddress, backoff_delay, parse_broker_url
from runtime.messages import Envelope

log = logging.getLogger(__name__)

_NODELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
_ROUTE_CACHE_MAX = 4096  # distinct topics remembered by the routing cache before it starts over


class MqttBus(Bus):
    """A client of an MQTT broker.

    Args:
        url: ``mqtt://[user:pass@]host[:port]`` or ``mqtts://...`` (TLS with the default context).
        env: the environment; topics on the wire are ``agenthedge/<env>/<relative topic>``.
        client_id: the MQTT client id (default: a fresh one).
        will: published by the broker, retained, QoS 1, if this client goes away without a DISCONNECT.
        connect_timeout: how long :meth:`start` waits for the first connection.
        publish_timeout: how long a publish waits for the connection and then for the broker's PUBACK.
        keepalive: MQTT keepalive in seconds; a dead peer is noticed after about 1.5 times this.
    """

    scheme = "mqtt"

    def __init__(
        self,
        url: str,
        env: str,
        *,
        client_id: str | None = None,
        will: Will | None = None,
        connect_timeout: float = 10.0,
        publish_timeout: float = 10.0,
        keepalive: int = 30,
    ) -> None:
        super().__init__(url, env, client_id=client_id, will=will)
        self.address: BrokerAddress = parse_broker_url(url)
        self.scheme = self.address.scheme
        self.connect_timeout = connect_timeout
        self.publish_timeout = publish_timeout
        self.keepalive = keepalive
        self._prefix = topics.prefix(env)
        self._tls = self.address.tls_context()  # loads the CA store: once, not on every reconnect
        self._client: aiomqtt.Client | None = None  # the live connection; None while down
        self._up = asyncio.Event()  # set while connected and every subscription is restored
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._ever_connected = False
        self._last_error = ""
        self._patterns: Counter[str] = Counter()  # absolute filter -> live subscriptions using it
        self._acked: dict[Subscription, asyncio.Event] = {}  # set once the broker has SUBACKed
        self._seen: dict[Subscription, dict[str, str]] = {}  # topic -> last message id delivered
        self._routes: dict[str, list[tuple[Subscription, dict[str, str]]]] = {}
        self._side_tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect, waiting at most ``connect_timeout`` for the broker.

        Raises:
            BusError: the broker could not be reached in time (the message names the URL).
        """
        if self._task is not None:
            return
        self._closing = False
        self._task = asyncio.create_task(self._run(), name=f"mqtt-bus-{self.client_id}")
        try:
            async with asyncio.timeout(self.connect_timeout):
                await self._up.wait()
        except TimeoutError:
            error = self._last_error or "no answer"
            await self._shutdown(clean=True)
            self._set_status("disconnected", error=error)
            raise BusError(
                f"cannot connect to the MQTT broker at {self.address.redacted} "
                f"within {self.connect_timeout:g}s: {error}"
            ) from None

    async def close(self) -> None:
        """Disconnect cleanly: the broker does not publish the last will."""
        await self._shutdown(clean=True)

    async def crash(self) -> None:
        """Drop the socket without a DISCONNECT, so the broker publishes the last will (tests, drills)."""
        client = self._client
        self._closing = True
        sock = None if client is None else client._client.socket()  # aiomqtt has no public accessor
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        await self._shutdown(clean=client is None)  # not connected: nothing to drop, just stop

    async def _shutdown(self, *, clean: bool) -> None:
        self._closing = True
        await self._close_inbox()
        for sub in list(self._subs):
            await sub.close()
        task, self._task = self._task, None
        if task is not None:
            if clean:
                task.cancel()  # the cancellation unwinds ``async with client``, which sends DISCONNECT
            else:  # crash(): let the task see its socket die, as it would on a real network failure
                await asyncio.wait({task}, timeout=self.connect_timeout)
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for side in list(self._side_tasks):
            side.cancel()
        self._client = None
        self._up.clear()
        self._set_status("disconnected", error=self._last_error)

    def transport_socket(self) -> socket.socket | None:
        """The connected TCP socket (diagnostics and tests: e.g. to check TCP_NODELAY), or None."""
        sock = None if self._client is None else self._client._client.socket()
        return sock if isinstance(sock, socket.socket) else None

    # -- the connection task -----------------------------------------------------------------------
    def _new_client(self) -> aiomqtt.Client:
        will = None
        if self.will is not None:
            will = aiomqtt.Will(self._prefix + self.will.topic, self.will.envelope.encode(), qos=1, retain=True)
        client = aiomqtt.Client(
            self.address.host,
            self.address.port,
            username=self.address.username,
            password=self.address.password,
            identifier=self.client_id,
            will=will,
            clean_session=True,
            keepalive=self.keepalive,
            timeout=self.connect_timeout,
            tls_context=self._tls,
            socket_options=(_NODELAY,),
            max_inflight_messages=100,
            queue_type=_direct_queue(self._pump),
        )
        # aiomqtt warns above 10 concurrent calls; many agents publishing at once is normal here
        client.pending_calls_threshold = 10_000
        return client

    async def _run(self) -> None:
        attempt = 0
        while not self._closing:
            client = self._new_client()
            try:
                async with client:
                    await self._connected(client)
                    attempt = 0
                    # messages go straight to _pump (see _direct_queue): this loop never gets one, it
                    # only waits for the connection to end, which ends the iteration with MqttError
                    async for _ in client.messages:
                        pass
            except (aiomqtt.MqttError, OSError) as exc:
                self._last_error = str(exc) or type(exc).__name__
            except Exception as exc:  # a bug must not end the connection task: log it, reconnect
                log.exception("MQTT connection task failed")
                self._last_error = f"{type(exc).__name__}: {exc}"
            finally:
                self._client = None
                self._up.clear()
                for event in self._acked.values():
                    event.clear()
            if self._closing:
                return
            attempt += 1
            log.warning(
                "MQTT connection to %s lost or refused (%s); retry %d",
                self.address.redacted,
                self._last_error,
                attempt,
            )
            self._set_status("reconnecting", attempts=attempt, error=self._last_error)
            await asyncio.sleep(backoff_delay(attempt))

    async def _connected(self, client: aiomqtt.Client) -> None:
        """Restore every subscription on a fresh connection, then declare the bus connected."""
        self._client = client  # first: a subscription made from now on subscribes on this client
        waiting = list(self._acked.values())
        if self._patterns:
            filters = list(self._patterns)
            granted = await client.subscribe([(p, 1) for p in filters], timeout=self.connect_timeout)
            _check_granted(filters, granted)
        for event in waiting:
            event.set()
        if self._ever_connected:
            self.stats.reconnects += 1
        self._ever_connected = True
        self._last_error = ""
        self._set_status("connected")
        self._up.set()

    def _pump(self, message: aiomqtt.Message) -> None:
        """One message from the broker: validated once, then fanned out. Never raises."""
        try:
            topic = message.topic.value
            if not topic.startswith(self._prefix):
                return
            relative = topic[len(self._prefix) :]
            payload = message.payload
            if not payload:  # a deleted retained message (clear_retained), not a malformed one
                for _sub, seen in self._route(relative):
                    seen.pop(relative, None)
                return
            self._dispatch_raw(relative, payload, message.retain)
        except Exception:  # the pump outlives any bad message or buggy listener
            log.exception("MQTT message on %s could not be dispatched", message.topic)

    # -- routing -----------------------------------------------------------------------------------
    def _route(self, topic: str) -> list[tuple[Subscription, dict[str, str]]]:
        route = self._routes.get(topic)
        if route is None:
            if len(self._routes) >= _ROUTE_CACHE_MAX:
                self._routes.clear()
            route = [(s, self._seen[s]) for s in self._subs if s.matches(topic)]
            self._routes[topic] = route
        return route

    def _dispatch(self, topic: str, envelope: Envelope, retained: bool) -> None:
        if topic.startswith("reply/"):
            self._resolve_reply(envelope)
        delivery = Delivery(topic, envelope, retained)
        message_id = envelope.id
        for sub, seen in self._route(topic):
            if retained and seen.get(topic) == message_id:
                continue  # the broker re-sent a retained message this subscription already has
            seen[topic] = message_id
            sub._put(delivery)

    # -- subscriptions -----------------------------------------------------------------------------
    def _on_subscribe(self, sub: Subscription) -> None:
        self._seen[sub] = {}
        self._acked[sub] = asyncio.Event()
        self._patterns.update(self._prefix + p for p in sub.patterns)
        self._routes.clear()
        # SUBSCRIBE even for a filter already held: the broker then sends this subscription the
        # retained messages it is owed (the dedup in _dispatch keeps the others from seeing them twice)
        task = asyncio.get_running_loop().create_task(self._subscribe_on_broker(sub))
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def _subscribe_on_broker(self, sub: Subscription) -> None:
        client = self._client
        if client is None or sub.closed:
            return  # _connected() subscribes it when the link is (back) up
        try:
            granted = await client.subscribe(
                [(self._prefix + p, 1) for p in sub.patterns], timeout=self.connect_timeout
            )
        except aiomqtt.MqttError as exc:
            log.info("SUBSCRIBE %s not acknowledged (%s); retried on reconnect", sub.patterns, exc)
            return
        _check_granted(sub.patterns, granted)
        event = self._acked.get(sub)
        if event is not None and self._client is client:
            event.set()

    async def wait_subscribed(self, sub: Subscription | None = None, timeout: float | None = None) -> None:
        """Wait until the broker has acknowledged ``sub`` (default: every live subscription).

        Messages published after this returns reach the subscription; retained ones are on their way.

        Raises:
            BusError: not acknowledged within ``timeout`` (default ``connect_timeout``) seconds.
        """
        if sub is None:
            events = list(self._acked.values())
        elif sub in self._acked:
            events = [self._acked[sub]]
        else:
            return  # closed, or not a subscription of this bus: nothing to wait for
        limit = self.connect_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                for event in events:
                    await event.wait()
        except TimeoutError:
            raise BusError(f"{self.address.redacted} did not acknowledge the subscription within {limit:g}s") from None

    async def _inbox_ready(self) -> None:
        if self._inbox is not None:
            await self.wait_subscribed(self._inbox)

    async def _on_unsubscribe(self, sub: Subscription) -> None:
        self._acked.pop(sub, None)
        self._seen.pop(sub, None)
        self._routes.clear()
        gone = []
        for pattern in sub.patterns:
            absolute = self._prefix + pattern
            self._patterns[absolute] -= 1
            if self._patterns[absolute] <= 0:
                del self._patterns[absolute]
                gone.append(absolute)
        client = self._client
        if gone and client is not None and not self._closing:
            try:
                await client.unsubscribe(gone, timeout=self.publish_timeout)
            except aiomqtt.MqttError as exc:  # the link dropped: the filter is not restored anyway
                log.info("UNSUBSCRIBE %s failed: %s", gone, exc)

    # -- publishing --------------------------------------------------------------------------------
    async def publish(self, topic: str, message: Envelope, *, retain: bool = False, qos: int = 1) -> None:
        """Send ``message``; at QoS 1 this returns once the broker has it (PUBACK).

        While the link is down the publish waits for it, up to ``publish_timeout``. A QoS 1 publish in
        flight when the link drops is not re-sent on the next connection (clean sessions): it fails
        with :class:`BusError` after ``publish_timeout``, and its fate is unknown, the broker may have it.

        Raises:
            BusError: closed, not connected in time, or no PUBACK in time.
        """
        await self._send(topic, message.encode(), qos, retain)

    async def publish_raw(self, topic: str, data: bytes, *, retain: bool = False, qos: int = 1) -> None:
        await self._send(topic, data, qos, retain)

    async def clear_retained(self, topic: str) -> None:
        await self._send(topic, b"", 1, True)

    async def _send(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        client = self._client
        if client is None or not self._up.is_set():
            client = await self._wait_up(topic)
        try:
            await client.publish(self._prefix + topic, payload, qos=qos, retain=retain, timeout=self.publish_timeout)
        except aiomqtt.MqttError as exc:
            raise BusError(f"publish to {topic} on {self.address.redacted} failed: {exc}") from exc
        self.stats.published += 1

    async def _wait_up(self, topic: str) -> aiomqtt.Client:
        if self._task is None or self._closing:
            raise BusError(f"cannot publish to {topic}: the bus to {self.address.redacted} is closed")
        try:
            async with asyncio.timeout(self.publish_timeout):
                while True:
                    await self._up.wait()
                    if self._client is not None:
                        return self._client
        except TimeoutError:
            raise BusError(
                f"cannot publish to {topic}: not connected to {self.address.redacted} "
                f"for {self.publish_timeout:g}s ({self._last_error or 'reconnecting'})"
            ) from None


def _direct_queue(pump: Callable[[aiomqtt.Message], None]) -> type[asyncio.Queue[aiomqtt.Message]]:
    """An incoming-message queue for aiomqtt that hands each message to ``pump`` as it arrives.

    Iterating ``client.messages`` costs a task and an ``asyncio.wait`` per message, and the bus would
    then queue each message a second time for its subscribers. aiomqtt's ``queue_type`` hook lets the
    pump run inside the socket read callback instead: one hop, in arrival order, nothing buffered twice.
    """

    class DirectQueue(asyncio.Queue[aiomqtt.Message]):
        def put_nowait(self, item: aiomqtt.Message) -> None:
            pump(item)

    return DirectQueue


def _check_granted(filters: list[str] | tuple[str, ...], granted: object) -> None:
    """Log the filters a broker refused (an ACL, a bad filter): they will never deliver anything."""
    codes = granted if isinstance(granted, list | tuple) else []
    for pattern, code in zip(filters, codes, strict=False):
        failed = getattr(code, "is_failure", False) if not isinstance(code, int) else code >= 0x80
        if failed:
            log.error("the broker refused the subscription to %s (%s)", pattern, code)


__all__ = ["MqttBus"]
