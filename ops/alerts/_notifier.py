"""The notifier: one bus reader of ``events/alert`` fanning alerts out to the channels.

Path of an alert: book (lifecycle) -> severity gate -> snooze -> folding -> one bounded queue per channel,
each drained by its own worker task. The runtime only ever publishes on the bus; nothing it does waits on a
channel, and a channel's trouble stays in that channel's queue.

A channel that gives up on a notification is reported: a log line, ``alert_channel_failures_total{channel}``,
and an ``alert_channel_failed`` alert sent on the *other* channels (through ``raise_alert``, i.e. the
runtime's own alert path, so it is audited and seen by the cockpit). A failure to deliver that alert is
logged and counted but never reported again, and a channel is reported at most once per folding window:
no storm, whatever the number of failures.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

import httpx
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from ops.alerts._book import ACTOR, AlertBook, AlertRecord
from ops.alerts._channels import Channel, channels_from_settings
from ops.alerts._fold import Folder, Notification
from ops.alerts._metrics import AlertMetrics
from ops.alerts._settings import CHANNEL_FAILED, AlertSettings
from ops.alerts._worker import ChannelWorker, Sleep
from runtime import topics
from runtime.bus import Bus, Subscription
from runtime.clock import Clock, WallClock
from runtime.messages import new_id
from runtime.payloads import Alert
from storage.ledger import Ledger

log = logging.getLogger(__name__)

RaiseAlert = Callable[..., Awaitable[Any]]


class Notifier:
    """Fans alerts out to ``channels`` (see the module doc).

    Args:
        settings: Gates, folding window, retries, queue sizes.
        channels: Where notifications go (:func:`ops.alerts.channels_from_settings`).
        clock: The runtime's clock (folding windows, escalation, snoozes).
        book: The alert book; None keeps no lifecycle (no acknowledgement, no escalation).
        metrics: Alert metrics (pass one on the daemon's registry).
        raise_alert: ``runtime.alert``: how a channel failure is raised while reading the bus.
        retry_sleep: Waits between delivery retries (injected in tests).
        housekeeping_interval: Seconds between fold flushes and escalation checks; None: only on demand.
        env: Environment name shown on notifications raised here.
    """

    def __init__(
        self,
        settings: AlertSettings,
        channels: Sequence[Channel],
        *,
        clock: Clock | None = None,
        book: AlertBook | None = None,
        metrics: AlertMetrics | None = None,
        raise_alert: RaiseAlert | None = None,
        retry_sleep: Sleep = asyncio.sleep,
        housekeeping_interval: float | None = 30.0,
        env: str = "",
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or WallClock()
        self.book = book
        self.metrics = metrics or AlertMetrics()
        self.raise_alert = raise_alert
        self.housekeeping_interval = housekeeping_interval
        self.env = env
        self.folder = Folder(settings.dedupe_window)
        names = [c.name for c in channels]
        if len(set(names)) != len(names):
            raise ValueError(f"channel names must be unique: {names}")
        self.workers = [
            ChannelWorker(
                channel,
                metrics=self.metrics,
                on_failure=self._channel_failed,
                queue_size=settings.queue_size,
                retries=settings.retries,
                backoff=settings.backoff_seconds,
                backoff_max=settings.backoff_max_seconds,
                timeout=settings.timeout_seconds,
                sleep=retry_sleep,
            )
            for channel in channels
        ]
        self._sub: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._handling = False
        self._reported: dict[str, datetime] = {}
        self.started = False

    @classmethod
    def from_settings(
        cls,
        settings: AlertSettings,
        *,
        clock: Clock | None = None,
        ledger: Ledger | None = None,
        registry: CollectorRegistry | None = None,
        raise_alert: RaiseAlert | None = None,
        audit: Callable[[str, dict[str, Any], str], Awaitable[None]] | None = None,
        client: httpx.AsyncClient | None = None,
        **kwargs: Any,
    ) -> Notifier:
        """The channels the settings name, with an :class:`AlertBook` on ``ledger``."""
        book = AlertBook(
            ledger,
            escalate_after=timedelta(minutes=settings.escalate_minutes),
            escalate_max=settings.escalate_max,
            snooze_max=timedelta(hours=settings.snooze_max_hours),
            audit=audit,
        )
        return cls(
            settings,
            channels_from_settings(settings, client=client),
            clock=clock,
            book=book,
            metrics=AlertMetrics(registry),
            raise_alert=raise_alert,
            **kwargs,
        )

    @property
    def channels(self) -> list[str]:
        return [w.name for w in self.workers]

    # -- lifecycle -----------------------------------------------------------------------------------
    async def start(self, bus: Bus | None = None) -> None:
        """Load the book, start the channel workers and, given a bus, read ``events/alert``."""
        if self.started:
            return
        if self.book is not None:
            await self.book.load()
            self._gauge()
        for worker in self.workers:
            worker.start()
        if bus is not None:
            self._sub = bus.subscribe(topics.EVENT_ALERT)
            wait = getattr(bus, "wait_subscribed", None)
            if wait is not None:
                await wait(self._sub)
            self._tasks.append(asyncio.create_task(self._read(self._sub), name="alert-notifier"))
        if self.housekeeping_interval:
            self._tasks.append(asyncio.create_task(self._housekeep(self.housekeeping_interval), name="alert-book"))
        self.started = True

    async def stop(self, drain: float = 5.0) -> None:
        """Stop reading, give queued notifications up to ``drain`` seconds, close the channels."""
        if not self.started:
            return
        self.started = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._sub is not None:
            await self._sub.close()
            self._sub = None
        if self.book is not None:
            try:
                await self.book.flush(self.clock.now())
            except Exception:  # counts of repeats are lost at worst; the stop goes on
                log.exception("could not write the alert book")
        await asyncio.gather(*(w.stop(drain) for w in self.workers))

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def wait_idle(self) -> None:
        """Until the bus backlog is read and every queued notification delivered or given up."""
        while True:
            for worker in self.workers:
                await worker.join()
            reading = self._sub is not None and (self._sub.pending() > 0 or self._handling)
            if not reading and all(w.queue.empty() and not w.busy for w in self.workers):
                return
            await asyncio.sleep(0)

    # -- intake --------------------------------------------------------------------------------------
    async def _read(self, sub: Subscription) -> None:
        async for delivery in sub:
            self._handling = True
            try:
                message = delivery.envelope
                if message.type != "alert":
                    continue
                alert = message.parsed(Alert)
                await self.notify(alert, env=message.env, run_id=message.run_id)
            except ValidationError:
                log.warning("ignored a malformed alert %s", delivery.envelope.id)
            except Exception:  # the reader never dies on one alert
                log.exception("alert %s could not be handled", delivery.envelope.id)
            finally:
                self._handling = False

    async def notify(self, alert: Alert, *, env: str | None = None, run_id: str = "") -> bool:
        """Take one alert through book, gate, snooze and folding; True when queued on a channel."""
        now = self.clock.now()
        await self._flush(now)
        if self.book is not None:
            await self.book.record(alert, now)
            self._gauge()
        note = Notification.of(alert, env=self.env if env is None else env, run_id=run_id)
        if not self.settings.passes(alert.action, alert.severity):
            self.metrics.suppressed.labels(reason="below_severity").inc()
            return False
        if self.book is not None and self.book.snoozed(alert.action, alert.message, now):
            self.metrics.suppressed.labels(reason="snoozed").inc()
            return False
        folded = self.folder.offer(note, now)
        if folded is None:
            self.metrics.suppressed.labels(reason="duplicate").inc()
            return False
        return await self._dispatch(folded)

    async def _flush(self, now: datetime) -> None:
        for note in self.folder.due(now):
            if self.book is not None and self.book.snoozed(note.action, note.alert.message, now):
                self.metrics.suppressed.labels(reason="snoozed").inc()
                continue
            await self._dispatch(note)

    async def _dispatch(self, note: Notification) -> bool:
        queued = False
        failed_channel = note.alert.details.get("channel") if note.action == CHANNEL_FAILED else None
        for worker in self.workers:
            if worker.name == failed_channel:
                continue  # a report about a channel goes on the others
            if worker.offer(note):
                queued = True
            else:
                await self._channel_failed(worker.name, note, "queue full: the channel is not keeping up")
        return queued

    # -- failures ------------------------------------------------------------------------------------
    async def _channel_failed(self, channel: str, note: Notification, error: str) -> None:
        self.metrics.channel_failures.labels(channel=channel).inc()
        log.error("alert channel %s could not deliver %s %s: %s", channel, note.action, note.alert.id, error)
        if note.action == CHANNEL_FAILED:
            return  # a report about a failing channel is never itself reported: no recursion
        now = self.clock.now()
        last = self._reported.get(channel)
        if last is not None and now - last < self.settings.dedupe_window:
            return  # reported already within the window: the metric and the log carry the rest
        self._reported[channel] = now
        message = f"alert channel {channel} is failing: its notifications are not delivered"
        details = {
            "channel": channel,
            "error": error[:500],
            "failed_alert_id": note.alert.id,
            "failed_action": note.action,
        }
        if self.raise_alert is not None and self._sub is not None:
            try:
                await self.raise_alert(CHANNEL_FAILED, "error", message, source=ACTOR, details=details)
                return  # it comes back through the bus reader, audited like any alert
            except Exception:
                log.exception("could not raise %s; sending it directly", CHANNEL_FAILED)
        alert = Alert(
            id=new_id(),
            action=CHANNEL_FAILED,
            severity="error",
            message=message,
            source=ACTOR,
            ts=now,
            details=details,
        )
        await self.notify(alert)

    # -- lifecycle of alerts -------------------------------------------------------------------------
    async def housekeeping(self) -> None:
        """Send folded repeats that are due, escalate unacknowledged alerts, forget old records."""
        now = self.clock.now()
        await self._flush(now)
        if self.book is None:
            return
        for record in self.book.due(now):
            record = await self.book.escalated(record, now)
            self.metrics.escalations.labels(action=record.action).inc()
            note = Notification(
                _as_alert(record),
                record.current_severity,
                kind="escalation",
                count=record.count,
                first_seen=record.raised_at,
                last_seen=record.last_seen,
                escalation=record.escalations,
                env=self.env,
            )
            if self.settings.passes(record.action, note.severity):
                await self._dispatch(note)
            else:
                self.metrics.suppressed.labels(reason="below_severity").inc()
        await self.book.flush(now)
        self.book.prune(now)
        self._gauge()

    async def _housekeep(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.housekeeping()
            except Exception:
                log.exception("alert housekeeping failed")

    async def ack(self, alert_id: str, operator: str) -> AlertRecord:
        """Acknowledge an alert (see :meth:`AlertBook.ack`)."""
        record = await self._require_book().ack(alert_id, operator, self.clock.now())
        self._gauge()
        return record

    async def snooze(self, alert_id: str, until: datetime, operator: str) -> AlertRecord:
        """Snooze an alert until ``until`` (see :meth:`AlertBook.snooze`)."""
        return await self._require_book().snooze(alert_id, until, operator, self.clock.now())

    def _require_book(self) -> AlertBook:
        if self.book is None:
            raise RuntimeError("this notifier keeps no alert book")
        return self.book

    def _gauge(self) -> None:
        if self.book is not None:
            self.metrics.unacknowledged.set(len(self.book.watched()))


def _as_alert(record: AlertRecord) -> Alert:
    return Alert(
        id=record.id,
        action=record.action,
        severity=record.severity,
        message=record.message,
        source=record.source,
        ts=record.raised_at,
        details=record.details,
        needs_ack=record.needs_ack,
    )
