"""Execution's batch paths through a real runtime: a tick's orders persisted together, sent in venue batches,
their fills settled together."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from agents.execution import BrokerAck, BrokerError, BrokerUnavailable, FillBatch, OrderRequest, PaperBroker
from agents.execution._paper import FailurePlan
from agents.types import EXECUTION_REPORT, ExecutionReport
from runtime.state import RuntimeState
from storage.ledger import Ledger
from tests.agents.execution._helpers import DAYS, Feeder, desk, exchange, intent, market

DATA = market("AAA", "BBB", "CCC")


class Recording(PaperBroker):
    """A paper venue noting each batch it was sent, and what the ledger said of each order as the batch arrived."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.batches: list[list[tuple[str, str, str, int]]] = []
        self.rt_books: Ledger | None = None

    async def submit_many(self, orders: Sequence[OrderRequest]) -> list[BrokerAck | BrokerError]:
        assert isinstance(self.rt_books, Ledger)
        seen = []
        for order in orders:
            row = await self.rt_books.order(order.client_order_id)
            assert row is not None, "sent before it was persisted"
            seen.append((order.client_order_id, row.status, row.venue, row.attempts))
        self.batches.append(seen)
        return await super().submit_many(orders)


async def test_a_rejected_order_of_a_batch_is_retried_elsewhere_before_the_rest_goes_out(tmp_path: Path) -> None:
    ex = exchange(tmp_path)
    a = Recording(ex, "PAPER-A", FailurePlan(submit={2: "reject"}))
    b = Recording(ex, "PAPER-B")
    feeder = Feeder(DATA)
    feeder.plan[0] = [
        intent("i1", "AAA", "buy", 10, 101.0),
        intent("i2", "BBB", "buy", 5, 201.0, priority=1),
        intent("i3", "CCC", "buy", 3, 301.0, priority=2),
    ]
    async with desk(tmp_path, feeder, brokers=(a, b)) as d:
        a.rt_books = b.rt_books = d.rt.books
        outcome = await d.rt.run_once()
        # All three persisted before the first send; PAPER-A took i1, refused i2 and stopped there; i2 went to
        # PAPER-B (its row naming PAPER-B first); then i3 went to PAPER-A.
        assert a.batches == [
            [("AH-test-00000001", "new", "PAPER-A", 0), ("AH-test-00000002", "new", "PAPER-A", 0),
             ("AH-test-00000003", "new", "PAPER-A", 0)],
            [("AH-test-00000003", "new", "PAPER-A", 0)],
        ]  # fmt: skip
        assert b.batches == [[("AH-test-00000002", "new", "PAPER-B", 1)]]
        assert a.failures.submits == 3
        report = outcome.tick.get(EXECUTION_REPORT, ExecutionReport)
        assert report is not None
        assert report.submitted == ["AH-test-00000001", "AH-test-00000002", "AH-test-00000003"]
        assert report.failures == {}
        rows = {o.client_order_id: (o.status, o.venue, o.attempts) for o in await d.rt.books.orders()}
        assert rows == {
            "AH-test-00000001": ("acknowledged", "PAPER-A", 1),
            "AH-test-00000002": ("acknowledged", "PAPER-B", 2),
            "AH-test-00000003": ("acknowledged", "PAPER-A", 1),
        }
        assert d.execution.guard.consecutive == 0
        await d.rt.run_once()
        assert {s: p.qty for s, p in (await d.rt.books.books()).positions.items()} == {"AAA": 10, "BBB": 5, "CCC": 3}
        assert d.rt.state == RuntimeState.RUNNING


def _copy_durable_state(home: Path, to: Path) -> None:
    """What a SIGKILL at this instant leaves on disk: the committed state of both databases, the audit log."""
    to.mkdir(parents=True)
    for name in ("ledger.sqlite", "paper_broker.sqlite"):
        source, target = sqlite3.connect(home / name), sqlite3.connect(to / name)
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()
    shutil.copytree(home / "audit", to / "audit")


