"""The runtime: hosts the agents, runs ticks, owns the state machine and its persistence.

Every transition is persisted in SQLite *before* it is broadcast (retained on ``state/runtime``) and
audited. The kill switch lives in :mod:`runtime.halt`, control over the bus in :mod:`runtime.control`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from runtime import topics
from runtime.agent import AgentRegistry, Tick
from runtime.bus import Bus, Will, create_bus
from runtime.clock import Clock, WallClock
from runtime.context import AgentContext
from runtime.errors import Refused
from runtime.halt import KillSwitch
from runtime.lock import HomeLock
from runtime.messages import make, new_id
from runtime.metrics import LiveFigures, RuntimeMetrics
from runtime.payloads import Alert, AuditEvent, Presence, Severity, StateChanged, TickReport
from runtime.pipeline import TickOutcome, run_pipeline
from runtime.presence import Heartbeats, presence
from runtime.settings import CoreSettings, RuntimeSettings
from runtime.signoff import ResumeRequest, check_resume
from runtime.state import RuntimeState, allowed
from storage.audit import AuditLog
from storage.ledger import Ledger
from storage.records import Incident, SignOff, StateRecord

log = logging.getLogger(__name__)

SYSTEM = "runtime"


def new_run_id(clock: Clock) -> str:
    return f"run-{clock.now().strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(2)}"


class Runtime:
    """One runtime per home. ``async with Runtime(...)`` starts and stops it."""

    def __init__(
        self,
        core: CoreSettings,
        settings: RuntimeSettings,
        registry: AgentRegistry | None = None,
        *,
        clock: Clock | None = None,
        bus: Bus | None = None,
        metrics: RuntimeMetrics | None = None,
        client_id: str | None = None,
    ) -> None:
        self.core = core
        self.settings = settings
        self.registry = registry or AgentRegistry()
        self.clock: Clock = clock or WallClock()
        self.metrics = metrics or RuntimeMetrics()
        self.home = core.home
        self.env = core.env
        self.run_id = new_run_id(self.clock)
        self.client_id = client_id or f"agenthedge-{core.env}-runtime"
        offline = make("presence", Presence(online=False, client_id=self.client_id), source=SYSTEM, env=core.env)
        self.bus = bus or create_bus(
            core.bus, core.env, client_id=self.client_id, will=Will(topics.STATE_CONNECTION, offline)
        )
        self._own_bus = bus is None
        self.ledger: Ledger | None = None
        self.audit_log: AuditLog | None = None
        self.record: StateRecord | None = None
        self.kill_switch = KillSwitch(self)
        self.heartbeats = Heartbeats(self)
        self._state_lock = asyncio.Lock()
        self._tick_lock = asyncio.Lock()
        self._tick_seq = 0
        self._audit_head: tuple[int, str] | None = None
        self._audit_head_saved: tuple[int, str] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.started = False
        self._announce_on_start = True
        self.lock = HomeLock(core.home)

    # -- lifecycle -----------------------------------------------------------------------------------
    async def start(self, role: str = "runtime", *, announce: bool = True) -> None:
        """Take the home (one runtime per home: raises :class:`runtime.lock.HomeLocked`), open storage,
        connect, restore the persisted state and start the agents.

        ``announce=False`` leaves the retained presence to :meth:`announce`, for a host (the daemon) that starts
        its control service afterwards: clients treat "online" as "ready for control requests".
        """
        self._announce_on_start = announce
        self.home.mkdir(parents=True, exist_ok=True)
        self.lock.acquire(role)
        try:
            await self._start()
        except BaseException:
            await self._abort_start()
            raise

    async def _abort_start(self) -> None:
        await self._close_storage()

    async def _close_storage(self) -> None:
        """Close the bus (if ours), the ledger and the audit log, then give the home back."""
        if self._own_bus:
            await self.bus.close()
        if self.ledger is not None:
            await self.ledger.close()
            self.ledger = None
        if self.audit_log is not None:
            self.audit_log.close()
            self.audit_log = None
        self.lock.release()

    async def _start(self) -> None:
        durable = self.settings.durable
        self.ledger = await Ledger.open(self.home / "ledger.sqlite", durable=durable)
        self.audit_log = AuditLog(
            self.home / "audit" / "runtime_events.jsonl",
            run_id=self.run_id,
            env=self.env,
            clock=self.clock.now,
            durable=durable,
        )
        if self._own_bus or not self.bus.connected:
            await self.bus.start()
        self.record = await self.ledger.state()
        if self.record is None:
            await self._transition(RuntimeState.RUNNING, reason="first start", actor=SYSTEM)
        else:
            await self._broadcast(self.record, previous=self.record.state)
        self.metrics.bind(
            LiveFigures(
                bus=lambda: self.bus.stats,
                state=lambda: self.state,
                kill_switch_active=lambda: self.state == RuntimeState.HALTED,
            )
        )
        await self.audit("runtime.started", {"state": self.state.value, "bus": self.core.bus_display}, SYSTEM)
        for agent in self.registry:
            await agent.start(self.agent_context(agent.name))
        await self.kill_switch.start()
        if self._announce_on_start:
            await self.announce()
        self._tasks.append(asyncio.create_task(self.heartbeats.run(), name="heartbeats"))
        self.started = True

    async def announce(self) -> None:
        """Publish the retained "online" presence (its last will says "offline")."""
        await self.bus.publish(topics.STATE_CONNECTION, presence(self, online=True), retain=True)

    async def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.kill_switch.stop()
        for agent in self.registry:
            try:
                await agent.stop()
            except Exception:
                log.exception("agent %s failed to stop", agent.name)
        await self.heartbeats.publish_all(status="stopped")
        await self.bus.publish(topics.STATE_CONNECTION, presence(self, online=False), retain=True)
        await self.audit("runtime.stopped", {"state": self.state.value}, SYSTEM)
        await self.flush_audit_head()
        await self._close_storage()

    async def __aenter__(self) -> Runtime:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def agent_context(self, name: str) -> AgentContext:
        return AgentContext(
            source=name,
            bus=self.bus,
            ledger=self.books,
            clock=self.clock,
            metrics=self.metrics,
            home=self.home,
            run_id=self.run_id,
            env=self.env,
            state=lambda: self.state,
            audit=self.audit,
            raise_alert=self.alert,
            change_state=self.set_state,
        )

    @property
    def books(self) -> Ledger:
        if self.ledger is None:
            raise RuntimeError("the runtime is not started")
        return self.ledger

    # -- state ---------------------------------------------------------------------------------------
    @property
    def state(self) -> RuntimeState:
        return RuntimeState(self.record.state) if self.record else RuntimeState.RUNNING

    async def _transition(
        self,
        to: RuntimeState,
        *,
        reason: str,
        actor: str,
        incident: Incident | None = None,
        close_incident: tuple[str, str] | None = None,
        signoff: SignOff | None = None,
    ) -> StateRecord:
        """Persist, then broadcast (retained), then audit. Call with ``_state_lock`` held."""
        previous = self.state.value if self.record else "NONE"
        now = self.clock.now()
        done = await self.books.record_transition(
            to.value,
            reason=reason,
            actor=actor,
            ts=now,
            run_id=self.run_id,
            incident=incident,
            close_incident=close_incident,
            signoff=signoff,
        )
        self.record = StateRecord(to.value, reason, actor, now, done.incident_id, done.seq)
        self.metrics.transitions.labels(state=to.value).inc()
        await self._broadcast(self.record, previous=previous)
        data = {"from": previous, "to": to.value, "reason": reason, "incident_id": done.incident_id, "seq": done.seq}
        await self.audit("runtime.transition", data, actor)
        await self.flush_audit_head()
        return self.record

    async def _broadcast(self, record: StateRecord, *, previous: str) -> None:
        payload = StateChanged(
            state=record.state,
            previous=previous,
            reason=record.reason,
            actor=record.actor,
            since=record.since,
            incident_id=record.incident_id,
            seq=record.seq,
            run_id=self.run_id,
        )
        message = make("runtime.state", payload, source=SYSTEM, run_id=self.run_id, env=self.env)
        try:
            await self.bus.publish(topics.STATE_RUNTIME, message, retain=True)
        except Exception:  # the state is persisted; a broadcast retried on the next change or heartbeat
            self.metrics.errors.labels(component="bus").inc()
            log.exception("could not broadcast state %s", record.state)

    async def set_state(self, to: RuntimeState, *, reason: str, actor: str) -> StateRecord:
        """A programmatic move (risk breakers, health SOP). Never leaves HALTED: that needs a sign-off."""
        async with self._state_lock:
            current = self.state
            if to == current:
                return self.record  # type: ignore[return-value]
            if current == RuntimeState.HALTED:
                raise Refused(to.value.lower(), "the runtime is HALTED: only a signed-off resume leaves HALTED")
            if to == RuntimeState.HALTED:
                raise Refused("halt", "use the kill switch to halt")
            if not allowed(current, to):
                raise Refused(to.value.lower(), f"cannot go from {current} to {to}")
            return await self._transition(to, reason=reason, actor=actor)

    async def pause(self, operator: str, reason: str = "") -> StateRecord:
        if not operator.strip():
            await self._refuse("pause", operator, "an operator name is required")
        try:
            return await self.set_state(RuntimeState.PAUSED, reason=reason or f"paused by {operator}", actor=operator)
        except Refused as exc:
            await self._refuse("pause", operator, exc.reason)
            raise

    async def resume(self, request: ResumeRequest) -> StateRecord:
        """Back to RUNNING. From HALTED only with a valid sign-off; every refusal is audited and recorded."""
        async with self._state_lock:
            current = self.state
            incident = await self.open_incident()
            try:
                check_resume(
                    current,
                    request,
                    roster=self.settings.operators,
                    approvers_needed=self.settings.resume_approvers,
                    open_incident=incident,
                )
            except Refused as exc:
                if current == RuntimeState.HALTED:
                    await self.books.record_signoff(self._signoff(request, accepted=False, refusal=exc.reason))
                await self._refuse("resume", request.operator or "", exc.reason, request)
                raise
            operator = (request.operator or "").strip()
            reason = request.reason.strip() or f"resumed by {operator}"
            if current == RuntimeState.HALTED:
                assert incident is not None
                signoff = self._signoff(request, accepted=True)
                return await self._transition(
                    RuntimeState.RUNNING,
                    reason=reason,
                    actor=operator,
                    close_incident=(incident.id, operator),
                    signoff=signoff,
                )
            return await self._transition(RuntimeState.RUNNING, reason=reason, actor=operator)

    def _signoff(self, request: ResumeRequest, *, accepted: bool, refusal: str | None = None) -> SignOff:
        return SignOff(
            ts=self.clock.now(),
            incident_id=request.incident_id,
            operator=request.operator or "",
            approver=request.approver,
            reason=request.reason,
            accepted=accepted,
            refusal=refusal,
        )

    async def _refuse(self, verb: str, operator: str, reason: str, request: ResumeRequest | None = None) -> None:
        data: dict[str, Any] = {"verb": verb, "reason": reason, "state": self.state.value}
        if request is not None:
            data["request"] = {
                "reason": request.reason,
                "incident_id": request.incident_id,
                "approver": request.approver,
            }
        await self.audit("control.refused", data, operator or "unknown")
        await self.flush_audit_head()
        raise Refused(verb, reason)

    async def open_incident(self) -> Incident | None:
        if self.record is None or self.record.incident_id is None:
            return None
        incident = await self.books.incident(self.record.incident_id)
        return incident if incident and incident.status == "open" else None

    async def kill(self, *, source: str, reason: str, metrics: dict[str, Any] | None = None, actor: str) -> Incident:
        """Trip the kill switch: see :class:`runtime.halt.KillSwitch`."""
        return await self.kill_switch.trip(source=source, reason=reason, metrics=metrics or {}, actor=actor)

    # -- ticks ---------------------------------------------------------------------------------------
    async def run_once(self, key: str | None = None) -> TickOutcome:
        """Run one tick now (or say why not). Ticks never overlap.

        ``key`` names the tick for what it is, e.g. the session it trades (``2026-11-24``): a tick re-run after a
        crash then has the same id, so agents recognise work already done (orders already sent). Without a key
        the id is ``<run id>:<seq>``.
        """
        async with self._tick_lock:
            self._tick_seq += 1
            now = self.clock.now()
            tick = Tick(
                id=f"{self.env}:{key}" if key else f"{self.run_id}:{self._tick_seq}",
                seq=self._tick_seq,
                ts=now,
                reducing_only=self.state == RuntimeState.REDUCING,
            )
            if not self.state.trades:
                outcome = TickOutcome(tick, "skipped", f"runtime is {self.state}")
            else:
                outcome = await run_pipeline(
                    tick,
                    self.registry,
                    deadline=self.settings.stage_deadline,
                    state=lambda: self.state,
                    metrics=self.metrics,
                    deliveries=self.bus.may_hold_deliveries,
                )
                self.metrics.tick_duration.observe(outcome.duration_ms / 1000)
            self.metrics.ticks.labels(status=outcome.status).inc()
            await self._report_tick(outcome, now)
            if outcome.status == "aborted":
                await self.audit(
                    "tick.aborted", {"reason": outcome.reason, "agent": outcome.failed_agent}, SYSTEM, tick.id
                )
            await self.flush_audit_head()
            return outcome

    async def _report_tick(self, outcome: TickOutcome, started: datetime) -> None:
        """The tick's report on ``event.tick``, for whoever listens (cockpits, drills, tests)."""
        if not self.bus.wants(topics.EVENT_TICK):
            return
        tick = outcome.tick
        report = TickReport(
            tick_id=tick.id,
            seq=tick.seq,
            status=outcome.status,
            reason=outcome.reason,
            started=started,
            duration_ms=round(outcome.duration_ms, 3),
            stages={k: round(v, 3) for k, v in outcome.stages.items()},
            state=self.state.value,
        )
        await self.bus.publish(
            topics.EVENT_TICK, make("tick", report, source=SYSTEM, run_id=self.run_id, env=self.env, tick_id=tick.id)
        )

    async def run_loop(
        self,
        *,
        stop: asyncio.Event,
        interval: float | None = None,
        max_ticks: int | None = None,
        on_tick: Callable[[TickOutcome], Awaitable[None] | None] | None = None,
    ) -> int:
        """Tick every ``interval`` seconds of the runtime's clock until ``stop`` is set; returns ticks run."""
        period = interval if interval is not None else self.settings.tick_interval
        count = 0
        while not stop.is_set() and (max_ticks is None or count < max_ticks):
            outcome = await self.run_once()
            count += 1
            if on_tick is not None:
                result = on_tick(outcome)
                if result is not None:
                    await result
            if stop.is_set() or (max_ticks is not None and count >= max_ticks):
                break
            sleeper = asyncio.ensure_future(self.clock.sleep(period))
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
            sleeper.cancel()
            stopper.cancel()
        return count

    # -- audit and alerts ----------------------------------------------------------------------------
    async def audit(self, event: str, data: dict[str, Any], actor: str, tick_id: str | None = None) -> None:
        if self.audit_log is None:
            raise RuntimeError("the runtime is not started")
        log_ = self.audit_log
        # one write() and, durable, one fsync, inline: cheaper than a hop to a thread and back (decision 21)
        record = log_.write(event, data, actor=actor, tick_id=tick_id)
        self._audit_head = (record.seq, record.hash)
        if not self.bus.wants(topics.EVENT_AUDIT):
            return
        live = AuditEvent(seq=record.seq, event=event, actor=actor, ts=datetime.fromisoformat(record.ts), data=data)
        try:
            await self.bus.publish(
                topics.EVENT_AUDIT,
                make("audit.event", live, source=SYSTEM, run_id=self.run_id, env=self.env, tick_id=tick_id),
                qos=0,
            )
        except Exception:  # the file is the record; the live copy is best effort
            log.debug("audit broadcast failed", exc_info=True)

    async def flush_audit_head(self) -> None:
        """Record the audit log's head in the ledger (after each tick, transition, refusal and halt).

        The log may run ahead of the recorded head (a crash in between), never behind: ``audit verify`` checks
        that the log still holds the recorded head, which catches lines cut from its end.
        """
        head = self._audit_head
        if head is not None and head != self._audit_head_saved and self.ledger is not None:
            await self.ledger.set_audit_head(*head)
            self._audit_head_saved = head

    async def alert(
        self,
        action: str,
        severity: Severity,
        message: str,
        *,
        source: str = SYSTEM,
        details: dict[str, Any] | None = None,
        needs_ack: bool = False,
    ) -> Alert:
        alert = Alert(
            id=new_id(),
            action=action,
            severity=severity,
            message=message,
            source=source,
            ts=self.clock.now(),
            details=details or {},
            needs_ack=needs_ack,
        )
        self.metrics.alerts.labels(action=action, severity=severity).inc()
        await self.audit("alert.raised", alert.model_dump(mode="json"), source)
        try:
            await self.bus.publish(
                topics.EVENT_ALERT, make("alert", alert, source=source, run_id=self.run_id, env=self.env)
            )
        except Exception:  # alerting never blocks trading
            self.metrics.errors.labels(component="alerts").inc()
            log.exception("could not publish alert %s", action)
        return alert
