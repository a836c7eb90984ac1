"""Reading a finished home back for the acceptance tests: ledger tables, normalised for comparison."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

TABLES = {
    "orders": "SELECT client_order_id, symbol, side, qty, limit_price, status, venue, filled_qty, avg_fill_price, "
    "tick_id, created_at, reason FROM orders ORDER BY client_order_id",
    "fills": "SELECT venue, trade_id, client_order_id, ts, symbol, side, qty, price, commission FROM fills "
    "ORDER BY venue, trade_id",
    "positions": "SELECT symbol, qty, avg_cost, realised_pnl, last_price FROM positions ORDER BY symbol",
    "account": "SELECT cash, initial_capital, commissions FROM account",
    "nav_history": "SELECT ts, session, tick_id, nav, cash, gross_exposure, net_exposure FROM nav_history "
    "ORDER BY session, ts",
    "decisions": "SELECT tick_id, session, symbol, outcome, record FROM decisions ORDER BY session, symbol",
}


def connect(home: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{home / 'ledger.sqlite'}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    return conn


def snapshot(home: Path) -> dict[str, list[dict[str, Any]]]:
    """Every table that records trading, as plain rows (decision records parsed)."""
    conn = connect(home)
    try:
        out = {}
        for name, sql in TABLES.items():
            rows = [dict(r) for r in conn.execute(sql)]
            if name == "decisions":
                for r in rows:
                    r["record"] = json.loads(r["record"])
            out[name] = rows
        return out
    finally:
        conn.close()


def one(home: Path, sql: str) -> Any:
    conn = connect(home)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()
