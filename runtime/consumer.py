"""A bus consumer that never dies on one message: subscribe, hand each delivery to a handler, count failures."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from runtime.bus import Bus, Subscription
from runtime.messages import Envelope

log = logging.getLogger(__name__)

Handler = Callable[[str, Envelope], Awaitable[None]]


class Consumer:
    """Runs ``handler(topic, envelope)`` for every message on ``patterns`` in a task of its own."""

    def __init__(
        self,
        bus: Bus,
        patterns: tuple[str, ...],
        handler: Handler,
        *,
        name: str,
        on_error: Callable[[], None] | None = None,
    ) -> None:
        self.bus = bus
        self.patterns = patterns
        self.handler = handler
        self.name = name
        self.on_error = on_error
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Subscribe and return once the transport has the subscription."""
        self._sub = self.bus.subscribe(*self.patterns)
        await self.bus.wait_subscribed(self._sub)
        self._task = asyncio.create_task(self._run(self._sub), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._sub is not None:
            await self._sub.close()
            self._sub = None

    async def _run(self, sub: Subscription) -> None:
        async for delivery in sub:
            try:
                await self.handler(delivery.topic, delivery.envelope)
            except Exception:  # one bad message must not stop the consumer
                if self.on_error is not None:
                    self.on_error()
                log.exception("%s failed on message %s", self.name, delivery.envelope.id)
