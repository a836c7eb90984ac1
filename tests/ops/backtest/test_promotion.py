"""Promotion against the mandate: each check firing and not, the report, the install into a live ledger and
the audit line; refusals, a non-roster operator, a live home held by a runtime."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agents.director import KEY, NAMESPACE, CouncilSettings, PerformanceTracker
from ops.backtest import (
    PROMOTED,
    REFUSED,
    MandateSettings,
    PromotionBlocked,
    RunNotFound,
    RunPaths,
    evaluate_mandate,
    promote,
    write_json,
)
from runtime.lock import HomeLock
from storage.audit import AUDIT_FILE, verify
from storage.ledger import Ledger

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
RUN = "bt-20260105T110000-abc123"
MANDATE = MandateSettings(min_trades=10, min_sessions=20, max_drawdown=0.2, max_var_usage=1.0, max_hard_breaches=0)


def good_result() -> dict[str, Any]:
    return {
        "sessions": 250,
        "final_state": "RUNNING",
        "incidents": [],
        "metrics": {
            "trades": 30,
            "max_drawdown": 0.08,
            "var_usage": 0.6,
            "sharpe": 0.9,
            "breaches": {},
            "rejects": {"risk:var": 3},
        },
    }


def weights_doc() -> dict[str, Any]:
    tracker = PerformanceTracker(CouncilSettings())
    tracker.ensure(["technical", "macro"])
    tracker.stats["technical"].weight, tracker.stats["macro"].weight = 0.7, 0.3
    return tracker.export_weights()


def names(checks: list[Any]) -> dict[str, bool]:
    return {c.name: c.ok for c in checks}


def test_a_good_run_passes_every_check() -> None:
    checks = evaluate_mandate(good_result(), weights_doc(), MANDATE)
    assert all(c.ok for c in checks), [c.detail for c in checks if not c.ok]
    assert "sharpe" not in names(checks)  # no floor configured


@pytest.mark.parametrize(
    ("change", "failing"),
    [
        (lambda r: r.update(sessions=19), "sessions"),
        (lambda r: r["metrics"].update(trades=9), "trades"),
        (lambda r: r["metrics"].update(max_drawdown=0.2001), "max_drawdown"),
        (lambda r: r["metrics"].update(var_usage=1.01), "var_usage"),
        (lambda r: r["metrics"].update(var_usage=None), "var_usage"),
        (lambda r: r["metrics"].update(breaches={"kill_switch": 1}), "kill_switch"),
        (lambda r: r.update(final_state="PAUSED"), "final_state"),
        (lambda r: r.update(incidents=[{"id": "INC-1", "status": "open"}]), "open_incidents"),
        (lambda r: r["metrics"].update(breaches={"limit:single_name": 1}), "hard_breaches"),
    ],
)
def test_each_check_fires_alone(change: Any, failing: str) -> None:
    result = good_result()
    change(result)
    failed = [n for n, ok in names(evaluate_mandate(result, weights_doc(), MANDATE)).items() if not ok]
    assert failed == [failing]


def test_limits_at_the_boundary_pass_and_tolerances_are_honoured() -> None:
    result = good_result()
    result["metrics"].update(trades=10, max_drawdown=0.2, var_usage=1.0)
    result["sessions"] = 20
    assert all(c.ok for c in evaluate_mandate(result, weights_doc(), MANDATE))
    result["metrics"]["breaches"] = {"limit:var": 2, "stress:crash": 1}
    lenient = MANDATE.model_copy(update={"max_hard_breaches": 3})
    assert names(evaluate_mandate(result, weights_doc(), lenient))["hard_breaches"]
    assert not names(evaluate_mandate(result, weights_doc(), MANDATE))["hard_breaches"]
    strict = MANDATE.model_copy(update={"min_sharpe": 1.0})
    assert not names(evaluate_mandate(good_result(), weights_doc(), strict))["sharpe"]
    assert names(evaluate_mandate(good_result(), weights_doc(), MANDATE.model_copy(update={"min_sharpe": 0.5})))[
        "sharpe"
    ]
    assert not names(evaluate_mandate(good_result(), {"weights": {}}, MANDATE))["weights"]


def make_run(home: Path, result: dict[str, Any]) -> RunPaths:
    paths = RunPaths.of(home, RUN)
    write_json(paths.result, result)
    write_json(paths.performance, weights_doc())
    return paths


def audit_lines(home: Path) -> list[dict[str, Any]]:
    path = home / AUDIT_FILE
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def installed(home: Path) -> dict[str, float] | None:
    ledger = await Ledger.open(home / "ledger.sqlite", readonly=True)
    try:
        doc = await ledger.get_json(NAMESPACE, KEY)
    finally:
        await ledger.close()
    if doc is None:
        return None
    tracker = PerformanceTracker()
    tracker.restore(doc)
    return {p: s.weight for p, s in tracker.stats.items()}


async def test_a_pass_installs_the_weights_in_the_live_ledger_and_audits_who(tmp_path: Path) -> None:
    home = tmp_path / "live"
    paths = make_run(home, good_result())
    report, digest = await promote(
        home, RUN, operator="alice", reason="Q1 review", roster=["alice"], mandate=MANDATE, env="paper", now=NOW
    )
    assert report.passed
    assert report.installed
    assert report.weights == pytest.approx({"technical": 0.7, "macro": 0.3})
    assert await installed(home) == pytest.approx({"technical": 0.7, "macro": 0.3})
    assert digest == hashlib.sha256(paths.promotion_json.read_bytes()).hexdigest()
    assert json.loads(paths.promotion_json.read_text())["installed"] is True
    assert "PASSED" in paths.promotion_md.read_text()
    (line,) = audit_lines(home)
    assert (line["event"], line["actor"]) == (PROMOTED, "alice")
    assert line["data"]["run_id"] == RUN
    assert line["data"]["report_sha256"] == digest
    assert line["data"]["reason"] == "Q1 review"
    assert line["data"]["result_sha256"] == hashlib.sha256(paths.result.read_bytes()).hexdigest()
    assert verify(home / AUDIT_FILE).ok
    ledger = await Ledger.open(home / "ledger.sqlite", readonly=True)
    try:
        assert await ledger.audit_head() == (line["seq"], line["hash"])  # `audit verify` sees the new head
    finally:
        await ledger.close()


async def test_a_failing_run_is_refused_with_reasons_nothing_installed_refusal_audited(tmp_path: Path) -> None:
    home = tmp_path / "live"
    bad = copy.deepcopy(good_result())
    bad["metrics"].update(max_drawdown=0.35, trades=2)
    paths = make_run(home, bad)
    report, digest = await promote(
        home, RUN, operator="alice", reason="try", roster=["alice"], mandate=MANDATE, env="paper", now=NOW
    )
    assert not report.passed
    assert not report.installed
    assert any("max drawdown 35.00%" in f for f in report.failures)
    assert any("2 round trips" in f for f in report.failures)
    assert await installed(home) is None
    (line,) = audit_lines(home)
    assert (line["event"], line["actor"]) == (REFUSED, "alice")
    assert line["data"]["failures"] == report.failures
    assert line["data"]["report_sha256"] == digest
    assert "REFUSED" in paths.promotion_md.read_text()


async def test_an_operator_off_the_roster_is_refused_and_cannot_write_the_live_log(tmp_path: Path) -> None:
    home = tmp_path / "live"
    make_run(home, good_result())
    report, _ = await promote(
        home, RUN, operator="mallory", reason="x", roster=["alice"], mandate=MANDATE, env="paper", now=NOW
    )
    assert not report.passed
    assert any("not on the roster" in f for f in report.failures)
    assert audit_lines(home) == []
    assert not (home / "ledger.sqlite").exists()
    report, _ = await promote(home, RUN, operator="alice", reason=" ", roster=["alice"], mandate=MANDATE,
                              env="paper", now=NOW)  # fmt: skip
    assert not report.passed
    assert "a documented reason is required" in report.failures


async def test_a_live_home_held_by_a_runtime_blocks_the_install(tmp_path: Path) -> None:
    home = tmp_path / "live"
    paths = make_run(home, good_result())
    lock = HomeLock(home)
    lock.acquire("runtime")
    try:
        with pytest.raises(PromotionBlocked, match="stop the runtime"):
            await promote(home, RUN, operator="alice", reason="r", roster=["alice"], mandate=MANDATE, env="paper",
                          now=NOW)  # fmt: skip
    finally:
        lock.release()
    assert paths.promotion_json.exists()  # the verdict is on record beside the run
    assert not (home / "ledger.sqlite").exists()
    assert audit_lines(home) == []


async def test_an_unknown_run_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(RunNotFound):
        await promote(tmp_path, RUN, operator="alice", reason="r", roster=["alice"], mandate=MANDATE, env="paper",
                      now=NOW)  # fmt: skip
