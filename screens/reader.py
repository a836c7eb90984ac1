"""The one bus reader: connects (and keeps retrying), subscribes once, turns deliveries into typed messages.

It runs as a Textual worker in the app's event loop and only *posts* messages; it never touches a widget.
:func:`translate` is pure (a delivery in, a message or None out), so it is tested without a terminal. A
payload another package publishes as a dict is read defensively: a malformed one is counted and skipped,
never allowed to end the reader.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from textual.message import Message

from runtime import topics
from runtime.bus import Bus, BusError, ConnectionStatus, Delivery
from runtime.clock import Clock
from runtime.payloads import Alert, AuditEvent, Heartbeat, Presence, StateChanged, TickReport
from screens.format import number
from screens.messages import (
    AlertRaised,
    AuditAppended,
    BacktestProgressed,
    BusMessage,
    ConnectionChanged,
    FillReceived,
    HealthUpdated,
    HeartbeatUpdated,
    MarketUpdated,
    PortfolioUpdated,
    PresenceChanged,
    TickCompleted,
    WeightsUpdated,
)
from screens.messages import StateChanged as StateMessage
from screens.store import Connection

log = logging.getLogger(__name__)

EVENT_BACKTEST = topics.EVENT_BACKTEST  # progress of backtest runs: {run_id, progress 0..1, status, metrics?}
AGENTS = "state/agents/+"
TOPICS = (
    topics.STATE_RUNTIME,
    topics.STATE_CONNECTION,
    topics.STATE_PORTFOLIO,
    topics.STATE_HEALTH,
    AGENTS,
    topics.EVENT_TICK,
    topics.EVENT_ALERT,
    topics.EVENT_AUDIT,
    topics.STRATEGY_FEEDBACK,
    topics.MARKET_SNAPSHOT,
    topics.EXECUTION_FILL,
    EVENT_BACKTEST,
)
YIELD_EVERY = 200  # let the UI breathe during a burst (a reconnect replays every retained message)
RETRY_MAX = 30.0


def translate(delivery: Delivery) -> BusMessage | None:
    """The typed message for one delivery, or None for traffic the cockpit does not show.

    Raises:
        ValueError: a payload that does not have the shape its topic promises.
    """
    topic, env = delivery.topic, delivery.envelope
    ts, kind, p = env.ts, env.type, env.payload
    if topic == topics.STATE_RUNTIME and kind == "runtime.state":
        return StateMessage(StateChanged.model_validate(p), ts)
    if topic == topics.STATE_CONNECTION and kind == "presence":
        return PresenceChanged(Presence.model_validate(p), ts)
    if topics.matches(AGENTS, topic) and kind == "heartbeat":
        return HeartbeatUpdated(Heartbeat.model_validate(p), ts)
    if topic == topics.STATE_PORTFOLIO:
        return PortfolioUpdated(dict(p), ts)
    if topic == topics.STATE_HEALTH:
        return HealthUpdated(dict(p), ts)
    if topic == topics.EVENT_TICK and kind == "tick":
        return TickCompleted(TickReport.model_validate(p), ts)
    if topic == topics.EVENT_ALERT and kind == "alert":
        return AlertRaised(Alert.model_validate(p), ts)
    if topic == topics.EVENT_AUDIT and kind == "audit.event":
        return AuditAppended(AuditEvent.model_validate(p), ts, env.tick_id)
    if topic == topics.STRATEGY_FEEDBACK:
        return WeightsUpdated(_floats(p.get("weights")), _floats(p.get("penalties")), str(p.get("as_of", "")), ts)
    if topic == topics.MARKET_SNAPSHOT:
        keep = ("as_of", "provider", "quarantined", "impacted_signals")
        return MarketUpdated({k: p[k] for k in keep if k in p} | {"symbols": len(p.get("prices") or {})}, ts)
    if topic == topics.EXECUTION_FILL:
        return FillReceived(dict(p), ts)
    if topic == EVENT_BACKTEST:
        return _backtest(p, ts)
    return None


def _floats(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        return {}
    out = {}
    for key, raw in value.items():
        v = number(raw)
        if v is not None:
            out[str(key)] = v
    return out


def _backtest(p: dict[str, Any], ts: datetime) -> BacktestProgressed:
    run_id = p.get("run_id")
    if not isinstance(run_id, str) or not run_id:
        raise ValueError("a backtest event needs a run_id")
    progress = number(p.get("progress")) or 0.0
    metrics = p.get("metrics")
    return BacktestProgressed(
        run_id,
        min(1.0, max(0.0, progress)),
        str(p.get("status") or "running"),
        dict(metrics) if isinstance(metrics, dict) else None,
        ts,
        str(p.get("message") or ""),
    )


class BusReader:
    """Connects ``bus`` (retrying with back-off until it answers), then reads every cockpit topic.

    Args:
        bus: The cockpit's own bus client (not started yet).
        clock: The injected clock: connection times shown to the operator come from it.
        post: Where messages go (the app's ``post_message``).
        retry: First delay between connection attempts; doubles up to :data:`RETRY_MAX`.
    """

    def __init__(self, bus: Bus, clock: Clock, post: Callable[[Message], object], *, retry: float = 1.0) -> None:
        self.bus = bus
        self.clock = clock
        self.post = post
        self.retry = retry
        self.ignored = 0
        self.read = 0
        self._connection = Connection("disconnected", clock.now())

    def _announce(self, state: str, attempts: int = 0, error: str = "") -> None:
        current = self._connection
        since = current.since if state != "connected" and current.state != "connected" else self.clock.now()
        if state == current.state == "connected":
            return
        self._connection = Connection(state, since, attempts, error)  # type: ignore[arg-type]
        self.post(ConnectionChanged(self._connection))

    def _on_status(self, status: ConnectionStatus) -> None:
        self._announce(status.state, status.attempts, status.error)

    async def connect(self) -> None:
        """Start the bus, retrying until it connects (the MQTT backend then reconnects by itself)."""
        self.bus.on_connection_change(self._on_status)
        attempt = 0
        delay = self.retry
        while True:
            try:
                await self.bus.start()
                self._announce("connected")
                return
            except BusError as exc:
                attempt += 1
                self._announce("reconnecting", attempt, str(exc))
                await asyncio.sleep(delay)
                delay = min(RETRY_MAX, delay * 2)

    async def run(self) -> None:
        """Connect, subscribe, and post a message per delivery until cancelled."""
        await self.connect()
        sub = self.bus.subscribe(*TOPICS)
        try:
            async for delivery in sub:
                try:
                    message = translate(delivery)
                except ValueError as exc:  # pydantic's ValidationError is a ValueError
                    self.ignored += 1
                    log.warning("cockpit ignored a %s message on %s: %s", delivery.envelope.type, delivery.topic, exc)
                    continue
                if message is not None:
                    self.read += 1
                    self.post(message)
                    if self.read % YIELD_EVERY == 0:
                        await asyncio.sleep(0)
        finally:
            await sub.close()
