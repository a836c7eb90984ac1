"""Runbook SOP 5 through a real runtime: repeated execution failure halts, cancels everything open, flags manual
intervention, survives a restart, and clears only after a signed-off resume."""

from __future__ import annotations

from pathlib import Path

from agents.execution import PaperBroker
from agents.execution._agent import GUARD_KEY
from agents.execution._paper import FailurePlan
from agents.execution._settle import NAMESPACE
from agents.types import EXECUTION_REPORT, ExecutionReport
from runtime.signoff import ResumeRequest
from runtime.state import RuntimeState
from tests.agents.execution._helpers import DAYS, Feeder, alerts, desk, exchange, intent, market, next_alert

DATA = market("AAA", "BBB", "CCC")


def failing_venues(home: Path) -> tuple[PaperBroker, PaperBroker]:
    """PAPER-A takes the first two orders, then refuses everything; PAPER-B refuses everything."""
    ex = exchange(home)
    a = ex.venue("PAPER-A", FailurePlan(submit={n: "reject" for n in range(3, 50)}))
    b = ex.venue("PAPER-B", FailurePlan(every_submit="reject"))
    return a, b


async def test_three_consecutive_failures_halt_and_cancel_every_open_order(tmp_path: Path) -> None:
    a, b = failing_venues(tmp_path)
    feeder = Feeder(DATA)
    feeder.plan[0] = [intent("first", "AAA", "buy", 100, 101.0)]  # fills on the next bar
    feeder.plan[1] = [
        intent("ok", "AAA", "buy", 50, 102.0),  # PAPER-A takes it: working when the halt comes
        intent("x", "BBB", "buy", 10, 202.0, priority=1),  # PAPER-A rejects (1), PAPER-B rejects (2): rejected
        intent("y", "CCC", "buy", 10, 302.0, priority=2),  # PAPER-A rejects (3): halt, no retry
        intent("z", "CCC", "sell", 1, 302.0, priority=3),  # persisted with the others, never sent
    ]
    async with desk(tmp_path, feeder, brokers=(a, b)) as d:
        rt, ledger = d.rt, d.rt.books
        sub = alerts(rt)
        await rt.run_once()
        outcome = await rt.run_once()
        execution_alert = await next_alert(sub, "execution_failure")
        kill_alert = await next_alert(sub, "runtime_kill_switch")

        assert rt.state == RuntimeState.HALTED
        state = await ledger.state()
        assert state is not None
        assert state.state == "HALTED"
        incident = await rt.open_incident()
        assert incident is not None
        assert incident.source == "runtime.kill_switch"
        assert incident.reason.startswith("execution failure: 3 consecutive send failures")
        assert incident.payload["metrics"]["consecutive_failures"] == 3
        assert [f["venue"] for f in incident.payload["metrics"]["failures"]] == ["PAPER-A", "PAPER-B", "PAPER-A"]
        assert execution_alert.severity == "critical"
        assert execution_alert.needs_ack  # flagged for manual intervention
        assert "manual intervention" not in kill_alert.message  # every order was cancelled: none left open

        report = outcome.tick.get(EXECUTION_REPORT, ExecutionReport)
        assert report is not None
        assert report.submitted == ["AH-test-00000002", "AH-test-00000003", "AH-test-00000004"]
        assert set(report.failures) == {"x", "y", "z"}
        z = await ledger.order("AH-test-00000005")  # persisted before any send, then closed unsent
        assert z is not None
        assert (z.status, z.attempts, z.reason) == ("cancelled", 0, "not sent: trading is halted or paused")
        assert await d.a.order_status("AH-test-00000005") is None
        assert await d.b.order_status("AH-test-00000005") is None
        assert a.failures.submits == 4  # first, ok, x, y: the venue never saw z
        x, y = await ledger.order("AH-test-00000003"), await ledger.order("AH-test-00000004")
        assert x is not None
        assert y is not None
        assert (x.status, x.venue, x.attempts) == ("rejected", "PAPER-B", 2)
        assert (y.status, y.venue, y.attempts) == ("rejected", "PAPER-A", 1)

        # Cancel-all on the halt: the order working at the venue, in the ledger and at the venue.
        assert await ledger.open_orders() == []
        cancelled = await ledger.order("AH-test-00000002")
        assert cancelled is not None
        assert cancelled.status == "cancelled"
        at_venue = await d.a.order_status("AH-test-00000002")
        assert at_venue is not None
        assert at_venue.state == "cancelled"
        assert await d.a.open_orders() == []
        assert (await ledger.books()).positions["AAA"].qty == 100  # a halt cancels orders; it sells nothing
        assert not d.execution.health().ok

        skipped = await rt.run_once()
        assert skipped.status == "skipped"  # HALTED: no ticks, so no orders


