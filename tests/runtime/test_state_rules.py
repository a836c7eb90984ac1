"""The state machine's moves and the resume sign-off rules, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from runtime.errors import Refused
from runtime.signoff import ResumeRequest, check_resume
from runtime.state import RuntimeState, allowed
from storage.records import Incident

INCIDENT = Incident("INC-1", datetime(2026, 1, 1, tzinfo=UTC), "risk.kill_switch", "loss", {}, "open", "run-1")
ROSTER = ["alice", "bob"]


def test_halted_is_left_only_for_running() -> None:
    assert [s for s in RuntimeState if allowed(RuntimeState.HALTED, s)] == [RuntimeState.RUNNING]


def test_every_state_can_be_halted() -> None:
    for state in RuntimeState:
        if state != RuntimeState.HALTED:
            assert allowed(state, RuntimeState.HALTED)


def test_states_that_trade() -> None:
    assert {s for s in RuntimeState if s.trades} == {RuntimeState.RUNNING, RuntimeState.REDUCING}


def test_every_state_has_a_glyph() -> None:
    assert len({s.glyph for s in RuntimeState}) == len(RuntimeState)


def _check(state: RuntimeState, req: ResumeRequest, approvers: int = 1, incident: Incident | None = INCIDENT) -> None:
    check_resume(state, req, roster=ROSTER, approvers_needed=approvers, open_incident=incident)


@pytest.mark.parametrize(
    ("request_", "approvers", "expected"),
    [
        (ResumeRequest(None, "ok", "INC-1"), 1, "operator name is required"),
        (ResumeRequest("  ", "ok", "INC-1"), 1, "operator name is required"),
        (ResumeRequest("mallory", "ok", "INC-1"), 1, "'mallory' is not on the roster"),
        (ResumeRequest("alice", "  ", "INC-1"), 1, "a reason is required"),
        (ResumeRequest("alice", "ok", None), 1, "open incident's id is required"),
        (ResumeRequest("alice", "ok", "INC-2"), 1, "'INC-2' is not the open incident"),
        (ResumeRequest("alice", "ok", "INC-1"), 2, "second approver is required"),
        (ResumeRequest("alice", "ok", "INC-1", "alice"), 2, "different person"),
        (ResumeRequest("alice", "ok", "INC-1", "mallory"), 2, "approver 'mallory' is not on the roster"),
    ],
)
def test_halted_resume_refusals_say_why(request_: ResumeRequest, approvers: int, expected: str) -> None:
    with pytest.raises(Refused, match=expected):
        _check(RuntimeState.HALTED, request_, approvers)


def test_valid_signoffs_pass() -> None:
    _check(RuntimeState.HALTED, ResumeRequest("alice", "root cause fixed", "INC-1"))
    _check(RuntimeState.HALTED, ResumeRequest("alice", "root cause fixed", "INC-1", "bob"), approvers=2)


def test_halted_without_an_open_incident_is_refused() -> None:
    with pytest.raises(Refused, match="no incident is open"):
        _check(RuntimeState.HALTED, ResumeRequest("alice", "ok", "INC-1"), incident=None)


def test_paused_needs_only_an_operator_name() -> None:
    _check(RuntimeState.PAUSED, ResumeRequest("carol", ""))
    with pytest.raises(Refused, match="operator name"):
        _check(RuntimeState.PAUSED, ResumeRequest("", ""))


def test_running_cannot_be_resumed() -> None:
    with pytest.raises(Refused, match="already RUNNING"):
        _check(RuntimeState.RUNNING, ResumeRequest("alice", "x"))


@pytest.mark.parametrize("state", [RuntimeState.DEGRADED, RuntimeState.REDUCING])
def test_degraded_and_reducing_need_a_rostered_operator_and_reason(state: RuntimeState) -> None:
    _check(state, ResumeRequest("bob", "checked"))
    with pytest.raises(Refused, match="roster"):
        _check(state, ResumeRequest("carol", "checked"))
    with pytest.raises(Refused, match="reason"):
        _check(state, ResumeRequest("bob", ""))


def test_an_empty_roster_refuses_every_halted_resume() -> None:
    with pytest.raises(Refused, match="no operator roster"):
        check_resume(
            RuntimeState.HALTED,
            ResumeRequest("alice", "x", "INC-1"),
            roster=[],
            approvers_needed=1,
            open_incident=INCIDENT,
        )


def test_two_approvers_can_be_required_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from runtime.settings import ConfigError, RuntimeSettings, load

    monkeypatch.setenv("RUNTIME_RESUME_APPROVERS", "2")
    assert load(RuntimeSettings).resume_approvers == 2
    monkeypatch.setenv("RUNTIME_RESUME_APPROVERS", "3")
    with pytest.raises(ConfigError, match="RUNTIME_RESUME_APPROVERS"):
        load(RuntimeSettings)
