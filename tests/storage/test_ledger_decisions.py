"""The decision trace: every query (by tick, symbol, session and their mixes) answers as a plain filter would, and a
ledger written before migration 3 keeps its rows."""

from __future__ import annotations

import json
import random
from pathlib import Path

from storage.db import connect_sync
from storage.ledger import Ledger

SYMBOLS = ["AAA", "BBB", "CCC", "RARE"]


def trace_rows(seed: int) -> list[tuple[str, str, str, str, str]]:
    """Ticks over ten sessions, several a session, ids out of lexical order; RARE appears twice."""
    rng = random.Random(seed)
    found = []
    for day in range(2, 12):
        session = f"2024-01-{day:02d}"
        for n in rng.sample(range(1, 13), 3):
            tick = f"run:{n}@{session}"
            for symbol in SYMBOLS:
                if symbol != "RARE" or day in (3, 9):
                    found.append((tick, session, symbol, "no_intent", f'{{"s":"{symbol}","t":"{tick}"}}'))
    return found


def expected(rows: list[tuple[str, str, str, str, str]], limit: int, **where: str) -> list[str]:
    columns = {"tick_id": 0, "session": 1, "symbol": 2}
    kept = [r for r in rows if all(r[columns[k]] == v for k, v in where.items())]
    kept.sort(key=lambda r: r[2])
    kept.sort(key=lambda r: (r[1], r[0]), reverse=True)  # session DESC, tick_id DESC, then symbol
    return [r[4] for r in (kept if limit < 0 else kept[:limit])]


async def test_every_filter_answers_as_a_plain_filter(tmp_path: Path) -> None:
    rows = trace_rows(3)
    ledger = await Ledger.open(tmp_path / "ledger.sqlite", durable=False)
    try:
        await ledger.record_decisions(rows)
        ticks = sorted({r[0] for r in rows})
        sessions = sorted({r[1] for r in rows})
        for where in (
            {},
            {"symbol": "AAA"},
            {"symbol": "RARE"},
            {"symbol": "NONE"},
            {"session": sessions[4]},
            {"tick_id": ticks[7]},
            {"tick_id": ticks[7], "symbol": "BBB"},
            {"session": sessions[1], "symbol": "RARE"},
            {"session": sessions[1], "tick_id": ticks[0]},
        ):
            for limit in (1, 5, 200, -1, 0):
                got = await ledger.decisions(limit=limit, **where)
                want = expected(rows, limit, **where)
                assert got == [json.loads(r) for r in want], (where, limit)
    finally:
        await ledger.close()


async def test_a_ledger_of_schema_2_is_migrated_with_its_trace(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = await Ledger.open(path, durable=False)
    await ledger.record_decisions(trace_rows(5))
    await ledger.close()
    with connect_sync(path) as db:  # back to schema 2, as an older build left it
        db.executescript(
            "DROP INDEX decisions_session_symbol; CREATE INDEX decisions_symbol ON decisions (symbol, session);"
            " CREATE INDEX decisions_session ON decisions (session); PRAGMA user_version = 2;"
        )
    ledger = await Ledger.open(path, durable=False)
    try:
        want = expected(trace_rows(5), -1, symbol="RARE")
        assert await ledger.decisions(symbol="RARE", limit=-1) == [json.loads(r) for r in want]
        async with ledger.conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'decisions'") as cur:
            names = sorted(r[0] for r in await cur.fetchall())
        assert names == ["decisions", "decisions_session_symbol"]
    finally:
        await ledger.close()


async def test_rows_written_in_batches_are_the_rows_a_statement_each_would_write(tmp_path: Path) -> None:
    """Any count of rows (below, at and past a batch, several batches), documents and texts mixed, a (tick, symbol)
    repeated within and across batches (the later row wins, as with one INSERT OR REPLACE a row)."""
    rng = random.Random(11)
    for count in (1, 31, 32, 33, 64, 100, 131):
        rows: list[tuple[str, str, str, str, dict[str, object] | str]] = []
        for i in range(count):
            symbol = f"S{rng.randrange(40 if count > 60 else 1000):03d}"
            record: dict[str, object] | str = {"i": i, "z": [1.5, None]} if i % 3 == 0 else f'{{"i":{i}}}'
            rows.append((f"t{count}", "2024-01-02", symbol, "no_intent" if i % 2 else "sent", record))
        batched = await Ledger.open(tmp_path / f"b{count}.sqlite", durable=False)
        try:
            await batched.record_decisions(rows)
            async with batched.conn.execute("SELECT * FROM decisions ORDER BY tick_id, symbol") as cur:
                got = [tuple(r) for r in await cur.fetchall()]
        finally:
            await batched.close()
        with connect_sync(tmp_path / f"b{count}.sqlite") as one_each:
            one_each.execute("DELETE FROM decisions")
            for t, s, sym, o, r in rows:
                text = r if isinstance(r, str) else json.dumps(r, sort_keys=True, default=str)
                one_each.execute(
                    "INSERT OR REPLACE INTO decisions (tick_id, session, symbol, outcome, record)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (t, s, sym, o, text),
                )
            want = [tuple(r) for r in one_each.execute("SELECT * FROM decisions ORDER BY tick_id, symbol")]
        assert got == want, count
        assert len({r[2] for r in rows}) == len(got)
