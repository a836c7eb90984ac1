"""The bus interface shared by every backend, and the parts of it that do not depend on the transport."""

from __future__ import annotations

import abc
import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Literal, Self

from runtime import topics
from runtime.messages import Envelope, RejectedMessage, decode, new_id, utcnow

log = logging.getLogger(__name__)

ConnectionState = Literal["connected", "reconnecting", "disconnected"]


class BusError(Exception):
    """A bus operation that could not be done (not connected, closed)."""


class RequestTimeout(BusError):
    """No reply arrived within the request's timeout."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message as a subscriber receives it. ``topic`` is relative (no ``agenthedge/<env>/`` prefix)."""

    topic: str
    envelope: Envelope
    retained: bool = False


@dataclass(frozen=True, slots=True)
class Will:
    """A last will: published by the broker (or the memory bus) when a client goes away uncleanly."""

    topic: str
    envelope: Envelope


@dataclass(slots=True)
class ConnectionStatus:
    state: ConnectionState
    since: datetime
    attempts: int = 0
    error: str = ""


@dataclass
class BusStats:
    """Counters every backend keeps. ``depth`` is the real backlog: received and not yet handled."""

    published: int = 0
    received: int = 0
    handled: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    reconnects: int = 0

    @property
    def depth(self) -> int:
        return self.received - self.handled

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


