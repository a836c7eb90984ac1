"""Transport-independent helpers of the MQTT backend: broker URLs and reconnection back-off."""

from __future__ import annotations

import random
import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}

#: Reconnection back-off: the first retry after about BACKOFF_FIRST seconds, doubling up to BACKOFF_MAX.
BACKOFF_FIRST = 0.1
BACKOFF_MAX = 5.0


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker is and how to log in, parsed from ``mqtt[s]://[user[:pass]@]host[:port]``."""

    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @property
    def tls(self) -> bool:
        return self.scheme == "mqtts"

    @property
    def redacted(self) -> str:
        """The URL without its password: safe to log and to put in an error message."""
        user = f"{self.username}{':***' if self.password is not None else ''}@" if self.username else ""
        return f"{self.scheme}://{user}{self.host}:{self.port}"

    def tls_context(self) -> ssl.SSLContext | None:
        """The default (verifying) TLS context for ``mqtts``, None for plain ``mqtt``."""
        return ssl.create_default_context() if self.tls else None


def parse_broker_url(url: str) -> BrokerAddress:
    """Parse a broker URL.

    Raises:
        ValueError: not an ``mqtt://`` or ``mqtts://`` URL with a host.
    """
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS:
        raise ValueError(f"unsupported MQTT URL {url!r}: the scheme must be mqtt or mqtts")
    if not parts.hostname:
        raise ValueError(f"MQTT URL {url!r} names no host")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError as exc:  # urlsplit raises on a non-numeric or out-of-range port
        raise ValueError(f"MQTT URL {url!r}: {exc}") from None
    return BrokerAddress(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def backoff_delay(attempt: int, *, rng: random.Random | None = None) -> float:
    """Seconds to wait before reconnection attempt ``attempt`` (1-based).

    Exponential (BACKOFF_FIRST doubling up to BACKOFF_MAX) with jitter between half and the full delay,
    so a fleet of agents that lost the same broker does not hammer it in lockstep when it comes back.
    """
    ceiling = min(BACKOFF_MAX, BACKOFF_FIRST * (1 << min(max(0, attempt - 1), 16)))
    return ceiling * (rng.uniform(0.5, 1.0) if rng is not None else random.uniform(0.5, 1.0))
