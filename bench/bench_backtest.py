"""Backtest throughput in bars per second: AgentHedge's pipeline beside backtrader and backtesting.py.

The same strategy (SMA 10/30 cross, 100-share lots, market orders filled at the next open, no costs) on the
same bars, in the same run:

* **single**: AAPL 2000-03-01 .. 2013-03-01 from ``tests/data/stocks.csv.gz`` (3,270 real bars, the file's
  Open/Close as given);
* **universe**: 100 synthetic symbols x 10 years of business days (2010-2019, 260,900 bars) from
  ``agents.data.DemoProvider`` with a 100-security universe built from its eight templates (each with its own
  stream, so its own path), written to per-symbol CSVs that every engine reads. Capital 10,000,000 there, so
  100 long lots always fit.

AgentHedge runs as an operator would (``agenthedge backtest --strategy sma-cross ... --config
ops/backtest/reference.env``: the whole pipeline, risk and compliance included) and its figure is the tick
loop's time from ``run.json``. The two comparison engines are GPL/AGPL: they live only in ``.bench-venv``
(``make bench-venv``), run as subprocesses of ``bench/engines/*.py``, and their figure is their own run call
(data already in memory). backtesting.py tests one instrument per ``Backtest``: the universe is 100 of them.

Beside the single symbol, the **pipeline floor** (``bench.pipeline_floor``): the same number of ticks through
the runtime with eleven agents that do nothing, i.e. what the stages, deadlines and per-agent timing cost
before any agent works. No one-symbol backtest on this pipeline can be faster than that row.

Targets (issue 4): single symbol >= backtrader's bars/s measured here; the universe in <= 10 s.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import gzip
import json
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from bench._common import report

ROOT = Path(__file__).resolve().parents[1]
STOCKS = ROOT / "tests" / "data" / "stocks.csv.gz"
REFERENCE_ENV = ROOT / "ops" / "backtest" / "reference.env"
BENCH_PYTHON = ROOT / ".bench-venv" / "bin" / "python"
ENGINES = {"backtrader": "bench.engines.bt_backtrader", "backtesting.py": "bench.engines.bt_backtesting"}
AGENTHEDGE = str(Path(sys.executable).with_name("agenthedge"))
UNIVERSE_TARGET_SECONDS = 10.0


@dataclasses.dataclass(frozen=True)
class Dataset:
    name: str
    directory: Path
    symbols: list[str]
    start: date
    end: date
    capital: float
    bars: int


def write_aapl(directory: Path) -> Dataset:
    directory.mkdir(parents=True, exist_ok=True)
    with gzip.open(STOCKS, "rt") as fh:
        rows = [r for r in csv.DictReader(fh) if r["Ticker"] == "AAPL"]
    with (directory / "AAPL.csv").open("w") as out:
        out.write("Date,Open,High,Low,Close,Volume\n")
        for r in rows:
            out.write(f"{r['Date']},{r['Open']},{r['High']},{r['Low']},{r['Close']},{r['Volume']}\n")
    days = [date.fromisoformat(r["Date"]) for r in rows]
    return Dataset("single (AAPL 2000-2013)", directory, ["AAPL"], days[0], days[-1], 1_000_000.0, len(rows))


def write_universe(directory: Path, n: int = 100, years: int = 10) -> Dataset:
    """``n`` demo securities over ``years`` years of business days, one CSV each (floats written exactly)."""
    import asyncio

    from agents.data import DemoProvider
    from agents.data._demo._universe import DEFAULT_UNIVERSE

    templates = DEFAULT_UNIVERSE
    universe = [
        dataclasses.replace(
            templates[i % len(templates)],
            symbol=f"S{i:03d}",
            name=f"Synthetic {i:03d}",
            anchor_price=templates[i % len(templates)].anchor_price * (0.6 + 0.8 * ((i * 37) % 100) / 100),
        )
        for i in range(n)
    ]
    provider = DemoProvider(seed=11, universe=universe)
    start, end = date(2010, 1, 1), date(2010 + years - 1, 12, 31)
    bars = asyncio.run(provider.bars([s.symbol for s in universe], start, end))
    directory.mkdir(parents=True, exist_ok=True)
    count = 0
    for symbol, series in bars.items():
        with (directory / f"{symbol}.csv").open("w") as out:
            out.write("Date,Open,High,Low,Close,Volume\n")
            for b in series:
                out.write(f"{b.date.isoformat()},{b.open!r},{b.high!r},{b.low!r},{b.close!r},{b.volume!r}\n")
        count += len(series)
    first = min(b.date for s in bars.values() for b in s[:1])
    last = max(b.date for s in bars.values() for b in s[-1:])
    name = f"universe ({n} x {years}y demo)"
    return Dataset(name, directory, sorted(bars), first, last, 10_000_000.0, count)


def run_agenthedge(data: Dataset, home: Path) -> dict[str, Any]:
    args = [AGENTHEDGE, "--home", str(home), "backtest", "--start", data.start.isoformat(),
            "--end", data.end.isoformat(), "--data", str(data.directory), "--capital", f"{data.capital:.0f}",
            "--strategy", "sma-cross", "--fast", "10", "--slow", "30", "--lot", "100", "--costs", "none",
            "--raw-prices", "--data-checks", "off", "--config", str(REFERENCE_ENV), "--json"]  # fmt: skip
    for symbol in data.symbols:
        args += ["--symbol", symbol]
    done = subprocess.run(args, capture_output=True, text=True, timeout=3600, check=False, cwd=home.parent)
    if done.returncode != 0:
        return {"engine": "agenthedge", "error": done.stderr.strip().splitlines()[-1:] or ["failed"]}
    where = Path(json.loads(done.stdout)["dir"])
    run = json.loads((where / "run.json").read_text())
    result = json.loads((where / "result.json").read_text())
    return {
        "engine": "agenthedge",
        "bars": run["bars"],
        "seconds": run["loop_seconds"],
        "total_seconds": run["elapsed_seconds"],
        "fills": len(result["fills"]),
        "final_equity": result["metrics"]["final_equity"],
    }


def run_floor(data: Dataset) -> dict[str, Any]:
    """The pipeline floor over as many ticks as ``data`` has sessions (one symbol: one bar a session)."""
    args = [sys.executable, "-m", "bench.pipeline_floor", str(data.bars), "--json"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False, cwd=ROOT)
    if done.returncode != 0:
        return {"engine": "pipeline floor", "error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    out = json.loads(done.stdout)
    return {"engine": f"pipeline floor ({out['agents']} idle agents)", "bars": out["ticks"], "seconds": out["seconds"]}


def run_engine(engine: str, data: Dataset) -> dict[str, Any]:
    if not BENCH_PYTHON.exists():
        return {"engine": engine, "error": "not installed: make bench-venv"}
    args = [str(BENCH_PYTHON), "-m", ENGINES[engine], "--data", str(data.directory)]
    args += ["--capital", f"{data.capital:.0f}"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=3600, check=False, cwd=ROOT)
    if done.returncode != 0:
        return {"engine": engine, "error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def reference_equity(data: Dataset) -> float | None:
    """The plain SMA cross's final equity (ops.backtest.reference) for a one-symbol dataset."""
    if len(data.symbols) != 1:
        return None
    from ops.backtest.reference import read_csv_bars, sma_cross_reference

    bars = read_csv_bars(data.directory / f"{data.symbols[0]}.csv", data.symbols[0])
    return float(sma_cross_reference(bars, fast=10, slow=30, lot=100, capital=str(data.capital)).final_equity)


