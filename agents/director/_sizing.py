"""From consensus to a trade pack: volatility-aware target weights, lots, thresholds and priorities.

``target = sign(c) * min(|c| * risk_per_name / max(vol, vol_floor), max_weight)``: a name's daily risk at
full conviction is ``risk_per_name`` of NAV, whatever its volatility. Then only the ``max_names`` strongest
names keep a target, and targets are scaled down together so gross exposure stays within the directive's
``gross_target``. Intents move each holding to its target in whole lots; small changes (inside the
rebalance band, under the minimum notional) are left alone; in REDUCING mode only intents that shrink a
position survive. Exposure-reducing intents go first, then by |consensus| x confidence. Every symbol that
gets no intent gets a reason in ``no_trade``.

Pass-through mode (the backtest reference): long ``lot`` shares when the consensus is positive, flat
otherwise; no sizing, no thresholds, no budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from agents.director._consensus import Consensus, Council
from agents.director._settings import CouncilSettings
from agents.types import Directive, OrderIntent, TradePack
from storage.records import Books, Order

_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Holdings:
    """What the council sizes against: NAV marked at today's prices, positions, symbols with working orders."""

    nav: float
    qty: dict[str, float]
    working: dict[str, str]

    @classmethod
    def from_books(cls, books: Books, open_orders: list[Order], prices: dict[str, float]) -> Holdings:
        nav = books.account.cash
        qty: dict[str, float] = {}
        for symbol, pos in books.positions.items():
            mark = prices.get(symbol, pos.last_price if pos.last_price is not None else pos.avg_cost)
            nav += pos.qty * mark
            if pos.qty:
                qty[symbol] = pos.qty
        working = {o.symbol: o.client_order_id for o in sorted(open_orders, key=lambda o: o.client_order_id)}
        return cls(nav, qty, working)


@dataclass(slots=True)
class _Plan:
    symbol: str
    price: float
    held: float  # shares
    current: float  # weight
    target: float  # weight
    consensus: Consensus | None
    why: str
    exact_qty: float | None = None  # a share target that must not go through weight rounding
    vol: float | None = None

    @property
    def strength(self) -> float:
        return self.consensus.strength if self.consensus is not None else 0.0

    @property
    def reduces(self) -> bool:
        return abs(self.target) < abs(self.current) - _EPS and self.target * self.current >= 0


