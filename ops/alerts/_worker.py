"""One worker per channel: a bounded queue and a task of its own, retries with exponential back-off.

Nothing upstream ever waits on a worker: :meth:`ChannelWorker.offer` is ``put_nowait`` and a full queue
drops the notification (counted, reported). A slow or dead channel therefore delays only its own queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from ops.alerts._channels import Channel, ChannelError
from ops.alerts._fold import Notification
from ops.alerts._metrics import AlertMetrics

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
OnFailure = Callable[[str, Notification, str], Awaitable[None]]


class ChannelWorker:
    """Delivers the notifications of one channel, in order.

    Args:
        channel: Where to send.
        retries: Further attempts after a failed one (a permanent failure is not retried).
        backoff: Delay before the first retry; doubled each retry up to ``backoff_max``.
        timeout: Per-attempt limit, whatever the channel's own timeouts do.
        sleep: Waits between retries (injected in tests).
        on_failure: Called with (channel, notification, error) when a notification is given up.
    """

    def __init__(
        self,
        channel: Channel,
        *,
        metrics: AlertMetrics,
        on_failure: OnFailure,
        queue_size: int = 100,
        retries: int = 3,
        backoff: float = 1.0,
        backoff_max: float = 30.0,
        timeout: float = 10.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.channel = channel
        self.name = channel.name
        self.metrics = metrics
        self.on_failure = on_failure
        self.retries = retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.timeout = timeout
        self.sleep = sleep
        self.queue: asyncio.Queue[Notification] = asyncio.Queue(maxsize=queue_size)
        self.task: asyncio.Task[None] | None = None
        self.busy = False
        metrics.queue_depth.labels(channel=self.name).set_function(self.queue.qsize)

    def delay(self, retry: int) -> float:
        """Seconds before retry number ``retry`` (0-based)."""
        return float(min(self.backoff * (2**retry), self.backoff_max))

    def offer(self, note: Notification) -> bool:
        """Queue ``note`` without waiting; False (and counted) when the queue is full."""
        try:
            self.queue.put_nowait(note)
        except asyncio.QueueFull:
            self.metrics.notifications.labels(channel=self.name, outcome="dropped").inc()
            log.error("alert channel %s: queue full, dropped %s %s", self.name, note.action, note.alert.id)
            return False
        return True

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.create_task(self._run(), name=f"alert-channel-{self.name}")

    async def stop(self, drain: float = 0.0) -> None:
        """Let the queue drain for up to ``drain`` seconds, then stop and close the channel."""
        if self.task is not None and drain > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(drain):
                    await self.queue.join()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
        await self.channel.aclose()

    async def join(self) -> None:
        """Until every queued notification is delivered or given up."""
        await self.queue.join()

    async def _run(self) -> None:
        while True:
            note = await self.queue.get()
            self.busy = True
            try:
                await self.deliver(note)
            except asyncio.CancelledError:
                raise
            except Exception:  # the worker outlives any one notification
                log.exception("alert channel %s: unexpected failure", self.name)
            finally:
                self.busy = False
                self.queue.task_done()

    async def deliver(self, note: Notification) -> bool:
        """Send with retries; on giving up, count and report. True when delivered."""
        error = ""
        for attempt in range(self.retries + 1):
            self.metrics.attempts.labels(channel=self.name).inc()
            try:
                async with asyncio.timeout(self.timeout):
                    await self.channel.send(note)
            except ChannelError as exc:
                error = str(exc)
                permanent = exc.permanent
            except TimeoutError:
                error, permanent = f"no answer within {self.timeout:g}s", False
            else:
                self.metrics.notifications.labels(channel=self.name, outcome="sent").inc()
                return True
            log.warning("alert channel %s: attempt %d failed: %s", self.name, attempt + 1, error)
            if permanent or attempt == self.retries:
                break
            await self.sleep(self.delay(attempt))
        self.metrics.notifications.labels(channel=self.name, outcome="failed").inc()
        await self.on_failure(self.name, note, error)
        return False
