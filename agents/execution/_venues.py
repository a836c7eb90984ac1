"""The venues execution routes to, primary first, shared by the execution and reconciliation agents."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from agents.execution._broker import Broker, BrokerAccount, BrokerOrder


class Venues:
    """An ordered set of brokers: ``route(0)`` is the primary, ``route(n)`` the n-th retry's venue.

    Both agents that share it call :meth:`start` and :meth:`stop`; the brokers connect on the first start
    and close on the last stop.
    """

    def __init__(self, brokers: Sequence[Broker]) -> None:
        if not brokers:
            raise ValueError("at least one venue is needed")
        names = [b.venue for b in brokers]
        if len(set(names)) != len(names):
            raise ValueError(f"venue names must be unique: {names}")
        self._brokers = list(brokers)
        self._by_name = {b.venue: b for b in brokers}
        self._users = 0

    @property
    def primary(self) -> Broker:
        return self._brokers[0]

    @property
    def names(self) -> list[str]:
        return [b.venue for b in self._brokers]

    def get(self, name: str) -> Broker | None:
        return self._by_name.get(name)

    def route(self, attempt: int) -> Broker:
        """The venue of send attempt ``attempt`` (0: primary; retries go round the alternates)."""
        return self._brokers[attempt % len(self._brokers)]

    def __iter__(self) -> Iterator[Broker]:
        return iter(self._brokers)

    def __len__(self) -> int:
        return len(self._brokers)

    async def start(self) -> None:
        if self._users == 0:
            connected: list[Broker] = []
            try:
                for broker in self._brokers:
                    await broker.connect()
                    connected.append(broker)
            except BaseException:
                for broker in connected:
                    await broker.close()
                raise
        self._users += 1

    async def stop(self) -> None:
        if self._users == 0:
            return
        self._users -= 1
        if self._users == 0:
            for broker in self._brokers:
                await broker.close()

    async def accounts(self) -> list[BrokerAccount]:
        return [await b.account() for b in self._brokers]

    async def open_orders(self) -> dict[str, BrokerOrder]:
        """Working orders at every venue by client order id (a venue's own id space)."""
        found: dict[str, BrokerOrder] = {}
        for broker in self._brokers:
            for order in await broker.open_orders():
                found[order.client_order_id] = order
        return found
