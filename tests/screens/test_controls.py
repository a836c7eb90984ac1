"""Each control key, its modal completed by keyboard, sends the right request on the bus, with the operator
as the topic segment; refusals come back with the runtime's reason; controls are off while disconnected,
while the runtime is offline and in read-only mode."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Button, Input, Static

from runtime import topics
from runtime.messages import make
from runtime.payloads import ControlReply, ControlRequest, Presence
from screens import CockpitBase
from screens.modals.backtest import BacktestModal
from screens.modals.confirm import ConfirmModal, KillModal
from screens.modals.resume import ResumeModal
from screens.store import CommandEntry
from tests.screens.harness import cockpit, refused_form, until
from tests.screens.scenarios import ENV, INCIDENT, NOW

CONTROL_KEYS = {"p": "pause", "R": "resume", "o": "run_once", "K": "kill", "b": "backtest"}


def logged(app: CockpitBase, verb: str) -> CommandEntry | None:
    """The last command-log entry for ``verb`` (routine reads are in the store too)."""
    found = [c for c in app.store.commands if c.verb == verb]
    return found[-1] if found else None


def sent(world: Any, verb: str) -> list[tuple[str, ControlRequest]]:
    return [(op, req) for op, v, req in world.fake.requests if v == verb]


async def type_into(pilot: Any, selector: str, text: str) -> None:
    field = pilot.app.screen.query_one(selector, Input)
    field.focus()
    await pilot.pause()
    field.value = ""
    await pilot.press(*list(text))


async def test_pause_sends_pause_as_the_operator_and_logs_the_answer() -> None:
    async with cockpit("nominal", operator="alice") as (app, pilot, world):
        world.fake.replies["pause"] = ControlReply(ok=True, verb="pause", message="PAUSED by alice")
        await pilot.press("p")
        await until(pilot, lambda: bool(sent(world, "pause")), "the pause request")
        operator, request = sent(world, "pause")[0]
        assert operator == "alice"  # the identity is the topic segment control/alice/pause
        assert request.operator is None  # the payload claims no other name
        assert "alice" in request.reason
        await until(pilot, lambda: logged(app, "pause") is not None, "the command log entry")
        entry = logged(app, "pause")
        assert entry is not None
        assert (entry.verb, entry.ok, entry.operator, entry.answer) == ("pause", True, "alice", "PAUSED by alice")
        assert entry.ts == NOW  # the injected clock


async def test_run_once_asks_first_and_its_default_button_is_cancel() -> None:
    async with cockpit("nominal") as (app, pilot, world):
        world.fake.replies["run_once"] = ControlReply(ok=True, verb="run_once", message="tick completed")
        await pilot.press("o")
        assert isinstance(app.screen, ConfirmModal)
        assert app.screen.focused is not None
        assert app.screen.focused.id == "cancel"
        await pilot.press("enter")  # enter right after the key: the default, Cancel
        assert not isinstance(app.screen, ConfirmModal)
        await pilot.pause(0.05)
        assert sent(world, "run_once") == []
        await pilot.press("o", "tab", "enter")  # deliberately move to "Run once"
        await until(pilot, lambda: bool(sent(world, "run_once")), "the run_once request")
        assert sent(world, "run_once")[0][0] == "alice"


async def test_escape_cancels_every_modal_without_sending() -> None:
    async with cockpit("halted") as (app, pilot, world):
        for key, modal in (("o", ConfirmModal), ("K", None), ("R", ResumeModal), ("b", BacktestModal)):
            await pilot.press(key)
            if modal is not None:
                assert isinstance(app.screen, modal), key
            await pilot.press("escape")
            assert app.screen is app.main, key
        await pilot.pause(0.05)
        assert [v for _, v, _ in world.fake.requests if v in CONTROL_KEYS.values()] == []


async def test_kill_switch_needs_a_reason_and_the_typed_environment_name() -> None:
    async with cockpit("nominal") as (app, pilot, world):
        world.fake.replies["kill"] = ControlReply(ok=True, verb="kill", message=f"HALTED: incident {INCIDENT}")
        await pilot.press("K")
        modal = app.screen
        assert isinstance(modal, KillModal)
        assert modal.focused is not None
        assert modal.focused.id == "cancel"
        confirm = modal.query_one("#confirm", Button)
        assert confirm.disabled
        await type_into(pilot, "#reason", "runaway orders on XOM")
        await type_into(pilot, "#typed", "papr")
        assert confirm.disabled
        await pilot.press("enter")  # enter in the confirmation field: refused locally, nothing sent
        assert "both required" in str(modal.query_one("#kill-problem", Static).render())
        assert sent(world, "kill") == []
        await type_into(pilot, "#typed", ENV)
        assert not confirm.disabled
        await pilot.press("enter")
        await until(pilot, lambda: bool(sent(world, "kill")), "the kill request")
        operator, request = sent(world, "kill")[0]
        assert (operator, request.reason) == ("alice", "runaway orders on XOM")


async def test_kill_accepts_the_word_kill_as_confirmation() -> None:
    async with cockpit("nominal") as (_app, pilot, world):
        await pilot.press("K")
        await type_into(pilot, "#reason", "drill")
        await type_into(pilot, "#typed", "KILL")
        await pilot.press("enter")
        await until(pilot, lambda: bool(sent(world, "kill")), "the kill request")


async def test_resume_from_halted_prefills_the_incident_and_sends_the_signoff() -> None:
    async with cockpit("halted", operator="bob") as (app, pilot, world):
        world.fake.replies["resume"] = ControlReply(ok=True, verb="resume", message="RUNNING again, signed off by bob")
        await pilot.press("R")
        modal = app.screen
        assert isinstance(modal, ResumeModal)
        assert modal.focused is not None
        assert modal.focused.id == "cancel"
        assert modal.query_one("#operator", Input).value == "bob"
        assert modal.query_one("#operator", Input).disabled  # the identity is not editable here
        assert modal.query_one("#incident", Input).value == INCIDENT
        assert not modal.query("#approver")  # one approver configured
        await type_into(pilot, "#reason", "loss limit reviewed with risk")
        await pilot.press("tab", "tab", "tab", "enter")  # incident -> Cancel -> Resume
        await until(pilot, lambda: bool(sent(world, "resume")), "the resume request")
        operator, request = sent(world, "resume")[0]
        assert operator == "bob"
        assert (request.reason, request.incident_id, request.approver) == (
            "loss limit reviewed with risk",
            INCIDENT,
            None,
        )


async def test_a_refused_resume_comes_back_into_the_form_with_the_runtimes_reason() -> None:
    async with cockpit("halted", operator="carol") as (app, pilot, world):
        refusal = "operator 'carol' is not on the roster (RUNTIME_OPERATORS)"
        world.fake.replies["resume"] = ControlReply(ok=False, verb="resume", message=refusal)
        await pilot.press("R")
        await type_into(pilot, "#reason", "checked")
        app.screen.query_one("#confirm", Button).press()
        await until(pilot, lambda: logged(app, "resume") is not None, "the answer")
        await until(pilot, lambda: refused_form(app.screen), "the form again, composed")
        modal = app.screen
        assert isinstance(modal, ResumeModal)
        assert refusal in str(modal.query_one("#resume-problem", Static).render())
        assert modal.query_one("#reason", Input).value == "checked"  # as the operator left it
        entry = logged(app, "resume")
        assert entry is not None
        assert (entry.verb, entry.ok, entry.answer) == ("resume", False, refusal)
        assert any(refusal in str(n.message) for n in app._notifications)


async def test_two_approvers_adds_the_approver_field_and_it_must_be_someone_else() -> None:
    replies = {
        "status": ControlReply(
            ok=True, verb="status", message="HALTED", data={"state": "HALTED", "resume_approvers": 2}
        ),
    }
    async with cockpit("halted", operator="alice", replies=replies) as (app, pilot, world):
        await pilot.press("R")
        modal = app.screen
        assert isinstance(modal, ResumeModal)
        await type_into(pilot, "#reason", "reviewed")
        await type_into(pilot, "#approver", "alice")
        modal.query_one("#confirm", Button).press()
        await pilot.pause()
        assert "someone else" in str(modal.query_one("#resume-problem", Static).render())
        assert sent(world, "resume") == []
        await type_into(pilot, "#approver", "bob")
        modal.query_one("#confirm", Button).press()
        await until(pilot, lambda: bool(sent(world, "resume")), "the resume request")
        assert sent(world, "resume")[0][1].approver == "bob"


async def test_acknowledge_sends_the_alert_id_and_marks_the_row() -> None:
    async with cockpit("halted") as (app, pilot, world):

        def ack(operator: str, request: ControlRequest) -> ControlReply:
            alert_id = request.args["alert_id"]
            record = {"id": alert_id, "status": "acknowledged", "acked_by": operator}
            return ControlReply(ok=True, verb="ack", message=f"alert {alert_id} acknowledged", data=record)

        world.fake.handlers["ack"] = ack
        await pilot.press("4")
        view = app.main.view
        assert app.store.alerts[-1].waiting
        await pilot.press("a")  # the cursor is on the newest alert: the kill switch's
        await until(pilot, lambda: bool(sent(world, "ack")), "the ack request")
        operator, request = sent(world, "ack")[0]
        assert (operator, request.args) == ("alice", {"alert_id": "al-0004"})
        await until(pilot, lambda: app.store.alerts[-1].acked_by == "alice", "the acknowledgement")
        assert view.check_action("acknowledge", ()) is None  # nothing left to acknowledge on that row


@pytest.mark.parametrize("key", sorted(CONTROL_KEYS))
async def test_control_keys_are_inactive_while_disconnected(key: str) -> None:
    async with cockpit("disconnected") as (app, pilot, _world):
        action = CONTROL_KEYS[key]
        assert app.check_action(action, ()) is None  # shown, dimmed
        await pilot.press(key)
        assert app.screen is app.main  # no modal opened
        assert str(app.main.query_one("#sb-controls", Static).render()) == "CONTROLS OFF"


@pytest.mark.parametrize("key", sorted(CONTROL_KEYS))
async def test_control_keys_are_inactive_in_read_only_mode(key: str) -> None:
    async with cockpit("halted", read_only=True) as (app, pilot, world):
        assert app.check_action(CONTROL_KEYS[key], ()) is None
        await pilot.press(key)
        assert app.screen is app.main
        await pilot.press("4", "a")
        await pilot.pause(0.05)
        assert [v for _, v, _ in world.fake.requests if v in (*CONTROL_KEYS.values(), "ack")] == []
        assert "READ-ONLY" in str(app.main.query_one("#sb-controls", Static).render())


async def test_controls_go_off_when_the_runtime_goes_offline_and_come_back() -> None:
    async with cockpit("nominal") as (app, pilot, world):
        assert app.check_action("pause", ()) is True
        will = Presence(online=False, client_id="agenthedge-paper-runtime")
        await world.bus.publish(topics.STATE_CONNECTION, make("presence", will, source="runtime"), retain=True)
        await until(pilot, lambda: not app.store.runtime_online, "the last will")
        assert app.check_action("pause", ()) is None
        assert "OFFLINE" in str(app.main.query_one("#sb-connection", Static).render())
        back = Presence(online=True, client_id="agenthedge-paper-runtime", run_id="run-2")
        await world.bus.publish(topics.STATE_CONNECTION, make("presence", back, source="runtime"), retain=True)
        await until(pilot, lambda: app.check_action("pause", ()) is True, "controls back")
        await until(pilot, lambda: world.fake.verbs().count("status") == 2, "a fresh status for the new run")


async def test_a_second_state_change_waits_for_the_first_answer() -> None:
    async with cockpit("nominal") as (app, _pilot, _world):
        app.store.busy = "kill"  # a kill in flight
        app.refresh_bindings()
        for key, action in CONTROL_KEYS.items():
            assert app.check_action(action, ()) is None, key


async def test_no_answer_is_logged_as_such() -> None:
    async with cockpit("nominal") as (app, pilot, world):
        app.commander.timeout = 0.2
        await world.fake.stop()  # the runtime stops answering
        await pilot.press("p")
        await until(pilot, lambda: logged(app, "pause") is not None, "the timeout")
        entry = logged(app, "pause")
        assert entry is not None
        assert entry.ok is None
        assert entry.result == "? no answer"
        assert "no answer within" in entry.answer
        assert app.store.busy is None  # the keys come back