class Subscription:
    """An async iterator of :class:`Delivery` for one or more patterns; use it as an async context manager.

    A delivery counts as handled when the consumer asks for the next one (or closes the subscription), so
    :attr:`BusStats.depth` includes the message being worked on.
    """

    def __init__(self, bus: Bus, patterns: tuple[str, ...]) -> None:
        self.bus = bus
        self.patterns = patterns
        self._queue: asyncio.Queue[Delivery | None] = asyncio.Queue()
        self._in_hand = False
        self.closed = False

    def matches(self, topic: str) -> bool:
        return any(topics.matches(p, topic) for p in self.patterns)

    def _put(self, delivery: Delivery) -> None:
        if not self.closed:
            self.bus.stats.received += 1
            self._queue.put_nowait(delivery)

    def _release(self) -> None:
        if self._in_hand:
            self._in_hand = False
            self.bus.stats.handled += 1

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Delivery:
        self._release()
        if self.closed:
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is None:
            raise StopAsyncIteration
        self._in_hand = True
        return item

    async def get(self, timeout: float | None = None) -> Delivery:
        """The next delivery (raises TimeoutError after ``timeout`` seconds)."""
        async with asyncio.timeout(timeout):
            return await self.__anext__()

    def pending(self) -> int:
        return self._queue.qsize()

    async def close(self) -> None:
        if self.closed:
            return
        self._release()
        self.closed = True
        dropped = 0
        while not self._queue.empty():
            if self._queue.get_nowait() is not None:
                dropped += 1
        self.bus.stats.handled += dropped  # closing consumes the backlog: it is no longer owed to anyone
        self._queue.put_nowait(None)
        await self.bus._unsubscribe(self)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class Bus(abc.ABC):
    """Publish/subscribe with MQTT semantics plus request/reply, over one transport.

    Topics given to and received from the bus are relative; the backend adds ``agenthedge/<env>/``.
    """

    scheme: str = ""

    def __init__(self, url: str, env: str, *, client_id: str | None = None, will: Will | None = None) -> None:
        self.url = url
        self.env = env
        self.client_id = client_id or f"agenthedge-{new_id()[:12]}"
        self.will = will
        self.stats = BusStats()
        self.status = ConnectionStatus("disconnected", utcnow())
        self._subs: list[Subscription] = []
        self._pending: dict[str, asyncio.Future[Envelope]] = {}
        self._listeners: list[Callable[[ConnectionStatus], None]] = []
        self._inbox: Subscription | None = None
        self._inbox_task: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    @abc.abstractmethod
    async def start(self) -> None:
        """Connect (the MQTT backend keeps reconnecting with back-off in the background)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Disconnect cleanly (no last will)."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        return self.status.state == "connected"

    def on_connection_change(self, callback: Callable[[ConnectionStatus], None]) -> None:
        self._listeners.append(callback)

    def _set_status(self, state: ConnectionState, *, attempts: int = 0, error: str = "") -> None:
        if state == self.status.state and attempts == self.status.attempts:
            return
        self.status = ConnectionStatus(state, utcnow(), attempts, error)
        for callback in list(self._listeners):
            try:
                callback(self.status)
            except Exception:  # a listener must not break the transport
                log.exception("connection listener failed")

    # -- publish / subscribe -----------------------------------------------------------------------
    @abc.abstractmethod
    async def publish(self, topic: str, message: Envelope, *, retain: bool = False, qos: int = 1) -> None:
        """Send ``message`` on the relative ``topic``."""

    async def publish_retained(self, topic: str, build: Callable[[], Envelope]) -> None:
        """Publish the retained message ``build()`` gives on ``topic``. A bus where no one can read it yet may keep
        ``build`` and call it only when someone does (see MemoryBus): ``build`` must give the same message later,
        so it may only read what does not change (a frozen model, its timestamp taken at the call)."""
        await self.publish(topic, build(), retain=True)

    def may_hold_deliveries(self) -> bool:
        """Could a message for this client be waiting for the event loop to run (a halt, a pause)? Over a network
        it may sit in the socket until the loop polls, so yes; the in-process bus knows (see MemoryBus)."""
        return True

    def wants(self, topic: str) -> bool:
        """Could a message published now on ``topic`` (not retained) reach anyone? Publishers of observational
        messages skip building those nobody would receive. Over a network broker the answer is always yes:
        observers may be anywhere."""
        return True

    @abc.abstractmethod
    async def publish_raw(self, topic: str, data: bytes, *, retain: bool = False, qos: int = 1) -> None:
        """Send bytes as they are (tests and tools; a consumer validates them like any other message)."""

    @abc.abstractmethod
    async def clear_retained(self, topic: str) -> None:
        """Remove the retained message of ``topic``."""

    def subscribe(self, *patterns: str) -> Subscription:
        """Subscribe to relative patterns with MQTT wildcards (``+``, ``#``); retained messages come first."""
        if not patterns:
            raise ValueError("subscribe needs at least one pattern")
        sub = Subscription(self, patterns)
        self._subs.append(sub)
        self._on_subscribe(sub)
        return sub

    async def wait_subscribed(self, sub: Subscription | None = None, timeout: float | None = None) -> None:
        """Wait until the transport has ``sub`` (default: every subscription). In-process: at once."""

    @abc.abstractmethod
    def _on_subscribe(self, sub: Subscription) -> None:
        """Backend hook: start delivering to ``sub`` (including matching retained messages)."""

    async def _unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
            await self._on_unsubscribe(sub)

    async def _on_unsubscribe(self, sub: Subscription) -> None:
        """Backend hook: a subscription went away."""

    def _dispatch(self, topic: str, envelope: Envelope, retained: bool) -> None:
        if topic.startswith("reply/"):
            self._resolve_reply(envelope)
        delivery = Delivery(topic, envelope, retained)
        for sub in self._subs:
            if sub.matches(topic):
                sub._put(delivery)

    def _dispatch_raw(self, topic: str, data: bytes | bytearray, retained: bool) -> None:
        """Validate bytes from the wire; a rejected message is logged and counted, never delivered."""
        try:
            envelope = decode(data)
        except RejectedMessage as exc:
            self.reject(topic, exc)
            return
        self._dispatch(topic, envelope, retained)

    def reject(self, topic: str, exc: RejectedMessage) -> None:
        """Count and log a rejected message (also used by consumers for semantic rejections)."""
        self.stats.rejected[exc.reason] += 1
        log.warning("rejected message on %s: %s", topic, exc, extra={"topic": topic, "reason": exc.reason})

    @property
    def depth(self) -> int:
        return self.stats.depth

    # -- request / reply ---------------------------------------------------------------------------
    async def request(self, topic: str, message: Envelope, timeout: float = 5.0) -> Envelope:
        """Publish ``message`` with a reply address and wait for the correlated reply.

        Raises:
            RequestTimeout: no reply within ``timeout`` seconds.
        """
        await self._ensure_inbox()
        correlation = message.correlation_id or new_id()
        outgoing = message.model_copy(
            update={"reply_to": topics.reply_inbox(self.client_id), "correlation_id": correlation}
        )
        future: asyncio.Future[Envelope] = asyncio.get_running_loop().create_future()
        self._pending[correlation] = future
        try:
            await self.publish(topic, outgoing, qos=1)
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise RequestTimeout(f"no reply to {topic} within {timeout:g}s") from None
        finally:
            self._pending.pop(correlation, None)

    async def reply(self, request: Envelope, response: Envelope) -> None:
        """Answer ``request`` (a no-op when it asked for no reply)."""
        if not request.reply_to:
            return
        answer = response.model_copy(update={"correlation_id": request.correlation_id})
        await self.publish(request.reply_to, answer, qos=1)

    async def _ensure_inbox(self) -> None:
        if self._inbox is None:
            self._inbox = self.subscribe(topics.reply_inbox(self.client_id))
            self._inbox_task = asyncio.create_task(self._drain_inbox(self._inbox), name="bus-inbox")
            await self._inbox_ready()

    async def _inbox_ready(self) -> None:
        """Backend hook: wait until the inbox subscription is active on the transport."""

    async def _drain_inbox(self, sub: Subscription) -> None:
        async for _ in sub:  # replies are resolved in _dispatch; this only keeps the backlog honest
            pass

    def _resolve_reply(self, envelope: Envelope) -> None:
        if envelope.correlation_id is None:
            return
        future = self._pending.get(envelope.correlation_id)
        if future is not None and not future.done():
            future.set_result(envelope)

    async def _close_inbox(self) -> None:
        if self._inbox_task is not None:
            self._inbox_task.cancel()
            self._inbox_task = None
        if self._inbox is not None:
            await self._inbox.close()
            self._inbox = None
        for future in self._pending.values():
            if not future.done():
                future.set_exception(BusError("bus closed"))
