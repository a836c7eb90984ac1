"""The execution agent through a real runtime (tmp home, its own memory:// bus) over two paper venues."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from agents.execution import BrokerAck, BrokerError, OrderRequest, PaperBroker
from agents.execution._paper import FailureKind, FailurePlan
from agents.execution._settle import CURSORS_KEY, NAMESPACE
from agents.types import EXECUTION_REPORT, ExecutionReport, FillReport
from runtime import topics
from runtime.messages import make
from runtime.payloads import KillSwitch
from runtime.pipeline import TickOutcome
from runtime.state import RuntimeState
from storage.ledger import Ledger
from tests.agents.execution._helpers import (
    DAYS,
    Feeder,
    alerts,
    desk,
    exchange,
    intent,
    market,
    next_alert,
    next_state,
    settings,
    verdicts,
)

DATA = market("AAA", "BBB")  # day i: AAA opens 100 + i and closes 101 + i; BBB opens 200 + i, closes 201 + i


def report_of(outcome: TickOutcome) -> ExecutionReport:
    report = outcome.tick.get(EXECUTION_REPORT, ExecutionReport)
    assert report is not None
    return report


async def test_orders_go_out_in_priority_order_and_fill_on_the_next_bar(tmp_path: Path) -> None:
    feeder = Feeder(DATA)
    feeder.plan[0] = [intent("i-aaa", "AAA", "buy", 100, 101.0, priority=1), intent("i-bbb", "BBB", "sell", 10, 201.0)]
    async with desk(tmp_path, feeder) as d:
        fills = d.rt.bus.subscribe(topics.EXECUTION_FILL)
        first = await d.rt.run_once()
        assert first.status == "completed"
        assert report_of(first).submitted == ["AH-test-00000001", "AH-test-00000002"]
        ledger = d.rt.books
        bbb, aaa = await ledger.order("AH-test-00000001"), await ledger.order("AH-test-00000002")
        assert bbb is not None
        assert aaa is not None
        assert (bbb.symbol, bbb.status, bbb.venue, bbb.attempts) == ("BBB", "acknowledged", "PAPER-A", 1)
        assert (aaa.symbol, aaa.broker_order_id) == ("AAA", "PAPER-A-O00000002")
        assert (await ledger.books()).positions == {}  # nothing fills on the session it was decided on

        second = await d.rt.run_once()
        got = report_of(second).fills
        assert [(f.symbol, f.qty, f.price, f.intent_id) for f in got] == [
            ("BBB", 10, 201.0, "i-bbb"),
            ("AAA", 100, 101.0, "i-aaa"),
        ]
        published = [(await fills.get(5.0)).envelope.parsed(FillReport) for _ in range(2)]
        assert published == got
        books = await ledger.books()
        assert {s: p.qty for s, p in books.positions.items()} == {"AAA": 100, "BBB": -10}
        assert books.account.cash == 1_000_000 - 100 * 101 + 10 * 201
        assert d.rt.state == RuntimeState.RUNNING


class Spy(PaperBroker):
    """A paper venue that notes what the ledger said about each order at the moment it arrived."""

    ledger: Ledger | None = None

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.seen: list[tuple[str, str, str]] = []

    async def submit_many(self, orders: Sequence[OrderRequest]) -> list[BrokerAck | BrokerError]:
        assert self.ledger is not None
        rows = [await self.ledger.order(o.client_order_id) for o in orders]  # as the batch arrives
        answers = await super().submit_many(orders)
        for order, row in zip(orders[: len(answers)], rows, strict=False):  # those taken, up to the first failure
            assert row is not None, "sent before it was persisted"
            self.seen.append((order.client_order_id, row.status, row.venue))
        return answers


def spies(home: Path, a_plan: dict[int, FailureKind], b_plan: dict[int, FailureKind] | None = None) -> tuple[Spy, Spy]:
    ex = exchange(home)
    return Spy(ex, "PAPER-A", FailurePlan(submit=a_plan)), Spy(ex, "PAPER-B", FailurePlan(submit=b_plan or {}))


async def test_each_order_is_persisted_before_it_is_sent(tmp_path: Path) -> None:
    a, b = spies(tmp_path, {1: "timeout", 2: "reject"})
    feeder = Feeder(DATA)
    feeder.plan[0] = [intent("i1", "AAA", "buy", 5, 101.0), intent("i2", "BBB", "buy", 5, 201.0, priority=1)]
    async with desk(tmp_path, feeder, brokers=(a, b)) as d:
        a.ledger = b.ledger = d.rt.books
        outcome = await d.rt.run_once()
        ledger = d.rt.books
        # i1: persisted as new at the primary, then its send timed out: unknown (never "failed"), no retry.
        # i2: rejected by the primary; the row named the alternate before it went there.
        assert a.seen == [("AH-test-00000001", "new", "PAPER-A"), ("AH-test-00000002", "new", "PAPER-A")]
        assert b.seen == [("AH-test-00000002", "new", "PAPER-B")]
        failures = report_of(outcome).failures
        assert failures["i1"].startswith("unknown:")
        assert "i2" not in failures
        one, two = await ledger.order("AH-test-00000001"), await ledger.order("AH-test-00000002")
        assert one is not None
        assert two is not None
        assert (two.status, two.venue, two.attempts) == ("acknowledged", "PAPER-B", 2)
        # Reconciliation ran after execution: the lost order never reached PAPER-A, so it is rejected.
        assert (one.status, one.attempts) == ("rejected", 1)
        assert "never received" in one.reason


async def test_timeout_is_unknown_then_reconciled_to_filled_without_double_applying(tmp_path: Path) -> None:
    a, b = spies(tmp_path, {1: "timeout_after_accept"})
    feeder = Feeder(DATA)
    feeder.plan[0] = [intent("i1", "AAA", "buy", 100, 101.0)]
    async with desk(tmp_path, feeder, brokers=(a, b)) as d:
        a.ledger = b.ledger = d.rt.books
        ledger = d.rt.books
        first = await d.rt.run_once()
        assert report_of(first).failures["i1"].startswith("unknown:")
        assert b.seen == []  # an unknown order is never retried elsewhere: it may be live
        order = await ledger.order("AH-test-00000001")
        assert order is not None
        assert (order.status, order.broker_order_id) == ("acknowledged", "PAPER-A-O00000001")  # reconciled
        await d.rt.run_once()
        order = await ledger.order("AH-test-00000001")
        assert order is not None
        assert (order.status, order.filled_qty) == ("filled", 100)
        cash = (await ledger.books()).account.cash

        # A crash before the fill cursor was saved: the venue hands the same fill out again.
        await ledger.put_json(NAMESPACE, CURSORS_KEY, {}, ts=d.rt.clock.now())
        d.execution.settlement._cursors = None
        third = await d.rt.run_once()
        assert [f.trade_id for f in report_of(third).fills] == ["PAPER-A-T00000001"]  # reported again (at-least-once)
        assert len(await ledger.fills()) == 1  # applied once
        books = await ledger.books()
        assert books.positions["AAA"].qty == 100
        assert books.account.cash == cash
        assert d.rt.state == RuntimeState.RUNNING  # reconciliation is clean


@pytest.mark.parametrize("kind", ["reject", "unavailable"])
async def test_a_refused_send_is_retried_on_the_alternate_venue(tmp_path: Path, kind: FailureKind) -> None:
    a, b = spies(tmp_path, {1: kind})
    feeder = Feeder(DATA)
    feeder.plan[0] = [intent("i1", "AAA", "buy", 100, 101.0)]
    async with desk(tmp_path, feeder, brokers=(a, b)) as d:
        a.ledger = b.ledger = d.rt.books
        await d.rt.run_once()
        order = await d.rt.books.order("AH-test-00000001")
        assert order is not None
        assert (order.status, order.venue, order.attempts) == ("acknowledged", "PAPER-B", 2)
        assert d.execution.guard.consecutive == 0  # the acknowledgement reset the count
        second = await d.rt.run_once()
        assert [(f.venue, f.qty) for f in report_of(second).fills] == [("PAPER-B", 100)]
        assert await a.positions() == {}
        assert await b.positions() == {"AAA": 100}
        assert d.rt.state == RuntimeState.RUNNING


async def test_no_retry_once_the_price_left_the_collar(tmp_path: Path) -> None:
    a, b = spies(tmp_path, {1: "reject"})
    feeder = Feeder(DATA)
    feeder.plan[0] = [intent("i1", "AAA", "buy", 100, 150.0)]  # decided at 150; the market is at 101
    async with desk(tmp_path, feeder, brokers=(a, b)) as d:
        a.ledger = b.ledger = d.rt.books
        outcome = await d.rt.run_once()
        assert b.seen == []
        assert "collar" in report_of(outcome).failures["i1"]
        order = await d.rt.books.order("AH-test-00000001")
        assert order is not None
        assert order.status == "rejected"
        assert "collar" in order.reason


async def test_no_retry_when_max_retries_is_zero(tmp_path: Path) -> None:
    a, b = spies(tmp_path, {1: "reject"})
    feeder = Feeder(DATA)
    feeder.plan[0] = [intent("i1", "AAA", "buy", 100, 101.0)]
    async with desk(tmp_path, feeder, brokers=(a, b), exec_settings=settings(max_retries=0)) as d:
        a.ledger = b.ledger = d.rt.books
        await d.rt.run_once()
        assert b.seen == []
        order = await d.rt.books.order("AH-test-00000001")
        assert order is not None
        assert order.status == "rejected"


async def test_client_order_ids_stay_unique_across_a_restart(tmp_path: Path) -> None:
    feeder = Feeder(DATA)
    feeder.plan[0] = [intent("i1", "AAA", "buy", 100, 101.0), intent("i2", "BBB", "buy", 10, 201.0)]
    async with desk(tmp_path, feeder) as d:
        await d.rt.run_once()
    later = Feeder(DATA, days=DAYS[1:])
    later.plan[0] = [intent("i1", "AAA", "buy", 50, 102.0), intent("i2", "BBB", "buy", 5, 202.0)]
    async with desk(tmp_path, later) as d:  # the same ledger and paper venue files, new objects
        outcome = await d.rt.run_once()
        report = report_of(outcome)
        assert report.submitted == ["AH-test-00000003", "AH-test-00000004"]
        # The orders sent before the restart filled after it, under trade ids the venue never used before.
        assert [(f.client_order_id, f.trade_id) for f in report.fills] == [
            ("AH-test-00000001", "PAPER-A-T00000001"),
            ("AH-test-00000002", "PAPER-A-T00000002"),
        ]
        ids = [o.client_order_id for o in await d.rt.books.orders()]
        assert sorted(ids) == [f"AH-test-{n:08d}" for n in range(1, 5)]
        venue_ids = {(await d.a.order_status(i)).broker_order_id for i in ids}  # type: ignore[union-attr]
        assert len(venue_ids) == 4
        assert d.rt.state == RuntimeState.RUNNING


async def test_reducing_sends_only_exposure_reducing_orders(tmp_path: Path) -> None:
    feeder = Feeder(DATA)
    feeder.plan[0] = [intent("i1", "AAA", "buy", 100, 101.0)]
    feeder.plan[1] = [intent("cut", "AAA", "sell", 40, 102.0, reduces=True), intent("add", "BBB", "buy", 5, 202.0)]
    async with desk(tmp_path, feeder) as d:
        await d.rt.run_once()
        await d.rt.set_state(RuntimeState.REDUCING, reason="drawdown", actor="risk")
        outcome = await d.rt.run_once()
        report = report_of(outcome)
        assert report.submitted == ["AH-test-00000002"]
        assert "REDUCING" in report.failures["add"]
        order = await d.rt.books.order("AH-test-00000002")
        assert order is not None
        assert (order.symbol, order.side) == ("AAA", "sell")


async def test_missing_compliance_verdicts_send_nothing_and_alert(tmp_path: Path) -> None:
    feeder = Feeder(DATA)
    orders = [intent("i1", "AAA", "buy", 100, 101.0)]
    feeder.plan[0] = orders
    feeder.verdict_sets[0] = (verdicts("risk", orders), None)
    async with desk(tmp_path, feeder) as d:
        sub = alerts(d.rt)
        outcome = await d.rt.run_once()
        assert report_of(outcome).submitted == []
        assert "fail closed" in report_of(outcome).failures["i1"]
        assert await d.rt.books.orders() == []
        alert = await next_alert(sub, "execution_fail_closed")
        assert alert.severity == "warning"


async def test_a_halt_mid_tick_stops_sending_at_once(tmp_path: Path) -> None:
    """A kill switch from elsewhere lands while the tick's batch is at the primary venue, which took i1 and refused
    i2: i2 is not retried on the alternate, i3 (after the refusal, so not in the venue's answer) is never sent,
    and the halt's cancel-all waits for the sends in flight, then cancels i1."""
    ex = exchange(tmp_path)

    class Halting(PaperBroker):
        async def submit_many(self, orders: Sequence[OrderRequest]) -> list[BrokerAck | BrokerError]:
            answers = await super().submit_many(orders)
            state = rt.bus.subscribe(topics.STATE_RUNTIME)
            trigger = make("kill_switch", KillSwitch(reason="risk breach"), source="risk", env=rt.env)
            await rt.bus.publish(topics.RISK_KILL_SWITCH, trigger)
            await next_state(state, "HALTED")
            await state.close()
            return answers

    a, b = Halting(ex, "PAPER-A", FailurePlan(submit={2: "reject"})), PaperBroker(ex, "PAPER-B")
    feeder = Feeder(DATA)
    feeder.plan[0] = [
        intent("i1", "AAA", "buy", 100, 101.0),
        intent("i2", "BBB", "buy", 5, 201.0, priority=1),
        intent("i3", "AAA", "sell", 1, 101.0, priority=2),
    ]
    async with desk(tmp_path, feeder, brokers=(a, b)) as d:
        rt = d.rt
        sub = alerts(rt)
        outcome = await rt.run_once()
        await next_alert(sub, "runtime_kill_switch")  # the halt finished: safe states reached, incident written
        assert outcome.status == "aborted"
        report = report_of(outcome)
        assert report.submitted == ["AH-test-00000001", "AH-test-00000002"]
        assert "runtime halted before the send" in report.failures["i2"]
        assert report.failures["i3"] == "cancelled: not sent: trading is halted or paused"
        assert (a.failures.submits, b.failures.submits) == (2, 0)
        one, two, three = [await rt.books.order(f"AH-test-{n:08d}") for n in (1, 2, 3)]
        assert one is not None
        assert two is not None
        assert three is not None
        assert one.status == "cancelled"
        assert (two.status, two.venue, two.attempts) == ("cancelled", "PAPER-A", 1)
        assert (three.status, three.attempts) == ("cancelled", 0)
        at_venue = await a.order_status("AH-test-00000001")
        assert at_venue is not None
        assert at_venue.state == "cancelled"
        assert await a.order_status("AH-test-00000003") is None
        assert rt.state == RuntimeState.HALTED


async def test_the_compliance_gate_refusing_the_verdicts_sends_nothing_but_the_tick_goes_on(tmp_path: Path) -> None:
    """Risk approved two intents, compliance judged one: the gate fails closed for the whole pack."""
    feeder = Feeder(DATA)
    both = [intent("i1", "AAA", "buy", 1, 101.0), intent("i2", "BBB", "buy", 1, 201.0)]
    feeder.plan[0] = both
    feeder.verdict_sets[0] = (verdicts("risk", both), verdicts("compliance", both[:1]))
    async with desk(tmp_path, feeder) as d:
        sub = alerts(d.rt)
        outcome = await d.rt.run_once()
        assert outcome.status == "completed"  # reconciliation still ran
        report = report_of(outcome)
        assert report.submitted == []
        assert set(report.failures) == {"i1", "i2"}
        assert "compliance gate" in report.failures["i1"]
        assert await d.rt.books.orders() == []
        await next_alert(sub, "execution_fail_closed")
        assert d.reconciliation.last is not None
