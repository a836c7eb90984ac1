"""The bus: one interface, two backends (``memory://`` in-process, ``mqtt://``/``mqtts://`` through aiomqtt)."""

from __future__ import annotations

from runtime.bus._base import (
    Bus,
    BusError,
    BusStats,
    ConnectionStatus,
    Delivery,
    RequestTimeout,
    Subscription,
    Will,
)
from runtime.bus._memory import MemoryBroker, MemoryBus

SCHEMES = ("memory", "mqtt", "mqtts")


def create_bus(
    url: str, env: str, *, client_id: str | None = None, will: Will | None = None, connect_timeout: float = 10.0
) -> Bus:
    """The backend for ``url``: ``memory://[name]``, ``mqtt://[user:pass@]host[:port]`` or ``mqtts://...``."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme == "memory":
        return MemoryBus(url, env, client_id=client_id, will=will)
    if scheme in ("mqtt", "mqtts"):
        from runtime.bus._mqtt import MqttBus

        return MqttBus(url, env, client_id=client_id, will=will, connect_timeout=connect_timeout)
    raise ValueError(f"unsupported bus URL {url!r}: the scheme must be one of {', '.join(SCHEMES)}")


__all__ = [
    "SCHEMES",
    "Bus",
    "BusError",
    "BusStats",
    "ConnectionStatus",
    "Delivery",
    "MemoryBroker",
    "MemoryBus",
    "RequestTimeout",
    "Subscription",
    "Will",
    "create_bus",
]
