"""The cockpit against a real runtime and its real control service on one ``memory://`` bus (the embedded
layout): the kill switch by keyboard halts it, the banner shows it, a wrong sign-off is refused with the
runtime's own reason, the right one resumes and lands in the audit log."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.widgets import Button, Input, Static

from runtime.bus import MemoryBus
from runtime.control import ControlService
from runtime.runtime import Runtime
from screens.modals.resume import ResumeModal
from tests.runtime.harness import OrderAgent, make_runtime
from tests.screens.harness import make_app, refused_form, until

URL = "memory://with-runtime"
ENV = "paper"


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = make_runtime(tmp_path / "home", bus_url=URL, env=ENV, agents=[OrderAgent(per_tick=2)])
    await rt.start()
    control = ControlService(rt)
    await control.start()
    yield rt
    await control.stop()
    await rt.stop()


async def type_into(pilot: object, app: object, selector: str, text: str) -> None:
    from textual.pilot import Pilot

    assert isinstance(pilot, Pilot)
    field = pilot.app.screen.query_one(selector, Input)
    field.focus()
    field.value = ""
    await pilot.press(*list(text))


async def test_kill_then_refused_then_signed_off_resume_through_the_keyboard(runtime: Runtime) -> None:
    app = make_app(URL, operator="alice")
    assert isinstance(app.bus, MemoryBus)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await until(pilot, lambda: app.store.state is not None and app.store.status is not None, "the runtime")
        assert app.store.state_name == "RUNNING"
        await runtime.run_once()  # two working orders to cancel

        await pilot.press("K")
        await type_into(pilot, app, "#reason", "drill: runaway orders")
        await type_into(pilot, app, "#typed", ENV)
        await pilot.press("enter")
        await until(pilot, lambda: app.store.state_name == "HALTED", "HALTED")
        incident = await runtime.open_incident()
        assert incident is not None
        assert incident.reason == "drill: runaway orders"
        banner_widget = app.main.query_one("#banner", Static)
        await until(pilot, lambda: "KILL SWITCH" in str(banner_widget.render()), "the banner")
        banner = str(banner_widget.render())
        assert "KILL SWITCH" in banner
        assert incident.id in banner
        assert await runtime.books.open_orders() == []

        await pilot.press("R")
        modal = app.screen
        assert isinstance(modal, ResumeModal)
        assert modal.ctx.state == "HALTED", modal.ctx
        assert modal.query_one("#incident", Input).value == incident.id  # prefilled from the retained state
        await type_into(pilot, app, "#incident", "INC-WRONG")
        await type_into(pilot, app, "#reason", "drill over")
        modal.query_one("#confirm", Button).press()
        await until(pilot, lambda: refused_form(app.screen), "the form again, with the refusal")
        refusal = app.screen.ctx.refusal if isinstance(app.screen, ResumeModal) else ""
        assert refusal == f"incident 'INC-WRONG' is not the open incident (open incident: {incident.id})"
        assert runtime.state.value == "HALTED"

        await type_into(pilot, app, "#incident", incident.id)
        app.screen.query_one("#confirm", Button).press()
        await until(pilot, lambda: app.store.state_name == "RUNNING", "RUNNING again")
        await until(pilot, lambda: not banner_widget.display, "the banner gone")

    lines = [json.loads(line) for line in (runtime.home / "audit" / "runtime_events.jsonl").read_text().splitlines()]
    refused = [r for r in lines if r["event"] == "control.refused"]
    assert refused
    assert refused[-1]["actor"] == "alice"
    transition = [r for r in lines if r["event"] == "runtime.transition" and r["data"]["to"] == "RUNNING"][-1]
    assert transition["actor"] == "alice"
    assert transition["data"]["reason"] == "drill over"
    signoffs = sorted(await runtime.books.signoffs(), key=lambda s: (s.ts, s.accepted))
    assert [(s.operator, s.incident_id, s.accepted) for s in signoffs] == [
        ("alice", "INC-WRONG", False),
        ("alice", incident.id, True),
    ]
