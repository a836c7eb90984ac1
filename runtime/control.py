"""Operator control: ``control/<operator>/<verb>`` requests and their replies.

The operator's identity is the topic segment (a broker ACL such as mosquitto's
``pattern write agenthedge/+/control/%u/#`` makes the broker vouch for it); a payload that claims another
name is refused. The same :meth:`ControlService.execute` serves the daemon, the in-process CLI and the cockpit.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from runtime import topics
from runtime.bus import Bus
from runtime.consumer import Consumer
from runtime.errors import Refused
from runtime.health import health_report
from runtime.messages import Envelope, RejectedMessage, make
from runtime.payloads import ControlReply, ControlRequest
from runtime.signoff import ResumeRequest

if TYPE_CHECKING:
    from runtime.runtime import Runtime

log = logging.getLogger(__name__)

CONSUMER = "runtime.control"
BUILT_IN = frozenset({"pause", "resume", "kill", "run_once", "status", "health"})
STATE_CHANGING = frozenset({"pause", "resume", "kill", "run_once"})
Handler = Callable[[str, str, ControlRequest], Awaitable[ControlReply]]


async def status_report(rt: Runtime) -> dict[str, Any]:
    record = rt.record
    incident = await rt.open_incident()
    books = await rt.books.books()
    open_orders = await rt.books.open_orders()
    return {
        "state": rt.state.value,
        "reason": record.reason if record else "",
        "actor": record.actor if record else "",
        "since": record.since.isoformat() if record else None,
        "incident": {
            "id": incident.id,
            "reason": incident.reason,
            "source": incident.source,
            "opened_at": incident.opened_at.isoformat(),
        }
        if incident
        else None,
        "run_id": rt.run_id,
        "env": rt.env,
        "ticks": rt._tick_seq,
        "nav": books.nav,
        "cash": books.account.cash,
        "positions": len(books.positions),
        "open_orders": len(open_orders),
        "operators": rt.settings.operators,
        "resume_approvers": rt.settings.resume_approvers,
    }


class ControlService:
    """Executes operator commands against a runtime; on a bus it answers ``control/+/+`` requests."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self._consumer: Consumer | None = None
        self._handlers: dict[str, Handler] = {}
        self._state_changing: set[str] = set(STATE_CHANGING)

    def register(self, verb: str, handler: Handler, *, changes_state: bool = True) -> None:
        """Serve another verb (``ack``, ``snooze``, ``backtest``, ...) with ``handler(operator, verb, request)``.

        A state-changing verb is deduplicated by message id like the built-in ones.
        """
        if verb in BUILT_IN or verb in self._handlers:
            raise ValueError(f"control verb {verb!r} is already served")
        if not topics.valid_segment(verb):
            raise ValueError(f"{verb!r} cannot be a topic segment")
        self._handlers[verb] = handler
        if changes_state:
            self._state_changing.add(verb)

    @property
    def verbs(self) -> list[str]:
        return sorted(BUILT_IN | set(self._handlers))

    async def execute(self, operator: str, verb: str, request: ControlRequest) -> ControlReply:
        rt = self.rt
        handler = self._handlers.get(verb)
        if handler is not None:
            if request.operator is not None and request.operator != operator:
                return ControlReply(
                    ok=False,
                    verb=verb,
                    message=f"the request claims operator {request.operator!r} but was sent as {operator!r}",
                )
            try:
                return await handler(operator, verb, request)
            except Refused as exc:
                return ControlReply(ok=False, verb=verb, message=exc.reason)
        try:
            if request.operator is not None and request.operator != operator:
                raise Refused(verb, f"the request claims operator {request.operator!r} but was sent as {operator!r}")
            if verb == "pause":
                record = await rt.pause(operator, request.reason)
                return ControlReply(ok=True, verb=verb, message=f"PAUSED by {operator}", data=_record(record))
            if verb == "resume":
                ask = ResumeRequest(operator, request.reason, request.incident_id, request.approver)
                record = await rt.resume(ask)
                return ControlReply(
                    ok=True, verb=verb, message=f"RUNNING again, signed off by {operator}", data=_record(record)
                )
            if verb == "kill":
                if not request.reason.strip():
                    raise Refused(verb, "a reason is required for the kill switch")
                incident = await rt.kill(source="operator", reason=request.reason, actor=operator)
                return ControlReply(
                    ok=True, verb=verb, message=f"HALTED: incident {incident.id}", data={"incident_id": incident.id}
                )
            if verb == "run_once":
                outcome = await rt.run_once()
                ok = outcome.status == "completed"
                message = f"tick {outcome.tick.id} {outcome.status}" + (f": {outcome.reason}" if outcome.reason else "")
                data = {
                    "tick_id": outcome.tick.id,
                    "status": outcome.status,
                    "reason": outcome.reason,
                    "duration_ms": outcome.duration_ms,
                    "stages": outcome.stages,
                }
                return ControlReply(ok=ok, verb=verb, message=message, data=data)
            if verb == "status":
                return ControlReply(ok=True, verb=verb, message=rt.state.value, data=await status_report(rt))
            if verb == "health":
                report = await health_report(rt)
                return ControlReply(
                    ok=report["healthy"],
                    verb=verb,
                    message="healthy" if report["healthy"] else "; ".join(report["problems"]),
                    data=report,
                )
            raise Refused(verb, f"unknown command {verb!r} (known: {', '.join(self.verbs)})")
        except Refused as exc:
            return ControlReply(ok=False, verb=verb, message=exc.reason)

    # -- on the bus ----------------------------------------------------------------------------------
    async def start(self) -> None:
        self._consumer = Consumer(
            self.rt.bus,
            (topics.CONTROL_ALL,),
            self._handle,
            name="control",
            on_error=self.rt.metrics.errors.labels(component="control").inc,
        )
        await self._consumer.start()

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def _handle(self, topic: str, message: Envelope) -> None:
        rt = self.rt
        parts = topic.split("/")
        if message.type != "control.request" or len(parts) != 3:
            rt.bus.reject(topic, RejectedMessage("unexpected_type", f"{message.type} on {topic}"))
            return
        _, operator, verb = parts
        if verb in self._state_changing and not await rt.books.claim_message(CONSUMER, message.id, rt.clock.now()):
            reply = ControlReply(ok=True, verb=verb, message="duplicate of a request already handled")
        else:
            reply = await self.execute(operator, verb, message.parsed(ControlRequest))
        await rt.audit(
            "control.command",
            {"verb": verb, "ok": reply.ok, "message": reply.message, "request_id": message.id},
            operator,
        )
        await rt.bus.reply(message, make("control.reply", reply, source="runtime", run_id=rt.run_id, env=rt.env))


class ControlClient:
    """Sends operator commands to a daemon over the bus and returns its reply."""

    def __init__(self, bus: Bus, operator: str, *, source: str = "cli") -> None:
        if not topics.valid_segment(operator):
            raise ValueError(f"operator {operator!r} may only use letters, digits, '.', '-' and '_'")
        self.bus = bus
        self.operator = operator
        self.source = source

    async def send(self, verb: str, request: ControlRequest | None = None, *, timeout: float = 10.0) -> ControlReply:
        body = request or ControlRequest()
        message = make("control.request", body, source=self.source, env=self.bus.env)
        answer = await self.bus.request(topics.control(self.operator, verb), message, timeout=timeout)
        return answer.parsed(ControlReply)


def _record(record: Any) -> dict[str, Any]:
    data = asdict(record)
    data["since"] = record.since.isoformat()
    return data
