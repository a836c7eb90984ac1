"""The embedded paper venues: :class:`PaperExchange` (one SQLite file) hosting named :class:`PaperBroker`\\ s.

A paper venue behaves like an external broker the ledger must reconcile against: it accepts orders
idempotently by client order id, fills working orders on the *next* session's bar through the
:class:`~agents.execution._fill_model.FillModel`, keeps its own positions and cash, and survives restarts.
Failures are injected deterministically (:class:`FailurePlan`: "the Nth submit times out"), never at random.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from agents.execution._broker import (
    BrokerAccount,
    BrokerAck,
    BrokerError,
    BrokerFill,
    BrokerOrder,
    BrokerRejected,
    BrokerTimeout,
    BrokerUnavailable,
    FillBatch,
    OrderRequest,
)
from agents.execution._fill_model import QTY_EPSILON, FillModel, fill_for_bar
from agents.execution._paper_store import BarChanges, PaperStore, VenueBook, VenueOrder
from agents.market import MarketView

FailureKind = Literal["timeout", "timeout_after_accept", "reject", "unavailable"]
_NEW_YORK = ZoneInfo("America/New_York")
_OPEN, _CLOSE = time(9, 30), time(16, 0)


@dataclass
class FailurePlan:
    """Deterministic failures for tests and drills. Calls are counted per venue from 1 since the plan was made.

    ``timeout`` loses the request (the venue never saw it); ``timeout_after_accept`` takes the order and
    loses the answer (the classic "unknown" order); ``reject`` is a venue refusal; ``unavailable`` a
    connection failure before anything reached the venue.
    """

    submit: dict[int, FailureKind] = field(default_factory=dict)
    cancel: dict[int, FailureKind] = field(default_factory=dict)
    every_submit: FailureKind | None = None
    submits: int = 0
    cancels: int = 0

    def next_submit(self) -> FailureKind | None:
        self.submits += 1
        return self.submit.get(self.submits, self.every_submit)

    def next_cancel(self) -> FailureKind | None:
        self.cancels += 1
        return self.cancel.get(self.cancels)


def fill_time(session: date, basis: str) -> datetime:
    """When a paper fill happens: the session's open (09:30 New York) or, for a VWAP fill, its close."""
    local = datetime.combine(session, _OPEN if basis == "open" else _CLOSE, tzinfo=_NEW_YORK)
    return local.astimezone(UTC)


class PaperExchange:
    """The simulated market behind the paper venues; opened once however many venues share it."""

    def __init__(
        self,
        path: Path,
        model: FillModel,
        *,
        ttl_bars: int = 0,
        clock: Callable[[], datetime] | None = None,
        durable: bool = True,
    ) -> None:
        if ttl_bars < 0:
            raise ValueError("ttl_bars cannot be negative")
        self.path = path
        self.model = model
        self.ttl_bars = ttl_bars
        self.clock = clock or (lambda: datetime.now(UTC))
        self.store = PaperStore(path, durable=durable)
        self._users = 0

    def venue(self, name: str, failures: FailurePlan | None = None) -> PaperBroker:
        return PaperBroker(self, name, failures)

    async def acquire(self) -> None:
        if self._users == 0:
            await self.store.open()
        self._users += 1

    async def release(self) -> None:
        self._users = max(self._users - 1, 0)
        if self._users == 0:
            await self.store.close()


