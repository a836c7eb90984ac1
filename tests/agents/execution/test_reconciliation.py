"""Reconciliation after every tick: the books against the venues, the NAV identity to the cent, the portfolio
published retained; any disagreement pulls the kill switch with the differences in its metrics."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agents.execution import (
    PORTFOLIO,
    BrokerAccount,
    BrokerOrder,
    BrokerUnavailable,
    FillModel,
    OrderRequest,
    PaperBroker,
    PortfolioState,
    check_nav,
    position_diffs,
    resolve_order,
)
from agents.execution._portfolio import portfolio_state
from agents.execution._reconcile import venue_positions
from runtime import topics
from runtime.bus import Subscription
from runtime.state import RuntimeState
from storage.ledger import marked_books
from storage.records import Account, Books, Fill, Order, Position
from tests.agents.execution._helpers import (
    DAYS,
    Desk,
    Feeder,
    alerts,
    desk,
    exchange,
    intent,
    market,
    next_alert,
    settings,
)

DATA = market("AAA", "BBB")  # AAA: Tech, opens 100 + i, closes 101 + i; BBB: Energy, opens 200 + i, closes 201 + i
COSTS = FillModel(slippage_bps=10, commission_per_share=0.005, min_commission=1.0)


def traded() -> Feeder:
    feeder = Feeder(DATA)
    feeder.plan[0] = [intent("buy-aaa", "AAA", "buy", 100, 101.0), intent("sell-bbb", "BBB", "sell", 10, 201.0)]
    return feeder


async def test_nav_identity_and_the_published_portfolio(tmp_path: Path) -> None:
    feeder = traded()
    feeder.plan[2] = [intent("close-aaa", "AAA", "sell", 100, 103.0, reduces=True)]
    async with desk(tmp_path, feeder, model=COSTS) as d:
        states = []
        for _ in range(4):
            outcome = await d.rt.run_once()
            assert outcome.status == "completed"
            state = outcome.tick.get(PORTFOLIO, PortfolioState)
            assert state is not None
            states.append(state)
        assert d.rt.state == RuntimeState.RUNNING  # clean books never halt

        # Recomputed by hand from the fill model: slippage 10 bps against us, commission max(0.005/share, 1.00).
        buy, sell = 101.0 * 1.001, 201.0 * 0.999
        cash = 1_000_000 - 100 * buy - 1.0 + 10 * sell - 1.0
        first, second = states[0], states[1]
        assert (first.nav, first.positions, first.previous_nav, first.day_pnl) == (1_000_000, [], 1_000_000, 0.0)
        assert second.cash == pytest.approx(cash, abs=1e-9)
        assert second.nav == pytest.approx(cash + 100 * 102 - 10 * 202, abs=0.005)  # day 1 closes: 102, 202
        assert second.previous_nav == first.nav
        assert second.day_pnl == pytest.approx(second.nav - first.nav)
        aaa = next(p for p in second.positions if p.symbol == "AAA")
        assert (aaa.sector, aaa.qty, aaa.last_price) == ("Tech", 100, 102.0)
        assert aaa.avg_cost == pytest.approx(buy)
        assert aaa.unrealised_pnl == pytest.approx(100 * (102 - buy))
        assert second.exposure_by_sector == {"Energy": -2020.0, "Tech": 10200.0}
        assert second.gross_by_sector == {"Energy": 2020.0, "Tech": 10200.0}
        assert second.gross_exposure == 12220.0
        assert second.net_exposure == 8180.0
        assert second.commissions == 2.0
        assert second.realised_pnl == pytest.approx(0.0, abs=1e-9)
        assert second.open_orders == 0
        assert second.reconciled

        last = states[3]  # AAA sold on day 3 at its open (103) less slippage
        exit_price = 103.0 * 0.999
        assert [p.symbol for p in last.positions] == ["BBB"]
        assert last.realised_pnl == pytest.approx(100 * (exit_price - buy), abs=1e-6)
        assert last.total_pnl == pytest.approx(last.realised_pnl + last.unrealised_pnl - last.commissions)

        points = await d.rt.books.nav_history()
        assert [p.session for p in points] == [day.isoformat() for day in DAYS[:4]]
        for point, state in zip(points, states, strict=True):
            assert point.nav == state.nav
            assert abs(point.nav - (point.cash + point.net_exposure)) < 0.005

        retained = d.rt.bus.subscribe(topics.STATE_PORTFOLIO)  # a late subscriber gets the last state
        delivery = await retained.get(5.0)
        assert delivery.envelope.parsed(PortfolioState) == last


async def assert_halted_by_reconciliation(d: Desk, sub: Subscription) -> dict[str, Any]:
    alert = await next_alert(sub, "reconciliation_mismatch")
    await next_alert(sub, "runtime_kill_switch")
    assert alert.severity == "critical"
    assert d.rt.state == RuntimeState.HALTED
    incident = await d.rt.open_incident()
    assert incident is not None
    assert incident.reason.startswith("reconciliation mismatch")
    assert not d.reconciliation.health().ok
    metrics: dict[str, Any] = incident.payload["metrics"]
    return metrics


async def test_a_position_the_venues_do_not_hold_halts(tmp_path: Path) -> None:
    async with desk(tmp_path, traded()) as d:
        sub = alerts(d.rt)
        await d.rt.run_once()
        await d.rt.run_once()
        ledger = d.rt.books
        now = d.rt.clock.now()
        await ledger.insert_order(Order("MANUAL-1", "AAA", "buy", 10, "MANUAL", now, status="acknowledged"))
        await ledger.apply_fill(Fill("MANUAL", "M1", "MANUAL-1", now, "AAA", "buy", 10, 101.0))
        await d.rt.run_once()
        metrics = await assert_halted_by_reconciliation(d, sub)
        assert metrics["positions"] == {"AAA": {"ledger": 110.0, "venues": 100.0, "diff": 10.0}}
        assert "cash" in str(metrics["nav"])


@pytest.mark.parametrize(("error", "halts"), [(0.01, True), (0.004, False)])
async def test_cash_must_match_the_venues_to_the_cent(tmp_path: Path, error: float, halts: bool) -> None:
    async with desk(tmp_path, traded()) as d:
        sub = alerts(d.rt)
        await d.rt.run_once()
        await d.rt.run_once()
        async with d.rt.books.transaction() as db:  # a write the ledger knows of: its books in memory follow
            await db.execute("UPDATE account SET cash = cash + ?", (error,))
        await d.rt.run_once()
        if halts:
            metrics = await assert_halted_by_reconciliation(d, sub)
            assert set(metrics) == {"nav"}
        else:
            assert d.rt.state == RuntimeState.RUNNING


async def test_an_order_working_at_a_venue_but_not_in_the_ledger_halts_and_is_cancelled(tmp_path: Path) -> None:
    async with desk(tmp_path, Feeder(DATA)) as d:
        sub = alerts(d.rt)
        await d.a.submit(OrderRequest("ROGUE-1", "AAA", "buy", 1, limit_price=1.0))  # never fills
        await d.rt.run_once()
        metrics = await assert_halted_by_reconciliation(d, sub)
        assert list(metrics["orphan_orders"]) == ["ROGUE-1"]
        rogue = await d.a.order_status("ROGUE-1")
        assert rogue is not None
        assert rogue.state == "cancelled"  # the halt's cancel-all covers venue orders the ledger lost


async def test_a_venue_fill_for_an_order_the_ledger_never_had_halts(tmp_path: Path) -> None:
    async with desk(tmp_path, Feeder(DATA)) as d:
        sub = alerts(d.rt)
        await d.a.submit(OrderRequest("ROGUE-1", "AAA", "buy", 1))  # fills on the first bar
        outcome = await d.rt.run_once()
        alert = await next_alert(sub, "execution_failure")
        await next_alert(sub, "runtime_kill_switch")
        assert outcome.status == "aborted"
        assert d.rt.state == RuntimeState.HALTED
        assert "names unknown order ROGUE-1" in alert.message
        assert alert.details["trade_id"] == "PAPER-A-T00000001"
        assert (await d.rt.books.books()).positions == {}


async def test_an_acknowledged_order_the_venue_never_had_halts(tmp_path: Path) -> None:
    async with desk(tmp_path, Feeder(DATA)) as d:
        sub = alerts(d.rt)
        ghost = Order("GHOST-1", "AAA", "buy", 1, "PAPER-A", d.rt.clock.now(), status="acknowledged")
        await d.rt.books.insert_order(ghost)
        await d.rt.run_once()
        metrics = await assert_halted_by_reconciliation(d, sub)
        assert "no record" in str(metrics["orders"])


async def test_an_order_persisted_but_never_sent_is_resolved_without_a_halt(tmp_path: Path) -> None:
    """A crash between persisting an order and sending it leaves it 'new': the venue never had it."""
    async with desk(tmp_path, Feeder(DATA)) as d:
        await d.rt.books.insert_order(Order("AH-test-00000001", "AAA", "buy", 1, "PAPER-A", d.rt.clock.now()))
        await d.rt.run_once()
        order = await d.rt.books.order("AH-test-00000001")
        assert order is not None
        assert order.status == "rejected"
        assert d.rt.state == RuntimeState.RUNNING


async def test_an_order_the_venue_expired_is_expired_in_the_ledger(tmp_path: Path) -> None:
    feeder = Feeder(DATA)
    feeder.plan[0] = [intent("cheap", "AAA", "buy", 1, 50.0)]  # a limit 10 bps over 50: never reached
    async with desk(tmp_path, feeder, ttl_bars=1, exec_settings=settings(limit_offset_bps=10)) as d:
        await d.rt.run_once()
        order = await d.rt.books.order("AH-test-00000001")
        assert order is not None
        assert (order.status, order.limit_price) == ("acknowledged", 50.05)
        await d.rt.run_once()
        order = await d.rt.books.order("AH-test-00000001")
        assert order is not None
        assert order.status == "expired"
        assert d.rt.state == RuntimeState.RUNNING


# -- the rules, pure ------------------------------------------------------------------------------------
NOW = datetime(2024, 1, 3, tzinfo=UTC)


def order(status: str, filled: float = 0.0) -> Order:
    return Order("C1", "AAA", "buy", 100, "PAPER-A", NOW, status=status, filled_qty=filled)


def at_venue(state: str, filled: float = 0.0, qty: float = 100) -> BrokerOrder:
    return BrokerOrder("PAPER-A", "C1", "PAPER-A-O1", "AAA", "buy", qty, filled, state)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ledger", "venue", "status", "mismatch"),
    [
        (order("unknown"), None, "rejected", ""),
        (order("new"), None, "rejected", ""),
        (order("acknowledged"), None, None, "no record"),
        (order("unknown"), at_venue("working"), "acknowledged", ""),
        (order("unknown", 40), at_venue("working", 40), "partially_filled", ""),
        (order("acknowledged"), at_venue("working"), None, ""),
        (order("acknowledged"), at_venue("working", 40), None, "filled 40"),
        (order("partially_filled", 40), at_venue("filled", 100), None, "filled 100"),
        (order("acknowledged"), at_venue("filled", 0), None, "open in the ledger"),
        (order("acknowledged"), at_venue("cancelled"), "cancelled", ""),
        (order("partially_filled", 40), at_venue("expired", 40), "expired", ""),
        (order("acknowledged"), at_venue("working", qty=50), None, "different terms"),
    ],
)
def test_order_resolution(ledger: Order, venue: BrokerOrder | None, status: str | None, mismatch: str) -> None:
    found = resolve_order(ledger, venue)
    assert found.status == status
    assert (mismatch in found.mismatch) if mismatch else not found.mismatch


def test_nav_check_to_the_cent() -> None:
    books = Books(Account(989_900.0, 1_000_000.0, 0.0), {"AAA": Position("AAA", 100, 101.0, 0.0, 102.0)})
    venue = BrokerAccount("PAPER-A", {"AAA": 100}, -10_100.0, 0.0)
    good = check_nav(books, [venue], {"AAA": 102.0})
    assert good.ok
    assert good.nav == good.venue_nav == 989_900 + 10_200
    off = check_nav(books, [BrokerAccount("PAPER-A", {"AAA": 100}, -10_100.01, 0.0)], {"AAA": 102.0})
    assert not off.ok
    assert any("cash" in p for p in off.problems)
    stale = check_nav(books, [venue], {"AAA": 103.0})  # the ledger was not marked at today's price
    assert not stale.ok
    assert any("cash + sum(qty x price)" in p for p in stale.problems)


def _every_position_diff(ledger: dict[str, float], venues: dict[str, float]) -> dict[str, dict[str, float]]:
    """The rule spelt out: every symbol of either side compared, in symbol order."""
    diffs = {}
    for symbol in sorted(set(ledger) | set(venues)):
        mine, theirs = ledger.get(symbol, 0.0), venues.get(symbol, 0.0)
        if abs(mine - theirs) > 1e-6:
            diffs[symbol] = {"ledger": mine, "venues": theirs, "diff": mine - theirs}
    return diffs


def test_position_diffs_compare_every_position() -> None:
    """The shortcut for books that agree (the usual answer) gives what comparing every symbol gives."""
    rng = random.Random(7)
    for _ in range(2_000):
        symbols = rng.sample(["AAA", "BBB", "CCC", "DDD", "EEE"], rng.randint(0, 5))
        ledger = {s: float(rng.choice([-200, -100, 100, 300])) for s in symbols}
        venues = dict(ledger)
        for _ in range(rng.randint(0, 2)):  # some agree, some do not: a quantity off, a symbol more or fewer
            change = rng.choice(["qty", "tiny", "drop", "add", "nan"])
            symbol = rng.choice(["AAA", "BBB", "CCC", "DDD", "EEE", "FFF"])
            if change == "drop":
                venues.pop(symbol, None)
            elif change == "add":
                venues[symbol] = 50.0
            else:
                step = {"qty": 1.0, "tiny": 1e-9, "nan": float("nan")}[change]
                venues[symbol] = venues.get(symbol, 0.0) + step
        assert position_diffs(ledger, venues) == _every_position_diff(ledger, venues)


def test_nav_check_takes_the_venue_positions_the_caller_has() -> None:
    books = Books(Account(989_900.0, 1_000_000.0, 0.0), {"AAA": Position("AAA", 100, 101.0, 0.0, 102.0)})
    accounts = [BrokerAccount("PAPER-A", {"AAA": 60, "BBB": 5}, -10_100.0, 0.0),
                BrokerAccount("PAPER-B", {"AAA": 40, "BBB": -5}, 0.0, 0.0)]  # fmt: skip
    for marks in ({"AAA": 102.0}, {"AAA": 103.0}, {}):
        assert check_nav(books, accounts, marks, venue_positions(accounts)) == check_nav(books, accounts, marks)


def test_the_portfolios_totals_are_the_books_own() -> None:
    """The state sums each position's value once for NAV, gross and net: the very sums Books computes."""
    rng = random.Random(3)
    for _ in range(200):
        positions = {
            f"S{i:02d}": Position(f"S{i:02d}", rng.choice([-300.0, -1.0, 7.0, 100.0]), rng.uniform(1, 500),
                                  rng.uniform(-50, 50), rng.choice([None, rng.uniform(1, 500)]))
            for i in range(rng.randint(0, 40))
        }  # fmt: skip
        books = Books(Account(rng.uniform(-1e6, 1e7), 1e7, rng.uniform(0, 100)), positions)
        state = portfolio_state(books, sector_of=lambda s: s[:2], as_of=None, ts=datetime(2024, 1, 2, tzinfo=UTC),
                                tick_id=None, previous_nav=None, open_orders=0)  # fmt: skip
        assert (state.nav, state.gross_exposure, state.net_exposure) == (
            books.nav, books.gross_exposure, books.net_exposure
        )  # fmt: skip


