"""The alert book: each alert's lifecycle (open, acknowledged, snoozed, escalated), kept in the ledger.

Alerts with the same action and message while unacknowledged are one condition: the first is the record,
later ones add to its ``count`` and their ids become aliases (an operator may acknowledge any of them).
An alert raised with ``needs_ack`` (a soft breach) escalates when nobody acknowledges it within
``escalate_after``: one severity step higher each period, at most ``escalate_max`` times. A snooze holds its
escalation and its repeats back until the given time (bounded by ``snooze_max``).

Persistence: the ledger's kv documents, namespace ``alerts``: ``alert:<id>`` per record and ``index:open``,
the ids escalation watches, so a restart resumes the clocks where they were.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from ops.alerts._fold import fingerprint
from ops.alerts._settings import raised
from runtime import topics
from runtime.payloads import Alert, Severity
from storage.ledger import Ledger

log = logging.getLogger(__name__)

NAMESPACE = "alerts"
INDEX = "index:open"
MAX_ALIASES = 50
ACTOR = "ops.alerts"
_BULKY = frozenset({"report_markdown", "report_json"})  # the report files hold these; the book need not

Audit = Callable[[str, dict[str, Any], str], Awaitable[None]]


class AlertNotFound(LookupError):
    """No alert with that id (or it is too old to be held)."""


class AlertRefused(ValueError):
    """A lifecycle change that is not allowed, with the reason."""


class AlertRecord(BaseModel):
    """One condition's lifecycle. Times are aware UTC."""

    id: str
    fingerprint: str
    action: str
    severity: Severity
    message: str
    source: str
    raised_at: datetime
    last_seen: datetime
    needs_ack: bool = False
    details: dict[str, Any] = Field(default_factory=dict)
    count: int = 1
    status: Literal["open", "acknowledged"] = "open"
    acked_by: str | None = None
    acked_at: datetime | None = None
    snoozed_until: datetime | None = None
    snoozed_by: str | None = None
    watch_since: datetime | None = None
    escalations: int = 0
    last_escalated_at: datetime | None = None
    aliases: list[str] = Field(default_factory=list)

    @property
    def watched(self) -> bool:
        """Escalation keeps an eye on it: needs an acknowledgement and has none."""
        return self.needs_ack and self.status == "open"

    @property
    def current_severity(self) -> Severity:
        return raised(self.severity, self.escalations)


