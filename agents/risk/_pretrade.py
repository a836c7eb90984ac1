"""Pre-trade checks: approve, cut or reject each intent of a trade pack against the post-trade book.

Intents are taken in priority order and each one sees the book with every earlier approval applied. Per
intent, rules run in this order, and the first that leaves no quantity rejects it:

breaker, nav, no_price, price_collar, throttle, reducing_only, stop_loss (order-level hygiene first), then
order_shares, order_notional, adv (the order's size), then single_name, sector, gross_leverage, var, stress
(the post-trade book). A size rule *cuts* the quantity to the largest lot that fits, and says so in the
verdict's reasons; a book limit only bites on a trade that increases what it measures, so reducing an
over-limit position is always allowed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from agents.market import MarketView
from agents.risk._book import F64, Exposure, gross_of, mark
from agents.risk._measures import StressTable, VarModel, VarTracker
from agents.risk._settings import RiskSettings, StressScenario
from agents.types import OrderIntent, Verdict, Verdicts
from storage.records import Books

_TOL = 1e-9


class Rule(StrEnum):
    """Rule ids, the prefix of every reason risk gives."""

    BREAKER = "breaker"
    DUPLICATE = "duplicate_intent"
    NAV = "nav"
    NO_PRICE = "no_price"
    PRICE_COLLAR = "price_collar"
    THROTTLE = "throttle"
    REDUCING_ONLY = "reducing_only"
    STOP_LOSS = "stop_loss"
    ORDER_SHARES = "order_shares"
    ORDER_NOTIONAL = "order_notional"
    ADV = "adv"
    SINGLE_NAME = "single_name"
    SECTOR = "sector"
    GROSS = "gross_leverage"
    VAR = "var"
    STRESS = "stress"


@dataclass(frozen=True)
class PretradeContext:
    """What the checks need besides the book and the market.

    Attributes:
        reducing_only: the runtime is REDUCING: only trades that shrink a position pass.
        gross_cap: a gross leverage cap below ``max_gross_leverage`` (a drawdown episode), or None.
        orders_in_window: orders already approved in the throttle's rolling window.
        stop_loss: symbols under their stop-loss: nothing may add to them.
        blocked: a breaker fired this tick (pause, kill switch): every intent is rejected with this reason.
    """

    reducing_only: bool = False
    gross_cap: float | None = None
    orders_in_window: int = 0
    stop_loss: frozenset[str] = frozenset()
    blocked: str | None = None


@dataclass
class PretradeResult:
    verdicts: Verdicts
    after: Exposure
    var_before: float
    var_after: float
    var_method: str
    stress_after: dict[str, float] = field(default_factory=dict)
    approved: int = 0
    cut: int = 0
    values: F64 | None = None  # ``after.values``, kept up to date trade by trade (the same floats), or None

    def after_values(self) -> F64:
        """The post-trade book's position values (:attr:`Exposure.values` of :attr:`after`)."""
        return self.values if self.values is not None else self.after.values

    @property
    def rejected(self) -> list[Verdict]:
        return [v for v in self.verdicts.items if not v.approved]


class _Rejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_intents(
    intents: Sequence[OrderIntent],
    books: Books,
    view: MarketView | None,
    settings: RiskSettings,
    context: PretradeContext | None = None,
    *,
    exposure: Exposure | None = None,
) -> PretradeResult:
    """Risk's verdict on every intent (pure: same inputs, same verdicts).

    Args:
        intents: the trade pack's intents, in any order (checked by priority, then pack order).
        books: cash and positions now.
        view: the market as of this tick (prices, volumes, returns, sectors).
        settings: the limits.
        context: state from the monitor and the agent (REDUCING, gross cap, throttle, stop-losses).
        exposure: the books already marked (:func:`agents.risk.mark`), to save marking twice.
    """
    ctx = context or PretradeContext()
    symbols = {i.symbol for i in intents}
    base = exposure if exposure is not None and symbols <= exposure.index.keys() else None
    book = (base or mark(books, view, settings, symbols)).copy()
    checker = _Checker(book, view, settings, ctx)
    items = checker.check_all(intents) if intents else []
    return PretradeResult(
        verdicts=Verdicts(agent="risk", items=items),
        after=checker.book,
        var_before=checker.var_start,
        var_after=checker.var.var,
        var_method=checker.var.m.method,
        stress_after=dict(zip(checker.stress.names, checker.stress_losses.tolist(), strict=True)),
        approved=checker.approved,
        cut=checker.cuts,
        values=checker.values,
    )


_STRESS_TABLES: dict[tuple[int, tuple[str, ...], tuple[str, ...]], tuple[object, StressTable]] = {}