def test_books_taken_as_marked_give_what_the_marked_books_give() -> None:
    """The reconciliation checks and publishes the books as mark_books leaves them without building them: the NAV
    check and the portfolio are those of marked_books, field for field, bit for bit."""
    rng = random.Random(11)
    ts = datetime(2024, 1, 2, tzinfo=UTC)
    for _ in range(300):
        symbols = [f"S{i:02d}" for i in range(rng.randint(0, 30))]
        positions = {
            s: Position(s, rng.choice([-300.0, -1.0, 7.0, 100.0]), rng.uniform(1, 500), rng.uniform(-50, 50),
                        rng.choice([None, rng.uniform(1, 500)]))
            for s in symbols
        }  # fmt: skip
        books = Books(Account(rng.uniform(-1e6, 1e7), 1e7, rng.uniform(0, 100)), positions)
        marks = {s: rng.uniform(1, 500) for s in [*symbols, "ZZZ"] if rng.random() < 0.8}  # some held, one not
        venue_qty = {s: p.qty for s, p in positions.items() if rng.random() < 0.9}
        accounts = [BrokerAccount("PAPER-A", venue_qty, rng.uniform(-1e6, 0), 0.0)]
        marked = marked_books(books, marks)
        assert check_nav(books, accounts, marks, marked=True) == check_nav(marked, accounts, marks)
        kw: dict[str, Any] = dict(sector_of=lambda s: s[:2], as_of=None, ts=ts, tick_id="t", previous_nav=1e7,
                                  open_orders=0, problems=["x"])  # fmt: skip
        assert portfolio_state(books, marks=marks, **kw) == portfolio_state(marked, **kw)


