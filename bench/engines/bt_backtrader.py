"""backtrader (GPL): the SMA(fast/slow) cross with fixed lots, market orders filled at the next open, no costs.

Run as ``python -m bench.engines.bt_backtrader`` from the repository root with .bench-venv/bin/python (never
imported by agenthedge). Prints one JSON line: engine, version, bars, seconds (``cerebro.run`` only: the data
are already in memory), fills, round trips, final equity.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import backtrader as bt

from bench.engines._common import emit, parse_args, read_frame, symbols_in


class SmaCross(bt.Strategy):  # type: ignore[misc]
    params = (("fast", 10), ("slow", 30), ("lot", 100))

    def __init__(self) -> None:
        self.cross = {
            d: (bt.indicators.SMA(d.close, period=self.p.fast), bt.indicators.SMA(d.close, period=self.p.slow))
            for d in self.datas
        }
        self.fills: list[tuple[str, str, str, float, float]] = []
        self.round_trips = 0

    def next(self) -> None:
        for d, (fast, slow) in self.cross.items():
            held = self.getposition(d).size
            target = self.p.lot if fast[0] > slow[0] else 0
            if target != held:
                self.order_target_size(data=d, target=target)

    def notify_order(self, order: Any) -> None:
        if order.status == order.Completed:
            side = "buy" if order.isbuy() else "sell"
            when = bt.num2date(order.executed.dt).date().isoformat()
            self.fills.append((when, order.data._name, side, abs(order.executed.size), order.executed.price))

    def notify_trade(self, trade: Any) -> None:
        if trade.isclosed:
            self.round_trips += 1


def main() -> None:
    args = parse_args(__doc__ or "")
    data: Path = args.data
    cerebro = bt.Cerebro(stdstats=False)
    bars = 0
    for symbol in symbols_in(data, args.symbols):
        frame = read_frame(data, symbol)
        bars += len(frame)
        cerebro.adddata(bt.feeds.PandasData(dataname=frame, name=symbol))
    cerebro.addstrategy(SmaCross, fast=args.fast, slow=args.slow, lot=args.lot)
    cerebro.broker.setcash(args.capital)
    cerebro.broker.setcommission(commission=0.0)
    t0 = time.perf_counter()
    (strategy,) = cerebro.run()
    seconds = time.perf_counter() - t0
    record = {
        "engine": "backtrader",
        "version": bt.__version__,
        "bars": bars,
        "seconds": seconds,
        "fills": len(strategy.fills),
        "round_trips": strategy.round_trips,
        "final_equity": cerebro.broker.getvalue(),
    }
    if args.fills:
        record["fill_list"] = sorted(strategy.fills)
    emit(record)


if __name__ == "__main__":
    main()