def plan_trades(
    council: Council,
    *,
    holdings: Holdings,
    prices: dict[str, float],
    vols: dict[str, float],
    directive: Directive,
    settings: CouncilSettings,
    weights: dict[str, float],
    tick_id: str,
    reducing_only: bool = False,
) -> TradePack:
    """The tick's trade pack. Pure and deterministic: same inputs, same pack."""
    no_trade: dict[str, str] = {}
    universe = set(directive.universe)
    symbols = sorted(universe | set(holdings.qty))
    nav = holdings.nav
    if nav <= 0:
        reason = f"NAV is {nav:,.2f}: nothing to size against"
        return TradePack(as_of=directive.as_of, weights=weights, no_trade=dict.fromkeys(symbols, reason))
    plans: list[_Plan] = []
    # pass-through: a symbol already at its share target gets its no-trade reason in the second pass, in
    # plan order, exactly as _intent would word it, without a _Plan (most symbols of most ticks)
    steps: list[_Plan | tuple[str, str]] = []
    pass_through = settings.pass_through
    decide = _pass_through if pass_through else _decide
    table, working, held_of = council.table, holdings.working, holdings.qty
    lot = float(settings.lot)
    long_lot = f"long {settings.lot}"
    texts: dict[tuple[float, ...], str] = {}
    for symbol in symbols:
        price = prices.get(symbol)
        if price is None or price <= 0:
            no_trade[symbol] = "no price today (did not trade)"
            continue
        if symbol in working:
            no_trade[symbol] = f"order {working[symbol]} is still working"
            continue
        held = held_of.get(symbol, 0.0)
        c = table.get(symbol)
        if pass_through and c is not None and c.quorum and symbol in universe:
            cons = c.consensus
            qty = lot if cons > 0 else 0.0
            if abs(qty - held) < _EPS:
                # _pass_through_why(c, qty, settings) and _intent's "already there": a few distinct texts a tick
                # (a signal of +-1 and a lot or nothing held), each formatted once (0.65 us); a zero's key carries
                # its sign, which the text shows
                key: tuple[float, ...] = (cons, held)
                if not cons or not held:
                    key = (cons, held, math.copysign(1.0, cons), math.copysign(1.0, held))
                why = texts.get(key)
                if why is None:
                    why = texts[key] = (
                        f"pass-through: signal {cons:+.2f} -> {long_lot if qty else 'flat'}; "
                        f"already there ({held:g} shares)"
                    )
                steps.append((symbol, why))
                continue
        plan = _Plan(symbol, price, held, held * price / nav, 0.0, c, "")
        if decide(plan, symbol in universe, vols.get(symbol), nav, settings, no_trade):
            plans.append(plan)
            steps.append(plan)
    if not settings.pass_through:
        # holdings the council does not touch today still use names and gross budget
        planned = {p.symbol for p in plans}
        kept = [s for s in holdings.qty if s not in planned and holdings.qty[s]]
        fixed = sum(abs(holdings.qty[s] * prices.get(s, 0.0)) for s in kept) / nav
        _budget(plans, directive, slots=directive.max_names - len(kept), room=directive.gross_target - fixed)
    chosen: list[tuple[_Plan, dict[str, Any]]] = []
    for step in steps:
        if isinstance(step, tuple):
            no_trade[step[0]] = step[1]
            continue
        plan = step
        intent = _intent(plan, nav, settings, reducing_only, tick_id, no_trade)
        if intent is not None:
            chosen.append((plan, intent))
    chosen.sort(key=lambda pi: (not pi[1]["reduces_exposure"], -pi[0].strength, pi[0].symbol))
    # each intent built once, with its priority (not built with 0 and copied)
    intents = [OrderIntent(priority=n, **fields) for n, (_, fields) in enumerate(chosen)]
    return TradePack(as_of=directive.as_of, intents=intents, weights=weights, no_trade=no_trade)


def _decide(
    plan: _Plan, in_universe: bool, vol: float | None, nav: float, s: CouncilSettings, no_trade: dict[str, str]
) -> bool:
    """Set ``plan.target``; False (with a reason) when there is nothing to decide."""
    c, held = plan.consensus, plan.held
    if not in_universe:
        plan.target, plan.exact_qty, plan.why = 0.0, 0.0, "left the director's universe"
        return True
    if c is None or not c.quorum:
        why = c.reason if c is not None else "no plug-in has a view"
        if c is not None:
            why = f"{c.describe()}: {why}"
        no_trade[plan.symbol] = f"{why}; holding {held:g}" if held else why
        return False
    direction = 1.0 if held > 0 else -1.0 if held < 0 else 0.0
    if direction and c.consensus * direction <= s.exit_threshold:
        plan.target, plan.exact_qty = 0.0, 0.0
        plan.why = f"{c.describe()}: at or below the exit threshold {s.exit_threshold:.2f}, close"
        return True
    if not direction:
        if abs(c.consensus) < s.entry_threshold:
            no_trade[plan.symbol] = f"{c.describe()}: below the entry threshold {s.entry_threshold:.2f}"
            return False
        if c.consensus < 0 and not s.allow_short:
            no_trade[plan.symbol] = f"{c.describe()}: negative, and shorts are not allowed"
            return False
    if vol is None or not math.isfinite(vol):
        no_trade[plan.symbol] = f"{c.describe()}: too little history to estimate its volatility"
        return False
    plan.vol = max(vol, s.vol_floor)
    size = min(abs(c.consensus) * s.risk_per_name / plan.vol, s.max_weight)
    plan.target = math.copysign(size, c.consensus)
    capped = " (capped)" if size >= s.max_weight - _EPS else ""
    plan.why = f"{c.describe()} -> target {plan.target:+.2%} of NAV at {plan.vol:.2%} daily vol{capped}"
    return True


