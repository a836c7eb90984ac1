"""Payload models of the runtime's own messages, registered with the envelope codec."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from runtime.messages import register_payload

Severity = Literal["info", "warning", "error", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "error", "critical")


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KillSwitch(_Payload):
    """A kill-switch trigger (``risk.kill_switch``, ``compliance.kill_switch``, ``runtime.kill_switch``)."""

    reason: str = Field(min_length=1, max_length=2000)
    metrics: dict[str, Any] = Field(default_factory=dict)
    operator: str | None = None


class StateChanged(_Payload):
    """Retained on ``state/runtime``: the runtime's state now."""

    state: str
    previous: str
    reason: str
    actor: str
    since: datetime
    incident_id: str | None = None
    seq: int
    run_id: str


class Alert(_Payload):
    """Published on ``events/alert``; the ops notifier fans it out."""

    id: str
    action: str = Field(min_length=1, max_length=64)
    severity: Severity
    message: str
    source: str
    ts: datetime
    details: dict[str, Any] = Field(default_factory=dict)
    needs_ack: bool = False


class Heartbeat(_Payload):
    """Retained on ``state/agents/<name>``."""

    name: str
    stage: str
    version: str
    status: Literal["starting", "ok", "error", "safe", "stopped", "offline"]
    ts: datetime
    last_tick_id: str | None = None
    last_tick_ms: float | None = None
    errors: int = 0
    detail: str = ""


class Presence(_Payload):
    """Retained on ``state/connection``; the last will sets ``online`` false."""

    online: bool
    client_id: str
    pid: int | None = None
    host: str = ""
    started: datetime | None = None
    run_id: str = ""


class TickReport(_Payload):
    """Published on ``events/tick`` after every tick (run, aborted or skipped)."""

    tick_id: str
    seq: int
    status: Literal["completed", "aborted", "skipped"]
    reason: str = ""
    started: datetime
    duration_ms: float
    stages: dict[str, float] = Field(default_factory=dict)
    state: str


class ControlRequest(_Payload):
    """An operator's command on ``control/<operator>/<verb>``; the operator comes from the topic."""

    operator: str | None = None
    reason: str = ""
    incident_id: str | None = None
    approver: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)


class ControlReply(_Payload):
    ok: bool
    verb: str
    message: str
    data: dict[str, Any] = Field(default_factory=dict)


class AuditEvent(_Payload):
    """A copy of each audit line for live viewers on ``events/audit`` (the file is the record)."""

    seq: int
    event: str
    actor: str
    ts: datetime
    data: dict[str, Any] = Field(default_factory=dict)


class BacktestProgress(_Payload):
    """Published on ``events/backtest`` while a backtest launched through the control verb runs."""

    run_id: str
    progress: float = Field(ge=0, le=1)
    status: Literal["running", "completed", "failed"]
    message: str = ""
    metrics: dict[str, Any] = Field(default_factory=dict)


_MODELS: dict[str, type[BaseModel]] = {
    "kill_switch": KillSwitch,
    "runtime.state": StateChanged,
    "alert": Alert,
    "heartbeat": Heartbeat,
    "presence": Presence,
    "tick": TickReport,
    "control.request": ControlRequest,
    "control.reply": ControlReply,
    "audit.event": AuditEvent,
    "backtest.progress": BacktestProgress,
}
for _name, _model in _MODELS.items():
    register_payload(_name, _model)
