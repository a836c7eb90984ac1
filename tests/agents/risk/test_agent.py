"""The risk agent inside a real runtime: PAUSED, REDUCING and HALTED land in the ledger, alerts on the bus."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from agents.risk import GROSS_CAP, STOP_LOSS, RiskAgent, RiskSettings, build_risk_agent, load_constraints
from agents.types import RISK_VERDICTS, Verdicts
from runtime import topics
from runtime.health import health_report
from runtime.signoff import ResumeRequest
from runtime.state import RuntimeState
from tests.agents.risk.helpers import intent, make_market
from tests.agents.risk.runtime_harness import Harness, at_close, close_of, hold, running

DAYS = make_market(n=300).dates
TODAY, PREV = DAYS[-1], DAYS[-2]


@asynccontextmanager
async def risk_runtime(
    tmp_path: Path, bus_env: str, settings: RiskSettings | None = None, *, aapl: float = 5000.0, prev_nav: float = 1e6
) -> AsyncIterator[Harness]:
    """Funded with 1M, long ``aapl`` shares bought at 100, previous close ``prev_nav``."""
    agent = build_risk_agent(settings or RiskSettings())
    async with running(tmp_path / "home", bus_env, [agent], at_close(DAYS[-3])) as h:
        if aapl:
            await hold(h.ledger, "AAPL", aapl, 100.0, at_close(DAYS[-3]))
        await close_of(h.ledger, PREV, prev_nav)
        yield h


def verdicts(h: Harness) -> Verdicts:
    found = h.capture.outputs[-1][RISK_VERDICTS]
    assert isinstance(found, Verdicts)
    return found


def audit_events(h: Harness, event: str) -> list[dict[str, object]]:
    lines = (h.rt.home / "audit" / "runtime_events.jsonl").read_text().splitlines()
    return [rec for rec in map(json.loads, lines) if rec["event"] == event]


async def test_a_5pct_gain_keeps_running_and_trades(tmp_path: Path, bus_env: str) -> None:
    async with risk_runtime(tmp_path, bus_env) as h:
        view = make_market(last={"AAPL": 110.0, "JPM": 100.0}).view(TODAY)  # 550k + 500k cash = +5%
        await h.tick(view, [intent("JPM", "buy", 100)])
        assert await h.persisted_state() == "RUNNING"
        (v,) = verdicts(h).items
        assert v.approved
        assert v.qty == 100
        assert not [a for a in await h.alerts_named("risk_alert") if a["details"].get("breaker")]


async def test_a_2_1pct_loss_pauses_the_runtime(tmp_path: Path, bus_env: str) -> None:
    async with risk_runtime(tmp_path, bus_env) as h:
        view = make_market(last={"AAPL": 95.8, "JPM": 100.0}).view(TODAY)  # 479k + 500k = -2.1%
        approvals = h.rt.bus.subscribe(topics.RISK_APPROVAL)
        await h.tick(view, [intent("JPM", "buy", 100)])
        assert h.rt.state == RuntimeState.PAUSED
        assert await h.persisted_state() == "PAUSED"
        assert h.capture.outputs == []  # the tick stopped before execution
        (pause,) = [a for a in await h.alerts_named("risk_alert") if a["details"].get("breaker")]
        assert pause["severity"] == "critical"
        assert pause["needs_ack"]
        assert "-2.10%" in pause["message"]
        (reject,) = await h.alerts_named("risk_reject")
        assert reject["details"]["rejected"][0]["reasons"][0].startswith("breaker: daily_loss_pause")
        message = (await approvals.get(timeout=1)).envelope
        assert message.type == "verdicts"
        assert not message.payload["items"][0]["approved"]


async def test_after_an_operator_resumes_the_same_day_it_does_not_pause_again(tmp_path: Path, bus_env: str) -> None:
    view = make_market(last={"AAPL": 95.8, "JPM": 100.0}).view(TODAY)
    async with risk_runtime(tmp_path, bus_env) as h:
        await h.tick(view)
        assert await h.persisted_state() == "PAUSED"
        await h.rt.resume(ResumeRequest("alice", "reviewed the loss"))
        await h.tick(view, [intent("JPM", "buy", 100)])
        assert await h.persisted_state() == "RUNNING"
        assert verdicts(h).items[0].approved
    async with running(tmp_path / "home", bus_env, [RiskAgent()], at_close(TODAY), capital=None) as h2:
        await h2.tick(view, [intent("JPM", "buy", 100)])  # a restart remembers today's latch
        assert await h2.persisted_state() == "RUNNING"
        assert verdicts(h2).items[0].approved


async def test_a_5_1pct_loss_trips_the_kill_switch(tmp_path: Path, bus_env: str) -> None:
    async with risk_runtime(tmp_path, bus_env) as h:
        view = make_market(last={"AAPL": 89.8, "JPM": 100.0}).view(TODAY)  # 449k + 500k = -5.1%
        await h.tick(view, [intent("JPM", "buy", 100)])
        await h.wait_state(RuntimeState.HALTED)
        assert await h.persisted_state() == "HALTED"
        (incident,) = await h.ledger.incidents(status="open")
        assert incident.source == "risk.kill_switch"
        assert "-5.10%" in incident.reason
        assert incident.payload["metrics"]["prev_close"] == 1_000_000
        kill = await h.wait_alert("runtime_kill_switch")
        assert kill["severity"] == "critical"
        assert "risk.kill_switch" in kill["message"]


async def test_a_10pct_drawdown_moves_to_reducing_and_only_reducing_intents_pass(tmp_path: Path, bus_env: str) -> None:
    settings = RiskSettings(max_single_name_nav=1.0, max_sector_nav=1.0)
    async with risk_runtime(tmp_path, bus_env, settings, prev_nav=1_075_000) as h:
        await close_of(h.ledger, DAYS[-10], 1_200_000)
        view = make_market(last={"AAPL": 114.0, "JPM": 100.0}).view(TODAY)
        # 570k + 500k = 1.07M: -10.8% from the 1.2M peak, only -0.5% on the day
        await h.tick(view, [intent("JPM", "buy", 100), intent("AAPL", "sell", 300, ref=114.0)])
        assert await h.persisted_state() == "REDUCING"
        buy, sell = verdicts(h).items
        assert not buy.approved
        assert buy.reasons[0].startswith("reducing_only")
        assert sell.approved
        assert sell.qty == 300
        assert h.capture.outputs[-1][GROSS_CAP] == 0.6
        assert (await load_constraints(h.ledger)).gross_cap == 0.6
        (alert,) = [a for a in await h.alerts_named("risk_alert") if a["details"].get("breaker") == "drawdown"]
        assert alert["needs_ack"]
        assert "REDUCING" in alert["message"]
        h.clock.advance(3600)  # a later tick: the runtime itself now says REDUCING
        await h.tick(view, [intent("JPM", "buy", 100), intent("AAPL", "sell", 200, ref=114.0)])
        buy, sell = verdicts(h).items
        assert not buy.approved
        assert sell.approved


async def test_soft_breach_alerts_once_per_day_and_needs_ack(tmp_path: Path, bus_env: str) -> None:
    async with risk_runtime(tmp_path, bus_env, aapl=850) as h:
        data = make_market(last={"AAPL": 100.0, "JPM": 100.0}, n=301)
        today, tomorrow = data.view(data.dates[-2]), data.view(data.dates[-1])
        await h.tick(today)
        await h.tick(today)
        soft = await h.alerts_named("risk_alert")
        assert len(soft) == 1
        assert soft[0]["needs_ack"]
        assert soft[0]["details"]["limits"][0]["key"] == "single_name:AAPL"
        await close_of(h.ledger, data.dates[-2], 1_000_000)
        await h.tick(tomorrow)
        assert len(await h.alerts_named("risk_alert")) == 2


async def test_no_soft_breach_below_80pct(tmp_path: Path, bus_env: str) -> None:
    async with risk_runtime(tmp_path, bus_env, aapl=790) as h:
        await h.tick(make_market(last={"AAPL": 100.0, "JPM": 100.0}).view(TODAY))
        assert await h.alerts_named("risk_alert") == []


async def test_stop_loss_is_published_and_alerted_once(tmp_path: Path, bus_env: str) -> None:
    async with risk_runtime(tmp_path, bus_env, aapl=1000) as h:
        notices = h.rt.bus.subscribe(topics.RISK_STOP_LOSS)
        view = make_market(last={"AAPL": 90.0, "JPM": 100.0}).view(TODAY)  # -10% on AAPL, -1% on the day
        await h.tick(view, [intent("AAPL", "buy", 10, ref=90.0)])
        await h.tick(view)
        assert h.capture.outputs[0][STOP_LOSS] == ["AAPL"]
        assert verdicts(h).items == []
        assert not h.capture.outputs[0][RISK_VERDICTS].items[0].approved
        message = (await notices.get(timeout=1)).envelope
        assert message.type == "risk.stop_loss"
        assert message.payload["positions"][0]["symbol"] == "AAPL"
        assert len(await h.alerts_named("risk_stop_loss")) == 1
        assert (await load_constraints(h.ledger)).stop_loss == ("AAPL",)


async def test_no_stop_loss_at_7pct(tmp_path: Path, bus_env: str) -> None:
    async with risk_runtime(tmp_path, bus_env, aapl=1000) as h:
        await h.tick(make_market(last={"AAPL": 93.0, "JPM": 100.0}).view(TODAY))
        assert h.capture.outputs[0][STOP_LOSS] == []
        assert await h.alerts_named("risk_stop_loss") == []


async def test_stress_breach_is_alerted_once_per_day(tmp_path: Path, bus_env: str) -> None:
    settings = RiskSettings(stress_max_loss_nav=0.04)
    async with risk_runtime(tmp_path, bus_env, settings, aapl=1000) as h:
        view = make_market(last={"AAPL": 100.0, "JPM": 100.0}).view(TODAY)
        await h.tick(view)
        await h.tick(view)
        (alert,) = await h.alerts_named("risk_stress_breach")
        assert alert["details"]["scenario"] == "tech_crash"
        assert "4.5% of NAV" in alert["message"]


async def test_no_stress_breach_within_the_limit(tmp_path: Path, bus_env: str) -> None:
    async with risk_runtime(tmp_path, bus_env, aapl=1000) as h:
        await h.tick(make_market(last={"AAPL": 100.0, "JPM": 100.0}).view(TODAY))
        assert await h.alerts_named("risk_stress_breach") == []


async def test_one_reject_alert_per_tick_lists_every_rejection_and_every_verdict_is_audited(
    tmp_path: Path, bus_env: str
) -> None:
    async with risk_runtime(tmp_path, bus_env, aapl=0) as h:
        view = make_market(last={"AAPL": 100.0, "JPM": 100.0}).view(TODAY)
        bad = [intent("AAPL", "buy", 10, ref=150.0), intent("JPM", "buy", 10, ref=50.0)]
        await h.tick(view, [*bad, intent("JPM", "buy", 10)])
        (alert,) = await h.alerts_named("risk_reject")
        assert [r["intent_id"] for r in alert["details"]["rejected"]] == [b.id for b in bad]
        assert "2 of 3" in alert["message"]
        (audit,) = audit_events(h, "risk.verdicts")
        data = audit["data"]
        assert isinstance(data, dict)
        assert [v["approved"] for v in data["verdicts"]] == [False, False, True]
        assert data["verdicts"][0]["reasons"][0].startswith("price_collar")


async def test_throttle_counts_across_ticks_in_the_rolling_window(tmp_path: Path, bus_env: str) -> None:
    settings = RiskSettings(max_orders_per_window=3, throttle_window_seconds=3600)
    async with risk_runtime(tmp_path, bus_env, settings, aapl=0) as h:
        view = make_market(last={"AAPL": 100.0, "JPM": 100.0}).view(TODAY)
        await h.tick(view, [intent("AAPL", "buy", 10), intent("JPM", "buy", 10)])
        h.clock.advance(600)
        await h.tick(view, [intent("AAPL", "buy", 10), intent("JPM", "buy", 10)])
        assert [v.approved for v in verdicts(h).items] == [True, False]
        h.clock.advance(3600)
        await h.tick(view, [intent("AAPL", "buy", 10), intent("JPM", "buy", 10)])
        assert [v.approved for v in verdicts(h).items] == [True, True]


async def test_health_shows_the_limits(tmp_path: Path, bus_env: str) -> None:
    async with risk_runtime(tmp_path, bus_env, aapl=500) as h:
        await h.tick(make_market(last={"AAPL": 100.0, "JPM": 100.0}).view(TODAY))
        report = await health_report(h.rt)
        risk = report["agents"]["risk"]
        assert risk["limits"]["portfolio"]["max_single_name_nav"] == 0.10
        assert risk["risk"]["gross_leverage"] == 0.05
        json.dumps(report)


def test_sessions_are_weekdays() -> None:
    assert all(d.weekday() < 5 for d in DAYS)
    assert DAYS[-1] - DAYS[-2] <= timedelta(days=3)


async def test_a_signed_off_resume_after_the_kill_is_not_killed_again_the_same_day(
    tmp_path: Path, bus_env: str
) -> None:
    view = make_market(last={"AAPL": 89.8, "JPM": 100.0}).view(TODAY)
    async with risk_runtime(tmp_path, bus_env) as h:
        await h.tick(view)
        await h.wait_state(RuntimeState.HALTED)
        (incident,) = await h.ledger.incidents(status="open")
        await h.rt.resume(ResumeRequest("alice", "loss reviewed with the safety officer", incident.id))
        await h.tick(view, [intent("JPM", "buy", 100)])
        assert await h.persisted_state() == "RUNNING"
        assert verdicts(h).items[0].approved
        assert await h.ledger.incidents(status="open") == []


async def test_the_drawdown_cap_lifts_when_the_drawdown_recovers(tmp_path: Path, bus_env: str) -> None:
    settings = RiskSettings(max_single_name_nav=1.0, max_sector_nav=1.0)
    async with risk_runtime(tmp_path, bus_env, settings, prev_nav=1_075_000) as h:
        await close_of(h.ledger, DAYS[-10], 1_200_000)
        await h.tick(make_market(last={"AAPL": 114.0, "JPM": 100.0}).view(TODAY))
        assert h.capture.outputs[-1][GROSS_CAP] == 0.6
        h.clock.advance(3600)
        await h.tick(make_market(last={"AAPL": 120.0, "JPM": 100.0}).view(TODAY))  # 1.10M: -8.3% from the peak
        assert h.capture.outputs[-1][GROSS_CAP] == 1.2
        assert (await load_constraints(h.ledger)).gross_cap == 1.2
        assert audit_events(h, "risk.drawdown_recovered")
        assert await h.persisted_state() == "REDUCING"  # leaving REDUCING stays the operator's call


async def test_a_stress_soft_breach_does_not_silence_the_later_breach(tmp_path: Path, bus_env: str) -> None:
    settings = RiskSettings(stress_max_loss_nav=0.05)
    async with risk_runtime(tmp_path, bus_env, settings, aapl=1000) as h:
        view = make_market(last={"AAPL": 100.0, "MSFT": 100.0}).view(TODAY)
        await h.tick(view)  # tech_crash: 4.5% of NAV, 90% of the limit
        (soft,) = await h.alerts_named("risk_alert")
        assert "stress:tech_crash" in [x["key"] for x in soft["details"]["limits"]]
        assert await h.alerts_named("risk_stress_breach") == []
        await h.tick(view, [intent("MSFT", "buy", 200)])  # 5.4% once approved
        (breach,) = await h.alerts_named("risk_stress_breach")
        assert breach["details"]["scenario"] == "tech_crash"


async def test_the_health_snapshot_and_var_nav_agree_after_a_tick(tmp_path: Path, bus_env: str) -> None:
    agent = build_risk_agent(RiskSettings())
    assert agent.var_nav is None
    async with running(tmp_path / "home", bus_env, [agent], at_close(DAYS[-3])) as h:
        await hold(h.ledger, "AAPL", 5000.0, 100.0, at_close(DAYS[-3]))
        await close_of(h.ledger, PREV, 1e6)
        await h.tick(make_market(last={"AAPL": 101.0, "JPM": 100.0}).view(TODAY), [intent("JPM", "buy", 100)])
        snapshot = agent.snapshot  # built when read
        assert isinstance(snapshot["var_nav"], float)
        assert snapshot["var_nav"] > 0
        assert agent.var_nav == snapshot["var_nav"]
        assert agent.health().data["risk"] == snapshot
