"""The Director, council and feedback agents on a hand-built context: real memory bus, real SQLite ledger."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from agents.director import (
    NAMESPACE,
    CouncilSettings,
    DirectorAgent,
    FeedbackAgent,
    PerformanceTracker,
    StrategyCouncilAgent,
)
from agents.director._council import audited_intent
from agents.market import MarketData
from agents.types import DIRECTIVE, MARKET, PROPOSALS, TRADE_PACK, Directive, OrderIntent, TradePack
from runtime import topics
from runtime.bus import MemoryBus
from runtime.messages import new_id
from storage.ledger import Ledger
from storage.records import NavPoint, Order
from tests.agents.director._council_helpers import prop
from tests.agents.director._harness import at_close, make_context, tick_for
from tests.agents.quant._market import crafted_market, trend_path


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Ledger]:
    found = await Ledger.open(tmp_path / "l.sqlite")
    yield found
    await found.close()


@pytest.fixture
async def bus() -> AsyncIterator[MemoryBus]:
    found = MemoryBus(f"memory://{new_id()}", "test")
    await found.start()
    yield found
    await found.close()


def market() -> MarketData:
    return crafted_market({"A": trend_path(80, 0.001, noise=0.005), "B": trend_path(80, 0.0, noise=0.005, seed=2)})


async def record_navs(ledger: Ledger, navs: list[float], last: date) -> None:
    for k, nav in enumerate(navs):
        day = last - timedelta(days=len(navs) - 1 - k)
        await ledger.record_nav(NavPoint(at_close(day), day.isoformat(), nav, nav, 0.0, 0.0))


async def test_the_director_cuts_the_budget_on_the_ledgers_drawdown(ledger: Ledger, bus: MemoryBus) -> None:
    data = market()
    day = data.dates[-1]
    await record_navs(ledger, [1_000_000.0, 1_010_000.0, 950_000.0, 920_000.0], day - timedelta(days=1))
    agent = DirectorAgent()
    ctx, rec = await make_context(agent.name, ledger, bus)
    await agent.start(ctx)
    sub = bus.subscribe(topics.DIRECTOR_DIRECTIVE)
    tick = tick_for(day)
    tick.put(MARKET, data.view(day))
    await agent.on_tick(tick)
    directive = tick.get(DIRECTIVE, Directive)
    assert directive is not None
    assert directive.gross_target == pytest.approx(1.0 - (0.0891 - 0.05) / 0.05 * 0.5, abs=0.01)
    assert "drawdown -8.9%" in directive.notes
    message = await sub.get(timeout=1)
    assert message.envelope.type == "director.directive"
    assert message.envelope.parsed(Directive) == directive
    await sub.close()
    assert len(rec.events("director.directive")) == 1


async def test_the_director_reads_new_nav_points_and_audits_only_changes(ledger: Ledger, bus: MemoryBus) -> None:
    data = market()
    d1, d2, d3 = data.dates[-3:]
    agent = DirectorAgent()
    ctx, rec = await make_context(agent.name, ledger, bus)
    await agent.start(ctx)

    async def tick_on(day: date, seq: int) -> Directive:
        tick = tick_for(day, seq)
        tick.put(MARKET, data.view(day))
        await agent.on_tick(tick)
        found = tick.get(DIRECTIVE, Directive)
        assert found is not None
        return found

    await record_navs(ledger, [1_000_000.0], d1)
    first = await tick_on(d1, 1)
    await record_navs(ledger, [1_001_000.0], d2)
    second = await tick_on(d2, 2)
    assert first.gross_target == second.gross_target == 1.0
    assert len(rec.events("director.directive")) == 1  # nothing of substance changed
    await record_navs(ledger, [880_000.0], d3)  # a 12% fall from the peak, read incrementally
    third = await tick_on(d3, 3)
    assert third.gross_target == pytest.approx(0.5)
    assert len(rec.events("director.directive")) == 2
    assert agent.navs.by_session == {d.isoformat(): v for d, v in ((d1, 1e6), (d2, 1.001e6), (d3, 8.8e5))}


async def test_without_a_market_view_the_director_and_council_stand_aside(ledger: Ledger, bus: MemoryBus) -> None:
    for agent in (DirectorAgent(), StrategyCouncilAgent()):
        ctx, _ = await make_context(agent.name, ledger, bus)
        await agent.start(ctx)
        tick = tick_for(date(2021, 6, 30))
        await agent.on_tick(tick)
        assert tick.outputs == {}


async def test_the_council_sizes_against_the_ledger_and_waits_on_working_orders(ledger: Ledger, bus: MemoryBus) -> None:
    data = market()
    day = data.dates[-1]
    await ledger.fund(1_000_000.0, ts=at_close(day))
    await ledger.insert_order(Order("c1", "B", "buy", 10, "paper", at_close(day)))  # working, not filled
    agent = StrategyCouncilAgent(CouncilSettings())
    ctx, rec = await make_context(agent.name, ledger, bus)
    await agent.start(ctx)
    sub = bus.subscribe(topics.QUANT_PROPOSAL)
    tick = tick_for(day)
    tick.put(MARKET, data.view(day))
    tick.put(PROPOSALS, [prop("x", "A", 0.9), prop("y", "A", 0.9), prop("x", "B", 0.9), prop("y", "B", 0.9)])
    await agent.on_tick(tick)
    pack = tick.get(TRADE_PACK, TradePack)
    assert pack is not None
    assert [i.symbol for i in pack.intents] == ["A"]
    assert pack.no_trade["B"] == "order c1 is still working"
    assert pack.weights == {"x": 0.5, "y": 0.5}
    message = await sub.get(timeout=1)
    assert message.envelope.type == "quant.proposal"
    assert message.envelope.parsed(TradePack) == pack
    await sub.close()
    [audited] = rec.events("council.trade_pack")
    assert audited["intents"][0]["symbol"] == "A"
    assert audited["nav"] == 1_000_000.0


async def test_the_trade_pack_audit_can_be_turned_off(ledger: Ledger, bus: MemoryBus) -> None:
    data = market()
    day = data.dates[-1]
    await ledger.fund(1_000_000.0, ts=at_close(day))
    agent = StrategyCouncilAgent(CouncilSettings(audit_trade_packs=False))
    ctx, rec = await make_context(agent.name, ledger, bus)
    await agent.start(ctx)
    tick = tick_for(day)
    tick.put(MARKET, data.view(day))
    tick.put(PROPOSALS, [prop("x", "A", 0.9), prop("y", "A", 0.9)])
    await agent.on_tick(tick)
    pack = tick.get(TRADE_PACK, TradePack)
    assert pack is not None
    assert pack.intents
    assert rec.audit == []


async def test_feedback_persists_every_n_ticks_and_on_stop(ledger: Ledger, bus: MemoryBus) -> None:
    data = market()
    tracker = PerformanceTracker(CouncilSettings())
    agent = FeedbackAgent(CouncilSettings(persist_every=3), tracker, ["x", "y"])
    ctx, _ = await make_context(agent.name, ledger, bus)
    await agent.start(ctx)
    saved = []
    for seq, day in enumerate(data.dates[-5:], start=1):
        tick = tick_for(day, seq)
        tick.put(MARKET, data.view(day))
        tick.put(PROPOSALS, [prop("x", "A", 0.5), prop("y", "A", -0.5)])
        await agent.on_tick(tick)
        doc = await ledger.get_json(NAMESPACE, "tracker")
        saved.append(doc["updates"] if doc else None)
    assert saved == [None, None, 3, 3, 3]
    await agent.stop()
    doc = await ledger.get_json(NAMESPACE, "tracker")
    assert doc["updates"] == 5
    assert agent.last is not None
    assert agent.health().data["weights"] == agent.last.weights


async def test_feedback_with_persist_every_0_saves_only_when_flushed(ledger: Ledger, bus: MemoryBus) -> None:
    data = market()
    agent = FeedbackAgent(CouncilSettings(persist_every=0), PerformanceTracker(CouncilSettings()), ["x", "y"])
    ctx, _ = await make_context(agent.name, ledger, bus)
    await agent.start(ctx)
    for seq, day in enumerate(data.dates[-4:], start=1):
        tick = tick_for(day, seq)
        tick.put(MARKET, data.view(day))
        tick.put(PROPOSALS, [prop("x", "A", 0.5), prop("y", "A", -0.5)])
        await agent.on_tick(tick)
    assert await ledger.get_json(NAMESPACE, "tracker") is None
    await agent.flush()
    doc = await ledger.get_json(NAMESPACE, "tracker")
    assert doc is not None
    assert doc == agent.tracker.to_json()  # what a save after every tick would have left last
    assert doc["updates"] == 4


async def test_feedback_publishes_on_strategy_feedback(ledger: Ledger, bus: MemoryBus) -> None:
    data = market()
    agent = FeedbackAgent(CouncilSettings(), plugins=["x"])
    ctx, _ = await make_context(agent.name, ledger, bus)
    await agent.start(ctx)
    sub = bus.subscribe(topics.STRATEGY_FEEDBACK)
    tick = tick_for(data.dates[-1])
    tick.put(MARKET, data.view(data.dates[-1]))
    await agent.on_tick(tick)
    message = await sub.get(timeout=1)
    await sub.close()
    assert message.envelope.type == "strategy.feedback"
    assert message.envelope.payload["weights"] == {"x": 1.0}
    assert message.envelope.tick_id == tick.id


@pytest.mark.parametrize(
    ("qty", "target", "consensus", "votes"),
    [
        (100.0, 0.01234567, 0.5, {"b": 0.25, "a": -0.125}),
        (1e-9, -0.0, -0.0, {}),
        (float("inf"), float("nan"), 1.0, {"t": float("inf"), "u": float("nan")}),
    ],
)
def test_an_audited_intent_is_its_json_dump_of_the_audited_fields(
    qty: float, target: float, consensus: float, votes: dict[str, float]
) -> None:
    intent = OrderIntent(id="t:X", symbol="X", side="sell", qty=qty, ref_price=10.0, priority=3,
                         target_weight=target, current_weight=0.1, consensus=consensus, votes=votes)  # fmt: skip
    dumped = intent.model_dump(
        mode="json", include={"id", "symbol", "side", "qty", "priority", "consensus", "target_weight", "votes"}
    )
    built = audited_intent(intent)
    assert repr(built) == repr(dumped)  # same keys, same order, same floats (a NaN and a -0.0 included)
    assert built["votes"] is not intent.votes
