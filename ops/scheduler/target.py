"""What the jobs act on: a runtime in this process, or a daemon reached over the bus. The same verbs.

:class:`InProcessTarget` calls the :class:`~runtime.runtime.Runtime` directly (the scheduler hosted by the
daemon, or ``scheduler run`` owning the home). :class:`RemoteTarget` sends the daemon the control verbs
(``run_once``, ``health``, ``status``, ``pause``, ``resume``) with :class:`~runtime.control.ControlClient`, and
reads the daemon's ledger through a read-only connection when the ledger file is on this host.

Remote limits, said plainly: the control protocol has no ``degrade`` verb, so a remote health SOP failure
*pauses* the daemon with a reason starting ``health SOP`` (trading is skipped just the same) and the next
passing health check resumes it, and only a pause it made itself; the daemon's audit log has a single
writer, so a remote scheduler logs its job records locally instead of auditing them; and it does not rotate
the daemon's audit log (the writer rotates its own file). Hosting the scheduler inside the daemon
(:func:`ops.scheduler.attach_scheduler`) has none of these limits.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from ops.scheduler.facts import LedgerFacts, StateView, read_facts, read_state
from ops.scheduler.runs import FileRunStore, KvRunStore, RunStore
from runtime import topics
from runtime.bus import Bus
from runtime.clock import Clock, WallClock
from runtime.control import ControlClient, status_report
from runtime.errors import Refused
from runtime.health import health_report
from runtime.messages import make, new_id
from runtime.payloads import Alert, ControlRequest, Severity
from runtime.runtime import Runtime
from runtime.state import RuntimeState
from storage.audit import AUDIT_FILE, archive
from storage.db import connect
from storage.ledger import Ledger

log = logging.getLogger(__name__)

SOP_MARK = "health SOP"


class TargetError(Exception):
    """The target cannot do what was asked (a verb refused, a ledger not reachable from here)."""


class JobTarget(Protocol):
    """The runtime as the jobs see it."""

    where: str
    home: Path
    clock: Clock
    runs: RunStore
    remote: bool

    async def state(self) -> StateView:
        """The persisted state, read now."""
        ...

    async def run_once(self) -> dict[str, Any]:
        """One tick: ``tick_id``, ``status`` (completed/aborted/skipped), ``reason``, ``duration_ms``, ``stages``."""
        ...

    async def health(self) -> dict[str, Any]: ...

    async def status(self) -> dict[str, Any]: ...

    async def facts(self, day: date | None = None) -> LedgerFacts: ...

    async def get_json(self, namespace: str, key: str) -> Any: ...

    async def degrade(self, reason: str, actor: str) -> StateView: ...

    async def recover(self, reason: str, actor: str) -> StateView: ...

    async def alert(
        self, action: str, severity: Severity, message: str, details: dict[str, Any], actor: str
    ) -> None: ...

    async def audit(self, event: str, data: dict[str, Any], actor: str) -> None: ...

    async def archive_audit(self, dest: Path, now: datetime) -> dict[str, Any]: ...

    async def rotate_audit(self, dest: Path, now: datetime, actor: str) -> dict[str, Any]: ...


class InProcessTarget:
    """A started :class:`~runtime.runtime.Runtime` in this process."""

    remote = False

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.where = "in-process runtime"
        self.home = runtime.home
        self.clock = runtime.clock
        self.runs: RunStore = KvRunStore(runtime.books, runtime.clock)

    async def state(self) -> StateView:
        return await read_state(self.rt.books)

    async def run_once(self) -> dict[str, Any]:
        outcome = await self.rt.run_once()
        return {
            "tick_id": outcome.tick.id,
            "status": outcome.status,
            "reason": outcome.reason,
            "duration_ms": outcome.duration_ms,
            "stages": dict(outcome.stages),
            "failed_agent": outcome.failed_agent,
        }

    async def health(self) -> dict[str, Any]:
        return await health_report(self.rt)

    async def status(self) -> dict[str, Any]:
        return await status_report(self.rt)

    async def facts(self, day: date | None = None) -> LedgerFacts:
        return await read_facts(self.rt.books, day)

    async def get_json(self, namespace: str, key: str) -> Any:
        return await self.rt.books.get_json(namespace, key)

    async def degrade(self, reason: str, actor: str) -> StateView:
        try:
            await self.rt.set_state(RuntimeState.DEGRADED, reason=reason, actor=actor)
        except Refused as exc:
            raise TargetError(exc.reason) from None
        return await self.state()

    async def recover(self, reason: str, actor: str) -> StateView:
        try:
            await self.rt.set_state(RuntimeState.RUNNING, reason=reason, actor=actor)
        except Refused as exc:
            raise TargetError(exc.reason) from None
        return await self.state()

    async def alert(self, action: str, severity: Severity, message: str, details: dict[str, Any], actor: str) -> None:
        await self.rt.alert(action, severity, message, source=actor, details=details)

    async def audit(self, event: str, data: dict[str, Any], actor: str) -> None:
        await self.rt.audit(event, data, actor)

    async def archive_audit(self, dest: Path, now: datetime) -> dict[str, Any]:
        audit_log = self.rt.audit_log
        if audit_log is None:
            raise TargetError("the runtime's audit log is not open")
        result = await asyncio.to_thread(audit_log.archive, dest, now=now)
        return _archived(result.path, result.size, result.sha256, result.verify.ok, result.verify.message)

    async def rotate_audit(self, dest: Path, now: datetime, actor: str) -> dict[str, Any]:
        audit_log = self.rt.audit_log
        if audit_log is None:
            raise TargetError("the runtime's audit log is not open")
        result = await asyncio.to_thread(audit_log.rotate, dest, now=now, actor=actor)
        done = result.archive
        data = _archived(done.path, done.size, done.sha256, done.verify.ok, done.verify.message)
        data["new_file_seq"] = result.record["seq"]
        head = await self.rt.books.audit_head()
        if head is not None and head[0] < result.record["seq"]:
            # the rotation record is the new head of the chain: keep the ledger's copy in step with it
            await self.rt.books.set_audit_head(result.record["seq"], result.record["hash"])
        return data


class RemoteTarget:
    """A daemon reached over the bus; its ledger read (never written) when ``ledger_path`` is on this host."""

    remote = True

    def __init__(
        self,
        bus: Bus,
        operator: str,
        *,
        home: Path,
        ledger_path: Path | None = None,
        clock: Clock | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.bus = bus
        self.client = ControlClient(bus, operator, source="scheduler")
        self.operator = operator
        self.home = home
        self.ledger_path = ledger_path
        self.clock: Clock = clock or WallClock()
        self.timeout = timeout
        self.where = f"daemon on {bus.url.split('@')[-1]}"
        self.runs: RunStore = FileRunStore(home / "scheduler" / "runs")

    async def _send(self, verb: str, request: ControlRequest | None = None) -> tuple[bool, str, dict[str, Any]]:
        reply = await self.client.send(verb, request, timeout=self.timeout)
        return reply.ok, reply.message, dict(reply.data)

    async def _ledger(self) -> Ledger:
        if self.ledger_path is None or not self.ledger_path.exists():
            raise TargetError(
                "the daemon's ledger is not readable from this host: host the scheduler in the daemon, or run it "
                "on the daemon's host with the same --home"
            )
        conn = await connect(self.ledger_path, migrate=False)
        await conn.execute("PRAGMA query_only=ON")  # this process never writes the daemon's ledger
        return Ledger(conn, self.ledger_path)

    async def state(self) -> StateView:
        if self.ledger_path is not None and self.ledger_path.exists():
            ledger = await self._ledger()
            try:
                return await read_state(ledger)
            finally:
                await ledger.close()
        ok, message, data = await self._send("status")
        if not ok:
            raise TargetError(f"status refused: {message}")
        since = datetime.fromisoformat(data["since"]) if data.get("since") else None
        incident = data.get("incident") or {}
        return StateView(
            RuntimeState(data["state"]), data.get("reason", ""), data.get("actor", ""), since, incident.get("id")
        )

    async def run_once(self) -> dict[str, Any]:
        _, message, data = await self._send("run_once")
        return data or {"status": "aborted", "reason": message, "stages": {}}

    async def health(self) -> dict[str, Any]:
        _, _, data = await self._send("health")
        return data

    async def status(self) -> dict[str, Any]:
        _, _, data = await self._send("status")
        return data

    async def facts(self, day: date | None = None) -> LedgerFacts:
        ledger = await self._ledger()
        try:
            return await read_facts(ledger, day)
        finally:
            await ledger.close()

    async def get_json(self, namespace: str, key: str) -> Any:
        ledger = await self._ledger()
        try:
            return await ledger.get_json(namespace, key)
        finally:
            await ledger.close()

    async def degrade(self, reason: str, actor: str) -> StateView:
        ok, message, _ = await self._send("pause", ControlRequest(reason=f"{reason} (remote: paused, no degrade verb)"))
        if not ok:
            raise TargetError(message)
        return await self.state()

    async def recover(self, reason: str, actor: str) -> StateView:
        ok, message, _ = await self._send("resume", ControlRequest(reason=reason))
        if not ok:
            raise TargetError(message)
        return await self.state()

    async def alert(self, action: str, severity: Severity, message: str, details: dict[str, Any], actor: str) -> None:
        alert = Alert(
            id=new_id(),
            action=action,
            severity=severity,
            message=message,
            source=actor,
            ts=self.clock.now(),
            details=details,
        )
        await self.bus.publish(topics.EVENT_ALERT, make("alert", alert, source=actor, env=self.bus.env))

    async def audit(self, event: str, data: dict[str, Any], actor: str) -> None:
        log.info("%s by %s: %s", event, actor, data)  # the daemon's audit log has one writer: the daemon

    async def archive_audit(self, dest: Path, now: datetime) -> dict[str, Any]:
        source = self.home / AUDIT_FILE
        if not source.exists():
            raise TargetError(f"no audit log at {source} on this host")
        result = await asyncio.to_thread(archive, source, dest, now=now)  # safe beside the live writer
        return _archived(result.path, result.size, result.sha256, result.verify.ok, result.verify.message)

    async def rotate_audit(self, dest: Path, now: datetime, actor: str) -> dict[str, Any]:
        raise TargetError("the daemon rotates its own audit log: host the scheduler in the daemon for rotation")


def _archived(path: Path, size: int, sha256: str, ok: bool, message: str) -> dict[str, Any]:
    return {"archive": str(path), "bytes": size, "sha256": sha256, "verified": ok, "verify_message": message}


def state_json(view: StateView) -> dict[str, Any]:
    data = asdict(view)
    data["state"] = view.state.value
    data["since"] = view.since.isoformat() if view.since else None
    return data
