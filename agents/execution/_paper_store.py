"""Persistence of the paper venues: one SQLite file (``<home>/paper_broker.sqlite``) the ledger reconciles against.

The paper venue plays an external broker, so its state lives apart from the ledger and survives restarts:
every order it accepted (the idempotency keys), its working orders, fills (with a per-venue trade counter
that never reuses an id), positions and the cash its fills moved. Each change is one ``BEGIN IMMEDIATE``
transaction (a tick's new orders at a venue are one change, a bar's fills another) on a connection opened with
the project's pragmas but ``synchronous=NORMAL`` (WAL: a commit survives the process being killed; the venue
stands in for a remote broker, whose own durability the runtime does not pay for, see docs/decisions.md). The
in-memory mirror (:class:`VenueBook`) is updated only after the commit, so a failed write leaves both unchanged.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar, cast

from agents.execution._broker import BrokerFill, BrokerOrder, VenueOrderState
from storage.db import PRAGMAS
from storage.records import Side

_T = TypeVar("_T")
SYNCHRONOUS = "PRAGMA synchronous=NORMAL"  # after PRAGMAS (FULL): see the decision record

SCHEMA_VERSION = 2  # 2: no index of orders by state (no query reads by state; each state change paid for it)
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS venue_state (
        venue TEXT PRIMARY KEY,
        next_order INTEGER NOT NULL,
        next_trade INTEGER NOT NULL,
        cash_flow REAL NOT NULL,
        commissions REAL NOT NULL,
        last_session TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS venue_orders (
        venue TEXT NOT NULL,
        client_order_id TEXT NOT NULL,
        broker_order_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        symbol TEXT NOT NULL,
        side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
        qty REAL NOT NULL,
        limit_price REAL,
        state TEXT NOT NULL,
        accepted_at TEXT NOT NULL,
        accepted_session TEXT,
        filled_qty REAL NOT NULL DEFAULT 0,
        commission REAL NOT NULL DEFAULT 0,
        last_bar TEXT,
        bars INTEGER NOT NULL DEFAULT 0,
        reason TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (venue, client_order_id)
    )""",
    "DROP INDEX IF EXISTS venue_orders_state",  # schema 1 had it
    """CREATE TABLE IF NOT EXISTS venue_fills (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        venue TEXT NOT NULL,
        trade_id TEXT NOT NULL,
        client_order_id TEXT NOT NULL,
        ts TEXT NOT NULL,
        symbol TEXT NOT NULL,
        side TEXT NOT NULL,
        qty REAL NOT NULL CHECK (qty > 0),
        price REAL NOT NULL CHECK (price > 0),
        commission REAL NOT NULL,
        UNIQUE (venue, trade_id)
    )""",
    """CREATE TABLE IF NOT EXISTS venue_positions (
        venue TEXT NOT NULL,
        symbol TEXT NOT NULL,
        qty REAL NOT NULL,
        PRIMARY KEY (venue, symbol)
    )""",
)


@dataclass(slots=True)
class VenueOrder:
    """A paper venue's order (mutable in memory; replaced as a whole after each committed change)."""

    venue: str
    client_order_id: str
    broker_order_id: str
    seq: int
    symbol: str
    side: Side
    qty: float
    limit_price: float | None
    state: VenueOrderState
    accepted_at: datetime
    accepted_session: date | None
    filled_qty: float = 0.0
    commission: float = 0.0
    last_bar: date | None = None
    bars: int = 0
    reason: str = ""

    def snapshot(self) -> BrokerOrder:
        return BrokerOrder(
            self.venue,
            self.client_order_id,
            self.broker_order_id,
            self.symbol,
            self.side,
            self.qty,
            self.filled_qty,
            self.state,
            self.limit_price,
            self.reason,
        )


@dataclass(slots=True)
class VenueBook:
    """Everything one paper venue knows, mirrored in memory so a quiet tick costs no SQL."""

    venue: str
    next_order: int = 1
    next_trade: int = 1
    cash_flow: float = 0.0
    commissions: float = 0.0
    last_session: date | None = None
    last_fill_seq: int = 0
    orders: dict[str, VenueOrder] = field(default_factory=dict)
    positions: dict[str, float] = field(default_factory=dict)
    # The fills of the last bar written, as the store reads them back, and the last sequence number before them:
    # a reader whose cursor is at or after it is answered from here.
    recent_fills: list[tuple[int, BrokerFill]] = field(default_factory=list)
    recent_after: int = 0
    # The working orders among ``orders`` (which keeps every order ever accepted): a bar, a reconciliation
    # costs what is working, not the venue's whole history. Change ``orders`` through :meth:`put` only.
    _working: dict[str, VenueOrder] = field(default_factory=dict)

    def put(self, order: VenueOrder) -> None:
        self.orders[order.client_order_id] = order
        if order.state == "working":
            self._working[order.client_order_id] = order
        else:
            self._working.pop(order.client_order_id, None)

    def working(self) -> list[VenueOrder]:
        return sorted(self._working.values(), key=lambda o: o.seq)


