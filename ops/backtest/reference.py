"""The SMA-cross reference, computed plainly: no agents, no ledger, exact decimal arithmetic.

It is the yardstick the pipeline's ``--strategy sma-cross`` backtest is checked against (issue 4). The
semantics both sides agree on:

* the signal of session *t* is computed on the closes up to and including *t*: **long** ``lot`` shares when
  SMA(fast) > SMA(slow) (strictly: a tie is flat), **flat** otherwise; no signal before ``slow`` closes exist;
* the order that moves the position to that target is filled at the **open of session t + 1** at exactly
  the open (no costs); an order decided on the last session of the run is never filled;
* the run starts flat with ``capital`` in cash; sessions before ``start`` only feed the averages (warm-up),
  trading happens on sessions in [start, end];
* final equity = cash + position x the last session's close.

Prices are used as given (the Open/Close columns). In ``tests/data/stocks.csv.gz`` those are **unadjusted**
(only ``Adj Close`` is split- and dividend-adjusted): AAPL's 2:1 splits of 2000-06-21 and 2005-02-28 show as
halvings, which cross the averages and cost a held lot half its value on paper, identically in the pipeline
with ``--raw-prices`` and here. The averages are compared as ``slow * sum(fast closes) > fast * sum(slow
closes)`` in :class:`~decimal.Decimal`, so a true tie (AAPL on 2003-02-07: both averages 14.426) is a tie.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class RefBar:
    day: date
    open: Decimal
    close: Decimal


@dataclass(frozen=True)
class RefFill:
    day: date
    side: Literal["buy", "sell"]
    qty: int
    price: Decimal


@dataclass(frozen=True)
class ReferenceResult:
    fills: list[RefFill]
    cash: Decimal
    position: int
    last_close: Decimal
    final_equity: Decimal
    sessions: int


def to_decimal(value: Decimal | float | str) -> Decimal:
    """Strings (as a CSV gives them) and Decimals exactly; floats by their exact binary value."""
    return value if isinstance(value, Decimal) else Decimal(value)


def sma_cross_reference(
    bars: Sequence[RefBar],
    *,
    fast: int = 10,
    slow: int = 30,
    lot: int = 100,
    capital: Decimal | float | str = "1000000",
    start: date | None = None,
    end: date | None = None,
) -> ReferenceResult:
    """Run the SMA cross over ``bars`` (one symbol, oldest first). See the module docstring for the rules."""
    if not 0 < fast < slow:
        raise ValueError(f"need 0 < fast < slow, got fast={fast} slow={slow}")
    if lot <= 0:
        raise ValueError("lot must be positive")
    days = [b.day for b in bars]
    if days != sorted(days) or len(set(days)) != len(days):
        raise ValueError("bars must be in strictly increasing date order")
    last_index = max((i for i, b in enumerate(bars) if end is None or b.day <= end), default=-1)
    cash, position = to_decimal(capital), 0
    fills: list[RefFill] = []
    pending: tuple[Literal["buy", "sell"], int] | None = None
    sessions = 0
    closes = [b.close for b in bars]
    for i in range(last_index + 1):
        bar = bars[i]
        if start is not None and bar.day < start:
            continue
        sessions += 1
        if pending is not None:
            side, qty = pending
            signed = qty if side == "buy" else -qty
            cash -= signed * bar.open
            position += signed
            fills.append(RefFill(bar.day, side, qty, bar.open))
            pending = None
        if i + 1 < slow:
            continue
        fast_sum = sum(closes[i + 1 - fast : i + 1], Decimal(0))
        slow_sum = sum(closes[i + 1 - slow : i + 1], Decimal(0))
        target = lot if slow * fast_sum > fast * slow_sum else 0
        if target != position:
            pending = ("buy" if target > position else "sell", abs(target - position))
    last_close = bars[last_index].close if last_index >= 0 else Decimal(0)
    return ReferenceResult(fills, cash, position, last_close, cash + position * last_close, sessions)


def read_csv_bars(path: Path | str, symbol: str) -> list[RefBar]:
    """One symbol's bars from a long CSV (``Ticker,Date,Open,...,Close,...``, optionally gzipped), as strings
    turned into Decimals: exactly the file's digits."""
    p = Path(path)
    opener = gzip.open if p.suffix == ".gz" else open
    with opener(p, "rt", newline="") as fh:
        return rows_to_bars(csv.DictReader(fh), symbol)


def rows_to_bars(rows: Iterable[dict[str, str]], symbol: str) -> list[RefBar]:
    out = []
    for row in rows:
        ticker = row.get("Ticker") or row.get("Symbol") or symbol
        if ticker.upper() != symbol.upper():
            continue
        out.append(RefBar(date.fromisoformat(row["Date"]), Decimal(row["Open"]), Decimal(row["Close"])))
    out.sort(key=lambda b: b.day)
    return out