async def test_a_crash_between_the_persist_and_the_send_sends_nothing_twice(tmp_path: Path) -> None:
    home, crashed = tmp_path / "home", tmp_path / "crashed"
    ex = exchange(home)

    class Crashing(PaperBroker):
        async def submit_many(self, orders: Sequence[OrderRequest]) -> list[BrokerAck | BrokerError]:
            if not crashed.exists():
                _copy_durable_state(home, crashed)  # the process dies as the batch leaves
            return await super().submit_many(orders)

    feeder = Feeder(DATA)
    feeder.plan[0] = [intent("i1", "AAA", "buy", 10, 101.0), intent("i2", "BBB", "buy", 5, 201.0, priority=1)]
    async with desk(home, feeder, brokers=(Crashing(ex, "PAPER-A"), PaperBroker(ex, "PAPER-B"))) as d:
        await d.rt.run_once()
    later = Feeder(DATA, days=DAYS[1:])
    async with desk(crashed, later) as d:  # the restart, on what the crash left
        before = {o.client_order_id: o.status for o in await d.rt.books.orders()}
        assert before == {"AH-test-00000001": "new", "AH-test-00000002": "new"}  # persisted, never answered
        await d.rt.run_once()
        after = {o.client_order_id: (o.status, o.reason) for o in await d.rt.books.orders()}
        assert after == {c: ("rejected", "PAPER-A never received it (reconciled)") for c in before}
        assert await d.a.open_orders() == []
        assert await d.b.open_orders() == []
        assert await d.a.order_status("AH-test-00000001") is None
        assert d.rt.state == RuntimeState.RUNNING  # reconciliation is clean
        assert await d.rt.open_incident() is None


class Twice(PaperBroker):
    """A venue that hands every fill out twice in the same batch."""

    async def fills_since(self, cursor: str | None) -> FillBatch:
        batch = await super().fills_since(cursor)
        return FillBatch([f for f in batch.fills for _ in range(2)], batch.cursor)


async def test_fills_delivered_twice_in_one_batch_are_applied_once(tmp_path: Path) -> None:
    ex = exchange(tmp_path)
    a, b = Twice(ex, "PAPER-A"), Twice(ex, "PAPER-B")
    feeder = Feeder(DATA)
    feeder.plan[0] = [intent("i1", "AAA", "buy", 10, 101.0), intent("i2", "BBB", "sell", 5, 201.0)]
    async with desk(tmp_path, feeder, brokers=(a, b)) as d:
        await d.rt.run_once()
        second = await d.rt.run_once()
        report = second.tick.get(EXECUTION_REPORT, ExecutionReport)
        assert report is not None
        assert [f.trade_id for f in report.fills] == ["PAPER-A-T00000001"] * 2 + ["PAPER-A-T00000002"] * 2
        ledger = d.rt.books
        assert sorted(f.trade_id for f in await ledger.fills()) == ["PAPER-A-T00000001", "PAPER-A-T00000002"]
        books = await ledger.books()
        assert {s: p.qty for s, p in books.positions.items()} == {"AAA": 10, "BBB": -5}
        assert books.account.cash == 1_000_000 - 10 * 101.0 + 5 * 201.0
        assert d.rt.state == RuntimeState.RUNNING  # the venues and the ledger agree


async def test_a_batch_refused_as_a_whole_is_the_first_orders_refusal(tmp_path: Path) -> None:
    """A venue that raises for the whole call took nothing: its first order is retried elsewhere, and the rest
    is sent to it again after that."""
    ex = exchange(tmp_path)

    class Down(Recording):
        async def submit_many(self, orders: Sequence[OrderRequest]) -> list[BrokerAck | BrokerError]:
            await super().submit_many([])  # noted, not taken
            self.batches[-1] = [(o.client_order_id, "", "", 0) for o in orders]
            raise BrokerUnavailable(self.venue, "connection refused")

    a, b = Down(ex, "PAPER-A"), Recording(ex, "PAPER-B")
    feeder = Feeder(DATA)
    feeder.plan[0] = [intent("i1", "AAA", "buy", 10, 101.0), intent("i2", "BBB", "buy", 5, 201.0, priority=1)]
    async with desk(tmp_path, feeder, brokers=(a, b)) as d:
        a.rt_books = b.rt_books = d.rt.books
        await d.rt.run_once()
        assert [[c for c, *_ in batch] for batch in a.batches] == [
            ["AH-test-00000001", "AH-test-00000002"],
            ["AH-test-00000002"],
        ]
        assert b.batches == [[("AH-test-00000001", "new", "PAPER-B", 1)], [("AH-test-00000002", "new", "PAPER-B", 1)]]
        rows = {o.client_order_id: (o.status, o.venue, o.attempts) for o in await d.rt.books.orders()}
        assert rows == {"AH-test-00000001": ("acknowledged", "PAPER-B", 2),
                        "AH-test-00000002": ("acknowledged", "PAPER-B", 2)}  # fmt: skip
        assert d.execution.guard.consecutive == 0
        assert d.rt.state == RuntimeState.RUNNING