@dataclass(frozen=True, slots=True)
class BarChanges:
    """One venue's effects of one bar, written in one transaction."""

    orders: list[VenueOrder]
    fills: list[BrokerFill]
    positions: dict[str, float]
    cash_flow: float
    commissions: float
    next_trade: int
    last_session: date | None


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


class PaperStore:
    """The SQLite file of the paper venues: one connection, one writer.

    A tick's orders or a bar's fills are one transaction, run inline on the caller's (the event loop's) thread:
    with ``synchronous=NORMAL`` (WAL) a commit waits on no disk, so a hop to a worker thread would cost more than
    the transaction itself (decisions 18 and 21). A transaction is one synchronous call: a cancelled caller cannot
    leave it half done, and no other coroutine can interleave with it. ``synchronous=NORMAL`` loses nothing when
    the process dies; ``durable=False`` (throwaway homes: backtests, test replays, as ``RUNTIME_DURABLE``) opens
    it ``synchronous=OFF``.
    """

    def __init__(self, path: Path, *, durable: bool = True) -> None:
        self.path = path
        self.durable = durable
        self._conn: sqlite3.Connection | None = None

    async def open(self) -> None:
        if self._conn is None:
            self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            for pragma in (*PRAGMAS, SYNCHRONOUS if self.durable else "PRAGMA synchronous=OFF"):
                conn.execute(pragma)
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"{self.path} has schema {version}, newer than this build ({SCHEMA_VERSION})")
            conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        return conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _run(self, job: Callable[[sqlite3.Connection], _T], *, write: bool) -> _T:
        """Run ``job``, in one ``BEGIN IMMEDIATE`` transaction when ``write``: a synchronous call, so no caller can
        stop waiting in the middle of it (the writes below are plain methods: no suspension point, no shield)."""
        conn = self._conn
        if conn is None:
            raise RuntimeError(f"the paper venue store {self.path} is not open")
        return (_in_transaction if write else _plain)(conn, job)

    # -- loading -------------------------------------------------------------------------------------
    async def load(self, venue: str) -> VenueBook:
        """The venue's book (created empty on first use)."""
        return self._run(lambda db: _load(db, venue), write=True)

    # -- writes --------------------------------------------------------------------------------------
    def add_orders(self, orders: Sequence[VenueOrder], *, next_order: int, last_session: date | None) -> None:
        """New orders of one venue, its order counter and the last session seen (saved here rather than on every
        bar), in one transaction."""
        if not orders:
            return
        venue = orders[0].venue

        def write(db: sqlite3.Connection) -> None:
            _write_orders(db, orders)
            db.execute(
                "UPDATE venue_state SET next_order = ?, last_session = ? WHERE venue = ?",
                (next_order, last_session.isoformat() if last_session else None, venue),
            )

        self._run(write, write=True)

    def save_order(self, order: VenueOrder) -> None:
        """A change of an order the store holds (a cancel)."""
        self._run(lambda db: _update_orders(db, [order]), write=True)

    def apply_bar(self, venue: str, changes: BarChanges) -> list[tuple[int, BrokerFill]]:
        """Write one bar's effects; returns its fills with their sequence numbers, as :meth:`fills_after` reads them.

        Only the positions its fills moved are written (the others are unchanged).
        """

        def write(db: sqlite3.Connection) -> list[tuple[int, BrokerFill]]:
            _update_orders(db, changes.orders)  # the working orders the bar worked: all written before
            stored: list[tuple[int, BrokerFill]] = []
            for f in changes.fills:
                ts = f.ts.isoformat()
                cur = db.execute(
                    "INSERT INTO venue_fills (venue, trade_id, client_order_id, ts, symbol, side, qty, price,"
                    " commission) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (f.venue, f.trade_id, f.client_order_id, ts, f.symbol, f.side, f.qty, f.price, f.commission),
                )
                stored.append((int(cur.lastrowid or 0), _stored_fill(f, ts)))
            moved = dict.fromkeys(f.symbol for f in changes.fills)
            db.executemany(
                "INSERT INTO venue_positions (venue, symbol, qty) VALUES (?, ?, ?)"
                " ON CONFLICT (venue, symbol) DO UPDATE SET qty = excluded.qty",
                [(venue, s, changes.positions[s]) for s in moved],
            )
            db.execute(
                "UPDATE venue_state SET next_trade = ?, cash_flow = ?, commissions = ?, last_session = ?"
                " WHERE venue = ?",
                (
                    changes.next_trade,
                    changes.cash_flow,
                    changes.commissions,
                    changes.last_session.isoformat() if changes.last_session else None,
                    venue,
                ),
            )
            return stored

        return self._run(write, write=True)

    # -- reads ---------------------------------------------------------------------------------------
    async def fills_after(self, venue: str, seq: int) -> list[tuple[int, BrokerFill]]:
        def read(db: sqlite3.Connection) -> list[tuple[int, BrokerFill]]:
            found = db.execute("SELECT * FROM venue_fills WHERE venue = ? AND seq > ? ORDER BY seq", (venue, seq))
            return [
                (
                    r["seq"],
                    BrokerFill(
                        r["venue"],
                        r["trade_id"],
                        r["client_order_id"],
                        datetime.fromisoformat(r["ts"]),
                        r["symbol"],
                        cast(Side, r["side"]),
                        r["qty"],
                        r["price"],
                        r["commission"],
                    ),
                )
                for r in found.fetchall()
            ]

        return self._run(read, write=False)


