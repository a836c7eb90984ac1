"""The ledger's schema, as an ordered list of migrations (``PRAGMA user_version`` counts the ones applied)."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: runtime core
    """
    CREATE TABLE runtime_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        state TEXT NOT NULL,
        reason TEXT NOT NULL,
        actor TEXT NOT NULL,
        since TEXT NOT NULL,
        incident_id TEXT,
        seq INTEGER NOT NULL
    );
    CREATE TABLE transitions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        ts TEXT NOT NULL,
        from_state TEXT NOT NULL,
        to_state TEXT NOT NULL,
        reason TEXT NOT NULL,
        actor TEXT NOT NULL,
        incident_id TEXT,
        run_id TEXT NOT NULL
    );
    CREATE TABLE incidents (
        id TEXT PRIMARY KEY,
        opened_at TEXT NOT NULL,
        source TEXT NOT NULL,
        reason TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
        closed_at TEXT,
        closed_by TEXT,
        run_id TEXT NOT NULL
    );
    CREATE TABLE signoffs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        ts TEXT NOT NULL,
        incident_id TEXT,
        operator TEXT NOT NULL,
        approver TEXT,
        reason TEXT NOT NULL,
        accepted INTEGER NOT NULL,
        refusal TEXT
    );
    CREATE TABLE processed_messages (
        consumer TEXT NOT NULL,
        message_id TEXT NOT NULL,
        ts TEXT NOT NULL,
        PRIMARY KEY (consumer, message_id)
    ) WITHOUT ROWID;
    CREATE TABLE orders (
        client_order_id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        tick_id TEXT,
        symbol TEXT NOT NULL,
        side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
        qty REAL NOT NULL CHECK (qty > 0),
        limit_price REAL,
        status TEXT NOT NULL,
        venue TEXT NOT NULL,
        broker_order_id TEXT,
        strategy TEXT NOT NULL DEFAULT '',
        priority INTEGER NOT NULL DEFAULT 0,
        filled_qty REAL NOT NULL DEFAULT 0,
        avg_fill_price REAL,
        attempts INTEGER NOT NULL DEFAULT 0,
        reason TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX orders_status ON orders (status);
    CREATE TABLE fills (
        venue TEXT NOT NULL,
        trade_id TEXT NOT NULL,
        client_order_id TEXT NOT NULL REFERENCES orders (client_order_id),
        ts TEXT NOT NULL,
        symbol TEXT NOT NULL,
        side TEXT NOT NULL,
        qty REAL NOT NULL CHECK (qty > 0),
        price REAL NOT NULL CHECK (price > 0),
        commission REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (venue, trade_id)
    );
    CREATE TABLE positions (
        symbol TEXT PRIMARY KEY,
        qty REAL NOT NULL,
        avg_cost REAL NOT NULL,
        realised_pnl REAL NOT NULL DEFAULT 0,
        last_price REAL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE account (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        cash REAL NOT NULL,
        initial_capital REAL NOT NULL,
        commissions REAL NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE order_seq (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        next INTEGER NOT NULL
    );
    CREATE TABLE nav_history (
        ts TEXT NOT NULL,
        session TEXT NOT NULL,
        tick_id TEXT,
        nav REAL NOT NULL,
        cash REAL NOT NULL,
        gross_exposure REAL NOT NULL,
        net_exposure REAL NOT NULL,
        PRIMARY KEY (session, ts)
    );
    CREATE TABLE kv (
        namespace TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (namespace, key)
    ) WITHOUT ROWID;
    CREATE TABLE audit_head (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL
    );
    """,
    # 2: the decision trace (one row per symbol a tick considered)
    """
    CREATE TABLE decisions (
        tick_id TEXT NOT NULL,
        session TEXT NOT NULL,
        symbol TEXT NOT NULL,
        outcome TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (tick_id, symbol)
    ) WITHOUT ROWID;
    CREATE INDEX decisions_symbol ON decisions (symbol, session);
    CREATE INDEX decisions_session ON decisions (session);
    """,
    # 3: one index of the trace by session then symbol, in place of (symbol, session) and (session). A tick's rows
    # (one per symbol) then land side by side in it instead of on a page per symbol: about 100 pages written a
    # tick at 100 symbols. A query by symbol alone walks the sessions (Ledger.decisions).
    """
    DROP INDEX decisions_symbol;
    DROP INDEX decisions_session;
    CREATE INDEX decisions_session_symbol ON decisions (session, symbol);
    """,
]
