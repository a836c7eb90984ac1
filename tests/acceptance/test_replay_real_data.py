"""Issue 3's replay acceptance: the real AAPL, IBM and MSFT bars of 2000-2013 through the whole pipeline.

Two replays run side by side as the operator would start them (``agenthedge runtime run-loop --replay``),
on two homes; their ledgers and decision traces must be identical, trades must happen, every order must
carry both approvals, every breach must be a recorded reject, and cash + positions must equal NAV at every
session, recomputed here independently from the fills and the file's adjusted closes.
"""

from __future__ import annotations

import csv
import gzip
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from tests.acceptance.books import one, snapshot
from tests.app.daemon_harness import Deployment

pytestmark = pytest.mark.slow
DATA = Path(__file__).resolve().parents[1] / "data" / "stocks.csv.gz"
SYMBOLS = ("AAPL", "IBM", "MSFT")
START, END = "2000-03-01", "2013-03-01"


def adjusted_closes() -> dict[str, dict[str, float]]:
    closes: dict[str, dict[str, float]] = defaultdict(dict)
    with gzip.open(DATA, "rt") as fh:
        for row in csv.DictReader(fh):
            if row["Ticker"] in SYMBOLS and START <= row["Date"] <= END:
                closes[row["Date"]][row["Ticker"]] = float(row["Adj Close"])
    return closes


@pytest.fixture(scope="module")
def replays(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    homes = []
    procs = []
    for name in ("first", "second"):
        base = tmp_path_factory.mktemp(name)
        deployment = Deployment(
            home=base / "home", bus="memory://", env="paper", extra_env={"RUNTIME_DURABLE": "false"}
        )
        args = ["runtime", "run-loop", "--replay", "--data", str(DATA), "--start", START, "--end", END]
        for symbol in SYMBOLS:
            args += ["--symbol", symbol]
        procs.append(
            subprocess.Popen(
                deployment.argv(*args),
                env=deployment.environ(),
                cwd=base,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
        homes.append(deployment.home)
    for proc in procs:
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-3000:]
        assert "replayed 3270 sessions" in out, out[-2000:]
    return homes[0], homes[1]


def test_two_replays_give_identical_ledgers_and_traces(replays: tuple[Path, Path]) -> None:
    first, second = (snapshot(home) for home in replays)
    for table in first:
        assert first[table] == second[table], f"{table} differs between two identical replays"


def test_trades_happen_and_every_order_carries_both_approvals(replays: tuple[Path, Path]) -> None:
    books = snapshot(replays[0])
    traded = {f["symbol"] for f in books["fills"]}
    assert len(books["fills"]) > 20
    assert traded == set(SYMBOLS), traded  # none silently dropped by a data check
    decisions = {(d["tick_id"], d["symbol"]): d["record"] for d in books["decisions"]}
    for order in books["orders"]:
        record = decisions.get((order["tick_id"], order["symbol"]))
        assert record is not None, f"order {order['client_order_id']} has no decision record"
        legs = [leg for leg in record["intents"] if leg["execution"] == "sent"]
        assert legs, f"order {order['client_order_id']} was sent without a decision that sent it"
        for leg in legs:
            assert leg["risk"]["approved"]
            assert leg["compliance"]["approved"]
            assert order["qty"] <= min(leg["risk"]["qty"], leg["compliance"]["qty"]) + 1e-9


def test_every_breach_is_a_recorded_reject(replays: tuple[Path, Path]) -> None:
    books = snapshot(replays[0])
    refused = [d["record"] for d in books["decisions"] if d["outcome"] in ("risk_rejected", "compliance_vetoed")]
    assert refused, "twelve years of trading without a single limit reached is not credible"
    for record in refused:
        assert record["why_no_trade"], record
        for leg in record["intents"]:
            for stage in ("risk", "compliance"):
                verdict = leg[stage]
                if verdict is not None and not verdict["approved"]:
                    assert verdict["reasons"], f"{stage} rejected {leg['intent_id']} without a reason"
    audit = (replays[0] / "audit" / "runtime_events.jsonl").read_text()
    assert '"action":"risk_reject"' in audit or '"action":"compliance_reject"' in audit


def test_cash_plus_positions_equals_nav_at_every_session(replays: tuple[Path, Path]) -> None:
    books = snapshot(replays[0])
    closes = adjusted_closes()
    capital = books["account"][0]["initial_capital"]
    fills = sorted(books["fills"], key=lambda f: (f["ts"], f["trade_id"]))
    navs = books["nav_history"]
    assert [p["session"] for p in navs] == sorted(closes), "one NAV point per session"
    cash, i = capital, 0
    qty: dict[str, float] = defaultdict(float)
    for point in navs:
        while i < len(fills) and fills[i]["ts"][:10] <= point["session"]:
            f = fills[i]
            sign = 1 if f["side"] == "buy" else -1
            qty[f["symbol"]] += sign * f["qty"]
            cash -= sign * f["qty"] * f["price"] + f["commission"]
            i += 1
        prices = closes[point["session"]]
        nav = cash + sum(q * prices[s] for s, q in qty.items() if q)
        assert point["cash"] == pytest.approx(cash, abs=0.01), point["session"]
        assert point["nav"] == pytest.approx(nav, abs=0.01), point["session"]
    assert i == len(fills), "every fill belongs to a session"


def test_the_run_ends_clean(replays: tuple[Path, Path]) -> None:
    home = replays[0]
    assert one(home, "SELECT state FROM runtime_state") != "HALTED"
    assert one(home, "SELECT count(*) FROM incidents") == 0
    assert one(home, "PRAGMA integrity_check") == "ok"
    done = Deployment(home=home, bus="memory://", env="paper").cli("audit", "verify")
    assert done.returncode == 0, done.stderr
