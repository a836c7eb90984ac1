"""``make bench``: every benchmark in turn; each prints its table and writes bench/results/<name>.json."""

from __future__ import annotations

import argparse
import importlib
import sys

BENCHES = (
    "bench.bench_bus",
    "bench.bench_killswitch",
    "bench.bench_tick",
    "bench.bench_backtest",
    "bench.bench_cockpit",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("only", nargs="*", help="run only these (e.g. bench_bus)")
    args = parser.parse_args()
    chosen = [b for b in BENCHES if not args.only or b.split(".")[-1] in args.only]
    for name in chosen:
        print(f"\n=== {name} ===", flush=True)
        importlib.import_module(name).main([])
    sys.exit(0)


if __name__ == "__main__":
    main()
