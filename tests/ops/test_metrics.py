"""ops.metrics.OpsMetrics: the figures each bus message feeds, the scrape-time collectors, the scheduler hook."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

import agents.types  # noqa: F401 - registers the agents' payload types
from agents.execution import PORTFOLIO_TYPE, portfolio_state
from ops.metrics import NOT_JUDGED, LedgerCollector, OpsMetrics, SessionCollector, rule_of
from runtime import topics
from runtime.bus import Delivery, MemoryBus
from runtime.messages import Envelope, make, new_id
from storage.ledger import Ledger
from storage.records import Account, Books, Order, Position

T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def _msg(type_name: str, payload: dict[str, Any], *, ts: datetime = T0, source: str = "test") -> Envelope:
    return make(type_name, payload, source=source, env="test").model_copy(update={"ts": ts})


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def ops(registry: CollectorRegistry) -> OpsMetrics:
    return OpsMetrics(registry, calendar=None)


def _see(ops: OpsMetrics, topic: str, message: Envelope) -> None:
    ops.observe(Delivery(topic, message))


def _verdicts(agent: str, items: list[dict[str, Any]]) -> Envelope:
    full = [{"intent_id": new_id(), "symbol": "AAPL", "qty": 0, **item} for item in items]
    return _msg("verdicts", {"agent": agent, "items": full})


def test_rule_of_takes_the_id_before_the_colon() -> None:
    assert rule_of("single_name: 12% > 10%") == "single_name"
    assert rule_of("restricted_list:AAPL") == "restricted_list"
    assert rule_of("no colon at all, free text") == "other"
    assert rule_of("") == "other"


def test_rejects_are_counted_by_agent_and_rule(ops: OpsMetrics, registry: CollectorRegistry) -> None:
    _see(
        ops,
        topics.RISK_APPROVAL,
        _verdicts(
            "risk",
            [
                {"approved": True},
                {"approved": False, "reasons": ["single_name: 12% > 10%", "single_name: again", "collar: 5% away"]},
                {"approved": False, "reasons": ["an explanation without a rule id"]},
                {"approved": False, "reasons": []},
            ],
        ),
    )
    _see(ops, topics.COMPLIANCE_APPROVAL, _verdicts("compliance", [{"approved": False, "reasons": ["wash_trade: x"]}]))
    assert _value(registry, "trade_verdicts_total", agent="risk", outcome="approved") == 1
    assert _value(registry, "trade_verdicts_total", agent="risk", outcome="rejected") == 3
    assert _value(registry, "trade_rejects_total", agent="risk", rule="single_name") == 1  # one intent, one count
    assert _value(registry, "trade_rejects_total", agent="risk", rule="collar") == 1
    assert _value(registry, "trade_rejects_total", agent="risk", rule="other") == 1
    assert _value(registry, "trade_rejects_total", agent="risk", rule="unspecified") == 1
    assert _value(registry, "trade_rejects_total", agent="compliance", rule="wash_trade") == 1
    assert _value(registry, "trade_rejects_total", agent="compliance", rule="single_name") is None


def test_a_verdict_compliance_did_not_examine_is_not_a_reject(ops: OpsMetrics, registry: CollectorRegistry) -> None:
    from agents.compliance._agent import NOT_EXAMINED  # the reason compliance gives; kept in step here

    assert NOT_EXAMINED in NOT_JUDGED
    reason = f"{NOT_EXAMINED}: risk did not approve it"
    _see(ops, topics.COMPLIANCE_APPROVAL, _verdicts("compliance", [{"approved": False, "reasons": [reason]}]))
    assert _value(registry, "trade_verdicts_total", agent="compliance", outcome="not_examined") == 1
    assert _value(registry, "trade_verdicts_total", agent="compliance", outcome="rejected") is None
    assert _value(registry, "trade_rejects_total", agent="compliance", rule=NOT_EXAMINED) is None


def test_an_approval_is_not_a_reject(ops: OpsMetrics, registry: CollectorRegistry) -> None:
    _see(ops, topics.RISK_APPROVAL, _verdicts("risk", [{"approved": True, "reasons": ["resized: to the cap"]}]))
    assert _value(registry, "trade_rejects_total", agent="risk", rule="resized") is None
    assert _value(registry, "trade_verdicts_total", agent="risk", outcome="approved") == 1


def _portfolio(*, problems: list[str] | None = None, previous_nav: float | None = 1_040_000.0) -> dict[str, Any]:
    """The payload ``agents.execution`` publishes on ``state/portfolio``, made by its own function."""
    books = Books(
        Account(cash=250_000.0, initial_capital=1_000_000.0, commissions=12.0),
        {
            "AAPL": Position("AAPL", 2_000, 150.0, last_price=200.0),
            "MSFT": Position("MSFT", 1_000, 300.0, last_price=400.0),
            "IBM": Position("IBM", -500, 100.0, last_price=120.0),
        },
    )
    state = portfolio_state(
        books,
        sector_of=lambda symbol: "Technology",
        as_of=T0.date(),
        ts=T0,
        tick_id="r:1",
        previous_nav=previous_nav,
        open_orders=2,
        problems=problems,
    )
    return state.model_dump(mode="json")


def test_portfolio_state_feeds_nav_and_exposure(ops: OpsMetrics, registry: CollectorRegistry) -> None:
    payload = _portfolio()
    _see(ops, topics.STATE_PORTFOLIO, _msg(PORTFOLIO_TYPE, payload))
    nav = 250_000 + 400_000 + 400_000 - 60_000
    assert payload["nav"] == nav
    assert _value(registry, "portfolio_nav") == nav
    assert _value(registry, "portfolio_cash") == 250_000.0
    assert _value(registry, "portfolio_gross_exposure") == 860_000.0
    assert _value(registry, "portfolio_net_exposure") == 740_000.0
    assert _value(registry, "portfolio_gross_exposure_ratio") == pytest.approx(860_000 / nav)
    assert _value(registry, "portfolio_positions") == 3
    assert _value(registry, "portfolio_day_pnl") == nav - 1_040_000.0
    assert _value(registry, "portfolio_reconciled") == 1
    assert _value(registry, "execution_open_orders") == 2
    assert _value(registry, "portfolio_updated_timestamp_seconds") == T0.timestamp()


def test_a_reconciliation_mismatch_shows(ops: OpsMetrics, registry: CollectorRegistry) -> None:
    _see(ops, topics.STATE_PORTFOLIO, _msg(PORTFOLIO_TYPE, _portfolio(problems=["cash differs by 10.00"])))
    assert _value(registry, "portfolio_reconciled") == 0


def test_a_bad_portfolio_figure_is_ignored_not_believed(ops: OpsMetrics, registry: CollectorRegistry) -> None:
    _see(ops, topics.STATE_PORTFOLIO, _msg(PORTFOLIO_TYPE, _portfolio()))
    nav = _value(registry, "portfolio_nav")
    # over MQTT the edge would refuse this; in-process a consumer must still not believe it
    bad = Envelope(source="x", type=PORTFOLIO_TYPE, payload={"nav": "lots", "gross_exposure": float("nan")})
    _see(ops, topics.STATE_PORTFOLIO, bad)
    assert _value(registry, "portfolio_nav") == nav
    assert _value(registry, "portfolio_gross_exposure") == 860_000.0


def test_an_unreadable_message_is_counted_and_skipped(ops: OpsMetrics, registry: CollectorRegistry) -> None:
    _see(ops, topics.RISK_APPROVAL, _msg("verdicts.bad", {"agent": "risk", "items": [1, 2]}))
    assert _value(registry, "ops_metrics_messages_ignored_total", kind="risk_approval") == 1
    _see(ops, topics.RISK_APPROVAL, _verdicts("risk", [{"approved": False, "reasons": ["collar: x"]}]))
    assert _value(registry, "trade_rejects_total", agent="risk", rule="collar") == 1


def test_fills_by_side(ops: OpsMetrics, registry: CollectorRegistry) -> None:
    for side in ("buy", "buy", "sell"):
        fill = {
            "client_order_id": "T-1",
            "venue": "PAPER-A",
            "trade_id": new_id(),
            "symbol": "AAPL",
            "side": side,
            "qty": 1,
            "price": 100.0,
            "commission": 0.0,
            "ts": T0.isoformat(),
        }
        _see(ops, topics.EXECUTION_FILL, _msg("execution.fill", fill))
    assert _value(registry, "execution_fills_total", side="buy") == 2
    assert _value(registry, "execution_fills_total", side="sell") == 1


def test_provider_failover_shows_which_provider_serves(ops: OpsMetrics, registry: CollectorRegistry) -> None:
    snap = {"as_of": "2026-11-24", "prices": {"AAPL": 1.0}, "provider": "primary", "quarantined": []}
    _see(ops, topics.MARKET_SNAPSHOT, _msg("market.snapshot", snap))
    assert _value(registry, "data_provider_active", provider="primary") == 1
    later = T0 + timedelta(minutes=1)
    failover = {**snap, "provider": "backup", "quarantined": ["AAPL", "IBM"], "impacted_signals": ["sentiment"]}
    _see(ops, topics.MARKET_SNAPSHOT, _msg("market.snapshot", failover, ts=later))
    assert _value(registry, "data_provider_active", provider="primary") == 0
    assert _value(registry, "data_provider_active", provider="backup") == 1
    assert _value(registry, "data_quarantined_symbols") == 2
    assert _value(registry, "data_impacted_signals") == 1
    assert _value(registry, "data_snapshot_timestamp_seconds") == later.timestamp()


def test_council_weights_follow_feedback(ops: OpsMetrics, registry: CollectorRegistry) -> None:
    first = {"as_of": "2026-11-24", "weights": {"technical": 0.4, "macro": 0.6}, "penalties": {"macro": 0.1}}
    _see(ops, topics.STRATEGY_FEEDBACK, _msg("strategy.feedback", first))
    assert _value(registry, "council_weight", plugin="technical") == 0.4
    assert _value(registry, "council_penalty", plugin="macro") == 0.1
    _see(ops, topics.STRATEGY_FEEDBACK, _msg("strategy.feedback", {"as_of": "2026-11-25", "weights": {"technical": 1}}))
    assert _value(registry, "council_weight", plugin="technical") == 1.0
    assert _value(registry, "council_weight", plugin="macro") is None  # dropped from the council
    assert _value(registry, "council_penalty", plugin="macro") is None


def test_heartbeats_say_which_agents_are_up(ops: OpsMetrics, registry: CollectorRegistry) -> None:
    def beat(name: str, status: str) -> Envelope:
        payload = {"name": name, "stage": "risk", "version": "1", "status": status, "ts": T0.isoformat()}
        return _msg("heartbeat", payload)

    _see(ops, topics.state_agent("risk"), beat("risk", "ok"))
    _see(ops, topics.state_agent("execution"), beat("execution", "offline"))
    assert _value(registry, "agent_up", agent="risk") == 1
    assert _value(registry, "agent_up", agent="execution") == 0
    assert _value(registry, "agent_heartbeat_timestamp_seconds", agent="risk") == T0.timestamp()


@pytest.fixture
async def bus() -> AsyncIterator[MemoryBus]:
    b = MemoryBus(f"memory://metrics-{new_id()}", "test")
    await b.start()
    yield b
    await b.close()


async def _drained(bus: MemoryBus) -> None:
    for _ in range(1000):
        if bus.stats.depth == 0:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"the bus still holds {bus.stats.depth} message(s)")


async def test_the_bus_reader_feeds_the_figures(bus: MemoryBus, registry: CollectorRegistry) -> None:
    retained = make(PORTFOLIO_TYPE, _portfolio(), source="execution", env="test")
    await bus.publish(topics.STATE_PORTFOLIO, retained, retain=True)  # before the reader: retained comes first
    ops = OpsMetrics(registry, calendar=None)
    await ops.start(bus)
    try:
        tick = {
            "tick_id": "r:1",
            "seq": 1,
            "status": "completed",
            "started": T0.isoformat(),
            "duration_ms": 1.0,
            "state": "RUNNING",
        }
        await bus.publish(topics.EVENT_TICK, _msg("tick", tick))
        await bus.publish(topics.RISK_APPROVAL, _verdicts("risk", [{"approved": False, "reasons": ["var: 3%"]}]))
        await bus.publish("unrelated/topic", _msg("tick", tick))
        await _drained(bus)
        assert _value(registry, "portfolio_nav") == 990_000.0
        assert _value(registry, "runtime_last_tick_timestamp_seconds") == T0.timestamp()
        assert _value(registry, "trade_rejects_total", agent="risk", rule="var") == 1
    finally:
        await ops.stop()
    await ops.stop()  # idempotent


async def _ledger_with_orders(path: Path) -> None:
    ledger = await Ledger.open(path)
    try:
        for n, status in enumerate(["acknowledged", "acknowledged", "filled", "cancelled", "unknown"], start=1):
            order = Order(f"T-{n:06d}", "AAPL", "buy", 10, "PAPER-A", T0, status=status)
            await ledger.insert_order(order)
    finally:
        await ledger.close()


async def test_order_counts_come_from_the_ledger(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    await _ledger_with_orders(path)
    registry = CollectorRegistry()
    registry.register(LedgerCollector(path))
    assert _value(registry, "execution_orders_total") == 5
    assert _value(registry, "execution_orders_by_status", status="acknowledged") == 2
    assert _value(registry, "execution_orders_by_status", status="unknown") == 1
    assert _value(registry, "execution_orders_by_status", status="rejected") is None


def test_no_ledger_no_order_figures(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    registry.register(LedgerCollector(tmp_path / "missing.sqlite"))
    assert _value(registry, "execution_orders_total") is None
    assert not (tmp_path / "missing.sqlite").exists()  # a scrape never creates the ledger


@pytest.mark.parametrize(
    ("when", "is_open"),
    [
        (datetime(2026, 11, 24, 14, 30, tzinfo=UTC), True),  # a Tuesday at 09:30 New York: the open
        (datetime(2026, 11, 24, 14, 29, tzinfo=UTC), False),  # a minute before
        (datetime(2026, 11, 24, 20, 59, tzinfo=UTC), True),  # 15:59
        (datetime(2026, 11, 24, 21, 0, tzinfo=UTC), False),  # 16:00: closed
        (datetime(2026, 11, 26, 15, 0, tzinfo=UTC), False),  # Thanksgiving
        (datetime(2026, 11, 27, 17, 59, tzinfo=UTC), True),  # the day after: closes at 13:00
        (datetime(2026, 11, 27, 18, 1, tzinfo=UTC), False),
        (datetime(2025, 1, 9, 16, 0, tzinfo=UTC), False),  # national day of mourning
        (datetime(2026, 7, 1, 13, 30, tzinfo=UTC), True),  # summer time: 09:30 EDT is 13:30 UTC
        (datetime(2026, 11, 28, 15, 0, tzinfo=UTC), False),  # a Saturday
    ],
)
def test_session_gauge_follows_the_nyse_calendar(when: datetime, is_open: bool) -> None:
    registry = CollectorRegistry()
    registry.register(SessionCollector(lambda: when))
    assert _value(registry, "runtime_session_open") == (1.0 if is_open else 0.0)


@pytest.mark.parametrize(
    ("when", "is_open"),
    [
        (datetime(2040, 3, 6, 15, 0, tzinfo=UTC), True),  # beyond the calendar: a Tuesday 10:00 EST
        (datetime(2040, 3, 6, 21, 30, tzinfo=UTC), False),
        (datetime(2040, 3, 10, 15, 0, tzinfo=UTC), False),  # a Saturday
    ],
)
def test_session_gauge_beyond_the_calendar_uses_weekday_hours(when: datetime, is_open: bool) -> None:
    assert SessionCollector(lambda: when).is_open(when) is is_open


async def test_scheduler_runs_errors_and_misses_are_counted(registry: CollectorRegistry) -> None:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    ops = OpsMetrics(registry, calendar=None)
    scheduler = AsyncIOScheduler(timezone="America/New_York")
    ops.observe_scheduler(scheduler)
    done = threading.Event()
    seen: list[str] = []

    def ran(name: str, result: str | None) -> Any:
        def job() -> str | None:
            seen.append(name)
            if len(seen) == 3:
                done.set()
            if result == "raise":
                raise RuntimeError("job failed")
            return result

        return job

    now = datetime.now(UTC)
    scheduler.add_job(ran("eod_closure", None), "date", run_date=now, id="eod_closure")
    scheduler.add_job(ran("run_daily_trade", "skipped"), "date", run_date=now, id="run_daily_trade")
    scheduler.add_job(ran("midday_check", "raise"), "date", run_date=now, id="midday_check")
    scheduler.add_job(
        ran("late", None), "date", run_date=now - timedelta(hours=1), id="daily_report", misfire_grace_time=1
    )
    scheduler.start()
    try:
        for _ in range(200):
            if done.is_set() and _value(registry, "scheduler_job_misses_total", job="daily_report"):
                break
            await asyncio.sleep(0.01)
    finally:
        scheduler.shutdown(wait=False)
    assert _value(registry, "scheduler_job_runs_total", job="eod_closure", outcome="ok") == 1
    assert _value(registry, "scheduler_job_runs_total", job="run_daily_trade", outcome="skipped") == 1
    assert _value(registry, "scheduler_job_runs_total", job="midday_check", outcome="error") == 1
    assert _value(registry, "scheduler_job_misses_total", job="daily_report") == 1
    assert "late" not in seen
    assert (_value(registry, "scheduler_job_last_run_timestamp_seconds", job="eod_closure") or 0) > 0


def test_direct_job_records(ops: OpsMetrics, registry: CollectorRegistry) -> None:
    when = datetime(2026, 11, 24, 21, 30, tzinfo=UTC)
    ops.record_job_run("daily_report", "refused", when)
    ops.record_job_run("daily_report", "made-up outcome", when)
    ops.record_job_miss("eod_closure")
    assert _value(registry, "scheduler_job_runs_total", job="daily_report", outcome="refused") == 1
    assert _value(registry, "scheduler_job_runs_total", job="daily_report", outcome="ok") == 1
    assert _value(registry, "scheduler_job_last_run_timestamp_seconds", job="daily_report") == when.timestamp()
    assert _value(registry, "scheduler_job_misses_total", job="eod_closure") == 1