class AlertBook:
    """Lifecycle of alerts, persisted in ``ledger`` (memory only when ``ledger`` is None).

    Args:
        ledger: The runtime's ledger.
        escalate_after: Unacknowledged ``needs_ack`` alerts escalate after this long.
        escalate_max: Escalations per record at most.
        snooze_max: Longest snooze allowed.
        keep: How long records nobody watches stay in memory (acknowledging an older one reads the ledger).
        audit: ``runtime.audit``-like callable ``(event, data, actor)``: acknowledgements, snoozes and
            escalations are written to the audit log.
    """

    def __init__(
        self,
        ledger: Ledger | None,
        *,
        escalate_after: timedelta = timedelta(minutes=15),
        escalate_max: int = 3,
        snooze_max: timedelta = timedelta(hours=24),
        keep: timedelta = timedelta(days=1),
        audit: Audit | None = None,
    ) -> None:
        self.ledger = ledger
        self.escalate_after = escalate_after
        self.escalate_max = escalate_max
        self.snooze_max = snooze_max
        self.keep = keep
        self.audit = audit
        self._records: dict[str, AlertRecord] = {}
        self._aliases: dict[str, str] = {}
        self._open: dict[str, str] = {}  # fingerprint -> id of the open record
        self._dirty: set[str] = set()
        self._lock = asyncio.Lock()

    # -- loading and saving --------------------------------------------------------------------------
    async def load(self) -> int:
        """Read the watched records back from the ledger; returns how many."""
        if self.ledger is None:
            return 0
        ids = await self.ledger.get_json(NAMESPACE, INDEX) or []
        for record_id in ids:
            raw = await self.ledger.get_json(NAMESPACE, f"alert:{record_id}")
            if raw is not None:
                self._hold(AlertRecord.model_validate(raw))
        return len(self._records)

    def _hold(self, record: AlertRecord) -> None:
        self._records[record.id] = record
        for alias in record.aliases:
            self._aliases[alias] = record.id
        if record.status == "open":
            self._open[record.fingerprint] = record.id

    async def flush(self, now: datetime) -> int:
        """Write the records whose repeat counts changed since the last flush; returns how many."""
        async with self._lock:
            dirty = [self._records[i] for i in sorted(self._dirty) if i in self._records]
            self._dirty.clear()
            for record in dirty:
                await self._save(record, now)
        return len(dirty)

    async def _save(self, record: AlertRecord, now: datetime, *, index_changed: bool = False) -> None:
        self._dirty.discard(record.id)
        if self.ledger is None:
            return
        await self.ledger.put_json(NAMESPACE, f"alert:{record.id}", record.model_dump(mode="json"), ts=now)
        if index_changed:
            await self.ledger.put_json(NAMESPACE, INDEX, sorted(r.id for r in self.watched()), ts=now)

    # -- reading -------------------------------------------------------------------------------------
    def get(self, alert_id: str) -> AlertRecord | None:
        """The record of ``alert_id`` (or of the condition it repeats), from memory."""
        return self._records.get(self._aliases.get(alert_id, alert_id))

    async def find(self, alert_id: str) -> AlertRecord | None:
        """:meth:`get`, falling back to the ledger for records no longer in memory."""
        found = self.get(alert_id)
        if found is None and self.ledger is not None:
            raw = await self.ledger.get_json(NAMESPACE, f"alert:{alert_id}")
            found = AlertRecord.model_validate(raw) if raw is not None else None
        return found

    def watched(self) -> list[AlertRecord]:
        """Records waiting for an acknowledgement, oldest first."""
        return sorted((r for r in self._records.values() if r.watched), key=lambda r: r.raised_at)

    def records(self) -> list[AlertRecord]:
        return sorted(self._records.values(), key=lambda r: r.raised_at)

    def snoozed(self, action: str, message: str, now: datetime) -> bool:
        record = self._records.get(self._open.get(fingerprint(action, message), ""))
        return bool(record and record.snoozed_until and now < record.snoozed_until)

    # -- changes -------------------------------------------------------------------------------------
    async def record(self, alert: Alert, now: datetime) -> tuple[AlertRecord, bool]:
        """Add ``alert``: a new record (True) or a repeat of an open one (False)."""
        async with self._lock:
            key = fingerprint(alert.action, alert.message)
            existing = self._records.get(self._open.get(key, ""))
            if existing is not None:
                was_watched = existing.watched
                existing.count += 1
                existing.last_seen = now
                if alert.needs_ack and not existing.needs_ack:
                    existing.needs_ack, existing.watch_since = True, alert.ts  # the escalation clock starts now
                existing.aliases = [*existing.aliases, alert.id][-MAX_ALIASES:]
                self._aliases[alert.id] = existing.id
                if was_watched != existing.watched:
                    await self._save(existing, now, index_changed=True)
                else:
                    # a repeat only adds to a count: written by flush(), so an alert storm costs the shared
                    # ledger one write per condition, not one per alert
                    self._dirty.add(existing.id)
                return existing, False
            record = AlertRecord(
                id=alert.id,
                fingerprint=key,
                action=alert.action,
                severity=alert.severity,
                message=alert.message,
                source=alert.source,
                raised_at=alert.ts,
                last_seen=now,
                needs_ack=alert.needs_ack,
                details={k: v for k, v in alert.details.items() if k not in _BULKY},
                watch_since=alert.ts if alert.needs_ack else None,
            )
            self._hold(record)
            await self._save(record, now, index_changed=record.watched)
            return record, True

    async def ack(self, alert_id: str, operator: str, now: datetime) -> AlertRecord:
        """Acknowledge: escalation stops, the next occurrence opens a new record. Idempotent.

        Raises:
            AlertNotFound: unknown id.
            AlertRefused: no valid operator name.
        """
        _check_operator(operator)
        async with self._lock:
            record = await self.find(alert_id)
            if record is None:
                raise AlertNotFound(f"no alert {alert_id}")
            if record.status == "acknowledged":
                return record
            was_watched = record.watched
            record.status, record.acked_by, record.acked_at = "acknowledged", operator, now
            record.snoozed_until = None
            if self._open.get(record.fingerprint) == record.id:
                del self._open[record.fingerprint]
            await self._save(record, now, index_changed=was_watched)
        await self._audit("alert.acknowledged", record, operator, {"alert_id": alert_id})
        return record

    async def snooze(self, alert_id: str, until: datetime, operator: str, now: datetime) -> AlertRecord:
        """Hold escalation and repeats back until ``until``.

        Raises:
            AlertNotFound: unknown id.
            AlertRefused: no operator, a time not in the future or beyond ``snooze_max``, or already acknowledged.
        """
        _check_operator(operator)
        if until.tzinfo is None:
            raise AlertRefused("the snooze time needs a timezone")
        if until <= now:
            raise AlertRefused(f"{until.isoformat()} is not in the future")
        if until - now > self.snooze_max:
            raise AlertRefused(f"a snooze may last {self.snooze_max} at most")
        async with self._lock:
            record = await self.find(alert_id)
            if record is None:
                raise AlertNotFound(f"no alert {alert_id}")
            if record.status == "acknowledged":
                raise AlertRefused(f"alert {record.id} is already acknowledged by {record.acked_by}")
            record.snoozed_until, record.snoozed_by = until, operator
            await self._save(record, now)
        await self._audit("alert.snoozed", record, operator, {"alert_id": alert_id, "until": until.isoformat()})
        return record

    def due(self, now: datetime) -> list[AlertRecord]:
        """Watched records whose escalation is due at ``now``."""
        out = []
        for record in self.watched():
            if record.escalations >= self.escalate_max:
                continue
            due_at = (record.last_escalated_at or record.watch_since or record.raised_at) + self.escalate_after
            if record.snoozed_until is not None:
                due_at = max(due_at, record.snoozed_until)
            if now >= due_at:
                out.append(record)
        return out

    async def escalated(self, record: AlertRecord, now: datetime) -> AlertRecord:
        """Note one escalation of ``record``: its severity goes one step up."""
        async with self._lock:
            record.escalations += 1
            record.last_escalated_at = now
            await self._save(record, now)
        await self._audit(
            "alert.escalated", record, ACTOR, {"severity": record.current_severity, "escalation": record.escalations}
        )
        return record

    def prune(self, now: datetime) -> int:
        """Forget records nobody watches that were last seen longer than ``keep`` ago (they stay in the ledger)."""
        old = [
            r
            for r in self._records.values()
            if not r.watched and now - r.last_seen > self.keep and r.id not in self._dirty
        ]
        for record in old:
            del self._records[record.id]
            if self._open.get(record.fingerprint) == record.id:
                del self._open[record.fingerprint]
            for alias in record.aliases:
                self._aliases.pop(alias, None)
        return len(old)

    async def _audit(self, event: str, record: AlertRecord, actor: str, extra: dict[str, Any]) -> None:
        if self.audit is None:
            return
        data = {"id": record.id, "action": record.action, "message": record.message, **extra}
        try:
            await self.audit(event, data, actor)
        except Exception:  # the change is made and persisted; the audit line is reported, not fatal
            log.exception("could not audit %s of alert %s", event, record.id)


def _check_operator(operator: str) -> None:
    if not operator or not topics.valid_segment(operator):
        raise AlertRefused("an operator name is required (letters, digits, '.', '-', '_')")
