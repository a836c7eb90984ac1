"""What the runtime hands each agent: the bus, the ledger, the clock and a few well-made helpers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from runtime.bus import Bus
from runtime.clock import Clock
from runtime.messages import Envelope, make, utcnow
from runtime.metrics import RuntimeMetrics
from runtime.payloads import Severity
from runtime.state import RuntimeState
from storage.ledger import Ledger


@dataclass
class AgentContext:
    """Per-agent view of the runtime. ``source`` is the agent's name, stamped on what it publishes."""

    source: str
    bus: Bus
    ledger: Ledger
    clock: Clock
    metrics: RuntimeMetrics
    home: Path
    run_id: str
    env: str
    state: Callable[[], RuntimeState]
    audit: Callable[[str, dict[str, Any], str, str | None], Awaitable[None]]
    raise_alert: Callable[..., Awaitable[Any]]
    change_state: Callable[..., Awaitable[Any]]

    def envelope(
        self,
        type_name: str,
        payload: BaseModel | dict[str, Any],
        tick_id: str | None = None,
        *,
        ts: datetime | None = None,
    ) -> Envelope:
        return make(type_name, payload, source=self.source, run_id=self.run_id, env=self.env, tick_id=tick_id, ts=ts)

    async def publish(
        self,
        topic: str,
        type_name: str,
        payload: BaseModel | dict[str, Any],
        *,
        tick_id: str | None = None,
        retain: bool = False,
    ) -> Envelope | None:
        """Publish ``payload`` on ``topic``; returns the message, or ``None`` when no one could receive it (an
        in-process bus with no subscriber to the topic, see :meth:`runtime.bus.Bus.wants`) and nothing was built.
        Retained messages are always published: a later subscriber gets them. A retained frozen model goes through
        :meth:`runtime.bus.Bus.publish_retained` (``None`` is returned): the in-process bus builds it only when
        someone reads it, stamped with the time of this call."""
        if not retain and not self.bus.wants(topic):
            return None
        if retain and isinstance(payload, BaseModel) and payload.model_config.get("frozen"):
            # a frozen state (the portfolio, every tick): the bus may build it only when someone reads it
            ts = utcnow()
            await self.bus.publish_retained(topic, lambda: self.envelope(type_name, payload, tick_id, ts=ts))
            return None
        message = self.envelope(type_name, payload, tick_id)
        await self.bus.publish(topic, message, retain=retain)
        return message

    async def record(self, event: str, data: dict[str, Any], tick_id: str | None = None) -> None:
        """Write an audit line in this agent's name."""
        await self.audit(event, data, self.source, tick_id)

    async def alert(
        self,
        action: str,
        severity: Severity,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        needs_ack: bool = False,
    ) -> None:
        await self.raise_alert(
            action, severity, message, source=self.source, details=details or {}, needs_ack=needs_ack
        )

    async def set_state(self, state: RuntimeState, reason: str) -> None:
        """Move the runtime (PAUSED, REDUCING, DEGRADED, RUNNING) in this agent's name; HALTED only through the
        kill switch (publish on ``risk.kill_switch`` etc.), and nothing here leaves HALTED."""
        await self.change_state(state, reason=reason, actor=self.source)

    async def kill_switch(self, topic: str, reason: str, metrics: dict[str, Any] | None = None) -> Envelope:
        """Publish a kill switch on one of the runbook's kill topics (``runtime.topics.KILL_SWITCH_TOPICS``)."""
        from runtime.payloads import KillSwitch

        message = self.envelope("kill_switch", KillSwitch(reason=reason, metrics=metrics or {}))
        await self.bus.publish(topic, message)  # always sent: the runtime's kill switch listens on every bus
        return message

    @property
    def trading_allowed(self) -> bool:
        """False once the runtime left RUNNING/REDUCING (a halt mid-tick stops order sending at once)."""
        return self.state().trades
