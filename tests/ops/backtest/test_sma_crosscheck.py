"""Issue 4's reference check: the pipeline's ``--strategy sma-cross`` backtest on the real AAPL bars of
2000-2013 against the plain computation of ops.backtest.reference: the same trades, and the same final
equity to the cent, with no costs.

Risk and compliance run every check; ops/backtest/reference.env relaxes the three rules that would change
the strategy's own decisions (per-order notional cap, stop-loss, wash-trade window). Data checks are off:
AAPL's genuine -52% of 2000-09-29 would otherwise quarantine the symbol for the whole run (see the report).
Two price bases: the file's columns as given (unadjusted), and back-adjusted by Adj Close exactly as the CSV
provider does it (k = adj_close / close; open x k, close = adj_close), recomputed here on the file's values.
"""

from __future__ import annotations

import csv
import gzip
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ops.backtest.reference import RefBar, ReferenceResult, read_csv_bars, sma_cross_reference
from tests.app.daemon_harness import Deployment

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]
STOCKS = ROOT / "tests" / "data" / "stocks.csv.gz"
REFERENCE_ENV = ROOT / "ops" / "backtest" / "reference.env"
START, END = "2000-03-01", "2013-03-01"


def adjusted_bars(symbol: str) -> list[RefBar]:
    """The CSV provider's back-adjustment, redone on the file's values (same float operations, same order)."""
    with gzip.open(STOCKS, "rt") as fh:
        rows = [r for r in csv.DictReader(fh) if r["Ticker"] == symbol]
    out = []
    for r in rows:
        close, adj = float(r["Close"]), float(r["Adj Close"])
        k = adj / close
        out.append(RefBar(date.fromisoformat(r["Date"]), Decimal(float(r["Open"]) * k), Decimal(adj)))
    return out


def pipeline(tmp: Path, *extra: str) -> dict[str, Any]:
    deployment = Deployment(home=tmp / "home", bus="memory://", env="paper")
    args = ["backtest", "--symbol", "AAPL", "--start", START, "--end", END, "--data", str(STOCKS),
            "--capital", "1000000", "--strategy", "sma-cross", "--fast", "10", "--slow", "30", "--lot", "100",
            "--costs", "none", "--data-checks", "off", "--config", str(REFERENCE_ENV), "--json", *extra]  # fmt: skip
    done = deployment.cli(*args, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads((Path(json.loads(done.stdout)["dir"]) / "result.json").read_text())
    return result


def compare(result: dict[str, Any], ref: ReferenceResult) -> None:
    fills = result["fills"]
    got = [(f["session"], f["side"], f["qty"], f["price"]) for f in fills]
    want = [(f.day.isoformat(), f.side, float(f.qty), float(f.price)) for f in ref.fills]
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g[:3] == w[:3]
        assert g[3] == pytest.approx(w[3], abs=1e-9)
    assert abs(Decimal(repr(result["metrics"]["final_equity"])) - ref.final_equity) < Decimal("0.005")


@pytest.fixture(scope="module")
def unadjusted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return pipeline(tmp_path_factory.mktemp("raw"), "--raw-prices")


@pytest.fixture(scope="module")
def adjusted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return pipeline(tmp_path_factory.mktemp("adjusted"))


def test_unadjusted_prices_same_trades_and_final_equity_to_the_cent(unadjusted: dict[str, Any]) -> None:
    ref = sma_cross_reference(read_csv_bars(STOCKS, "AAPL"), fast=10, slow=30, lot=100, capital="1000000")
    compare(unadjusted, ref)


def test_adjusted_prices_same_trades_and_final_equity_to_the_cent(adjusted: dict[str, Any]) -> None:
    ref = sma_cross_reference(adjusted_bars("AAPL"), fast=10, slow=30, lot=100, capital="1000000")
    compare(adjusted, ref)
