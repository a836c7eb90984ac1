"""What the ledger memo tests share: the funding moment and a tap on the SELECTs a ledger runs."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from storage.ledger import Ledger

T0 = datetime(2024, 1, 2, 21, 0, tzinfo=UTC)


def selects(ledger: Ledger) -> list[str]:
    """The SELECTs the ledger's connection runs from now on."""
    seen: list[str] = []
    raw = ledger.conn._connection
    assert isinstance(raw, sqlite3.Connection)
    raw.set_trace_callback(lambda sql: seen.append(sql) if sql.lstrip().upper().startswith("SELECT") else None)
    return seen