def rows_for(data: Dataset, results: list[dict[str, Any]], *, target: str) -> list[dict[str, Any]]:
    reference = reference_equity(data)
    rate = {r["engine"]: r["bars"] / r["seconds"] for r in results if "error" not in r and r["seconds"] > 0}
    rows: list[dict[str, Any]] = []
    for r in results:
        row: dict[str, Any] = {"dataset": data.name, "engine": r["engine"]}
        if "error" in r:
            row["note"] = r["error"]
            rows.append(row)
            continue
        row.update(bars=r["bars"], seconds=round(r["seconds"], 3), bars_per_s=round(rate[r["engine"]], 1))
        if "fills" not in r:  # the pipeline floor: no trading, only its rate
            rows.append(row)
            continue
        row.update(fills=r["fills"], final_equity=round(r["final_equity"], 2))
        if reference is not None:
            row["vs_reference"] = round(r["final_equity"] - reference, 2)
        if r["engine"] == "agenthedge":
            if target == "vs_backtrader":
                anchor = rate.get("backtrader")
                row["target"] = ">= backtrader bars/s" + (f" ({anchor:,.0f})" if anchor else " (not measured)")
                row["ok"] = anchor is not None and rate["agenthedge"] >= anchor
            elif target == "seconds":
                row["target"] = f"<= {UNIVERSE_TARGET_SECONDS:g} s"
                row["ok"] = r["seconds"] <= UNIVERSE_TARGET_SECONDS
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbols", type=int, default=100, help="universe size (default 100)")
    parser.add_argument("--years", type=int, default=10, help="universe years (default 10)")
    parser.add_argument("--skip-agenthedge", action="store_true", help="only the comparison engines (anchors)")
    parser.add_argument("--only", choices=["single", "universe"], help="one dataset")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-backtest-") as tmp:
        base = Path(tmp)
        datasets = []
        if args.only in (None, "single"):
            datasets.append((write_aapl(base / "single"), "vs_backtrader"))
        if args.only in (None, "universe"):
            full = args.symbols == 100 and args.years == 10  # the target is for 100 x 10 years only
            datasets.append((write_universe(base / "universe", args.symbols, args.years), "seconds" if full else ""))
        for data, target in datasets:
            print(f"{data.name}: {data.bars:,} bars", flush=True)
            results = [run_engine(engine, data) for engine in ENGINES]
            if not args.skip_agenthedge:
                results.insert(0, run_agenthedge(data, base / f"home-{len(rows)}"))
                if target == "vs_backtrader":
                    results.insert(1, run_floor(data))
            rows.extend(rows_for(data, results, target=target))
    report("bench_backtest", rows, meta={"strategy": "SMA 10/30 cross, 100-share lots, next open, no costs"})


if __name__ == "__main__":
    main(sys.argv[1:])
