"""Running the council's agents in a real runtime between the stand-ins of :mod:`._harness`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from agents.director import CouncilSettings, build_council_agents
from agents.market import MarketData
from agents.quant import QuantSettings
from agents.types import TRADE_PACK, TradePack
from runtime.agent import Agent, AgentRegistry
from runtime.clock import SimClock
from runtime.messages import new_id
from runtime.runtime import Runtime
from runtime.settings import CoreSettings, RuntimeSettings
from tests.agents.director._harness import FeedAgent, FillAgent, NavAgent, VerdictAgent


def make_runtime(home: Path, agents: Sequence[Agent], bus: str | None = None) -> Runtime:
    return Runtime(
        CoreSettings(home=home, bus=bus or f"memory://{new_id()}", env="test"),
        RuntimeSettings(),
        AgentRegistry(list(agents)),
        clock=SimClock(datetime(2018, 1, 2, tzinfo=UTC)),
    )


def sessions(data: MarketData, start: date, n: int) -> list[date]:
    return [d for d in data.dates if d >= start][:n]


async def run(rt: Runtime, ticks: int) -> list[TradePack]:
    packs = []
    for _ in range(ticks):
        outcome = await rt.run_once()
        assert outcome.status == "completed", outcome.reason
        pack = outcome.tick.get(TRADE_PACK, TradePack)
        assert pack is not None
        packs.append(pack)
    return packs


def stack(data: MarketData, days: list[date], **kw: Any) -> list[Agent]:
    council = CouncilSettings(**kw.pop("council", {}))
    reject = kw.pop("reject", ())
    return [
        FeedAgent(data, days, **kw),
        *build_council_agents(council, QuantSettings()),
        VerdictAgent("compliance", reject),
        FillAgent(),
        NavAgent(),
    ]
