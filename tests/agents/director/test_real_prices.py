"""Real daily prices (AAPL, IBM, MSFT from the public-domain stocks.csv.gz): with bars alone, only the
technical plug-in has a view, the quorum follows the active plug-ins, and the council still trades."""

from __future__ import annotations

import functools
from datetime import date
from pathlib import Path

from agents.data import adjust_bars, read_bars_csv
from agents.director import sma_cross_agents
from agents.market import MarketData
from runtime.agent import Agent
from tests.agents.director._harness import FeedAgent, FillAgent, NavAgent
from tests.agents.director._pipeline import make_runtime, run, stack

STOCKS = Path(__file__).resolve().parents[2] / "data" / "stocks.csv.gz"


@functools.cache
def real_market() -> MarketData:
    bars = read_bars_csv(STOCKS)
    return MarketData({s: adjust_bars(bars[s]) for s in ("AAPL", "IBM", "MSFT")})


async def test_the_default_council_trades_real_prices_on_technicals_alone(tmp_path: Path) -> None:
    data = real_market()
    days = [d for d in data.dates if date(2003, 1, 2) <= d][:120]
    rt = make_runtime(tmp_path / "home", stack(data, days))
    async with rt:
        packs = await run(rt, len(days))
        books = await rt.books.books()
        health = {a.name: a.health() for a in rt.registry}
    intents = [i for p in packs for i in p.intents]
    assert intents
    assert {tuple(i.votes) for i in intents} == {("technical",)}
    assert books.nav > 0
    for name in ("quant.fundamental", "quant.sentiment", "quant.macro"):
        assert health[name].ok  # silent for want of data, not failing
        assert health[name].data["proposals"] == 0
    assert health["quant.technical"].data["proposals"] == 3


async def test_the_reference_sma_cross_trades_real_aapl(tmp_path: Path) -> None:
    data = real_market()
    days = [d for d in data.dates if date(2004, 1, 2) <= d][:150]
    agents: list[Agent] = [FeedAgent(data, days), *sma_cross_agents(10, 30, 100), FillAgent(), NavAgent()]
    rt = make_runtime(tmp_path / "home", agents)
    async with rt:
        packs = await run(rt, len(days))
        fills = await rt.books.fills(limit=10_000)
    sides = [i.side for p in packs for i in p.intents if i.symbol == "AAPL"]
    assert sides.count("buy") >= 2
    assert sides.count("sell") >= 1
    assert all(f.qty == 100 for f in fills)
