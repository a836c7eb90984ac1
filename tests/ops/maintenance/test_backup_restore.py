"""Backup then restore: an identical ledger (every row of every table), a verifying audit chain, a safe restore."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ops.maintenance import MaintenanceError, backup_home, restore_home
from runtime.bus import MemoryBroker
from runtime.clock import SimClock
from runtime.lock import HomeLocked
from runtime.runtime import Runtime
from storage.audit import AUDIT_FILE, verify
from storage.records import Fill, NavPoint, Order
from tests.ops.scheduler.harness import TradingAgent, make_runtime

T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


async def populate(rt: Runtime, clock: SimClock) -> None:
    """Orders, fills, positions, cash, NAV points, kv documents, a halt with its incident, a rotated audit log."""
    books = rt.books
    await books.fund(1_000_000, ts=clock.now())
    for _ in range(3):
        await rt.run_once()
        clock.advance(60)
    for n, (symbol, price) in enumerate([("AAPL", 190.5), ("MSFT", 410.25)], start=1):
        order = Order(f"F-{n}", symbol, "buy", 100, "PAPER", clock.now(), status="acknowledged")
        await books.insert_order(order)
        await books.apply_fill(Fill("PAPER", f"T-{n}", f"F-{n}", clock.now(), symbol, "buy", 100, price, 1.0))
    await books.mark_prices({"AAPL": 191.0, "MSFT": 409.0}, ts=clock.now())
    b = await books.books()
    await books.record_nav(NavPoint(clock.now(), "2026-11-24", b.nav, b.account.cash, b.gross_exposure, b.net_exposure))
    await books.put_json("tracker", "weights", {"technical": 0.4, "macro": 0.6}, ts=clock.now())
    assert rt.audit_log is not None
    rt.audit_log.rotate(rt.home / "audit" / "archive", now=clock.now())
    await rt.kill(source="operator", reason="end of test day", actor="alice")
    await rt.audit("test.after_rotation", {"n": 1}, "test")


@pytest.fixture
async def source(tmp_path: Path, bus_env: str) -> AsyncIterator[tuple[Runtime, SimClock]]:
    clock = SimClock(T0)
    rt = make_runtime(tmp_path / "source", clock, bus_env, [TradingAgent()])
    await rt.start()
    await populate(rt, clock)
    paper = sqlite3.connect(rt.home / "paper_broker.sqlite")  # another SQLite file of the home (the paper venue)
    paper.execute("CREATE TABLE venue_orders (id TEXT PRIMARY KEY, qty REAL)")
    paper.execute("INSERT INTO venue_orders VALUES ('V-1', 100), ('V-2', 50)")
    paper.commit()
    paper.close()
    yield rt, clock
    if rt.started:
        await rt.stop()
    MemoryBroker.reset(bus_env)


def dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")
        ]
        return {n: sorted(conn.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in sorted(names)}
    finally:
        conn.close()


async def test_backup_then_restore_gives_an_identical_ledger_and_a_verifying_chain(
    source: tuple[Runtime, SimClock], tmp_path: Path
) -> None:
    rt, clock = source
    home = rt.home
    await rt.stop()
    before = dump(home / "ledger.sqlite")
    assert len(before["orders"]) == 5
    assert len(before["fills"]) == 2
    assert len(before["incidents"]) == 1
    result = backup_home(home, tmp_path / "backup", now=clock.now())
    assert result.ok, result.problems
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text("utf-8"))
    assert manifest["databases"]["ledger.sqlite"]["tables"]["orders"]["rows"] == 5
    assert manifest["audit"]["verified"] is True
    assert [a["verified"] for a in manifest["archives"]] == [True]
    assert "paper_broker.sqlite" in manifest["databases"]
    assert any(name.startswith("incidents/INC-") for name in manifest["files"])

    target = tmp_path / "restored"
    restored = restore_home(tmp_path / "backup", target, now=clock.now())
    assert restored.ok, restored.problems
    assert restored.moved_aside is None
    assert dump(target / "ledger.sqlite") == before  # every row of every table
    assert dump(target / "paper_broker.sqlite") == dump(home / "paper_broker.sqlite")
    head = manifest["databases"]["ledger.sqlite"]["audit_head"]
    assert verify(target / AUDIT_FILE, expected_head=tuple(head)).ok
    assert restored.checks["ledger.sqlite"]["integrity"] == "ok"
    assert restored.checks["audit"]["verified"] is True

    reopened = make_runtime(target, clock, "restored-bus")  # the restored home runs, HALTED as it was left
    await reopened.start()
    try:
        assert reopened.state.value == "HALTED"
        assert (await reopened.books.books()).positions.keys() == {"AAPL", "MSFT"}
    finally:
        await reopened.stop()
        MemoryBroker.reset("restored-bus")


async def test_an_online_backup_beside_a_running_runtime_verifies(
    source: tuple[Runtime, SimClock], tmp_path: Path
) -> None:
    rt, clock = source
    result = backup_home(rt.home, tmp_path / "online", now=clock.now())
    await rt.audit("test.after_backup", {"n": 2}, "test")  # the live log keeps growing; the copy is a snapshot
    assert result.ok, result.problems
    restored = restore_home(tmp_path / "online", tmp_path / "from-online", now=clock.now())
    assert restored.ok, restored.problems


async def test_restore_refuses_a_home_a_runtime_holds(source: tuple[Runtime, SimClock], tmp_path: Path) -> None:
    rt, clock = source
    backup_home(rt.home, tmp_path / "b", now=clock.now())
    with pytest.raises(HomeLocked, match="held by runtime pid"):
        restore_home(tmp_path / "b", rt.home, now=clock.now(), force=True)
    assert rt.state.value == "HALTED"  # untouched


async def test_restore_refuses_a_live_home_without_force_and_moves_it_aside_with(
    source: tuple[Runtime, SimClock], tmp_path: Path
) -> None:
    rt, clock = source
    backup_home(rt.home, tmp_path / "b", now=clock.now())
    await rt.stop()
    with pytest.raises(MaintenanceError, match="refusing to overwrite a live home"):
        restore_home(tmp_path / "b", rt.home, now=clock.now())
    (rt.home / "ledger.sqlite-wal").write_bytes(b"stale journal of the old ledger")
    later = clock.now() + timedelta(hours=1)
    restored = restore_home(tmp_path / "b", rt.home, now=later, force=True)
    assert restored.ok, restored.problems
    assert not (rt.home / "ledger.sqlite-wal").exists()  # never replayed into the restored ledger
    assert restored.moved_aside == rt.home / f"pre-restore-{later:%Y%m%dT%H%M%S}"
    assert (restored.moved_aside / "ledger.sqlite").exists()
    assert (restored.moved_aside / "ledger.sqlite-wal").exists()
    assert (restored.moved_aside / "paper_broker.sqlite").exists()
    assert (restored.moved_aside / "audit" / "runtime_events.jsonl").exists()


async def test_a_tampered_backup_is_refused_before_the_home_is_touched(
    source: tuple[Runtime, SimClock], tmp_path: Path
) -> None:
    rt, clock = source
    backup_home(rt.home, tmp_path / "b", now=clock.now())
    log = tmp_path / "b" / "audit" / "runtime_events.jsonl"
    log.write_bytes(log.read_bytes().replace(b"end of test day", b"all is well....", 1))
    target = tmp_path / "t"
    with pytest.raises(MaintenanceError, match="SHA-256 differs"):
        restore_home(tmp_path / "b", target, now=clock.now())
    assert not (target / "ledger.sqlite").exists()


def test_a_backup_needs_a_ledger_and_an_empty_destination(tmp_path: Path) -> None:
    with pytest.raises(MaintenanceError, match="no ledger"):
        backup_home(tmp_path / "nothing", tmp_path / "dest", now=T0)
    home = tmp_path / "home"
    home.mkdir()
    sqlite3.connect(home / "ledger.sqlite").close()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "old").write_text("x")
    with pytest.raises(MaintenanceError, match="not empty"):
        backup_home(home, dest, now=T0)