def _stress_table(scenarios: Mapping[str, StressScenario], symbols: list[str], sectors: list[str]) -> StressTable:
    """:meth:`StressTable.build`, remembered: the book's symbols and sectors rarely change from one tick to the
    next, and building the matrix calls ``shock`` once per scenario and symbol. The entry keeps its scenarios
    alive, so their ``id`` cannot be reused while it is cached (settings are not changed in place)."""
    key = (id(scenarios), tuple(symbols), tuple(sectors))
    found = _STRESS_TABLES.get(key)
    if found is not None and found[0] is scenarios:
        return found[1]
    table = _stress_from_columns(scenarios, symbols, sectors)
    table.shocks.flags.writeable = False  # shared between ticks: nobody may change it
    if len(_STRESS_TABLES) >= 256:
        _STRESS_TABLES.clear()
    _STRESS_TABLES[key] = (scenarios, table)
    return table


class _ShockColumns:
    """The shocks of every (symbol, sector) met so far under one scenarios mapping: one column each of a matrix
    (scenarios x pairs) that only grows. A book's table is a gather of its columns: the same numbers, in the same
    C-contiguous (scenarios x symbols) layout as :meth:`StressTable.build`, so every product with it is
    bit-identical; ``shock`` runs once per scenario and pair, not per tick."""

    def __init__(self, scenarios: Mapping[str, StressScenario]) -> None:
        self.scenarios = scenarios
        self.names = sorted(scenarios)
        self.index: dict[tuple[str, str], int] = {}
        self.matrix: F64 = np.empty((len(self.names), 64))

    def table(self, symbols: list[str], sectors: list[str]) -> StressTable:
        index, cols = self.index, []
        for pair in zip(symbols, sectors, strict=True):
            j = index.get(pair)
            cols.append(self._add(pair) if j is None else j)
        return StressTable(self.names, self.matrix.take(cols, axis=1))

    def _add(self, pair: tuple[str, str]) -> int:
        j = len(self.index)
        if j == self.matrix.shape[1]:
            grown = np.empty((len(self.names), 2 * j))
            grown[:, :j] = self.matrix
            self.matrix = grown
        self.matrix[:, j] = [self.scenarios[n].shock(*pair) for n in self.names]
        self.index[pair] = j
        return j


_SHOCK_COLUMNS: dict[int, _ShockColumns] = {}


def _stress_from_columns(
    scenarios: Mapping[str, StressScenario], symbols: list[str], sectors: list[str]
) -> StressTable:
    """:meth:`StressTable.build` from remembered per-symbol columns: a book that opens or closes one position
    changes the table's key, but all its other symbols' shocks are the same as the tick before. Same numbers,
    same (C-contiguous) layout as ``build``, so every product with it is bit-identical."""
    if not scenarios or not symbols:
        return StressTable.build(scenarios, symbols, sectors)
    found = _SHOCK_COLUMNS.get(id(scenarios))
    if found is None or found.scenarios is not scenarios or len(found.index) >= 65536:
        if len(_SHOCK_COLUMNS) >= 16:
            _SHOCK_COLUMNS.clear()
        found = _SHOCK_COLUMNS[id(scenarios)] = _ShockColumns(scenarios)
    return found.table(symbols, sectors)


def average_volume(view: MarketView, symbol: str, n: int) -> float:
    """``view.adv(symbol, n)`` without ``ndarray.mean``'s Python layer: numpy's mean of a float64 vector is its
    ``np.add.reduce`` divided by the count (``numpy/_core/_methods.py``, ``_mean``), the same two operations."""
    vols = view.series(symbol, "volume", n)
    return float(np.add.reduce(vols)) / vols.size if vols.size else 0.0


def floor_lot(qty: float, lot: float) -> float:
    return math.floor(qty / lot + _TOL) * lot


def _fmt(qty: float) -> str:
    return f"{qty:,.0f}" if float(qty).is_integer() else f"{qty:,.4f}"