async def test_two_failures_do_not_halt(tmp_path: Path) -> None:
    a, b = failing_venues(tmp_path)
    feeder = Feeder(DATA)
    feeder.plan[0] = [intent("ok", "AAA", "buy", 100, 101.0)]
    feeder.plan[1] = [intent("ok2", "AAA", "buy", 1, 102.0), intent("x", "BBB", "buy", 10, 202.0, priority=1)]
    async with desk(tmp_path, feeder, brokers=(a, b)) as d:
        await d.rt.run_once()
        await d.rt.run_once()  # ok2 goes through; x fails at A, then at B: two failures, the limit is three
        assert d.rt.state == RuntimeState.RUNNING
        assert d.execution.guard.consecutive == 2
        assert d.execution.health().ok


async def test_a_success_between_failures_resets_the_count(tmp_path: Path) -> None:
    ex = exchange(tmp_path)
    a = ex.venue("PAPER-A", FailurePlan(submit={1: "reject", 3: "reject"}))
    b = ex.venue("PAPER-B", FailurePlan(every_submit="reject"))
    feeder = Feeder(DATA)
    feeder.plan[0] = [intent("x", "AAA", "buy", 1, 101.0), intent("y", "BBB", "buy", 1, 201.0, priority=1)]
    feeder.plan[1] = [intent("z", "CCC", "buy", 1, 302.0)]
    async with desk(tmp_path, feeder, brokers=(a, b)) as d:
        await d.rt.run_once()  # x: A fails, B fails (2); y: A takes it (0)
        assert d.execution.guard.consecutive == 0
        await d.rt.run_once()  # z: A fails, B fails (2): four failures in all, never three in a row
        assert d.execution.guard.consecutive == 2
        assert d.rt.state == RuntimeState.RUNNING


async def test_the_halt_survives_a_restart_and_clears_after_a_signed_off_resume(tmp_path: Path) -> None:
    ex = exchange(tmp_path)
    a = ex.venue("PAPER-A", FailurePlan(every_submit="unavailable"))
    b = ex.venue("PAPER-B", FailurePlan(every_submit="unavailable"))
    feeder = Feeder(DATA)
    feeder.plan[0] = [intent("x", "AAA", "buy", 1, 101.0), intent("y", "BBB", "buy", 1, 201.0)]
    async with desk(tmp_path, feeder, brokers=(a, b)) as d:
        sub = alerts(d.rt)
        await d.rt.run_once()
        await next_alert(sub, "runtime_kill_switch")
        assert d.rt.state == RuntimeState.HALTED
        saved = await d.rt.books.get_json(NAMESPACE, GUARD_KEY)
        assert saved["consecutive"] == 3
        assert saved["tripped_seq"] is not None

    later = Feeder(DATA, days=DAYS[1:])
    later.plan[0] = [intent("after", "CCC", "buy", 1, 302.0)]
    async with desk(tmp_path, later) as d:  # healthy venues now
        assert d.rt.state == RuntimeState.HALTED  # the state machine persisted the halt
        assert not d.execution.health().ok  # and execution remembers why
        incident = await d.rt.open_incident()
        assert incident is not None
        await d.rt.resume(ResumeRequest(operator="alice", reason="venues fixed", incident_id=incident.id))
        outcome = await d.rt.run_once()
        report = outcome.tick.get(EXECUTION_REPORT, ExecutionReport)
        assert report is not None
        assert report.submitted == ["AH-test-00000003"]  # ids 1 and 2 were used before the halt
        assert d.execution.guard.consecutive == 0
        assert not d.execution.guard.tripped
        assert d.execution.health().ok
        order = await d.rt.books.order("AH-test-00000003")
        assert order is not None
        assert order.status == "acknowledged"


async def test_a_kill_switch_lost_before_it_landed_is_pulled_again(tmp_path: Path) -> None:
    """The process died after execution asked for a halt but before the runtime handled it (the memory bus
    lost the message): on the next tick execution sends nothing and pulls the kill switch again."""
    feeder = Feeder(DATA)
    async with desk(tmp_path, feeder) as d:
        state = await d.rt.books.state()
        assert state is not None
        lost = {"consecutive": 3, "tripped_seq": state.seq, "recent": []}
        await d.rt.books.put_json(NAMESPACE, GUARD_KEY, lost, ts=d.rt.clock.now())
    again = Feeder(DATA)
    again.plan[0] = [intent("x", "AAA", "buy", 1, 101.0)]
    async with desk(tmp_path, again) as d:
        before = d.rt.state
        assert before == RuntimeState.RUNNING
        sub = alerts(d.rt)
        outcome = await d.rt.run_once()
        await next_alert(sub, "runtime_kill_switch")
        assert d.rt.state == RuntimeState.HALTED
        report = outcome.tick.get(EXECUTION_REPORT, ExecutionReport)
        assert report is not None
        assert report.submitted == []
        assert await d.rt.books.orders() == []
