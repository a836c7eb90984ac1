"""The wire format: a versioned pydantic envelope around a typed payload.

Every message on the bus is an :class:`Envelope`. Payload models register under a message ``type`` with
:func:`register_payload`; :func:`decode` validates raw bytes at the edge and raises :class:`RejectedMessage`
with a reason (malformed, oversized, unknown version, unknown type, bad payload). Consumers never see a
message that did not validate.
"""

from __future__ import annotations

import builtins
import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SCHEMA_VERSION = 1
MAX_MESSAGE_BYTES = 256 * 1024

P = TypeVar("P", bound=BaseModel)

_PAYLOADS: dict[str, type[BaseModel]] = {}


class RejectedMessage(Exception):
    """A message that failed validation at the edge. ``reason`` is a short label used as a metric label."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def new_id() -> str:
    """A fresh message or correlation id (uuid4, hex)."""
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    """A bus message. Immutable; ``payload`` is validated against the model registered for ``type``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: int = SCHEMA_VERSION
    id: str = Field(default_factory=new_id, min_length=1, max_length=64)
    ts: datetime = Field(default_factory=utcnow)
    source: str = Field(min_length=1, max_length=128)
    run_id: str = Field(default="", max_length=64)
    env: str = Field(default="", max_length=32)
    tick_id: str | None = None
    type: str = Field(min_length=1, max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict)
    reply_to: str | None = None
    correlation_id: str | None = None

    def parsed(self, model: builtins.type[P]) -> P:
        """The payload as ``model`` (validated)."""
        return model.model_validate(self.payload)

    def encode(self) -> bytes:
        return self.model_dump_json().encode()


def register_payload(type_name: str, model: type[BaseModel]) -> None:
    """Declare the payload model of a message type. Registering the same pair twice is harmless."""
    existing = _PAYLOADS.get(type_name)
    if existing is not None and existing is not model:
        raise ValueError(f"message type {type_name!r} is already registered to {existing.__name__}")
    _PAYLOADS[type_name] = model


def payload_model(type_name: str) -> type[BaseModel] | None:
    return _PAYLOADS.get(type_name)


def make(
    type_name: str,
    payload: BaseModel | dict[str, Any],
    *,
    source: str,
    run_id: str = "",
    env: str = "",
    tick_id: str | None = None,
    reply_to: str | None = None,
    correlation_id: str | None = None,
    ts: datetime | None = None,
) -> Envelope:
    """Build an envelope; a model payload is dumped in JSON mode so it round-trips over MQTT unchanged. ``ts``
    defaults to now."""
    body = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
    model = _PAYLOADS.get(type_name)
    if model is not None and not isinstance(payload, model):
        model.model_validate(body)
    return Envelope(
        source=source,
        run_id=run_id,
        env=env,
        tick_id=tick_id,
        type=type_name,
        payload=body,
        reply_to=reply_to,
        correlation_id=correlation_id,
        ts=ts or utcnow(),
    )


def decode(raw: bytes | bytearray | str) -> Envelope:
    """Validate raw bytes from the wire into an :class:`Envelope`.

    Raises:
        RejectedMessage: with ``reason`` one of ``oversized``, ``malformed``, ``unknown_version``,
            ``unknown_type`` or ``bad_payload``.
    """
    size = len(raw)
    if size > MAX_MESSAGE_BYTES:
        raise RejectedMessage("oversized", f"{size} bytes > {MAX_MESSAGE_BYTES}")
    try:
        env = Envelope.model_validate_json(raw)
    except ValidationError as exc:
        raise RejectedMessage("malformed", _first_error(exc)) from None
    return check(env)


def check(env: Envelope) -> Envelope:
    """Apply the version and payload checks to an already-built envelope."""
    if env.v != SCHEMA_VERSION:
        raise RejectedMessage("unknown_version", f"schema version {env.v}, this build reads {SCHEMA_VERSION}")
    model = _PAYLOADS.get(env.type)
    if model is None:
        raise RejectedMessage("unknown_type", f"no payload model for type {env.type!r}")
    try:
        model.model_validate(env.payload)
    except ValidationError as exc:
        raise RejectedMessage("bad_payload", f"{env.type}: {_first_error(exc)}") from None
    return env


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "message"
    return f"{where}: {err.get('msg', 'invalid')}"
