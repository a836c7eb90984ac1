"""Issue 3's crash acceptance: the runtime process killed (SIGKILL) at random points of a replay and restarted,
more than fifty times. Afterwards: no order sent twice, no fill lost, ledger and venue reconcile, and both
SQLite files pass ``PRAGMA integrity_check``; the audit chain verifies.

The replay runs in a forked child (the imports are done once, so a restart costs a fraction of a second);
the child reports each agent's step through a pipe and the parent kills it after a seeded random number of
steps: some kills land between ticks, most inside one (in a transaction, between an order's persist and
its send, between a fill at the venue and its application to the ledger...).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path

import pytest

from app.wiring import build_replay, load_config
from runtime.agent import Tick
from storage.audit import verify
from tests.acceptance.books import one

pytestmark = pytest.mark.slow
DATA = Path(__file__).resolve().parents[1] / "data" / "stocks.csv.gz"
SYMBOLS = ["AAPL", "IBM", "MSFT"]
START, END = date(2005, 1, 3), date(2005, 12, 30)
KILLS = 55


def _child(home: Path, out: int) -> None:
    """Replay until done, writing one byte per agent step; exit 0 after writing 'D'."""

    async def go() -> None:
        replay = build_replay(
            load_config(home=home), start=START, end=END, data_path=DATA, symbols=SYMBOLS, adjust=True
        )
        for agent in replay.runtime.registry:
            agent.on_tick = _reporting(agent.on_tick, out)  # type: ignore[method-assign,assignment]
        await replay.runtime.start()
        os.write(out, b"s")
        await replay.run()
        await replay.runtime.stop()
        os.write(out, b"D")

    try:
        asyncio.run(go())
    except BaseException:
        os._exit(3)
    os._exit(0)


def _reporting(step: Callable[[Tick], Awaitable[None]], out: int) -> Callable[[Tick], Awaitable[None]]:
    async def wrapped(tick: Tick) -> None:
        await step(tick)
        os.write(out, b".")

    return wrapped


def _run_until(home: Path, kill_after: int | None) -> bool:
    """Start a child; SIGKILL it after ``kill_after`` steps. True when the replay finished."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        _child(home, write)
    os.close(write)
    finished, steps = False, 0
    with os.fdopen(read, "rb", buffering=0) as pipe:
        while True:
            byte = pipe.read(1)
            if not byte:
                break
            if byte == b"D":
                finished = True
                break
            steps += 1
            if kill_after is not None and steps >= kill_after:
                os.kill(pid, signal.SIGKILL)
                break
    _, status = os.waitpid(pid, 0)
    if kill_after is None or finished:
        assert os.waitstatus_to_exitcode(status) == 0, f"the replay child failed (status {status})"
    return finished


@pytest.fixture(scope="module")
def crashed_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    home = tmp_path_factory.mktemp("crash") / "home"
    rng = random.Random(20261124)
    kills = 0
    while kills < KILLS:
        if _run_until(home, rng.randint(1, 60)):
            break  # the replay ran out of sessions before the kills did
        kills += 1
    while not _run_until(home, None):
        pass
    return home, kills


def _venue(home: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{home / 'paper_broker.sqlite'}?mode=ro", uri=True)


def test_enough_kills_and_the_replay_completes(crashed_home: tuple[Path, int]) -> None:
    home, kills = crashed_home
    assert kills >= 50
    log = (home / "audit" / "runtime_events.jsonl").read_text()
    assert log.count('"event":"runtime.started"') >= kills  # a kill before the first audit line leaves none
    sessions = one(home, "SELECT count(DISTINCT session) FROM nav_history")
    assert sessions == 252


def test_no_order_was_sent_twice(crashed_home: tuple[Path, int]) -> None:
    home, _ = crashed_home
    ledger = sqlite3.connect(f"file:{home / 'ledger.sqlite'}?mode=ro", uri=True)
    venue = _venue(home)
    try:
        per_intent = ledger.execute(
            "SELECT tick_id, symbol, side, count(*) FROM orders GROUP BY tick_id, symbol, side HAVING count(*) > 1"
        ).fetchall()
        assert per_intent == [], "an intent of a re-run tick was sent again"
        at_venue = venue.execute(
            "SELECT client_order_id, count(*) FROM venue_orders GROUP BY client_order_id HAVING count(*) > 1"
        ).fetchall()
        assert at_venue == []
        venue_ids = {r[0] for r in venue.execute("SELECT client_order_id FROM venue_orders")}
        assert venue_ids <= {r[0] for r in ledger.execute("SELECT client_order_id FROM orders")}, (
            "the venue holds an order the ledger never persisted"
        )
    finally:
        ledger.close()
        venue.close()


def test_no_fill_was_lost_and_the_books_reconcile(crashed_home: tuple[Path, int]) -> None:
    home, _ = crashed_home
    ledger = sqlite3.connect(f"file:{home / 'ledger.sqlite'}?mode=ro", uri=True)
    venue = _venue(home)
    try:
        at_venue = set(venue.execute("SELECT venue, trade_id, qty, price FROM venue_fills"))
        in_ledger = set(ledger.execute("SELECT venue, trade_id, qty, price FROM fills"))
        assert at_venue == in_ledger
        assert at_venue, "no fills at all: the test proves nothing"
        positions = dict(ledger.execute("SELECT symbol, qty FROM positions WHERE qty != 0"))
        held = dict(venue.execute("SELECT symbol, sum(qty) FROM venue_positions GROUP BY symbol HAVING sum(qty) != 0"))
        assert positions == pytest.approx(held)
        assert ledger.execute("SELECT state FROM runtime_state").fetchone()[0] != "HALTED"
        assert ledger.execute("SELECT count(*) FROM incidents").fetchone()[0] == 0
        assert ledger.execute("SELECT count(*) FROM orders WHERE status IN ('new', 'unknown')").fetchone()[0] == 0
    finally:
        ledger.close()
        venue.close()


def test_storage_is_intact(crashed_home: tuple[Path, int]) -> None:
    home, _ = crashed_home
    assert one(home, "PRAGMA integrity_check") == "ok"
    venue = _venue(home)
    try:
        assert venue.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        venue.close()
    assert verify(home / "audit" / "runtime_events.jsonl").ok
