"""Every plug-in fires on real inputs and publishes on its topic; the host agent contains a bad plug-in.

(The original macro plug-in never fired because nothing ever sent it news: here each built-in is run on the
demo market and on a crafted scenario, through the agent that hosts it, and must publish a non-zero view.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from agents.market import MarketData, MarketView
from agents.quant import BATCH_TYPE, BUILTINS, PROPOSAL_TYPE, PluginAgent, QuantSettings, default_directive
from agents.types import DIRECTIVE, MARKET, PROPOSALS, Directive, Proposal, Proposals
from runtime.bus import MemoryBus
from runtime.messages import new_id
from storage.ledger import Ledger
from tests.agents.director._harness import Recorder, make_context, tick_for
from tests.agents.quant._market import crafted_market, headline, monthly, trend_path

END = date(2021, 6, 30)


def crafted() -> MarketData:
    """A scenario with something for every plug-in: trends, fundamentals, news and a macro turn."""
    from agents.data import Fundamentals

    macro = (
        monthly("rates", [1.0 + 0.25 * i for i in range(13)], END)
        + monthly("inflation", [6.0] * 13, END)
        + monthly("unemployment", [4.0] * 13, END)
    )
    f = {s: [Fundamentals(s, END - timedelta(days=20), "Technology", eps, 20.0, 0.05, 0.1, 1e9)]
         for s, eps in (("UP", 5.0), ("DOWN", 1.0))}  # fmt: skip
    return crafted_market(
        {"UP": trend_path(300, 0.002, noise=0.01), "DOWN": trend_path(300, -0.002, noise=0.01, seed=9)},
        sectors={"UP": "Technology", "DOWN": "Technology"},
        fundamentals=f,
        headlines=[headline("UP", END, "Record profits thrill investors"), headline("DOWN", END, "Fraud probe widens")],
        macro=macro,
        end=END,
    )


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


async def run_plugin(
    agent: PluginAgent, view: MarketView, ledger: Ledger, bus: MemoryBus, directive: Directive | None = None
) -> tuple[list[Proposal], list[Any], Recorder]:
    ctx, rec = await make_context(agent.name, ledger, bus)
    await agent.start(ctx)
    sub = bus.subscribe("strategy/proposal/#")
    tick = tick_for(view.as_of)
    tick.put(MARKET, view)
    if directive is not None:
        tick.put(DIRECTIVE, directive)
    await agent.on_tick(tick)
    messages = []
    while sub.pending():
        messages.append(await sub.get(timeout=1))
    await sub.close()
    return tick.outputs.get(PROPOSALS, []), messages, rec


@pytest.mark.parametrize("name", sorted(BUILTINS))
async def test_each_builtin_fires_on_the_demo_market_and_publishes_on_its_topic(
    name: str, demo_data: MarketData, ledger: Ledger, bus: MemoryBus
) -> None:
    agent = PluginAgent(BUILTINS[name](QuantSettings()))
    fired = []
    for day in (date(2018, 3, 1), date(2019, 6, 14)):
        proposals, messages, _ = await run_plugin(agent, demo_data.view(day), ledger, bus)
        fired += [p for p in proposals if p.score != 0 and p.confidence > 0]
        assert [m.topic for m in messages] == [f"strategy/proposal/{name}"]  # one batch a tick
        assert messages[0].envelope.type == BATCH_TYPE
        assert Proposals.model_validate(messages[0].envelope.payload).items == proposals
        assert messages[0].envelope.tick_id == "t1"
    assert fired, f"{name} never fired on the demo market"
    assert agent.health().ok


@pytest.mark.parametrize("name", sorted(BUILTINS))
async def test_each_builtin_fires_on_a_crafted_scenario(name: str, ledger: Ledger, bus: MemoryBus) -> None:
    data = crafted()
    agent = PluginAgent(BUILTINS[name](QuantSettings()))
    proposals, messages, _ = await run_plugin(agent, data.view(END), ledger, bus)
    assert {p.symbol for p in proposals} == {"UP", "DOWN"}
    assert all(p.score != 0 for p in proposals)
    by = {p.symbol: p.score for p in proposals}
    if name != "macro":  # macro sees one economy: both are Technology and go the same way
        assert by["UP"] > 0 > by["DOWN"], name
    assert len(messages) == 1


async def test_each_mode_publishes_one_message_per_proposal(
    demo_data: MarketData, ledger: Ledger, bus: MemoryBus
) -> None:
    agent = PluginAgent(BUILTINS["technical"](QuantSettings()), publish="each")
    proposals, messages, _ = await run_plugin(agent, demo_data.view(date(2019, 6, 14)), ledger, bus)
    assert len(messages) == len(proposals) > 1
    assert {m.envelope.type for m in messages} == {PROPOSAL_TYPE}
    assert [Proposal.model_validate(m.envelope.payload) for m in messages] == proposals
    assert all(m.envelope.tick_id == "t1" for m in messages)


async def test_nothing_to_propose_publishes_no_empty_batch(ledger: Ledger, bus: MemoryBus) -> None:
    agent = PluginAgent(BUILTINS["technical"](QuantSettings()))
    view = crafted().view(END)
    directive = Directive(as_of=END, universe=[], gross_target=1.0, max_names=0)
    proposals, messages, _ = await run_plugin(agent, view, ledger, bus, directive)
    assert proposals == []
    assert messages == []


async def test_off_mode_publishes_nothing_but_still_feeds_the_tick(
    demo_data: MarketData, ledger: Ledger, bus: MemoryBus
) -> None:
    agent = PluginAgent(BUILTINS["technical"](QuantSettings()), publish="off")
    proposals, messages, _ = await run_plugin(agent, demo_data.view(date(2019, 6, 14)), ledger, bus)
    assert proposals
    assert messages == []


async def test_an_avoided_plugin_is_skipped_and_says_so(demo_data: MarketData, ledger: Ledger, bus: MemoryBus) -> None:
    view = demo_data.view(date(2019, 6, 14))
    directive = default_directive(view).model_copy(update={"avoid_signals": ["sentiment"]})
    agent = PluginAgent(BUILTINS["sentiment"](QuantSettings()))
    proposals, messages, rec = await run_plugin(agent, view, ledger, bus, directive)
    assert proposals == []
    assert messages == []
    [skipped] = rec.events("quant.plugin_skipped")
    assert skipped["plugin"] == "sentiment"
    assert "data-quality" in skipped["reason"]
    assert "avoided" in agent.health().detail
    # the mirror: another plug-in on the same directive is not affected
    other = PluginAgent(BUILTINS["technical"](QuantSettings()))
    assert (await run_plugin(other, view, ledger, bus, directive))[0]


async def test_a_symbol_level_avoid_drops_only_that_symbol(
    demo_data: MarketData, ledger: Ledger, bus: MemoryBus
) -> None:
    view = demo_data.view(date(2019, 6, 14))
    directive = default_directive(view).model_copy(update={"avoid_signals": ["technical:AAPL"]})
    agent = PluginAgent(BUILTINS["technical"](QuantSettings()))
    proposals, _, rec = await run_plugin(agent, view, ledger, bus, directive)
    assert "AAPL" not in {p.symbol for p in proposals}
    assert len(proposals) == len(view.symbols) - 1
    assert rec.events("quant.symbols_skipped")[0]["symbols"] == ["AAPL"]
    assert rec.events("quant.plugin_error") == []


class Exploding:
    name = "exploding"

    def __init__(self) -> None:
        self.fail = True

    def propose(self, view: MarketView, directive: Directive) -> list[Proposal]:
        if self.fail:
            raise ZeroDivisionError("bad maths")
        return [Proposal(plugin="exploding", symbol=directive.universe[0], score=0.5, confidence=0.5, rationale="ok")]


class Sloppy:
    name = "sloppy"

    def propose(self, view: MarketView, directive: Directive) -> list[Proposal]:
        good = Proposal(plugin="sloppy", symbol=directive.universe[0], score=0.5, confidence=0.5, rationale="ok")
        forged = Proposal(plugin="technical", symbol=directive.universe[1], score=1, confidence=1, rationale="x")
        outside = Proposal(plugin="sloppy", symbol="NOPE", score=1, confidence=1, rationale="x")
        return [good, good, forged, outside]


async def test_a_raising_plugin_loses_its_vote_alerts_once_and_recovers(
    demo_data: MarketData, ledger: Ledger, bus: MemoryBus
) -> None:
    plugin = Exploding()
    agent = PluginAgent(plugin)
    ctx, rec = await make_context(agent.name, ledger, bus)
    await agent.start(ctx)
    view = demo_data.view(date(2019, 6, 14))
    for seq in (1, 2):
        tick = tick_for(view.as_of, seq)
        tick.put(MARKET, view)
        await agent.on_tick(tick)  # does not raise: the tick goes on without this vote
        assert tick.outputs.get(PROPOSALS, []) == []
    assert len(rec.alerts) == 1
    assert rec.alerts[0]["action"] == "quant_plugin_error"
    assert "ZeroDivisionError" in rec.alerts[0]["message"]
    assert len(rec.events("quant.plugin_error")) == 2
    assert not agent.health().ok
    plugin.fail = False
    tick = tick_for(view.as_of, 3)
    tick.put(MARKET, view)
    await agent.on_tick(tick)
    assert len(tick.outputs[PROPOSALS]) == 1
    assert agent.health().ok
    assert rec.events("quant.plugin_recovered")


async def test_malformed_proposals_are_dropped_with_reasons(
    demo_data: MarketData, ledger: Ledger, bus: MemoryBus
) -> None:
    proposals, _, rec = await run_plugin(PluginAgent(Sloppy()), demo_data.view(date(2019, 6, 14)), ledger, bus)
    assert len(proposals) == 1
    assert proposals[0].plugin == "sloppy"
    [error] = rec.events("quant.plugin_error")
    assert "proposed twice" in error["error"]
    assert "signed 'technical'" in error["error"]
    assert "not in today's universe" in error["error"]


async def test_no_market_view_means_nothing_to_do(ledger: Ledger, bus: MemoryBus) -> None:
    agent = PluginAgent(BUILTINS["macro"](QuantSettings()))
    ctx, _ = await make_context(agent.name, ledger, bus)
    await agent.start(ctx)
    tick = tick_for(END)
    await agent.on_tick(tick)
    assert PROPOSALS not in tick.outputs
    assert "no market view" in agent.health().detail
