"""Compliance's rules applied before the trade pack leaves the council (the pre-trade check of an OMS).

The council drops what compliance would veto and records why under ``no_trade``. Compliance still reviews
every intent at its own stage and its veto stays final: the pre-screen only stops a strategy from churning
into a veto storm (a wash-trade window makes the same buy-back attempt fail every day), which would otherwise
trip ``compliance.kill_switch`` on ordinary behaviour.
"""

from __future__ import annotations

from agents.compliance._history import LastFills
from agents.compliance._rules import review
from agents.compliance._settings import ComplianceSettings
from agents.market import MarketView
from agents.types import TradePack
from storage.ledger import Ledger

PREFIX = "compliance pre-screen: "


class PreScreen:
    def __init__(self, settings: ComplianceSettings) -> None:
        self.settings = settings
        self.fills = LastFills()

    async def apply(self, pack: TradePack, ledger: Ledger, view: MarketView) -> TradePack:
        """The pack without the intents compliance would veto; their reasons go to ``no_trade``."""
        if not pack.intents:
            return pack
        # as the agent: the last fills serve only the wash-trade rule, not read while its window is 0
        fills = await self.fills.refresh(ledger) if self.settings.wash_window_days != 0 else {}
        verdicts = review(
            [(i, i.qty) for i in pack.intents], await ledger.books(), view, self.settings, fills, view.as_of
        ).by_intent()
        kept, no_trade = [], dict(pack.no_trade)
        for intent in pack.intents:
            verdict = verdicts.get(intent.id)
            if verdict is not None and not verdict.approved:
                no_trade[intent.symbol] = PREFIX + "; ".join(verdict.reasons)
            else:
                kept.append(intent)
        if len(kept) == len(pack.intents):
            return pack
        return pack.model_copy(update={"intents": kept, "no_trade": no_trade})