def _pass_through(
    plan: _Plan, in_universe: bool, vol: float | None, nav: float, s: CouncilSettings, no_trade: dict[str, str]
) -> bool:
    c = plan.consensus
    if not in_universe:
        plan.target, plan.exact_qty, plan.why = 0.0, 0.0, "left the director's universe"
        return True
    if c is None or not c.quorum:
        why = c.reason if c is not None else "no signal"
        no_trade[plan.symbol] = f"{why}; holding {plan.held:g}" if plan.held else why
        return False
    qty = float(s.lot) if c.consensus > 0 else 0.0
    plan.exact_qty = qty
    plan.target = qty * plan.price / nav
    plan.why = _pass_through_why(c, qty, s)
    return True


def _pass_through_why(c: Consensus, qty: float, s: CouncilSettings) -> str:
    return f"pass-through: signal {c.consensus:+.2f} -> {'long ' + str(s.lot) if qty else 'flat'}"


def _budget(plans: list[_Plan], directive: Directive, *, slots: int, room: float) -> None:
    """Keep the strongest targets that fit in ``slots`` names and scale them into ``room`` of gross exposure."""
    slots, room = max(slots, 0), max(room, 0.0)
    live = sorted((p for p in plans if p.target != 0), key=lambda p: (-p.strength, p.symbol))
    for p in live[slots:]:
        p.why += f"; outside the top {directive.max_names} names, target 0"
        p.target, p.exact_qty = 0.0, 0.0
    gross = sum(abs(p.target) for p in plans)
    if gross > room + _EPS:
        scale = room / gross
        for p in plans:
            if p.target != 0:
                p.target *= scale
                p.why += f"; scaled x{scale:.2f} into the {directive.gross_target:.0%} gross target"


def _intent(
    plan: _Plan, nav: float, s: CouncilSettings, reducing_only: bool, tick_id: str, no_trade: dict[str, str]
) -> dict[str, Any] | None:
    """The fields of the plan's :class:`OrderIntent` but its priority (None, with a reason, without one)."""
    symbol = plan.symbol
    if plan.exact_qty is not None:
        delta = plan.exact_qty - plan.held
    else:
        if abs(plan.target - plan.current) < s.rebalance_band:
            no_trade[symbol] = f"{plan.why}; now {plan.current:+.2%}: inside the {s.rebalance_band:.1%} band"
            return None
        raw = (plan.target - plan.current) * nav / plan.price
        delta = math.copysign(math.floor(abs(raw) / s.lot_size + _EPS) * s.lot_size, raw)
    if abs(delta) < _EPS:
        no_trade[symbol] = f"{plan.why}; already there ({plan.held:g} shares)"
        return None
    if reducing_only and not plan.reduces:
        no_trade[symbol] = f"{plan.why}; runtime is REDUCING: only exposure-reducing orders"
        return None
    notional = abs(delta) * plan.price
    closing = plan.exact_qty == 0.0
    if not s.pass_through and not closing and notional < s.min_notional:
        no_trade[symbol] = f"{plan.why}; order of {notional:,.0f} is under the {s.min_notional:,.0f} minimum"
        return None
    c = plan.consensus
    return {
        "id": f"{tick_id}:{symbol}",
        "symbol": symbol,
        "side": "buy" if delta > 0 else "sell",
        "qty": abs(delta),
        "ref_price": plan.price,
        "target_weight": round(plan.target, 8),
        "current_weight": round(plan.current, 8),
        "consensus": round(c.consensus, 8) if c is not None else 0.0,
        "votes": {p: round(v, 8) for p, v in c.votes.items()} if c is not None else {},
        "rationale": f"{plan.why}; from {plan.current:+.2%} ({plan.held:g} shares)",
        "reduces_exposure": plan.reduces,
        "strategy": "council-pass-through" if s.pass_through else "council",
    }
