"""The last-fill cache reads the ledger incrementally; the veto count survives a restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from agents.compliance import LastFills, VetoLog
from storage.ledger import Ledger
from storage.records import Fill, Order, Side

T0 = datetime(2024, 3, 1, 15, tzinfo=UTC)


async def trade(ledger: Ledger, n: int, symbol: str, side: Side, when: datetime) -> None:
    coid = f"C-{n:05d}"
    await ledger.insert_order(Order(coid, symbol, side, 1, "PAPER", when, status="acknowledged"))
    await ledger.apply_fill(Fill("PAPER", f"T-{n:05d}", coid, when, symbol, side, 1, 100.0))


async def test_last_fills_follow_the_ledger_incrementally(tmp_path: Path) -> None:
    ledger = await Ledger.open(tmp_path / "ledger.sqlite")
    try:
        await ledger.fund(1e6, ts=T0)
        await trade(ledger, 1, "AAPL", "buy", T0)
        await trade(ledger, 2, "JPM", "buy", T0 + timedelta(minutes=1))
        cache = LastFills()
        found = await cache.refresh(ledger)
        assert {s: f.side for s, f in found.items()} == {"AAPL": "buy", "JPM": "buy"}
        for n in range(3, 10):
            await trade(ledger, n, "AAPL" if n % 2 else "MSFT", "buy", T0 + timedelta(hours=n))
        await trade(ledger, 10, "JPM", "sell", T0 + timedelta(hours=10))
        found = await cache.refresh(ledger)
        assert found["JPM"].side == "sell"
        assert found["JPM"].ts == T0 + timedelta(hours=10)
        assert found["AAPL"].ts == T0 + timedelta(hours=9)
        assert found["MSFT"].ts == T0 + timedelta(hours=8)
        # a fill stored late with an earlier time does not displace a later one; one at the same time does
        await trade(ledger, 11, "JPM", "buy", T0 + timedelta(hours=1))
        await trade(ledger, 12, "AAPL", "sell", T0 + timedelta(hours=9))
        found = await cache.refresh(ledger)
        assert (found["JPM"].side, found["AAPL"].side) == ("sell", "sell")
        assert await ledger.fills_after(cache.rowid) == (cache.rowid, [])  # nothing new: nothing read
    finally:
        await ledger.close()


async def test_a_fresh_reader_agrees_with_one_that_followed(tmp_path: Path) -> None:
    ledger = await Ledger.open(tmp_path / "ledger.sqlite")
    try:
        await ledger.fund(1e6, ts=T0)
        follower = LastFills()
        for n in range(1, 30):
            await trade(ledger, n, ("AAPL", "JPM", "MSFT")[n % 3], ("buy", "sell")[n % 2], T0 + timedelta(hours=n % 7))
            await follower.refresh(ledger)
        assert await LastFills().refresh(ledger) == follower.last
    finally:
        await ledger.close()


async def test_the_veto_count_is_persisted_and_windowed(tmp_path: Path) -> None:
    ledger = await Ledger.open(tmp_path / "ledger.sqlite")
    try:
        log = VetoLog(86_400)
        assert await log.add(ledger, T0, 2) == 2
        again = VetoLog(86_400)
        await again.load(ledger)
        assert await again.add(ledger, T0 + timedelta(hours=1), 1) == 3
        assert again.count(T0 + timedelta(hours=25)) == 0  # a day later the window is empty
        await again.reset(ledger, T0)
        fresh = VetoLog(86_400)
        await fresh.load(ledger)
        assert fresh.count(T0) == 0
    finally:
        await ledger.close()