async def test_day_pnl_is_against_the_previous_session_across_a_restart(tmp_path: Path) -> None:
    async with desk(tmp_path, traded(), model=COSTS) as d:
        navs = []
        for _ in range(2):
            state = (await d.rt.run_once()).tick.get(PORTFOLIO, PortfolioState)
            assert state is not None
            navs.append(state.nav)
    again = Feeder(DATA, days=[DAYS[1], DAYS[2]])  # restarted mid-session: the same session, then the next
    async with desk(tmp_path, again, model=COSTS) as d:
        same = (await d.rt.run_once()).tick.get(PORTFOLIO, PortfolioState)
        later = (await d.rt.run_once()).tick.get(PORTFOLIO, PortfolioState)
        assert same is not None
        assert later is not None
        assert same.nav == navs[1]  # the same bar is never filled or marked twice
        assert same.previous_nav == navs[0]
        assert later.previous_nav == same.nav
        assert later.day_pnl == pytest.approx(later.nav - same.nav)
        assert d.rt.state == RuntimeState.RUNNING


async def test_partial_fills_reconcile_while_the_rest_works(tmp_path: Path) -> None:
    feeder = Feeder(market("AAA", volume=1_000.0))
    feeder.plan[0] = [intent("big", "AAA", "buy", 250, 101.0)]  # 10% of 1,000 a bar: 100, 100, 50
    async with desk(tmp_path, feeder, model=FillModel.no_costs(participation=0.1)) as d:
        await d.rt.run_once()
        await d.rt.run_once()
        order = await d.rt.books.order("AH-test-00000001")
        assert order is not None
        assert (order.status, order.filled_qty) == ("partially_filled", 100)
        state = d.reconciliation.last
        assert state is not None
        assert (state.open_orders, state.reconciled) == (1, True)
        await d.rt.run_once()
        await d.rt.run_once()
        order = await d.rt.books.order("AH-test-00000001")
        assert order is not None
        assert (order.status, order.filled_qty, order.avg_fill_price) == (
            "filled",
            250,
            (100 * 101 + 100 * 102 + 50 * 103) / 250,
        )
        assert [f.qty for f in await d.rt.books.fills()] == [100, 100, 50]
        assert d.rt.state == RuntimeState.RUNNING


async def test_a_venue_that_does_not_answer_is_an_alert_not_a_halt(tmp_path: Path) -> None:
    ex = exchange(tmp_path)

    class Silent(PaperBroker):
        async def account(self) -> BrokerAccount:
            raise BrokerUnavailable(self.venue, "connection refused")

    async with desk(tmp_path, Feeder(DATA), brokers=(Silent(ex, "PAPER-A"), PaperBroker(ex, "PAPER-B"))) as d:
        sub = alerts(d.rt)
        outcome = await d.rt.run_once()
        alert = await next_alert(sub, "reconciliation_incomplete")
        assert "connection refused" in alert.message
        assert outcome.status == "completed"
        assert d.rt.state == RuntimeState.RUNNING
