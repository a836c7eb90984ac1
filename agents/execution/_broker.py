"""The venue interface: what execution and reconciliation need from a broker, real or simulated.

A :class:`Broker` is one named venue. Execution submits :class:`OrderRequest`\\ s keyed by a client order id
that the venue treats as an idempotency key, a tick's orders in one call (:meth:`Broker.submit_many`);
reconciliation asks each venue what it holds (orders, fills, positions, cash moved) and compares it with the
ledger. A venue reports fills through a cursor
(:meth:`Broker.fills_since`) so that nothing is lost across restarts: the ledger applies fills idempotently
on ``(venue, trade_id)``, so a fill delivered twice is harmless.

Failures are typed, because each one is handled differently (runbook SOP 5):

- :class:`BrokerTimeout`: no answer in time. The order may or may not be live: it becomes ``unknown`` and is
  reconciled later through :meth:`Broker.order_status`, never retried elsewhere (that could double it).
- :class:`BrokerRejected`: the venue said no. Safe to retry on an alternate venue.
- :class:`BrokerUnavailable`: the request never reached the venue (connection failure). Safe to retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from storage.records import Fill, Side

if TYPE_CHECKING:
    from agents.market import MarketView

VenueOrderState = Literal["working", "filled", "cancelled", "rejected", "expired"]
FINAL_VENUE_STATES: frozenset[str] = frozenset({"filled", "cancelled", "rejected", "expired"})


class BrokerError(Exception):
    """A venue could not do what was asked. ``venue`` names it; the message says why."""

    def __init__(self, venue: str, reason: str) -> None:
        super().__init__(f"{venue}: {reason}")
        self.venue = venue
        self.reason = reason


class BrokerTimeout(BrokerError):
    """No answer in time: the order's fate is unknown until reconciled."""


class BrokerRejected(BrokerError):
    """The venue refused the request."""


class BrokerUnavailable(BrokerError):
    """The request never reached the venue (connection failure)."""


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What is sent to a venue. ``limit_price`` None is a market order."""

    client_order_id: str
    symbol: str
    side: Side
    qty: float
    limit_price: float | None = None


@dataclass(frozen=True, slots=True)
class BrokerAck:
    """The venue took the order. A resubmission of the same client order id returns the same ack."""

    venue: str
    client_order_id: str
    broker_order_id: str


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    """An order as the venue sees it."""

    venue: str
    client_order_id: str
    broker_order_id: str
    symbol: str
    side: Side
    qty: float
    filled_qty: float
    state: VenueOrderState
    limit_price: float | None = None
    reason: str = ""

    @property
    def working(self) -> bool:
        return self.state == "working"


@dataclass(frozen=True, slots=True)
class BrokerFill:
    """One execution at a venue; ``trade_id`` is unique per venue."""

    venue: str
    trade_id: str
    client_order_id: str
    ts: datetime
    symbol: str
    side: Side
    qty: float
    price: float
    commission: float = 0.0

    def to_ledger(self) -> Fill:
        return Fill(
            self.venue,
            self.trade_id,
            self.client_order_id,
            self.ts,
            self.symbol,
            self.side,
            self.qty,
            self.price,
            self.commission,
        )


@dataclass(frozen=True, slots=True)
class FillBatch:
    """Fills after a cursor, and the cursor to ask from next time (opaque to callers)."""

    fills: list[BrokerFill] = field(default_factory=list)
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class BrokerAccount:
    """What a venue holds for us: signed positions and the cash its fills moved (commissions included)."""

    venue: str
    positions: dict[str, float]
    cash_flow: float
    commissions: float


@runtime_checkable
class Broker(Protocol):
    """One trading venue."""

    venue: str

    async def connect(self) -> None:
        """Open the session (idempotent)."""
        ...

    async def close(self) -> None:
        """Close the session (idempotent)."""
        ...

    async def submit(self, order: OrderRequest) -> BrokerAck:
        """Place an order; idempotent by client order id.

        Raises:
            BrokerTimeout: no answer in time (the order may be live).
            BrokerRejected: the venue refused it.
            BrokerUnavailable: it never reached the venue.
        """
        ...

    async def submit_many(self, orders: Sequence[OrderRequest]) -> list[BrokerAck | BrokerError]:
        """Place orders in turn, stopping after the first one not acknowledged: one answer per order taken (an
        ack, or the error :meth:`submit` would raise), a prefix of ``orders``. The orders after a failure are not
        sent, so the caller handles the failure (a retry elsewhere, a halt) before anything else goes out.

        Raises:
            Exception: the batch as a whole got no answer (a timeout): any of its orders may be live.
        """
        ...

    async def cancel(self, client_order_id: str) -> BrokerOrder | None:
        """Cancel a working order; returns its state after the attempt (None: the venue never had it)."""
        ...

    async def order_status(self, client_order_id: str) -> BrokerOrder | None:
        """The venue's view of an order (None: the venue never received it)."""
        ...

    async def open_orders(self) -> list[BrokerOrder]:
        """Every working order at the venue."""
        ...

    async def positions(self) -> dict[str, float]:
        """Signed quantity per symbol (non-zero only)."""
        ...

    async def account(self) -> BrokerAccount:
        """Positions and the cash moved by this venue's fills."""
        ...

    async def fills_since(self, cursor: str | None) -> FillBatch:
        """Fills after ``cursor`` (None: from the beginning), oldest first."""
        ...

    async def on_bar(self, view: MarketView) -> None:
        """A new market view: a simulated venue fills its working orders on it; a real one ignores it."""
        ...
