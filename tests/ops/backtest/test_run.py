"""A backtest over the real bars of tests/data through the real ``agenthedge`` executable: every artifact,
identical results on a second run and from the run's own config.json, list/show, promotion refused and
passed; and, in process, an agent that tries to look ahead."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from agents.market import LookAheadError, MarketView
from agents.types import MARKET
from ops.backtest import METRIC_KEYS, BacktestSettings, BacktestSpec, RunPaths, new_run_id, run_backtest
from runtime.agent import Agent, Stage, Tick
from storage.audit import AUDIT_FILE, verify
from tests.app.daemon_harness import Deployment

STOCKS = Path(__file__).resolve().parents[2] / "data" / "stocks.csv.gz"
ARGS = (
    "backtest",
    "--symbol",
    "AAPL",
    "--symbol",
    "IBM",
    "--symbol",
    "MSFT",
    "--start",
    "2011-01-03",
    "--end",
    "2011-12-30",
    "--data",
    str(STOCKS),
    "--capital",
    "1000000",
    "--json",
)
FILES = {"result.json", "run.json", "config.json", "portfolio.json", "performance.json", "audit.jsonl", "equity.svg"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Deployment, list[Path]]:
    base = tmp_path_factory.mktemp("bt")
    live = Deployment(home=base / "home", bus="memory://", env="paper")
    dirs = []
    for _ in range(2):
        done = live.cli(*ARGS, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        dirs.append(Path(json.loads(done.stdout)["dir"]))
    return live, dirs


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def test_every_artifact_is_written(runs: tuple[Deployment, list[Path]]) -> None:
    _, (run, _) = runs
    assert {p.name for p in run.iterdir()} >= FILES
    result = load(run / "result.json")
    assert sorted(result["metrics"]) == sorted(METRIC_KEYS)  # exactly the keys of issue 4
    assert result["sessions"] == 252
    assert len(result["nav"]) == 252
    assert result["nav"][0]["date"] == "2011-01-03"
    assert result["nav"][-1]["date"] == "2011-12-30"
    assert result["fills"]
    assert result["trades"]
    assert set(result["pnl_by_symbol"]) <= {"AAPL", "IBM", "MSFT"}
    assert result["final_state"] == "RUNNING"
    assert result["ticks"] == {"completed": 252}
    m = result["metrics"]
    assert m["final_equity"] == result["nav"][-1]["nav"]
    pnl = sum(p["total"] for p in result["pnl_by_symbol"].values())
    assert pnl == pytest.approx(m["final_equity"] - 1_000_000, abs=0.01)  # P&L by symbol adds up to the NAV
    assert result["risk"]["var_source"] == "risk_agent"
    portfolio = load(run / "portfolio.json")
    assert portfolio["nav"] == pytest.approx(m["final_equity"], abs=1e-6)
    weights = load(run / "performance.json")["weights"]
    assert weights
    assert sum(weights.values()) == pytest.approx(1.0)
    config = load(run / "config.json")
    assert config["data"]["file_sha256"] == hashlib.sha256(STOCKS.read_bytes()).hexdigest()
    assert config["data"]["bars_sha256"] == result["data_sha256"]
    assert {"core", "runtime", "data", "council", "risk", "compliance", "execution"} <= set(config["settings"])
    assert config["environment"]["AGENTHEDGE_ENV"] == "backtest"
    assert config["code_version"]
    info = load(run / "run.json")
    assert info["run_id"] == run.name
    assert info["bars"] == 3 * 252
    assert info["bars_per_second"] > 0
    assert run.name not in (run / "result.json").read_text()  # the run id stays out of the result
    assert verify(run / "audit.jsonl").ok
    assert (run / "home" / AUDIT_FILE).read_bytes() == (run / "audit.jsonl").read_bytes()
    ET.fromstring((run / "equity.svg").read_text())


def test_the_run_has_its_own_home_and_live_is_untouched(runs: tuple[Deployment, list[Path]]) -> None:
    live, (run, _) = runs
    assert (run / "home" / "ledger.sqlite").exists()
    assert not (live.home / "ledger.sqlite").exists()
    assert not (live.home / AUDIT_FILE).exists()


def test_two_runs_give_identical_results(runs: tuple[Deployment, list[Path]]) -> None:
    _, (first, second) = runs
    assert first.name != second.name
    for name in ("result.json", "portfolio.json", "performance.json", "equity.svg"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert load(first / "run.json")["run_id"] != load(second / "run.json")["run_id"]


def test_config_json_is_enough_to_reproduce(runs: tuple[Deployment, list[Path]], tmp_path: Path) -> None:
    _, (run, _) = runs
    config = load(run / "config.json")
    again = Deployment(home=tmp_path / "elsewhere", bus="memory://", env="paper")
    command = config["command"][1:]  # without the program name
    done = again.cli(*command, "--config", str(run / "config.json"), "--json", timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rerun = Path(json.loads(done.stdout)["dir"])
    assert (rerun / "result.json").read_bytes() == (run / "result.json").read_bytes()


def test_list_and_show(runs: tuple[Deployment, list[Path]]) -> None:
    live, (first, second) = runs
    listed = live.json("backtest", "list", "--json")
    assert [r["run_id"] for r in listed] == sorted([first.name, second.name])
    shown = live.json("backtest", "show", first.name, "--json")
    assert shown["metrics"] == load(first / "result.json")["metrics"]
    assert set(shown["files"]) >= FILES
    text = live.cli("backtest", "show", first.name)
    assert text.returncode == 0
    assert "final equity" in text.stdout
    assert "max drawdown" in text.stdout
    assert live.cli("backtest", "show", "bt-20000101T000000-000000").returncode == 1
    table = live.cli("backtest", "list")
    assert first.name in table.stdout
    assert "AAPL,IBM,MSFT" in table.stdout


def test_promotion_refused_then_passed_and_audited(runs: tuple[Deployment, list[Path]]) -> None:
    live, (run, _) = runs
    strict = Deployment(live.home, live.bus, live.env, extra_env={"MANDATE_MAX_DRAWDOWN": "0.0001"})
    refused = strict.cli("backtest", "promote", run.name, "--operator", "alice", "--reason", "quarterly review")
    assert refused.returncode == 1
    assert "refused" in refused.stderr
    assert "max drawdown" in refused.stderr
    outsider = live.cli("backtest", "promote", run.name, "--operator", "mallory", "--reason", "x")
    assert outsider.returncode == 1
    assert "not on the roster" in outsider.stderr
    lenient = Deployment(
        live.home,
        live.bus,
        live.env,
        extra_env={"MANDATE_MIN_TRADES": "1", "MANDATE_MAX_DRAWDOWN": "0.5", "MANDATE_MAX_HARD_BREACHES": "1000"},
    )
    passed = lenient.cli("backtest", "promote", run.name, "--operator", "alice", "--reason", "quarterly review")
    assert passed.returncode == 0, passed.stderr
    assert "weights installed for live" in passed.stdout
    events = [json.loads(line) for line in (live.home / AUDIT_FILE).read_text().splitlines()]
    assert [(e["event"], e["actor"]) for e in events] == [
        ("backtest.promotion_refused", "alice"),
        ("backtest.promoted", "alice"),
    ]
    report = run / "promotion.json"
    assert events[-1]["data"]["report_sha256"] == hashlib.sha256(report.read_bytes()).hexdigest()
    assert events[-1]["data"]["weights"] == pytest.approx(load(run / "performance.json")["weights"])
    assert live.cli("audit", "verify").returncode == 0
    assert "installed" in live.cli("backtest", "list").stdout


def test_bad_requests_are_usage_errors(runs: tuple[Deployment, list[Path]]) -> None:
    live, _ = runs
    assert live.cli("backtest", "--symbol", "AAPL", "--end", "2011-01-31").returncode == 2  # no --start
    assert (
        live.cli(
            "backtest", "--symbol", "AAPL", "--start", "2011-01-03", "--end", "2011-01-31", "--fast", "5"
        ).returncode
        == 2
    )  # fmt: skip  (--fast without sma-cross)
    assert (
        live.cli(
            "backtest", "--start", "2011-01-03", "--end", "2011-01-31", "--data", str(STOCKS), "--provider", "demo"
        ).returncode
        == 2
    )


def test_a_run_without_data_for_a_symbol_is_refused_with_the_reason(runs: tuple[Deployment, list[Path]]) -> None:
    live, _ = runs
    before = {p.name for p in (live.home / "backtests").iterdir()}
    unknown = live.cli(
        "backtest",
        "--symbol",
        "AAPL",
        "--symbol",
        "NOPE",
        "--start",
        "2011-01-03",
        "--end",
        "2011-03-31",
        "--data",
        str(STOCKS),
    )
    assert unknown.returncode == 1
    assert "backtest refused: no bars between 2011-01-03 and 2011-03-31 for NOPE" in unknown.stderr
    assert live.json("backtest", "list", "--json")[-1]["run_id"] in before  # no result for a refused run
    # AAPL's real -52% of 2000-09-29 is checked on its own session (no look-ahead): AAPL still trades
    crash = live.cli(
        "backtest",
        "--symbol",
        "AAPL",
        "--symbol",
        "IBM",
        "--start",
        "2000-03-01",
        "--end",
        "2000-12-29",
        "--data",
        str(STOCKS),
    )
    assert crash.returncode == 0, crash.stderr


class Peeker(Agent):
    """A strategy stage agent that checks what it may see, and tries to read the next session."""

    name = "peeker"
    stage = Stage.COUNCIL

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[date, date, int]] = []
        self.refused = 0

    async def on_tick(self, tick: Tick) -> None:
        view = tick.get(MARKET, MarketView)
        assert view is not None
        last = view.data.dates[view.row]
        self.seen.append((tick.ts.date(), last, view.closes("AAPL").size))
        try:
            view.headlines(days=1)
            view._check(view.as_of + timedelta(days=1))
        except LookAheadError:
            self.refused += 1


async def test_no_agent_sees_past_the_simulated_now(tmp_path: Path) -> None:
    from app.cli_backtest import backtest_config, build_backtest_replay
    from app.wiring import load_config

    spec = BacktestSpec(("AAPL",), date(2011, 1, 3), date(2011, 2, 28), 1_000_000.0, data_path=str(STOCKS))
    paths = RunPaths.of(tmp_path, new_run_id(__import__("datetime").datetime(2026, 1, 1)))
    config = backtest_config(load_config(home=tmp_path), paths.home, spec, "backtest")
    replay = build_backtest_replay(config, spec)
    peeker = Peeker()
    replay.runtime.registry.register(peeker)
    await run_backtest(paths, spec, replay, settings=config.sections(), backtest=BacktestSettings())
    assert len(peeker.seen) == 39
    for session, last_row, _n in peeker.seen:
        assert last_row == session  # the view ends at the session being ticked
    sizes = [n for _, _, n in peeker.seen]
    assert sizes == sorted(sizes)
    assert sizes[1] == sizes[0] + 1
    assert peeker.refused == 39  # every attempt to read the next session was refused
