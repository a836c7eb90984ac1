"""Shared by the engine scripts (run inside .bench-venv, where agenthedge is not installed): the arguments,
the CSV reader and the JSON line they print. Standard library and pandas only."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", type=Path, required=True, help="directory of <SYMBOL>.csv (Date,Open,...,Volume)")
    parser.add_argument("--symbol", action="append", dest="symbols", help="symbols (default: every file)")
    parser.add_argument("--fast", type=int, default=10)
    parser.add_argument("--slow", type=int, default=30)
    parser.add_argument("--lot", type=int, default=100)
    parser.add_argument("--capital", type=float, default=1_000_000.0)
    parser.add_argument("--fills", action="store_true", help="also print every fill (date, symbol, side, qty, price)")
    return parser.parse_args()


def symbols_in(data: Path, wanted: list[str] | None) -> list[str]:
    return wanted or sorted(p.name.removesuffix(".csv") for p in data.glob("*.csv"))


def read_frame(data: Path, symbol: str) -> Any:
    import pandas as pd  # type: ignore[import-untyped,import-not-found,unused-ignore]

    frame = pd.read_csv(data / f"{symbol}.csv", parse_dates=["Date"], index_col="Date")
    return frame[["Open", "High", "Low", "Close", "Volume"]].astype(float).sort_index()


def emit(record: dict[str, Any]) -> None:
    json.dump(record, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