class _Checker:
    """The book's VaR and stress losses, always (the result reports them every tick); what only judging an intent
    needs (NAV, gross and sector totals) is set up by :meth:`check_all`, so a tick without intents skips it."""

    nav: float
    sector_gross: dict[str, float]
    gross: float
    gross_cap: float

    def __init__(self, book: Exposure, view: MarketView | None, settings: RiskSettings, ctx: PretradeContext) -> None:
        self.book = book
        self.view = view
        self.s = settings
        self.ctx = ctx
        self.values: F64 = book.values
        self.var = VarTracker(VarModel.build(view, book.symbols, settings), self.values)
        self.var_start = self.var.var
        self.stress = _stress_table(settings.stress_scenarios, book.symbols, book.sectors)
        self.stress_losses: F64 = -(self.stress.shocks @ self.values)
        self.approved = 0
        self.cuts = 0
        self.seen: set[str] = set()
        self.reasons: list[str] = []

    def check_all(self, intents: Sequence[OrderIntent]) -> list[Verdict]:
        """Every intent's verdict, by priority then pack order."""
        book, ctx = self.book, self.ctx
        self.nav = book.nav_of(self.values)
        self.sector_gross = book.sector_gross(self.values)
        self.gross = gross_of(self.values)
        self.gross_cap = min(self.s.max_gross_leverage, ctx.gross_cap if ctx.gross_cap is not None else math.inf)
        ordered = sorted(enumerate(intents), key=lambda pair: (pair[1].priority, pair[0]))
        return [self.check(intent) for _, intent in ordered]

    def check(self, intent: OrderIntent) -> Verdict:
        self.reasons = []
        try:
            qty = self._check(intent)
        except _Rejected as exc:
            return Verdict(
                intent_id=intent.id, symbol=intent.symbol, approved=False, qty=0.0, reasons=[*self.reasons, exc.reason]
            )
        if qty < intent.qty:
            self.cuts += 1
        self.approved += 1
        return Verdict(intent_id=intent.id, symbol=intent.symbol, approved=True, qty=qty, reasons=self.reasons)

    def _cut(self, qty: float, room: float, rule: Rule, detail: Callable[[], str]) -> float:
        """``qty`` if it fits in ``room`` (shares), else the largest lot that does; none left rejects.
        ``detail`` is only formatted for a cut or a rejection (most checks pass)."""
        if qty <= room * (1 + _TOL) + _TOL:
            return qty
        new = floor_lot(max(room, 0.0), self.s.lot_size)
        if new <= 0:
            raise _Rejected(f"{rule}: {detail()}; no room left")
        self.reasons.append(f"{rule}: {detail()}; cut {_fmt(qty)} -> {_fmt(new)}")
        return new

    def _check(self, intent: OrderIntent) -> float:
        s, sym, qty = self.s, intent.symbol, intent.qty
        if intent.id in self.seen:
            raise _Rejected(f"{Rule.DUPLICATE}: intent id {intent.id} appears twice in the pack")
        self.seen.add(intent.id)
        if self.ctx.blocked:
            raise _Rejected(f"{Rule.BREAKER}: {self.ctx.blocked}")
        if self.nav <= 0:
            raise _Rejected(f"{Rule.NAV}: NAV is {self.nav:,.2f}; nothing may trade")
        j = self.book.index[sym]
        price = float(self.book.price[j])
        if sym not in self.book.priced_today or math.isnan(price) or price <= 0:
            raise _Rejected(f"{Rule.NO_PRICE}: {sym} has no price in this session")
        gap = intent.ref_price / price - 1.0
        if abs(gap) > s.price_collar + _TOL:
            raise _Rejected(
                f"{Rule.PRICE_COLLAR}: decision price {intent.ref_price:,.4g} is {gap:+.2%} from the last price "
                f"{price:,.4g} (collar ±{s.price_collar:.2%})"
            )
        if self.approved >= s.max_orders_per_tick:
            raise _Rejected(f"{Rule.THROTTLE}: {s.max_orders_per_tick} orders already approved this tick")
        if self.ctx.orders_in_window + self.approved >= s.max_orders_per_window:
            raise _Rejected(
                f"{Rule.THROTTLE}: {s.max_orders_per_window} orders approved within "
                f"{s.throttle_window_seconds:g}s already"
            )
        sign = 1.0 if intent.side == "buy" else -1.0
        pos = float(self.book.qty[j])
        if self.ctx.reducing_only:
            room = max(0.0, -sign * pos)
            if room <= 0:
                raise _Rejected(
                    f"{Rule.REDUCING_ONLY}: the runtime is REDUCING and {intent.side} {_fmt(qty)} {sym} would "
                    f"increase gross exposure (position {_fmt(pos)})"
                )
            qty = self._cut(
                qty, room, Rule.REDUCING_ONLY, lambda: f"only the {_fmt(room)} held may be closed while REDUCING"
            )
        if sym in self.ctx.stop_loss and sign * pos > 0:
            raise _Rejected(f"{Rule.STOP_LOSS}: {sym} is under its stop-loss; nothing may add to it")
        qty = self._cut(
            qty, s.max_order_shares, Rule.ORDER_SHARES, lambda: f"order above {_fmt(s.max_order_shares)} shares"
        )
        limit = s.max_order_notional_nav * self.nav
        qty = self._cut(
            qty,
            limit / price,
            Rule.ORDER_NOTIONAL,
            lambda: (
                f"order of {qty * price:,.0f} is {qty * price / self.nav:.2%} of NAV > {s.max_order_notional_nav:.2%}"
            ),
        )
        adv = average_volume(self.view, sym, s.adv_days) if self.view is not None else 0.0
        if adv <= 0:
            raise _Rejected(f"{Rule.ADV}: {sym} has no volume history ({s.adv_days}-day ADV unknown)")
        qty = self._cut(
            qty,
            s.max_adv_fraction * adv,
            Rule.ADV,
            lambda: (
                f"{_fmt(qty)} shares is {qty / adv:.1%} of the {s.adv_days}-day ADV {adv:,.0f} "
                f"> {s.max_adv_fraction:.0%}"
            ),
        )
        reducing = sign * pos < 0 and qty <= abs(pos) * (1 + _TOL)
        if not reducing:
            qty = self._book_limits(intent, j, sign, price, qty)
        self._apply(j, sign * qty, price)
        return qty

    def _book_limits(self, intent: OrderIntent, j: int, sign: float, price: float, qty: float) -> float:
        s, sym, nav = self.s, intent.symbol, self.nav
        pre = float(self.values[j])

        def room(bound: float) -> float:  # shares until |pre + sign*q*price| reaches ``bound``
            return max(0.0, (bound - sign * pre) / price)

        post = abs(pre + sign * qty * price)
        qty = self._cut(
            qty,
            room(s.max_single_name_nav * nav),
            Rule.SINGLE_NAME,
            lambda: f"{sym} would be {post / nav:.1%} of NAV > {s.max_single_name_nav:.1%}",
        )
        sector = self.book.sectors[j]
        held = self.sector_gross.get(sector, 0.0)
        after = held - abs(pre) + abs(pre + sign * qty * price)
        qty = self._cut(
            qty,
            room(abs(pre) + max(0.0, s.max_sector_nav * nav - held)),
            Rule.SECTOR,
            lambda: f"sector {sector} would be {after / nav:.1%} of NAV > {s.max_sector_nav:.1%}",
        )
        after = self.gross - abs(pre) + abs(pre + sign * qty * price)
        capped = "" if self.gross_cap >= s.max_gross_leverage else " (drawdown cap)"
        qty = self._cut(
            qty,
            room(abs(pre) + max(0.0, self.gross_cap * nav - self.gross)),
            Rule.GROSS,
            lambda: f"gross would be {after / nav:.2f}x NAV > {self.gross_cap:.2f}x{capped}",
        )
        step = sign * price
        qty = self._measure_cut(
            qty,
            lambda q: self.var.var_if(j, step * q),
            lambda: self.var.var,
            s.max_var_nav * nav,
            Rule.VAR,
            "1-day VaR",
        )
        if s.stress_blocks_orders and self.stress.names:
            shocks = self.stress.shocks[:, j]
            qty = self._measure_cut(
                qty,
                lambda q: float((self.stress_losses - shocks * step * q).max()),
                lambda: float(self.stress_losses.max()),
                s.stress_max_loss_nav * nav,
                Rule.STRESS,
                "worst stress loss",
            )
        return qty

    def _measure_cut(
        self,
        qty: float,
        at: Callable[[float], float],
        now: Callable[[], float],
        limit: float,
        rule: Rule,
        label: str,
    ) -> float:
        """Cut ``qty`` so that the measure ``at(q)`` stays within ``limit`` (or does not grow, if already beyond)."""
        full = at(qty)
        if full <= limit * (1 + _TOL) + _TOL:
            return qty
        bound = max(limit, now())
        if full <= bound * (1 + _TOL) + _TOL:
            return qty
        lo, hi = 0.0, qty  # lo fits (the book now), hi does not: bisect down to a lot
        while hi - lo > self.s.lot_size:
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if at(mid) <= bound * (1 + _TOL) + _TOL else (lo, mid)
        detail = f"{label} would be {full / self.nav:.2%} of NAV > {limit / self.nav:.2%}"
        return self._cut(qty, lo, rule, lambda: detail)

    def _apply(self, j: int, delta: float, price: float) -> None:
        pre = float(self.values[j])
        self.book.qty[j] += delta
        self.book.cash -= delta * price  # a trade at the mark leaves NAV unchanged
        post = float(self.book.qty[j] * price)
        self.values[j] = post
        sector = self.book.sectors[j]
        self.sector_gross[sector] = self.sector_gross.get(sector, 0.0) - abs(pre) + abs(post)
        self.gross += abs(post) - abs(pre)
        self.var.apply(j, post - pre)
        if self.stress.names:
            self.stress_losses -= self.stress.shocks[:, j] * (post - pre)
