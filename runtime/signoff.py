"""The rules of a resume: who may resume from which state, and with what sign-off.

Kept as pure functions of the facts so that every refusal is tested and explained the same way whether it
comes from the CLI, the daemon or the cockpit.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.errors import Refused
from runtime.state import RuntimeState
from storage.records import Incident


@dataclass(frozen=True)
class ResumeRequest:
    operator: str | None
    reason: str
    incident_id: str | None = None
    approver: str | None = None


def check_resume(
    state: RuntimeState,
    request: ResumeRequest,
    *,
    roster: list[str],
    approvers_needed: int,
    open_incident: Incident | None,
) -> None:
    """Raise :class:`Refused` with the reason unless ``request`` may return the runtime to RUNNING."""
    operator = (request.operator or "").strip()
    if state == RuntimeState.RUNNING:
        raise Refused("resume", "the runtime is already RUNNING")
    if not operator:
        raise Refused("resume", "an operator name is required")
    if state == RuntimeState.PAUSED:
        return
    if not roster:
        raise Refused("resume", f"no operator roster is configured (RUNTIME_OPERATORS): nobody may resume from {state}")
    if operator not in roster:
        raise Refused("resume", f"operator {operator!r} is not on the roster (RUNTIME_OPERATORS)")
    if not request.reason.strip():
        raise Refused("resume", "a reason is required")
    if state != RuntimeState.HALTED:
        return
    check_halt_signoff(request, operator, roster=roster, approvers_needed=approvers_needed, incident=open_incident)


def check_halt_signoff(
    request: ResumeRequest, operator: str, *, roster: list[str], approvers_needed: int, incident: Incident | None
) -> None:
    if incident is None:
        raise Refused("resume", "the runtime is HALTED but no incident is open: the ledger needs inspection")
    given = (request.incident_id or "").strip()
    if not given:
        raise Refused("resume", f"the open incident's id is required (open incident: {incident.id})")
    if given != incident.id:
        raise Refused("resume", f"incident {given!r} is not the open incident (open incident: {incident.id})")
    if approvers_needed < 2:
        return
    approver = (request.approver or "").strip()
    if not approver:
        raise Refused("resume", "a second approver is required (RUNTIME_RESUME_APPROVERS=2)")
    if approver == operator:
        raise Refused("resume", "the approver must be a different person from the operator")
    if approver not in roster:
        raise Refused("resume", f"approver {approver!r} is not on the roster (RUNTIME_OPERATORS)")
