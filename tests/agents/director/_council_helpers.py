"""Small builders for council tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from agents.director import CouncilSettings, Holdings, build_consensus, plan_trades
from agents.types import Directive, Proposal, TradePack

AS_OF = date(2021, 6, 30)


def prop(plugin: str, symbol: str, score: float, confidence: float = 1.0) -> Proposal:
    return Proposal(plugin=plugin, symbol=symbol, score=score, confidence=confidence, rationale=f"{plugin} says so")


def directive(
    universe: Sequence[str], *, gross: float = 1.0, max_names: int = 20, avoid: Sequence[str] = ()
) -> Directive:
    return Directive(
        as_of=AS_OF, universe=list(universe), gross_target=gross, max_names=max_names, avoid_signals=list(avoid)
    )


def pack(
    proposals: list[Proposal],
    *,
    prices: dict[str, float],
    held: Mapping[str, float] | None = None,
    nav: float = 1_000_000.0,
    vols: dict[str, float] | None = None,
    universe: Sequence[str] | None = None,
    gross: float = 1.0,
    max_names: int = 20,
    settings: CouncilSettings | None = None,
    weights: dict[str, float] | None = None,
    working: dict[str, str] | None = None,
    reducing_only: bool = False,
) -> TradePack:
    s = settings or CouncilSettings()
    d = directive(universe if universe is not None else sorted(prices), gross=gross, max_names=max_names)
    plugins = sorted({p.plugin for p in proposals})
    w = weights or {p: 1.0 / len(plugins) for p in plugins}
    council = build_consensus(proposals, w, d, s)
    return plan_trades(
        council,
        holdings=Holdings(nav, dict(held or {}), dict(working or {})),
        prices=prices,
        vols=vols if vols is not None else dict.fromkeys(prices, 0.01),
        directive=d,
        settings=s,
        weights=w,
        tick_id="t1",
        reducing_only=reducing_only,
    )