class PaperBroker:
    """One named paper venue (``PAPER-A``, ``PAPER-B``, ...). Implements :class:`~agents.execution.Broker`."""

    def __init__(self, exchange: PaperExchange, venue: str, failures: FailurePlan | None = None) -> None:
        self.exchange = exchange
        self.venue = venue
        self.failures = failures or FailurePlan()
        self._book: VenueBook | None = None
        self._pending: dict[str, VenueOrder] = {}  # accepted, being written

    # -- lifecycle -----------------------------------------------------------------------------------
    async def connect(self) -> None:
        if self._book is None:
            await self.exchange.acquire()
            try:
                self._book = await self.exchange.store.load(self.venue)
            except BaseException:
                await self.exchange.release()
                raise

    async def close(self) -> None:
        if self._book is not None:
            self._book = None
            await self.exchange.release()

    @property
    def book(self) -> VenueBook:
        if self._book is None:
            raise BrokerUnavailable(self.venue, "not connected")
        return self._book

    # -- orders --------------------------------------------------------------------------------------
    async def submit(self, order: OrderRequest) -> BrokerAck:
        result = (await self.submit_many([order]))[0]
        if isinstance(result, BrokerError):
            raise result
        return result

    async def submit_many(self, orders: Sequence[OrderRequest]) -> list[BrokerAck | BrokerError]:
        """Take ``orders`` in turn, up to and including the first one not acknowledged; every order accepted is
        written in one store transaction before any answer is given."""
        book = self.book
        answers: list[BrokerAck | BrokerError] = []
        placed: dict[str, VenueOrder] = {}
        for order in orders:
            answer = self._take(book, placed, order)
            answers.append(answer)
            if isinstance(answer, BrokerError):
                break
        if placed:
            # Numbers are taken now (one lost to a failed write is never reused: harmless) and the orders are
            # pending until written. The store's transaction runs inline, with no suspension point (see
            # PaperStore): a caller that stops waiting (a timeout) cannot interrupt it, so what the venue accepted
            # is in its memory too, as a remote venue would have it, without a shield (a task and a loop turn).
            book.next_order += len(placed)
            self._pending.update(placed)
            self._accept(book, list(placed.values()))
        return answers

    def _take(self, book: VenueBook, placed: dict[str, VenueOrder], order: OrderRequest) -> BrokerAck | BrokerError:
        failure = self.failures.next_submit()
        if failure == "unavailable":
            return BrokerUnavailable(self.venue, "connection refused (injected)")
        if failure == "timeout":
            return BrokerTimeout(self.venue, "no answer (injected; the request was lost)")
        if failure == "reject":
            return BrokerRejected(self.venue, "rejected by the venue (injected)")
        coid = order.client_order_id
        existing = placed.get(coid) or self._pending.get(coid) or book.orders.get(coid)
        if existing is not None:
            try:
                return self._repeat(existing, order)
            except BrokerRejected as exc:
                return exc
        problem = _invalid(order)
        new = self._new_order(book, order, problem, number=book.next_order + len(placed))
        placed[coid] = new
        if problem:
            return BrokerRejected(self.venue, problem)
        if failure == "timeout_after_accept":
            return BrokerTimeout(self.venue, "no answer (injected; the order was accepted)")
        return BrokerAck(self.venue, coid, new.broker_order_id)

    def _accept(self, book: VenueBook, placed: list[VenueOrder]) -> None:
        try:
            self.exchange.store.add_orders(placed, next_order=book.next_order, last_session=book.last_session)
            for order in placed:
                book.put(order)
        finally:
            for order in placed:
                self._pending.pop(order.client_order_id, None)

    def _repeat(self, existing: VenueOrder, order: OrderRequest) -> BrokerAck:
        """A resubmission: the same ack for the same order, a refusal for a different one under the same id."""
        same = (existing.symbol, existing.side, existing.qty, existing.limit_price) == (
            order.symbol,
            order.side,
            order.qty,
            order.limit_price,
        )
        if not same:
            raise BrokerRejected(self.venue, f"client order id {order.client_order_id} already used for another order")
        if existing.state == "rejected":
            raise BrokerRejected(self.venue, existing.reason)
        return BrokerAck(self.venue, existing.client_order_id, existing.broker_order_id)

    def _new_order(self, book: VenueBook, order: OrderRequest, problem: str, *, number: int) -> VenueOrder:
        return VenueOrder(
            venue=self.venue,
            client_order_id=order.client_order_id,
            broker_order_id=f"{self.venue}-O{number:08d}",
            seq=number,
            symbol=order.symbol,
            side=order.side,
            qty=order.qty,
            limit_price=order.limit_price,
            state="rejected" if problem else "working",
            accepted_at=self.exchange.clock(),
            accepted_session=book.last_session,
            reason=problem,
        )

    async def cancel(self, client_order_id: str) -> BrokerOrder | None:
        failure = self.failures.next_cancel()
        if failure == "unavailable":
            raise BrokerUnavailable(self.venue, "connection refused (injected)")
        if failure in ("timeout", "reject"):
            kind = BrokerTimeout if failure == "timeout" else BrokerRejected
            raise kind(self.venue, f"cancel failed ({failure}, injected)")
        book = self.book
        order = book.orders.get(client_order_id)
        if order is None:
            return None
        if order.state == "working":
            done = replace(order, state="cancelled", reason="cancelled on request")
            self.exchange.store.save_order(done)
            book.put(done)
            order = done
        if failure == "timeout_after_accept":
            raise BrokerTimeout(self.venue, "cancel answer lost (injected; the cancel was done)")
        return order.snapshot()

    async def order_status(self, client_order_id: str) -> BrokerOrder | None:
        order = self.book.orders.get(client_order_id)
        return order.snapshot() if order else None

    async def open_orders(self) -> list[BrokerOrder]:
        return [o.snapshot() for o in self.book.working()]

    async def positions(self) -> dict[str, float]:
        return dict(self.book.positions)

    async def account(self) -> BrokerAccount:
        book = self.book
        return BrokerAccount(self.venue, dict(book.positions), book.cash_flow, book.commissions)

    async def fills_since(self, cursor: str | None) -> FillBatch:
        after = int(cursor) if cursor else 0
        book = self.book
        if after >= book.last_fill_seq:  # nothing new: no SQL on a quiet tick
            return FillBatch([], cursor)
        if after >= book.recent_after:  # all of them were written by the last bar: no SQL either
            found = [(seq, f) for seq, f in book.recent_fills if seq > after]
        else:
            found = await self.exchange.store.fills_after(self.venue, after)
        return FillBatch([f for _, f in found], str(found[-1][0]) if found else cursor)

    # -- the market ----------------------------------------------------------------------------------
    async def on_bar(self, view: MarketView) -> None:
        """Fill working orders accepted before ``view``'s session on its bar; one pass per order per bar."""
        session = view.session
        book = self.book
        if session is None:
            return
        working = book.working()
        if not working:  # the session is kept in memory, saved with the next write (orders stamp it too)
            if book.last_session is None or session > book.last_session:
                book.last_session = session
            return
        changes = self._fill_bar(book, working, view, session)
        if not changes.orders:  # nothing was worked on this bar (all accepted during it): nothing to write
            book.last_session = changes.last_session
            return
        written = self.exchange.store.apply_bar(self.venue, changes)
        for order in changes.orders:
            book.put(order)
        book.positions = {s: q for s, q in changes.positions.items() if q != 0}
        book.cash_flow, book.commissions = changes.cash_flow, changes.commissions
        book.next_trade, book.last_session = changes.next_trade, changes.last_session
        if written:
            book.recent_after, book.recent_fills = book.last_fill_seq, written
            book.last_fill_seq = written[-1][0]

    def _fill_bar(self, book: VenueBook, working: list[VenueOrder], view: MarketView, session: date) -> BarChanges:
        model = self.exchange.model
        positions = dict(book.positions)
        cash, commissions, trade = book.cash_flow, book.commissions, book.next_trade
        orders: list[VenueOrder] = []
        fills: list[BrokerFill] = []
        when = fill_time(session, model.basis)
        ttl = self.exchange.ttl_bars
        for order in working:
            if order.accepted_session is not None and session <= order.accepted_session:
                continue  # accepted during this session: it fills on a later bar (no look-ahead)
            if order.last_bar is not None and session <= order.last_bar:
                continue  # this bar was already worked
            bar = view.last(order.symbol)
            if bar is None:
                continue
            quote = fill_for_bar(
                side=order.side,
                remaining=order.qty - order.filled_qty,
                limit_price=order.limit_price,
                filled_before=order.filled_qty,
                commission_paid=order.commission,
                bar=bar,
                model=model,
            )
            # One new order, not a dataclasses.replace a change (replace costs several times a constructor call).
            state, reason, bars = order.state, order.reason, order.bars + 1
            filled, commission = order.filled_qty, order.commission
            if quote is not None:
                trade_id = f"{self.venue}-T{trade:08d}"
                trade += 1
                fills.append(
                    BrokerFill(self.venue, trade_id, order.client_order_id, when, order.symbol, order.side,
                               quote.qty, quote.price, quote.commission)
                )  # fmt: skip
                signed = quote.qty if order.side == "buy" else -quote.qty
                held = positions.get(order.symbol, 0.0) + signed
                positions[order.symbol] = 0.0 if abs(held) <= QTY_EPSILON else held
                cash -= signed * quote.price + quote.commission  # the same sum, in the same order, as the ledger
                commissions += quote.commission
                filled = order.filled_qty + quote.qty
                commission = order.commission + quote.commission
                if filled >= order.qty - QTY_EPSILON:
                    state = "filled"
            if state == "working" and ttl and bars >= ttl:
                state, reason = "expired", f"not filled within {bars} bar(s)"
            orders.append(
                VenueOrder(order.venue, order.client_order_id, order.broker_order_id, order.seq, order.symbol,
                           order.side, order.qty, order.limit_price, state, order.accepted_at, order.accepted_session,
                           filled, commission, session, bars, reason)
            )  # fmt: skip
        last = session if book.last_session is None or session > book.last_session else book.last_session
        return BarChanges(orders, fills, positions, cash, commissions, trade, last)


def _invalid(order: OrderRequest) -> str:
    if order.side not in ("buy", "sell"):
        return f"bad side {order.side!r}"
    if not math.isfinite(order.qty) or order.qty <= 0:
        return f"bad quantity {order.qty}"
    if order.limit_price is not None and (not math.isfinite(order.limit_price) or order.limit_price <= 0):
        return f"bad limit price {order.limit_price}"
    if not order.symbol:
        return "no symbol"
    return ""
