"""Compliance review: approve or veto each intent risk approved, against the post-trade book.

Compliance never resizes: an intent passes at the quantity risk approved or is vetoed, with every rule it
breaks named in the reasons (the strategy owner is told all of them at once, runbook SOP 4). Intents are taken
in priority order and each sees the book with the earlier approvals applied.

Rules: ``no_price``, ``restricted``, ``penny_stock``, ``self_cross``, ``order_splitting``, ``short_sale``,
``wash_trade``, ``concentration_issuer``, ``concentration_sector``.
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from agents.compliance._settings import ComplianceSettings
from agents.market import MarketData, MarketView
from agents.types import OrderIntent, Side, Verdict, Verdicts
from storage.records import Books

_EPS = 1e-9


class ComplianceRule(StrEnum):
    NO_PRICE = "no_price"
    RESTRICTED = "restricted"
    PENNY_STOCK = "penny_stock"
    SELF_CROSS = "self_cross"
    ORDER_SPLITTING = "order_splitting"
    SHORT_SALE = "short_sale"
    WASH_TRADE = "wash_trade"
    ISSUER = "concentration_issuer"
    SECTOR = "concentration_sector"


@dataclass(frozen=True, slots=True)
class LastFill:
    """The last fill in a symbol: what a wash-trade check needs."""

    side: Side
    ts: datetime
    qty: float
    price: float


class _Groups:
    """Each symbol's issuer (the settings' map) and sector (the market data's), remembered for one settings
    object's issuer map and one market data (whose sectors are fixed when it is built): the same book is grouped
    every tick."""

    __slots__ = ("data", "issuers", "of")

    def __init__(self, data: MarketData | None, settings: ComplianceSettings) -> None:
        self.data = weakref.ref(data) if data is not None else None  # not kept alive by the memo
        self.issuers = settings.issuers
        self.of: dict[str, tuple[str, str]] = {}

    def fits(self, data: MarketData | None, settings: ComplianceSettings) -> bool:
        known = self.data() if self.data is not None else None
        return known is data and self.issuers is settings.issuers


_GROUPS: dict[int, _Groups] = {}


def _groups(view: MarketView | None, settings: ComplianceSettings) -> dict[str, tuple[str, str]]:
    """The remembered ``symbol -> (issuer, sector)`` of these settings and this view's data."""
    data = view.data if view is not None else None
    memo = _GROUPS.get(id(settings))
    if memo is None or not memo.fits(data, settings):
        if len(_GROUPS) >= 64:
            _GROUPS.clear()
        memo = _GROUPS[id(settings)] = _Groups(data, settings)
    return memo.of


def review(
    approved: Sequence[tuple[OrderIntent, float]],
    books: Books,
    view: MarketView | None,
    settings: ComplianceSettings,
    last_fills: Mapping[str, LastFill],
    as_of: date,
) -> Verdicts:
    """Compliance's verdict on each ``(intent, risk-approved quantity)`` (pure).

    Args:
        approved: the intents risk approved, with the quantity it approved.
        books: cash and positions now.
        view: the market of the session (prices, sectors).
        settings: the rules.
        last_fills: the last fill per symbol (from the ledger).
        as_of: the session date the wash-trade window counts from.
    """
    return _Review(approved, books, view, settings, last_fills, as_of).run()


class _Review:
    def __init__(
        self,
        approved: Sequence[tuple[OrderIntent, float]],
        books: Books,
        view: MarketView | None,
        settings: ComplianceSettings,
        last_fills: Mapping[str, LastFill],
        as_of: date,
    ) -> None:
        self.s = settings
        self.view = view
        self.fills = last_fills
        self.as_of = as_of
        self.prices = prices = view.today() if view is not None else {}  # the view's shared closes: only read
        self.ordered = [pair for _, pair in sorted(enumerate(approved), key=lambda e: (e[1][0].priority, e[0]))]
        self.qty: dict[str, float] = {}
        self.mark: dict[str, float] = {}
        for symbol, pos in books.positions.items():
            self.qty[symbol] = pos.qty
            self.mark[symbol] = prices.get(symbol, pos.last_price if pos.last_price is not None else pos.avg_cost)
        self.nav = books.account.cash + sum(q * self.mark[s] for s, q in self.qty.items())
        self.issuer: dict[str, float] = defaultdict(float)
        self.sector: dict[str, float] = defaultdict(float)
        self.groups = _groups(view, settings)
        for symbol, q in self.qty.items():
            value = q * self.mark[symbol]
            issuer, sector = self.groups.get(symbol) or self._group(symbol)
            self.issuer[issuer] += value
            self.sector[sector] += abs(value)
        self.crossed, self.split = self._pack_patterns()

    def _sector(self, symbol: str) -> str:
        return self.view.sector(symbol) if self.view is not None else "unknown"

    def _group(self, symbol: str) -> tuple[str, str]:
        """``symbol``'s issuer and sector (remembered: see :func:`_groups`)."""
        found = self.groups.get(symbol)
        if found is None:
            found = self.groups[symbol] = (self.s.issuer_of(symbol), self._sector(symbol))
        return found

    def _pack_patterns(self) -> tuple[set[str], dict[tuple[str, str], str]]:
        """Self-crossing symbols, and (symbol, side) groups whose sum evades the order-size limit."""
        sides: dict[str, set[str]] = defaultdict(set)
        groups: dict[tuple[str, str], list[float]] = defaultdict(list)
        for intent, qty in self.ordered:
            sides[intent.symbol].add(intent.side)
            groups[(intent.symbol, intent.side)].append(qty)
        crossed = {s for s, found in sides.items() if len(found) > 1} if self.s.block_self_cross else set()
        split: dict[tuple[str, str], str] = {}
        if self.s.block_order_splitting:
            for (symbol, side), qtys in groups.items():
                price = self.prices.get(symbol)
                if len(qtys) < 2 or price is None:
                    continue
                total = sum(qtys)
                limit = min(self.s.split_max_shares, self.s.split_max_notional_nav * max(self.nav, 0.0) / price)
                if total > limit * (1 + _EPS):
                    split[(symbol, side)] = (
                        f"{len(qtys)} {side} orders of {symbol} total {total:g} shares ({total * price:,.0f}), "
                        f"over the single-order limit of {limit:,.0f} shares that each stays under"
                    )
        return crossed, split

    def run(self) -> Verdicts:
        items = []
        for intent, qty in self.ordered:
            reasons = self._check(intent, qty)
            if reasons:
                items.append(
                    Verdict(intent_id=intent.id, symbol=intent.symbol, approved=False, qty=0.0, reasons=reasons)
                )
                continue
            self._apply(intent, qty)
            items.append(Verdict(intent_id=intent.id, symbol=intent.symbol, approved=True, qty=qty))
        return Verdicts(agent="compliance", items=items)

    def _check(self, intent: OrderIntent, qty: float) -> list[str]:
        s, sym = self.s, intent.symbol
        reasons: list[str] = []
        price = self.prices.get(sym)
        sign = 1.0 if intent.side == "buy" else -1.0
        pos = self.qty.get(sym, 0.0)
        reducing = sign * pos < 0 and qty <= abs(pos) * (1 + _EPS)
        if price is None and s.require_price:
            reasons.append(f"{ComplianceRule.NO_PRICE}: {sym} has no price in the {self.as_of} session")
        if sym.upper() in s.restricted:
            reasons.append(f"{ComplianceRule.RESTRICTED}: {sym} is on the restricted list")
        if price is not None and price < s.min_price and not reducing:
            reasons.append(
                f"{ComplianceRule.PENNY_STOCK}: {sym} trades at {price:g} < {s.min_price:g}; no new exposure allowed"
            )
        if sym in self.crossed:
            reasons.append(f"{ComplianceRule.SELF_CROSS}: the pack both buys and sells {sym}")
        split = self.split.get((sym, intent.side))
        if split:
            reasons.append(f"{ComplianceRule.ORDER_SPLITTING}: {split}")
        if not s.allow_short and intent.side == "sell" and qty > max(pos, 0.0) * (1 + _EPS) + _EPS:
            reasons.append(
                f"{ComplianceRule.SHORT_SALE}: selling {qty:g} {sym} with {max(pos, 0.0):g} held would go short "
                "(short selling is not allowed)"
            )
        wash = self._wash(intent, reducing)
        if wash:
            reasons.append(wash)
        if price is not None and not reducing:
            reasons += self._concentration(intent, qty, price, sign)
        return reasons

    def _wash(self, intent: OrderIntent, reducing: bool) -> str | None:
        last = self.fills.get(intent.symbol)
        if self.s.wash_window_days == 0 or last is None or last.side == intent.side:
            return None
        if reducing and self.s.wash_exempt_reducing:
            return None
        days = (self.as_of - last.ts.date()).days
        if days > self.s.wash_window_days:
            return None
        return (
            f"{ComplianceRule.WASH_TRADE}: {intent.side} {intent.symbol} {days} day(s) after a {last.side} fill on "
            f"{last.ts.date()} (window {self.s.wash_window_days} days)"
        )

    def _concentration(self, intent: OrderIntent, qty: float, price: float, sign: float) -> list[str]:
        s, sym, nav = self.s, intent.symbol, self.nav
        if nav <= 0:
            return [f"{ComplianceRule.ISSUER}: NAV is {nav:,.2f}: no new exposure"]
        out = []
        issuer, sector = self._group(sym)
        pre = self.issuer[issuer]
        post = pre + sign * qty * price
        if abs(post) > s.max_issuer_nav * nav * (1 + _EPS) and abs(post) > abs(pre):
            out.append(
                f"{ComplianceRule.ISSUER}: issuer {issuer} would be {abs(post) / nav:.1%} of NAV "
                f"> {s.max_issuer_nav:.1%}"
            )
        held = abs(self.qty.get(sym, 0.0) * price)
        after = self.sector[sector] - held + abs((self.qty.get(sym, 0.0) + sign * qty) * price)
        if after > s.max_sector_nav * nav * (1 + _EPS) and after > self.sector[sector]:
            out.append(
                f"{ComplianceRule.SECTOR}: sector {sector} would be {after / nav:.1%} of NAV > {s.max_sector_nav:.1%}"
            )
        return out

    def _apply(self, intent: OrderIntent, qty: float) -> None:
        sym = intent.symbol
        price = self.prices.get(sym, self.mark.get(sym, 0.0))
        sign = 1.0 if intent.side == "buy" else -1.0
        before = self.qty.get(sym, 0.0)
        after = before + sign * qty
        self.qty[sym] = after
        self.mark[sym] = price
        issuer, sector = self._group(sym)
        self.issuer[issuer] += sign * qty * price
        self.sector[sector] += abs(after * price) - abs(before * price)
