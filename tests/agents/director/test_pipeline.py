"""The council's agents in a real runtime (memory bus, SQLite ledger, audit log) between stand-ins for data,
risk/compliance, execution and reconciliation: trades happen for stated reasons, the tracker learns and
survives a restart, REDUCING is honoured, the reference SMA cross holds fixed lots, two runs agree."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from agents.director import (
    NAMESPACE,
    CouncilSettings,
    FeedbackAgent,
    PerformanceTracker,
    StrategyCouncilAgent,
    build_council_agents,
    sma_cross_agents,
)
from agents.market import MarketData
from agents.types import TRADE_PACK, Directive, Feedback, TradePack
from runtime import topics
from runtime.agent import Agent, AgentRegistry
from runtime.state import RuntimeState
from tests.agents.director._harness import FeedAgent, FillAgent, NavAgent
from tests.agents.director._pipeline import make_runtime, run, sessions, stack
from tests.agents.quant._market import crafted_market, trend_path


async def test_the_council_trades_on_the_demo_market_and_explains_every_symbol(
    tmp_path: Path, demo_data: MarketData
) -> None:
    days = sessions(demo_data, date(2018, 1, 2), 60)
    rt = make_runtime(tmp_path / "home", stack(demo_data, days))
    async with rt:
        sub = rt.bus.subscribe("quant/proposal", "director/directive", "strategy/feedback", "strategy/proposal/+")
        packs = await run(rt, len(days))
        seen: dict[str, int] = {}
        while sub.pending():
            delivery = await sub.get(timeout=1)
            seen[delivery.topic] = seen.get(delivery.topic, 0) + 1
        await sub.close()
        books = await rt.books.books()
    assert sum(len(p.intents) for p in packs) > 5
    assert books.positions, "the council never bought anything"
    for pack, day in zip(packs, days, strict=True):
        assert pack.as_of == day
        explained = {i.symbol for i in pack.intents} | set(pack.no_trade)
        assert explained >= set(demo_data.view(day).symbols)
        for intent in pack.intents:
            assert intent.votes
            assert intent.rationale
    assert seen[topics.QUANT_PROPOSAL] == len(days)
    assert seen[topics.DIRECTOR_DIRECTIVE] == len(days)
    assert seen[topics.STRATEGY_FEEDBACK] == len(days)
    for plugin in ("technical", "fundamental", "sentiment", "macro"):
        assert seen[topics.strategy_proposal(plugin)] >= len(days), plugin


async def test_feedback_weights_are_published_persisted_and_reloaded_after_a_restart(
    tmp_path: Path, demo_data: MarketData
) -> None:
    days = sessions(demo_data, date(2018, 1, 2), 40)
    home = tmp_path / "home"
    rt = make_runtime(home, stack(demo_data, days[:30]))
    async with rt:
        sub = rt.bus.subscribe(topics.STRATEGY_FEEDBACK)
        await run(rt, 30)
        last: Feedback | None = None
        while sub.pending():
            last = (await sub.get(timeout=1)).envelope.parsed(Feedback)
        await sub.close()
        saved = await rt.books.get_json(NAMESPACE, "tracker")
    assert last is not None
    assert set(last.weights) == {"technical", "fundamental", "sentiment", "macro"}
    assert sum(last.weights.values()) == pytest.approx(1.0, abs=1e-5)
    assert saved["updates"] == 30
    assert last.weights != pytest.approx(dict.fromkeys(last.weights, 0.25), abs=1e-4)  # it learned something

    agents = stack(demo_data, days[30:])
    rt2 = make_runtime(home, agents)
    async with rt2:
        council = next(a for a in agents if isinstance(a, StrategyCouncilAgent))
        assert council.tracker.updates == 30
        assert council.tracker.weights_for(list(last.weights)) == pytest.approx(last.weights, abs=1e-5)
        await run(rt2, 10)
    feedback = next(a for a in agents if isinstance(a, FeedbackAgent))
    assert feedback.tracker is council.tracker  # one tracker shared by the council and the feedback agent
    assert council.tracker.updates == 40


async def test_rejected_intents_penalise_their_supporters(tmp_path: Path, demo_data: MarketData) -> None:
    days = sessions(demo_data, date(2018, 1, 2), 30)
    universe = demo_data.view(days[0]).symbols
    rt = make_runtime(tmp_path / "home", stack(demo_data, days, reject=universe))
    async with rt:
        await run(rt, len(days))
        books = await rt.books.books()
        feedback = rt.registry.get("feedback")
        assert isinstance(feedback, FeedbackAgent)
        assert feedback.last is not None
        penalties = feedback.last.penalties
        audit = (tmp_path / "home" / "audit" / "runtime_events.jsonl").read_text()
    assert books.positions == {}  # compliance blocked everything
    assert max(penalties.values()) > 0.1
    assert '"council.penalty"' in audit


async def test_reducing_mode_only_shrinks_positions(tmp_path: Path, demo_data: MarketData) -> None:
    days = sessions(demo_data, date(2018, 1, 2), 60)
    rt = make_runtime(tmp_path / "home", stack(demo_data, days))
    async with rt:
        await run(rt, 40)
        await rt.set_state(RuntimeState.REDUCING, reason="drawdown breaker", actor="test-risk")
        before = {s: p.qty for s, p in (await rt.books.books()).positions.items()}
        packs = await run(rt, 20)
        after = {s: p.qty for s, p in (await rt.books.books()).positions.items()}
    assert before
    for pack in packs:
        assert all(i.reduces_exposure for i in pack.intents)
    for symbol, qty in after.items():
        assert 0 < qty <= before[symbol]


async def test_the_reference_sma_cross_holds_a_fixed_lot_while_fast_is_above_slow(tmp_path: Path) -> None:
    rise = trend_path(60, 0.01)
    fall = trend_path(40, -0.015, start=rise[-1])
    data = crafted_market({"X": rise + fall[1:]})
    days = data.dates[29:]  # from the first session with 30 bars
    agents: list[Agent] = [FeedAgent(data, days), *sma_cross_agents(fast=10, slow=30, lot=100), FillAgent(), NavAgent()]
    rt = make_runtime(tmp_path / "home", agents)
    held: list[float] = []
    async with rt:
        for _ in days:
            outcome = await rt.run_once()
            assert outcome.status == "completed", outcome.reason
            books = await rt.books.books()
            held.append(books.positions["X"].qty if "X" in books.positions else 0.0)
    closes = data.panel["close"][:, 0]
    for k, day in enumerate(days):
        row = data.dates.index(day)
        fast, slow = closes[row - 9 : row + 1].mean(), closes[row - 29 : row + 1].mean()
        assert held[k] == (100.0 if fast > slow else 0.0), day
    assert 100.0 in held
    assert held[-1] == 0.0


async def test_two_runs_give_identical_trade_packs_and_trackers(tmp_path: Path, demo_data: MarketData) -> None:
    days = sessions(demo_data, date(2018, 1, 2), 40)
    results = []
    for name in ("a", "b"):
        rt = make_runtime(tmp_path / name, stack(demo_data, days))
        async with rt:
            packs = await run(rt, len(days))
            council = rt.registry.get("council")
            assert isinstance(council, StrategyCouncilAgent)
            tracker = json.dumps(council.tracker.to_json(), sort_keys=True)
            results.append(([p.model_dump_json() for p in packs], tracker, rt.run_id))
    (packs_a, tracker_a, run_a), (packs_b, tracker_b, run_b) = results
    assert [p.replace(run_a, "RUN") for p in packs_a] == [p.replace(run_b, "RUN") for p in packs_b]
    assert tracker_a.replace(run_a, "RUN") == tracker_b.replace(run_b, "RUN")
    assert any('"intents":[{' in p for p in packs_a)


async def test_a_data_quality_issue_silences_the_impacted_plugin(tmp_path: Path, demo_data: MarketData) -> None:
    days = sessions(demo_data, date(2018, 1, 2), 3)
    rt = make_runtime(tmp_path / "home", stack(demo_data, days, impacted=["sentiment"]))
    async with rt:
        outcome = await rt.run_once()
        directive = outcome.tick.get("directive", Directive)
        pack = outcome.tick.get(TRADE_PACK, TradePack)
        audit = (tmp_path / "home" / "audit" / "runtime_events.jsonl").read_text()
    assert directive is not None
    assert directive.avoid_signals == ["sentiment"]
    assert pack is not None
    assert "sentiment" not in pack.weights
    assert all("sentiment" not in i.votes for i in pack.intents)
    assert '"quant.plugin_skipped"' in audit


def test_bad_plugin_settings_fail_the_build_with_the_setting_named() -> None:
    from agents.quant import PluginConfigError

    with pytest.raises(PluginConfigError, match="COUNCIL_PLUGINS"):
        build_council_agents(CouncilSettings(plugins=["technical", "tea-leaves"]))


def test_the_build_shares_one_tracker_and_orders_the_stages() -> None:
    agents = build_council_agents()
    assert [a.name for a in agents] == [
        "director",
        "quant.technical",
        "quant.fundamental",
        "quant.sentiment",
        "quant.macro",
        "council",
        "feedback",
    ]
    registry = AgentRegistry(agents)
    assert [a.name for a in registry][-2:] == ["council", "feedback"]
    council, feedback = agents[-2], agents[-1]
    assert isinstance(council, StrategyCouncilAgent)
    assert isinstance(feedback, FeedbackAgent)
    assert council.tracker is feedback.tracker
    assert isinstance(council.tracker, PerformanceTracker)
    assert council.order > max(a.order for a in agents if a.name.startswith("quant."))
