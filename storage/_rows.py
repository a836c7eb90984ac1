"""Conversions between SQLite rows and the typed records."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any, cast

from storage.records import Incident, Order, Position, Side, SignOff, StateRecord, Transition


def ts(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return value.isoformat()


def parse_ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def req_ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def state(row: sqlite3.Row) -> StateRecord:
    return StateRecord(row["state"], row["reason"], row["actor"], req_ts(row["since"]), row["incident_id"], row["seq"])


def transition(row: sqlite3.Row) -> Transition:
    return Transition(
        row["seq"],
        req_ts(row["ts"]),
        row["from_state"],
        row["to_state"],
        row["reason"],
        row["actor"],
        row["incident_id"],
        row["run_id"],
    )


def incident(row: sqlite3.Row) -> Incident:
    payload: dict[str, Any] = json.loads(row["payload"])
    return Incident(
        id=row["id"],
        opened_at=req_ts(row["opened_at"]),
        source=row["source"],
        reason=row["reason"],
        payload=payload,
        status=row["status"],
        run_id=row["run_id"],
        closed_at=parse_ts(row["closed_at"]),
        closed_by=row["closed_by"],
    )


def signoff(row: sqlite3.Row) -> SignOff:
    return SignOff(
        req_ts(row["ts"]),
        row["incident_id"],
        row["operator"],
        row["approver"],
        row["reason"],
        bool(row["accepted"]),
        row["refusal"],
    )


def order(row: sqlite3.Row) -> Order:
    return Order(
        client_order_id=row["client_order_id"],
        symbol=row["symbol"],
        side=cast(Side, row["side"]),
        qty=row["qty"],
        venue=row["venue"],
        created_at=req_ts(row["created_at"]),
        status=row["status"],
        limit_price=row["limit_price"],
        tick_id=row["tick_id"],
        strategy=row["strategy"],
        priority=row["priority"],
        filled_qty=row["filled_qty"],
        avg_fill_price=row["avg_fill_price"],
        broker_order_id=row["broker_order_id"],
        attempts=row["attempts"],
        reason=row["reason"],
        updated_at=parse_ts(row["updated_at"]),
    )


def position(row: sqlite3.Row) -> Position:
    return Position(row["symbol"], row["qty"], row["avg_cost"], row["realised_pnl"], row["last_price"])