def _in_transaction(db: sqlite3.Connection, job: Callable[[sqlite3.Connection], _T]) -> _T:
    db.execute("BEGIN IMMEDIATE")
    try:
        result = job(db)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return result


def _plain(db: sqlite3.Connection, job: Callable[[sqlite3.Connection], _T]) -> _T:
    return job(db)


def _stored_fill(f: BrokerFill, ts: str) -> BrokerFill:
    """``f`` as the store reads it back: REAL columns give floats, the timestamp is parsed from its text."""
    return BrokerFill(f.venue, f.trade_id, f.client_order_id, datetime.fromisoformat(ts), f.symbol, f.side,
                      float(f.qty), float(f.price), float(f.commission))  # fmt: skip


def _last_fill_seq(db: sqlite3.Connection, venue: str) -> int:
    row = db.execute("SELECT MAX(seq) FROM venue_fills WHERE venue = ?", (venue,)).fetchone()
    return int(row[0] or 0)


def _load(db: sqlite3.Connection, venue: str) -> VenueBook:
    db.execute(
        "INSERT OR IGNORE INTO venue_state (venue, next_order, next_trade, cash_flow, commissions)"
        " VALUES (?, 1, 1, 0, 0)",
        (venue,),
    )
    state = db.execute("SELECT * FROM venue_state WHERE venue = ?", (venue,)).fetchone()
    book = VenueBook(
        venue,
        next_order=state["next_order"],
        next_trade=state["next_trade"],
        cash_flow=state["cash_flow"],
        commissions=state["commissions"],
        last_session=_day(state["last_session"]),
    )
    for r in db.execute("SELECT * FROM venue_orders WHERE venue = ? ORDER BY seq", (venue,)):
        book.put(
            VenueOrder(
                venue=venue,
                client_order_id=r["client_order_id"],
                broker_order_id=r["broker_order_id"],
                seq=r["seq"],
                symbol=r["symbol"],
                side=cast(Side, r["side"]),
                qty=r["qty"],
                limit_price=r["limit_price"],
                state=cast(VenueOrderState, r["state"]),
                accepted_at=datetime.fromisoformat(r["accepted_at"]),
                accepted_session=_day(r["accepted_session"]),
                filled_qty=r["filled_qty"],
                commission=r["commission"],
                last_bar=_day(r["last_bar"]),
                bars=r["bars"],
                reason=r["reason"],
            )
        )
    seen = [d for o in book.orders.values() for d in (o.accepted_session, o.last_bar) if d is not None]
    if book.last_session is not None:
        seen.append(book.last_session)
    book.last_session = max(seen) if seen else None
    for r in db.execute("SELECT symbol, qty FROM venue_positions WHERE venue = ? AND qty != 0", (venue,)):
        book.positions[r["symbol"]] = r["qty"]
    book.last_fill_seq = book.recent_after = _last_fill_seq(db, venue)  # no recent fills in memory: all in SQL
    return book


def _write_orders(db: sqlite3.Connection, orders: Iterable[VenueOrder]) -> None:
    db.executemany(
        "INSERT INTO venue_orders (venue, client_order_id, broker_order_id, seq, symbol, side, qty, limit_price,"
        " state, accepted_at, accepted_session, filled_qty, commission, last_bar, bars, reason)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (venue, client_order_id) DO UPDATE SET state = excluded.state,"
        " filled_qty = excluded.filled_qty, commission = excluded.commission, last_bar = excluded.last_bar,"
        " bars = excluded.bars, reason = excluded.reason",
        [
            (o.venue, o.client_order_id, o.broker_order_id, o.seq, o.symbol, o.side, o.qty, o.limit_price, o.state,
             o.accepted_at.isoformat(), o.accepted_session.isoformat() if o.accepted_session else None,
             o.filled_qty, o.commission, o.last_bar.isoformat() if o.last_bar else None, o.bars, o.reason)
            for o in orders
        ],
    )  # fmt: skip


def _update_orders(db: sqlite3.Connection, orders: Iterable[VenueOrder]) -> None:
    """Write what can change of orders already stored: an UPDATE by key (half the parameters of the upsert of
    :func:`_write_orders`, and no insert attempted first). One not stored fails the transaction."""
    orders = list(orders)
    cur = db.executemany(
        "UPDATE venue_orders SET state = ?, filled_qty = ?, commission = ?, last_bar = ?, bars = ?, reason = ?"
        " WHERE venue = ? AND client_order_id = ?",
        [
            (o.state, o.filled_qty, o.commission, o.last_bar.isoformat() if o.last_bar else None, o.bars, o.reason,
             o.venue, o.client_order_id)
            for o in orders
        ],
    )  # fmt: skip
    if cur.rowcount != len(orders):
        raise RuntimeError(f"{len(orders) - cur.rowcount} of the orders written are not in the paper venue's store")
