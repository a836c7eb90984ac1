"""The kill switch: any of the three kill topics, or an operator, halts the runtime.

Order of work, fastest protection first: persist HALTED with the incident (one SQLite transaction), broadcast
the retained state, tell every agent to reach a safe state (the execution agent cancels every open order),
then write the incident's forensic snapshot under ``<home>/incidents/<id>/`` and raise a critical alert.
A kill switch that arrives while HALTED is added to the open incident; a halt is never opened twice.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from runtime import topics
from runtime.agent import SafeState
from runtime.consumer import Consumer
from runtime.messages import Envelope, RejectedMessage
from runtime.payloads import KillSwitch as KillSwitchPayload
from runtime.state import RuntimeState
from storage.artifacts import write_incident
from storage.records import Incident

if TYPE_CHECKING:
    from runtime.runtime import Runtime

log = logging.getLogger(__name__)

CONSUMER = "runtime.kill_switch"


class KillSwitch:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self._consumer: Consumer | None = None

    async def start(self) -> None:
        self._consumer = Consumer(
            self.rt.bus,
            topics.KILL_SWITCH_TOPICS,
            self.handle,
            name="kill-switch",
            on_error=self.rt.metrics.errors.labels(component="kill_switch").inc,
        )
        await self._consumer.start()

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def handle(self, topic: str, message: Envelope) -> None:
        if message.type != "kill_switch":
            self.rt.bus.reject(topic, RejectedMessage("unexpected_type", f"{message.type} on a kill-switch topic"))
            return
        if not await self.rt.books.claim_message(CONSUMER, message.id, self.rt.clock.now()):
            return  # QoS 1 redelivery: already handled
        payload = message.parsed(KillSwitchPayload)
        source = topic.replace("/", ".")
        actor = payload.operator or message.source
        await self.trip(source=source, reason=payload.reason, metrics=payload.metrics, actor=actor)

    async def trip(self, *, source: str, reason: str, metrics: dict[str, Any], actor: str) -> Incident:
        rt = self.rt
        rt.metrics.kill_switches.labels(source=source).inc()
        trigger = {
            "source": source,
            "reason": reason,
            "metrics": metrics,
            "actor": actor,
            "ts": rt.clock.now().isoformat(),
        }
        async with rt._state_lock:
            existing = await rt.open_incident() if rt.state == RuntimeState.HALTED else None
            if existing is not None:
                await rt.books.add_incident_trigger(existing.id, trigger)
                await rt.audit("kill_switch.repeat", {"incident_id": existing.id, **trigger}, actor)
                return existing
            incident = Incident(
                id=new_incident_id(rt),
                opened_at=rt.clock.now(),
                source=source,
                reason=reason,
                payload={"metrics": metrics, "actor": actor, "state_before": rt.state.value},
                status="open",
                run_id=rt.run_id,
            )
            await rt._transition(
                RuntimeState.HALTED, reason=f"kill switch ({source}): {reason}", actor=actor, incident=incident
            )
        safe = await self._safe_states(reason=f"kill switch {incident.id}: {reason}")
        still_open = await rt.books.open_orders()
        await self._write_forensics(incident, safe, still_open_ids=[o.client_order_id for o in still_open])
        severity_note = "" if not still_open else f"; {len(still_open)} order(s) still open: manual intervention"
        await rt.alert(
            "runtime_kill_switch",
            "critical",
            f"HALTED by kill switch ({source}): {reason} [incident {incident.id}]{severity_note}",
            details={"incident_id": incident.id, "source": source, "metrics": metrics},
        )
        await rt.flush_audit_head()
        return incident

    async def _safe_states(self, *, reason: str) -> dict[str, SafeState]:
        rt = self.rt

        async def one(agent_name: str) -> SafeState:
            agent = rt.registry.get(agent_name)
            assert agent is not None
            try:
                async with asyncio.timeout(rt.settings.safe_state_timeout):
                    return await agent.safe_state(reason)
            except TimeoutError:
                return SafeState(False, f"no answer within {rt.settings.safe_state_timeout:g}s")
            except Exception as exc:
                log.exception("agent %s failed to reach a safe state", agent_name)
                return SafeState(False, f"error: {exc}")

        names = [a.name for a in rt.registry]
        results = await asyncio.gather(*(one(n) for n in names))
        states = dict(zip(names, results, strict=True))
        await rt.heartbeats.publish_all(status="safe")
        await rt.audit(
            "kill_switch.safe_state",
            {name: {"safe": s.safe, "detail": s.detail, "cancelled": s.cancelled_orders} for name, s in states.items()},
            "runtime",
        )
        return states

    async def _write_forensics(self, incident: Incident, safe: dict[str, SafeState], still_open_ids: list[str]) -> None:
        rt = self.rt
        books = await rt.books.books()
        open_orders = await rt.books.open_orders()
        recent_orders = await rt.books.orders(limit=50)
        tail = rt.audit_log.tail(50) if rt.audit_log is not None else []
        from runtime.health import health_report

        snapshot = {
            "incident": {
                "id": incident.id,
                "opened_at": incident.opened_at.isoformat(),
                "source": incident.source,
                "reason": incident.reason,
                "run_id": incident.run_id,
                "env": rt.env,
            },
            "metrics": incident.payload.get("metrics", {}),
            "positions": {s: asdict(p) for s, p in books.positions.items()},
            "account": asdict(books.account),
            "nav": books.nav,
            "open_orders_after_cancel": [_order(o) for o in open_orders],
            "recent_orders": [_order(o) for o in recent_orders],
            "still_open": still_open_ids,
            "agents_safe_state": {n: asdict(s) for n, s in safe.items()},
            "health": await health_report(rt),
            "audit_tail": tail,
        }
        await asyncio.to_thread(write_incident, rt.home, incident.id, snapshot)


def _order(order: Any) -> dict[str, Any]:
    data = asdict(order)
    for key in ("created_at", "updated_at"):
        if data.get(key) is not None:
            data[key] = data[key].isoformat()
    return data


def new_incident_id(rt: Runtime) -> str:
    return f"INC-{rt.clock.now().strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2).upper()}"
