"""Liveness on the bus: the runtime's presence (with a last will) and each agent's retained heartbeat."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import TYPE_CHECKING, Literal

from runtime import topics
from runtime.messages import Envelope, make
from runtime.payloads import Heartbeat, Presence

if TYPE_CHECKING:
    from runtime.runtime import Runtime

log = logging.getLogger(__name__)

Status = Literal["starting", "ok", "error", "safe", "stopped", "offline"]


def presence(rt: Runtime, *, online: bool) -> Envelope:
    payload = Presence(
        online=online,
        client_id=rt.client_id,
        pid=os.getpid(),
        host=socket.gethostname(),
        started=rt.clock.now(),
        run_id=rt.run_id,
    )
    return make("presence", payload, source="runtime", run_id=rt.run_id, env=rt.env)


class Heartbeats:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    async def publish_all(self, status: Status | None = None) -> None:
        for agent in self.rt.registry:
            health = agent.health()
            beat = Heartbeat(
                name=agent.name,
                stage=agent.stage.value,
                version=agent.version,
                status=status or ("ok" if health.ok else "error"),
                ts=self.rt.clock.now(),
                last_tick_id=agent.last_tick_id,
                last_tick_ms=agent.last_tick_ms,
                errors=agent.errors,
                detail=health.detail,
            )
            message = make("heartbeat", beat, source=agent.name, run_id=self.rt.run_id, env=self.rt.env)
            try:
                await self.rt.bus.publish(topics.state_agent(agent.name), message, retain=True, qos=0)
            except Exception:
                log.debug("heartbeat for %s not sent", agent.name, exc_info=True)

    async def run(self) -> None:
        while True:
            await self.publish_all()
            await asyncio.sleep(self.rt.settings.heartbeat_interval)
