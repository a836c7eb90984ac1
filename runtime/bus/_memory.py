"""The in-process bus (``memory://``): the embedded default, with the MQTT semantics the runtime relies on.

A :class:`MemoryBroker` per name plays the broker (retained messages, wills, fan-out); every
:class:`MemoryBus` is a client of it, so a runtime and an in-process cockpit talk exactly as they would
over mosquitto. Envelopes are passed as immutable objects: nothing is serialised in-process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from runtime.bus._base import Bus, BusError, Delivery, Subscription, Will
from runtime.messages import Envelope, RejectedMessage, decode


class MemoryBroker:
    """The shared state of one ``memory://<name>`` bus: clients, retained messages, a routing cache."""

    _brokers: ClassVar[dict[str, MemoryBroker]] = {}

    def __init__(self, name: str) -> None:
        self.name = name
        self.clients: list[MemoryBus] = []
        # keyed by (environment, relative topic): like MQTT's absolute topics agenthedge/<env>/<topic>
        self._retained: dict[tuple[str, str], Envelope | Callable[[], Envelope]] = {}
        self._routes: dict[tuple[str, str], list[Subscription]] = {}

    @classmethod
    def named(cls, name: str) -> MemoryBroker:
        broker = cls._brokers.get(name)
        if broker is None:
            broker = cls._brokers[name] = cls(name)
        return broker

    @classmethod
    def reset(cls, name: str | None = None) -> None:
        """Forget one broker (or all): tests start from an empty broker."""
        if name is None:
            cls._brokers.clear()
        else:
            cls._brokers.pop(name, None)

    def invalidate(self) -> None:
        self._routes.clear()

    def retain_lazily(self, env: str, topic: str, build: Callable[[], Envelope]) -> None:
        """Keep ``build`` as ``topic``'s retained message, built when someone reads it (no one subscribes now)."""
        self._retained[(env, topic)] = build

    def forget_retained(self, env: str, topic: str) -> None:
        self._retained.pop((env, topic), None)

    def retained(self, env: str) -> list[tuple[str, Envelope]]:
        """The retained messages of ``env`` (topic, message), each built now if it was kept lazily."""
        out = []
        for key, value in list(self._retained.items()):
            if key[0] != env:
                continue
            if not isinstance(value, Envelope):
                value = self._retained[key] = value()
            out.append((key[1], value))
        return out

    def route(self, env: str, topic: str) -> list[Subscription]:
        """Subscriptions of clients in ``env`` whose patterns match the relative ``topic`` (cached)."""
        key = (env, topic)
        subs = self._routes.get(key)
        if subs is None:
            subs = [s for c in self.clients if c.env == env for s in c._subs if s.matches(topic)]
            self._routes[key] = subs
        return subs

    def deliver(self, env: str, topic: str, envelope: Envelope, retain: bool) -> None:
        if retain:
            self._retained[(env, topic)] = envelope
        if topic.startswith("reply/"):
            for client in self.clients:
                if client.env == env:
                    client._resolve_reply(envelope)
        delivery = Delivery(topic, envelope, False)
        for sub in self.route(env, topic):
            sub._put(delivery)


class MemoryBus(Bus):
    """A client of an in-process :class:`MemoryBroker` (``memory://`` or ``memory://<name>``)."""

    scheme = "memory"

    def __init__(self, url: str, env: str, *, client_id: str | None = None, will: Will | None = None) -> None:
        super().__init__(url, env, client_id=client_id, will=will)
        name = url.split("://", 1)[1] if "://" in url else ""
        self.broker = MemoryBroker.named(name or "default")
        self._open = False

    async def start(self) -> None:
        if not self._open:
            self._open = True
            self.broker.clients.append(self)
            self.broker.invalidate()
            self._set_status("connected")

    async def close(self) -> None:
        await self._disconnect(publish_will=False)

    async def crash(self) -> None:
        """Drop the connection uncleanly: the broker publishes the last will (tests, drills)."""
        await self._disconnect(publish_will=True)

    async def _disconnect(self, *, publish_will: bool) -> None:
        if not self._open:
            return
        await self._close_inbox()
        for sub in list(self._subs):
            await sub.close()
        self._open = False
        if self in self.broker.clients:
            self.broker.clients.remove(self)
        self.broker.invalidate()
        self._set_status("disconnected")
        if publish_will and self.will is not None:
            self.broker.deliver(self.env, self.will.topic, self.will.envelope, True)

    def _require_open(self) -> None:
        if not self._open:
            raise BusError(f"{self.url} is not connected")

    async def publish(self, topic: str, message: Envelope, *, retain: bool = False, qos: int = 1) -> None:
        self._require_open()
        self.stats.published += 1
        self.broker.deliver(self.env, topic, message, retain)

    async def publish_retained(self, topic: str, build: Callable[[], Envelope]) -> None:
        """Built and delivered now when a client subscribes to ``topic``; otherwise ``build`` is kept and called when
        a later subscription (or a read of the retained messages) needs the message."""
        if self.wants(topic):
            await self.publish(topic, build(), retain=True)
            return
        self._require_open()
        self.stats.published += 1
        self.broker.retain_lazily(self.env, topic, build)

    def may_hold_deliveries(self) -> bool:
        """In-process deliveries are queued at publish time: only a backlog (received, not yet handled) waits."""
        return self.stats.depth > 0

    def wants(self, topic: str) -> bool:
        """Only when an in-process client subscribes to ``topic`` (or it is a reply)."""
        return topic.startswith("reply/") or bool(self.broker.route(self.env, topic))

    async def publish_raw(self, topic: str, data: bytes, *, retain: bool = False, qos: int = 1) -> None:
        self._require_open()
        self.stats.published += 1
        try:
            envelope = decode(data)
        except RejectedMessage as exc:
            # every client of the broker would have seen and rejected these bytes
            for client in self.broker.clients:
                if client.env == self.env and any(s.matches(topic) for s in client._subs):
                    client.reject(topic, exc)
            return
        self.broker.deliver(self.env, topic, envelope, retain)

    async def clear_retained(self, topic: str) -> None:
        self._require_open()
        self.broker.forget_retained(self.env, topic)

    def _on_subscribe(self, sub: Subscription) -> None:
        self.broker.invalidate()
        for topic, envelope in self.broker.retained(self.env):
            if sub.matches(topic):
                sub._put(Delivery(topic, envelope, True))

    async def _on_unsubscribe(self, sub: Subscription) -> None:
        self.broker.invalidate()


__all__ = ["MemoryBroker", "MemoryBus"]
