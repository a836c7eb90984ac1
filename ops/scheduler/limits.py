"""Risk and compliance limits against the approved baseline: a change trades only after an operator signs it.

The current limits are the risk and compliance settings this process runs with, read as generic pydantic
models (``model_dump``), hashed over canonical JSON. The approved baseline lives in the ledger's kv table
(namespace ``limits``, key ``baseline``). ``agenthedge limits approve`` checks the operator against the
roster (``RUNTIME_OPERATORS``, and a second approver when ``RUNTIME_RESUME_APPROVERS=2``, as for a resume),
records the new baseline and audits the approval *with the diff*; a refusal is audited too. Until then the
pre-flight gate blocks trading and names every changed limit.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from runtime.errors import Refused
from runtime.runtime import Runtime

NAMESPACE = "limits"
KEY = "baseline"

LimitsSource = Callable[[], Mapping[str, Any]]

# section -> (module, settings class): read lazily so that a package still being written is no import error
LIMIT_MODELS: dict[str, tuple[str, str]] = {
    "risk": ("agents.risk", "RiskSettings"),
    "compliance": ("agents.compliance", "ComplianceSettings"),
}


def default_limits() -> dict[str, Any]:
    """The risk and compliance settings of this process (from the environment), or why one is missing."""
    out: dict[str, Any] = {}
    for section, (module, name) in LIMIT_MODELS.items():
        try:
            model = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            out[section] = {"unavailable": f"{module}.{name} is not installed"}
            continue
        out[section] = model()  # a ValidationError here is a configuration error the gate reports
    return out


def snapshot(limits: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-ready limits: pydantic models dumped, mappings copied."""
    out: dict[str, Any] = {}
    for section, value in sorted(limits.items()):
        if isinstance(value, BaseModel):
            out[section] = value.model_dump(mode="json")
        elif value is None or isinstance(value, Mapping):
            out[section] = json.loads(json.dumps(value, sort_keys=True, default=str))
        else:
            raise TypeError(f"limits section {section!r} is a {type(value).__name__}, not a pydantic model")
    return out


def digest(snap: Mapping[str, Any]) -> str:
    canonical = json.dumps(snap, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class LimitChange:
    path: str
    old: Any
    new: Any

    def describe(self) -> str:
        if self.old is _MISSING:
            return f"{self.path}: added = {self.new!r}"
        if self.new is _MISSING:
            return f"{self.path}: removed (was {self.old!r})"
        return f"{self.path}: {self.old!r} -> {self.new!r}"

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "old": None if self.old is _MISSING else self.old,
            "new": None if self.new is _MISSING else self.new,
            "change": "added" if self.old is _MISSING else "removed" if self.new is _MISSING else "changed",
        }


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[LimitChange]:
    """Leaf-level differences, as dotted paths, sorted."""
    flat_old, flat_new = _flatten(old), _flatten(new)
    changes = [
        LimitChange(path, flat_old.get(path, _MISSING), flat_new.get(path, _MISSING))
        for path in sorted(set(flat_old) | set(flat_new))
        if flat_old.get(path, _MISSING) != flat_new.get(path, _MISSING)
    ]
    return changes


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping) and not value and not prefix:
        return {}
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


@dataclass(frozen=True, slots=True)
class Baseline:
    hash: str
    limits: dict[str, Any]
    approved_by: str
    approver: str | None
    reason: str
    approved_at: str
    previous_hash: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class LimitsVerdict:
    ok: bool
    reason: str
    current_hash: str
    baseline_hash: str | None
    changes: list[LimitChange]

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "reason": self.reason,
            "current_hash": self.current_hash,
            "baseline_hash": self.baseline_hash,
            "changes": [c.to_json() for c in self.changes],
        }


def parse_baseline(raw: Any) -> Baseline | None:
    return Baseline(**raw) if isinstance(raw, dict) else None


def compare(current: Mapping[str, Any], baseline: Baseline | None) -> LimitsVerdict:
    snap = snapshot(current)
    now_hash = digest(snap)
    if baseline is None:
        changes = diff({}, snap)
        return LimitsVerdict(
            False,
            "no approved limits baseline: an operator must sign off the limits (agenthedge limits approve)",
            now_hash,
            None,
            changes,
        )
    if baseline.hash == now_hash:
        return LimitsVerdict(
            True, f"limits match the baseline approved by {baseline.approved_by}", now_hash, baseline.hash, []
        )
    changes = diff(baseline.limits, snap)
    listed = "; ".join(c.describe() for c in changes) or "hash differs"
    return LimitsVerdict(
        False,
        f"unapproved limit change ({len(changes)}): {listed} - needs `agenthedge limits approve`",
        now_hash,
        baseline.hash,
        changes,
    )


async def approve(
    rt: Runtime,
    current: Mapping[str, Any],
    *,
    operator: str,
    reason: str,
    approver: str | None = None,
    now: datetime | None = None,
) -> tuple[Baseline, list[LimitChange]]:
    """Make the current limits the approved baseline; roster-checked like a resume, audited with the diff.

    Raises:
        Refused: the operator (or approver) may not sign, or nothing is given as reason; audited.
    """
    operator, reason = operator.strip(), reason.strip()
    snap = snapshot(current)
    old = parse_baseline(await rt.books.get_json(NAMESPACE, KEY))
    changes = diff(old.limits if old else {}, snap)
    try:
        _check_signer(rt, operator, reason, approver)
    except Refused as exc:
        await rt.audit(
            "limits.refused",
            {
                "reason": exc.reason,
                "request_reason": reason,
                "approver": approver,
                "changes": [c.to_json() for c in changes],
            },
            operator or "unknown",
        )
        raise
    when = now or rt.clock.now()
    baseline = Baseline(
        digest(snap),
        snap,
        operator,
        (approver or "").strip() or None,
        reason,
        when.isoformat(),
        old.hash if old else None,
    )
    await rt.books.put_json(NAMESPACE, KEY, baseline.to_json(), ts=when)
    await rt.audit(
        "limits.approved",
        {
            "hash": baseline.hash,
            "previous_hash": baseline.previous_hash,
            "reason": reason,
            "approver": baseline.approver,
            "changes": [c.to_json() for c in changes],
        },
        operator,
    )
    return baseline, changes


def _check_signer(rt: Runtime, operator: str, reason: str, approver: str | None) -> None:
    roster = rt.settings.operators
    if not operator:
        raise Refused("limits_approve", "an operator name is required")
    if not roster:
        raise Refused("limits_approve", "no operator roster is configured (RUNTIME_OPERATORS): nobody may sign off")
    if operator not in roster:
        raise Refused("limits_approve", f"operator {operator!r} is not on the roster (RUNTIME_OPERATORS)")
    if not reason:
        raise Refused("limits_approve", "a reason is required")
    if rt.settings.resume_approvers >= 2:
        second = (approver or "").strip()
        if not second:
            raise Refused("limits_approve", "a second approver is required (RUNTIME_RESUME_APPROVERS=2)")
        if second == operator:
            raise Refused("limits_approve", "the approver must be a different person from the operator")
        if second not in roster:
            raise Refused("limits_approve", f"approver {second!r} is not on the roster (RUNTIME_OPERATORS)")
