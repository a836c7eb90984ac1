"""The runtime on the in-process bus: state persistence, kill switch, sign-off, pipeline, one runtime per home."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from runtime import topics
from runtime.agent import Stage, Tick
from runtime.bus import MemoryBroker, MemoryBus
from runtime.errors import Refused
from runtime.lock import HomeLocked
from runtime.messages import make
from runtime.payloads import Alert, KillSwitch, StateChanged
from runtime.runtime import Runtime
from runtime.signoff import ResumeRequest
from runtime.state import RuntimeState
from storage.audit import verify
from storage.db import connect_sync
from tests.runtime.harness import OrderAgent, RecordingAgent, make_runtime


@pytest.fixture
def bus_url(bus_env: str) -> str:
    return f"memory://{bus_env}"


@pytest.fixture
async def rt(tmp_path: Path, bus_url: str, bus_env: str) -> AsyncIterator[Runtime]:
    runtime = make_runtime(tmp_path / "home", bus_url=bus_url, agents=[OrderAgent()])
    await runtime.start()
    yield runtime
    await runtime.stop()
    MemoryBroker.reset(bus_env)


def persisted_state(home: Path) -> str:
    conn = connect_sync(home / "ledger.sqlite", readonly=True)
    try:
        return str(conn.execute("SELECT state FROM runtime_state WHERE id = 1").fetchone()[0])
    finally:
        conn.close()


def audit_events(home: Path) -> list[dict[str, object]]:
    path = home / "audit" / "runtime_events.jsonl"
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


async def test_first_start_is_running_and_persisted(rt: Runtime) -> None:
    assert rt.state == RuntimeState.RUNNING
    assert persisted_state(rt.home) == "RUNNING"
    transitions = await rt.books.transitions()
    assert [(t.from_state, t.to_state) for t in transitions] == [("NONE", "RUNNING")]


async def test_state_is_retained_on_the_bus(rt: Runtime, bus_url: str) -> None:
    observer = MemoryBus(bus_url, "test")
    await observer.start()
    async with observer.subscribe(topics.STATE_RUNTIME) as sub:
        delivery = await sub.get(timeout=1)
    await observer.close()
    assert delivery.retained
    assert delivery.envelope.parsed(StateChanged).state == "RUNNING"


async def test_kill_switch_halts_cancels_and_opens_an_incident(rt: Runtime, bus_url: str) -> None:
    await rt.run_once()
    assert len(await rt.books.open_orders()) == 2
    observer = MemoryBus(bus_url, "test")
    await observer.start()
    alerts = observer.subscribe(topics.EVENT_ALERT)
    incident = await rt.kill(
        source="risk.kill_switch", reason="daily loss -5.2%", metrics={"pnl": -0.052}, actor="risk"
    )
    assert rt.state == RuntimeState.HALTED
    assert persisted_state(rt.home) == "HALTED"
    assert await rt.books.open_orders() == []
    cancelled = await rt.books.orders()
    assert {o.status for o in cancelled} == {"cancelled"}
    folder = rt.home / "incidents" / incident.id
    forensics = json.loads((folder / "forensics.json").read_text())
    assert forensics["metrics"] == {"pnl": -0.052}
    assert forensics["open_orders_after_cancel"] == []
    assert {o["client_order_id"] for o in forensics["recent_orders"]} == {o.client_order_id for o in cancelled}
    assert forensics["agents_safe_state"]["test-orders"]["safe"] is True
    assert forensics["health"]["state"]["state"] == "HALTED"
    assert any(e["event"] == "runtime.transition" for e in forensics["audit_tail"])
    assert "positions" in forensics
    assert "account" in forensics
    alert = (await alerts.get(timeout=1)).envelope.parsed(Alert)
    assert (alert.action, alert.severity) == ("runtime_kill_switch", "critical")
    assert incident.id in alert.message
    await observer.close()


async def test_no_tick_runs_while_halted(rt: Runtime) -> None:
    agent = rt.registry.get("test-orders")
    assert isinstance(agent, OrderAgent)
    await rt.kill(source="operator", reason="drill", actor="alice")
    outcome = await rt.run_once()
    assert outcome.status == "skipped"
    assert "HALTED" in outcome.reason
    assert agent.ticks == 0


@pytest.mark.parametrize("topic", topics.KILL_SWITCH_TOPICS)
async def test_each_kill_topic_halts(rt: Runtime, bus_url: str, topic: str) -> None:
    sender = MemoryBus(bus_url, "test")
    await sender.start()
    halted = rt.bus.subscribe(topics.STATE_RUNTIME)
    await halted.get(timeout=1)  # the retained RUNNING
    await sender.publish(topic, make("kill_switch", KillSwitch(reason="breach", metrics={"x": 1}), source="risk"))
    state = (await halted.get(timeout=2)).envelope.parsed(StateChanged)
    assert state.state == "HALTED"
    incident = await rt.open_incident()
    assert incident is not None
    assert incident.source == topic.replace("/", ".")
    await sender.close()


async def test_a_duplicate_kill_message_is_handled_once(rt: Runtime, bus_url: str) -> None:
    message = make("kill_switch", KillSwitch(reason="breach"), source="risk")
    await rt.kill_switch.handle(topics.RISK_KILL_SWITCH, message)
    await rt.kill_switch.handle(topics.RISK_KILL_SWITCH, message)  # QoS 1 redelivery
    incidents = await rt.books.incidents()
    assert len(incidents) == 1
    assert "further_triggers" not in incidents[0].payload


async def test_a_second_kill_while_halted_joins_the_open_incident(rt: Runtime) -> None:
    first = await rt.kill(source="risk.kill_switch", reason="loss", actor="risk")
    again = await rt.kill(source="compliance.kill_switch", reason="vetoes", actor="compliance")
    assert again.id == first.id
    incident = await rt.books.incident(first.id)
    assert incident is not None
    assert incident.payload["further_triggers"][0]["source"] == "compliance.kill_switch"
    assert len(await rt.books.incidents()) == 1


async def test_halt_survives_a_restart(tmp_path: Path, bus_url: str, bus_env: str) -> None:
    home = tmp_path / "home"
    first = make_runtime(home, bus_url=bus_url, agents=[OrderAgent()])
    await first.start()
    incident = await first.kill(source="runtime.kill_switch", reason="test", actor="ops")
    await first.stop()
    second = make_runtime(home, bus_url=bus_url, agents=[OrderAgent()])
    await second.start()
    try:
        assert second.state == RuntimeState.HALTED
        assert (await second.open_incident()) is not None
        assert (await second.run_once()).status == "skipped"
        with pytest.raises(Refused):
            await second.set_state(RuntimeState.RUNNING, reason="scheduler", actor="scheduler")
        record = await second.resume(ResumeRequest("alice", "reviewed", incident.id))
        assert record.state == "RUNNING"
    finally:
        await second.stop()


@pytest.mark.parametrize(
    ("request_", "approvers"),
    [
        (ResumeRequest(None, "ok"), 1),
        (ResumeRequest("mallory", "ok"), 1),
        (ResumeRequest("alice", ""), 1),
        (ResumeRequest("alice", "ok", "INC-WRONG"), 1),
        (ResumeRequest("alice", "ok", "{incident}"), 2),
    ],
)
async def test_refused_resumes_are_audited_and_recorded(
    tmp_path: Path, bus_url: str, request_: ResumeRequest, approvers: int
) -> None:
    runtime = make_runtime(tmp_path / "home", bus_url=bus_url, approvers=approvers)
    await runtime.start()
    try:
        incident = await runtime.kill(source="operator", reason="x", actor="alice")
        ask = ResumeRequest(
            request_.operator, request_.reason, (request_.incident_id or "").format(incident=incident.id)
        )
        with pytest.raises(Refused) as refused:
            await runtime.resume(ask)
        assert runtime.state == RuntimeState.HALTED
        refusals = [e for e in audit_events(runtime.home) if e["event"] == "control.refused"]
        assert refusals[-1]["data"]["reason"] == refused.value.reason  # type: ignore[index]
        signoffs = await runtime.books.signoffs()
        assert signoffs[-1].accepted is False
        assert signoffs[-1].refusal == refused.value.reason
    finally:
        await runtime.stop()


async def test_a_closed_incident_cannot_sign_off_a_new_halt(rt: Runtime) -> None:
    old = await rt.kill(source="operator", reason="first", actor="alice")
    await rt.resume(ResumeRequest("alice", "fixed", old.id))
    await rt.kill(source="operator", reason="second", actor="alice")
    with pytest.raises(Refused, match="not the open incident"):
        await rt.resume(ResumeRequest("alice", "fixed", old.id))


async def test_two_approvers_resume(tmp_path: Path, bus_url: str) -> None:
    runtime = make_runtime(tmp_path / "home", bus_url=bus_url, approvers=2)
    await runtime.start()
    try:
        incident = await runtime.kill(source="operator", reason="x", actor="alice")
        with pytest.raises(Refused, match="second approver"):
            await runtime.resume(ResumeRequest("alice", "ok", incident.id))
        await runtime.resume(ResumeRequest("alice", "ok", incident.id, approver="bob"))
        assert runtime.state == RuntimeState.RUNNING
        closed = await runtime.books.incident(incident.id)
        assert closed is not None
        assert (closed.status, closed.closed_by) == ("closed", "alice")
        accepted = [s for s in await runtime.books.signoffs(incident.id) if s.accepted]
        assert [(s.operator, s.approver) for s in accepted] == [("alice", "bob")]
    finally:
        await runtime.stop()


async def test_pause_and_resume(rt: Runtime) -> None:
    await rt.pause("carol", "lunch")
    assert persisted_state(rt.home) == "PAUSED"
    assert (await rt.run_once()).status == "skipped"
    with pytest.raises(Refused, match="operator name"):
        await rt.resume(ResumeRequest("", ""))
    await rt.resume(ResumeRequest("carol", ""))
    assert rt.state == RuntimeState.RUNNING
    with pytest.raises(Refused, match="operator name"):
        await rt.pause("  ")


async def test_transitions_are_persisted_broadcast_and_audited_in_order(rt: Runtime) -> None:
    await rt.pause("carol")
    events = audit_events(rt.home)
    moves = [(e["data"]["from"], e["data"]["to"]) for e in events if e["event"] == "runtime.transition"]  # type: ignore[index]
    assert moves == [("NONE", "RUNNING"), ("RUNNING", "PAUSED")]
    assert all(e["run_id"] == rt.run_id and e["env"] == "test" for e in events)
    assert verify(rt.home / "audit" / "runtime_events.jsonl").ok


async def test_a_stage_that_misses_its_deadline_aborts_the_tick(tmp_path: Path, bus_url: str) -> None:
    slow = RecordingAgent("slow-risk", Stage.RISK, delay=30)
    execution = RecordingAgent("exec", Stage.EXECUTION)
    runtime = make_runtime(tmp_path / "home", bus_url=bus_url, agents=[slow, execution], stage_deadline=0.05)
    await runtime.start()
    try:
        outcome = await runtime.run_once()
    finally:
        await runtime.stop()
    assert outcome.status == "aborted"
    assert "risk stage missed its 0.05s deadline" in outcome.reason
    assert execution.seen == []


async def test_an_agent_error_aborts_the_tick_before_execution(tmp_path: Path, bus_url: str) -> None:
    broken = RecordingAgent("broken-director", Stage.DIRECTOR, fail=True)
    execution = RecordingAgent("exec", Stage.EXECUTION)
    runtime = make_runtime(tmp_path / "home", bus_url=bus_url, agents=[broken, execution])
    await runtime.start()
    try:
        outcome = await runtime.run_once()
    finally:
        await runtime.stop()
    assert (outcome.status, outcome.failed_agent) == ("aborted", "broken-director")
    assert execution.seen == []
    assert broken.errors == 1


async def test_a_halt_during_a_tick_stops_it_before_execution(tmp_path: Path, bus_url: str) -> None:
    runtime: Runtime | None = None

    async def pull_kill(tick: Tick) -> None:
        assert runtime is not None
        await runtime.kill(source="risk.kill_switch", reason="mid-tick", actor="risk")

    risk = RecordingAgent("risk", Stage.RISK, hook=pull_kill)
    execution = RecordingAgent("exec", Stage.EXECUTION)
    runtime = make_runtime(tmp_path / "home", bus_url=bus_url, agents=[risk, execution])
    await runtime.start()
    try:
        outcome = await runtime.run_once()
    finally:
        await runtime.stop()
    assert outcome.status == "aborted"
    assert "HALTED" in outcome.reason
    assert execution.seen == []


async def test_stages_run_in_the_runbook_order(tmp_path: Path, bus_url: str) -> None:
    order: list[str] = []

    def hook_for(stage: Stage) -> Callable[[Tick], None]:
        return lambda tick: order.append(stage.value)

    agents = [RecordingAgent(f"a-{s.value}", s, hook=hook_for(s)) for s in reversed(Stage)]
    runtime = make_runtime(tmp_path / "home", bus_url=bus_url, agents=list(agents))
    await runtime.start()
    try:
        assert (await runtime.run_once()).status == "completed"
    finally:
        await runtime.stop()
    assert order == [s.value for s in Stage]


async def test_one_runtime_per_home(rt: Runtime, bus_url: str) -> None:
    second = make_runtime(rt.home, bus_url=bus_url)
    with pytest.raises(HomeLocked, match=r"held by runtime pid \d+"):
        await second.start()


async def test_programmatic_moves_never_leave_halted(rt: Runtime) -> None:
    await rt.kill(source="operator", reason="x", actor="alice")
    for target in (RuntimeState.RUNNING, RuntimeState.PAUSED, RuntimeState.REDUCING, RuntimeState.DEGRADED):
        with pytest.raises(Refused, match="HALTED"):
            await rt.set_state(target, reason="auto", actor="risk")
