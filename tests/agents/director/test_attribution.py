"""P&L attribution agrees with the ledger's own accounting: whatever the fills, the plug-ins' attributed P&L
(plus what nobody voted for) is the ledger's realised P&L less commissions, to the cent."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.director import AttributedPosition, attribute_fill, supporter_shares
from agents.types import FillReport, OrderIntent
from storage.ledger import Ledger
from storage.records import Fill, Order

T0 = datetime(2021, 1, 4, 15, tzinfo=UTC)
_files = itertools.count()


def intent(side: str, votes: dict[str, float]) -> OrderIntent:
    return OrderIntent(id="i", symbol="X", side=side, qty=1, ref_price=1, priority=0, target_weight=0,
                       current_weight=0, consensus=0, votes=votes)  # fmt: skip


def test_supporters_share_pro_rata_and_dissenters_get_nothing() -> None:
    assert supporter_shares(intent("buy", {"a": 0.3, "b": 0.1, "c": -0.2})) == pytest.approx({"a": 0.75, "b": 0.25})
    assert supporter_shares(intent("sell", {"a": 0.3, "c": -0.2})) == pytest.approx({"c": 1.0})
    assert supporter_shares(intent("buy", {"a": -0.3})) == {}


def test_a_flip_closes_with_the_openers_and_opens_with_the_new_supporters() -> None:
    book = AttributedPosition()
    f1 = FillReport(client_order_id="c1", venue="v", trade_id="1", symbol="X", side="buy", qty=10, price=100,
                    commission=0, ts=T0)  # fmt: skip
    attribute_fill(book, f1, {"a": 1.0})
    f2 = f1.model_copy(update={"trade_id": "2", "side": "sell", "qty": 15, "price": 90})
    pnl, unattributed = attribute_fill(book, f2, {"b": 1.0})
    assert pnl == pytest.approx({"a": -100.0})
    assert unattributed == 0
    assert (book.qty, book.avg_cost, book.shares) == (-5, 90, {"b": 1.0})


votes = st.dictionaries(st.sampled_from(["a", "b", "c"]), st.floats(-1, 1).filter(lambda v: abs(v) > 1e-3), max_size=3)
fills = st.lists(
    st.tuples(
        st.sampled_from(["buy", "sell"]),
        st.integers(1, 300),
        st.integers(100, 50_000).map(lambda c: c / 100),
        st.integers(0, 500).map(lambda c: c / 100),
        votes,
    ),
    min_size=1,
    max_size=25,
)


async def _replay(path: Path, sequence: list[tuple[str, int, float, float, dict[str, float]]]) -> tuple[float, float]:
    ledger = await Ledger.open(path)
    try:
        await ledger.fund(1e9, ts=T0)
        book = AttributedPosition()
        attributed = 0.0
        for n, (side, qty, price, commission, vote) in enumerate(sequence):
            ts = T0 + timedelta(minutes=n)
            await ledger.insert_order(Order(f"c{n}", "X", side, qty, "v", ts))  # type: ignore[arg-type]
            await ledger.apply_fill(Fill("v", f"t{n}", f"c{n}", ts, "X", side, qty, price, commission))  # type: ignore[arg-type]
            report = FillReport(client_order_id=f"c{n}", venue="v", trade_id=f"t{n}", symbol="X", side=side,
                                qty=qty, price=price, commission=commission, ts=ts)  # fmt: skip
            pnl, unattributed = attribute_fill(book, report, supporter_shares(intent(side, vote)))
            attributed += sum(pnl.values()) + unattributed
        async with ledger.conn.execute("SELECT COALESCE(SUM(realised_pnl), 0) FROM positions") as cur:
            row = await cur.fetchone()
        books = await ledger.books()
        realised = float(row[0]) if row else 0.0
        assert book.qty == pytest.approx(sum(p.qty for p in books.positions.values()))
        return attributed, realised - books.account.commissions
    finally:
        await ledger.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=fills)
def test_attribution_matches_the_ledger_to_the_cent(tmp_path: Path, sequence: list) -> None:  # type: ignore[type-arg]
    attributed, ledger_pnl = asyncio.run(_replay(tmp_path / f"l{next(_files)}.sqlite", sequence))
    assert attributed == pytest.approx(ledger_pnl, abs=0.01)
