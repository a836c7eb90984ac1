"""The messages the trading agents exchange, in pipeline order. Each is a bus payload (registered below)
and the typed object later stages read from the tick (``tick.get(KEY, Type)``).

data -> ``market`` (an :class:`agents.market.MarketView`, in-process only) and ``market.snapshot``
director -> :class:`Directive`            (``director.directive``)
council plug-ins -> :class:`Proposals`    (``strategy.proposal.<plugin>``: one batch a plug-in a tick, or one
                                           :class:`Proposal` a message with ``QUANT_PUBLISH=each``); the tick
                                           holds ``list[Proposal]`` under ``PROPOSALS``
council -> :class:`TradePack`             (``quant.proposal``)
risk -> :class:`Verdicts`                 (``risk.approval``)
compliance -> :class:`Verdicts`           (``compliance.approval``)
execution -> :class:`FillReport` per fill (``execution.fill``)
feedback -> :class:`Feedback`             (``strategy.feedback``)
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from runtime.messages import register_payload

Side = Literal["buy", "sell"]

# Tick output keys.
MARKET = "market"  # agents.market.MarketView
MARKET_SNAPSHOT = "market_snapshot"  # MarketSnapshot (impacted signals for the director)
DIRECTIVE = "directive"
PROPOSALS = "proposals"
TRADE_PACK = "trade_pack"
RISK_VERDICTS = "risk_verdicts"
COMPLIANCE_VERDICTS = "compliance_verdicts"
EXECUTION_REPORT = "execution_report"


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MarketSnapshot(_Msg):
    """Published by the data agent each tick: the last bar per symbol and data health."""

    as_of: date
    prices: dict[str, float]
    volumes: dict[str, float] = Field(default_factory=dict)
    provider: str
    quarantined: list[str] = Field(default_factory=list)
    impacted_signals: list[str] = Field(default_factory=list)


class Directive(_Msg):
    """The director's focus for the day: universe, risk budget, regime, and plug-ins to trust less."""

    as_of: date
    universe: list[str]
    regime: str = "neutral"
    gross_target: float = Field(ge=0, description="Target gross exposure as a fraction of NAV")
    max_names: int = Field(ge=0)
    avoid_signals: list[str] = Field(default_factory=list, description="Plug-ins impacted by a data-quality issue")
    notes: str = ""


class Proposal(_Msg):
    """One plug-in's view of one symbol. ``score`` in [-1, 1] (sell..buy), ``confidence`` in [0, 1]."""

    plugin: str
    symbol: str
    score: float = Field(ge=-1, le=1)
    confidence: float = Field(ge=0, le=1)
    rationale: str
    signals: dict[str, float] = Field(default_factory=dict)


class Proposals(_Msg):
    """Every plug-in proposal of one tick (the council's input)."""

    items: list[Proposal] = Field(default_factory=list)


class OrderIntent(_Msg):
    """An order the council wants, before risk and compliance. ``id`` is stable within a tick."""

    id: str
    symbol: str
    side: Side
    qty: float = Field(gt=0)
    ref_price: float = Field(gt=0, description="The last price the decision was made on")
    priority: int = Field(ge=0, description="0 first")
    target_weight: float
    current_weight: float
    strategy: str = "council"
    consensus: float = Field(ge=-1, le=1)
    votes: dict[str, float] = Field(default_factory=dict, description="plugin -> weight x score")
    rationale: str = ""
    reduces_exposure: bool = False


class TradePack(_Msg):
    as_of: date
    intents: list[OrderIntent] = Field(default_factory=list)
    weights: dict[str, float] = Field(default_factory=dict, description="plugin weights used")
    no_trade: dict[str, str] = Field(default_factory=dict, description="symbol -> why no order")


class Verdict(_Msg):
    """Risk's or compliance's answer on one intent. ``qty`` may be cut below the intent's."""

    intent_id: str
    symbol: str
    approved: bool
    qty: float = Field(ge=0)
    reasons: list[str] = Field(default_factory=list, description="rule ids with detail, e.g. 'single_name: ...'")


class Verdicts(_Msg):
    agent: Literal["risk", "compliance"]
    items: list[Verdict] = Field(default_factory=list)

    def by_intent(self) -> dict[str, Verdict]:
        return {v.intent_id: v for v in self.items}


class FillReport(_Msg):
    client_order_id: str
    intent_id: str | None = None
    venue: str
    trade_id: str
    symbol: str
    side: Side
    qty: float
    price: float
    commission: float
    ts: datetime


class ExecutionReport(_Msg):
    """What execution did this tick (in-process for feedback and reconciliation)."""

    submitted: list[str] = Field(default_factory=list)
    fills: list[FillReport] = Field(default_factory=list)
    failures: dict[str, str] = Field(default_factory=dict)


class Feedback(_Msg):
    """The performance tracker's weights and penalties after a tick."""

    as_of: date
    weights: dict[str, float]
    penalties: dict[str, float] = Field(default_factory=dict)
    hit_rates: dict[str, float] = Field(default_factory=dict)
    realised_pnl: dict[str, float] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)


_MODELS: dict[str, type[BaseModel]] = {
    "market.snapshot": MarketSnapshot,
    "director.directive": Directive,
    "strategy.proposal": Proposal,
    "quant.proposal": TradePack,
    "verdicts": Verdicts,
    "execution.fill": FillReport,
    "strategy.feedback": Feedback,
}
for _name, _model in _MODELS.items():
    register_payload(_name, _model)
