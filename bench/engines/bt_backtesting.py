"""backtesting.py (AGPL): the SMA(fast/slow) cross with fixed lots, filled at the next open, no costs.

backtesting.py trades one instrument per Backtest, so a universe is one Backtest per symbol, each with the
whole capital; the universe's final equity is the capital plus the sum of their P&L. It calls ``next`` from
the bar after the slow SMA's first value (one bar later than backtrader and the reference), so it can miss
a symbol's first crossing. Run as ``python -m bench.engines.bt_backtesting`` from the repository root with
.bench-venv/bin/python (never imported by agenthedge). Prints one JSON line like bt_backtrader.py.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import backtesting
import pandas as pd  # type: ignore[import-untyped,import-not-found,unused-ignore]
from backtesting import Backtest, Strategy

from bench.engines._common import emit, parse_args, read_frame, symbols_in


def sma(values: Any, n: int) -> Any:
    """pandas' rolling mean, as a backtesting.py user would write it."""
    return pd.Series(values).rolling(n).mean().to_numpy()


class SmaCross(Strategy):  # type: ignore[misc]
    fast = 10
    slow = 30
    lot = 100

    def init(self) -> None:
        self.sma_fast = self.I(sma, self.data.Close, self.fast)
        self.sma_slow = self.I(sma, self.data.Close, self.slow)

    def next(self) -> None:
        long = self.sma_fast[-1] > self.sma_slow[-1]
        if long and not self.position:
            self.buy(size=self.lot)
        elif not long and self.position:
            self.position.close()


def main() -> None:
    args = parse_args(__doc__ or "")
    data: Path = args.data
    warnings.simplefilter("ignore")
    bars = 0
    seconds = 0.0
    pnl = 0.0
    fills: list[tuple[str, str, str, float, float]] = []
    trips = 0
    for symbol in symbols_in(data, args.symbols):
        frame = read_frame(data, symbol)
        bars += len(frame)
        test = Backtest(frame, SmaCross, cash=args.capital, commission=0.0, trade_on_close=False,
                        finalize_trades=False)  # fmt: skip
        t0 = time.perf_counter()
        stats = test.run(fast=args.fast, slow=args.slow, lot=args.lot)
        seconds += time.perf_counter() - t0
        pnl += float(stats["Equity Final [$]"]) - args.capital
        trades = stats["_trades"]
        trips += len(trades)
        for t in trades.itertuples():
            fills.append((t.EntryTime.date().isoformat(), symbol, "buy", float(t.Size), float(t.EntryPrice)))
            fills.append((t.ExitTime.date().isoformat(), symbol, "sell", float(t.Size), float(t.ExitPrice)))
        for t in stats["_strategy"].trades:  # still open at the end: an entry without an exit
            fills.append((t.entry_time.date().isoformat(), symbol, "buy", float(t.size), float(t.entry_price)))
    record = {
        "engine": "backtesting.py",
        "version": backtesting.__version__,
        "bars": bars,
        "seconds": seconds,
        "fills": len(fills),
        "round_trips": trips,  # closed ones
        "final_equity": args.capital + pnl,
    }
    if args.fills:
        record["fill_list"] = sorted(fills)
    emit(record)


if __name__ == "__main__":
    main()
