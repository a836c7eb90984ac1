"""Breaches and rejects by reason, from audit records shaped as the agents write them."""

from __future__ import annotations

from typing import Any

from ops.backtest.events import scan_audit


def alert(action: str, details: dict[str, Any], message: str = "") -> dict[str, Any]:
    return {"event": "alert.raised", "data": {"action": action, "details": details, "message": message}}


def verdicts(event: str, *items: tuple[bool, list[str]]) -> dict[str, Any]:
    return {"event": event, "data": {"verdicts": [{"approved": ok, "reasons": why} for ok, why in items]}}


def test_rejects_count_once_per_rule_of_each_refused_verdict() -> None:
    events = scan_audit(
        [
            verdicts(
                "risk.verdicts",
                (False, ["max_position: 12% of NAV", "var: 5% > 4%"]),
                (False, ["var: again"]),
                (True, []),  # approved: not a reject
                (True, ["cut: max_order_notional_nav"]),  # a cut is approved, not a reject
            ),
            verdicts("compliance.verdicts", (False, ["wash_trade: sold 3 days ago"]), (True, [])),
            {"event": "execution.fail_closed", "data": {"intents": {"i1": "no verdict", "i2": "no verdict"}}},
            verdicts("compliance.verdicts", (False, [])),
        ]
    )
    assert dict(events.rejects) == {
        "risk:max_position": 1,
        "risk:var": 2,
        "compliance:wash_trade": 1,
        "compliance:unspecified": 1,
        "execution:fail_closed": 2,
    }
    assert events.hard_breaches == 0


def test_hard_breaches_by_reason_and_soft_ones_apart() -> None:
    events = scan_audit(
        [
            alert("runtime_kill_switch", {}, "HALTED by kill switch (risk.kill_switch): daily loss"),
            alert("risk_alert", {"breaker": "daily_loss_pause", "tick_id": "t"}),
            alert("risk_alert", {"breaker": "drawdown"}),
            alert(
                "risk_alert",
                {
                    "limits": [
                        {"key": "single_name:AAPL", "utilisation": 1.02},
                        {"key": "sector:Technology", "utilisation": 0.85},
                        {"key": "var", "utilisation": 1.0},
                    ]
                },
            ),
            alert("risk_stress_breach", {"scenario": "crash_2008", "utilisation": 1.3}),
            alert("risk_reject", {"rejected": []}),  # a reject alert: counted from the verdicts, not here
            {"event": "runtime.transition", "data": {"from": "RUNNING", "to": "HALTED", "reason": "kill"}, "ts": "x"},
        ]
    )
    assert dict(events.breaches) == {
        "kill_switch": 1,
        "breaker:daily_loss_pause": 1,
        "breaker:drawdown": 1,
        "limit:single_name": 1,
        "limit:var": 1,
        "stress:crash_2008": 1,
    }
    assert dict(events.soft_breaches) == {"sector": 1}
    assert events.kill_switches == ["HALTED by kill switch (risk.kill_switch): daily loss"]
    assert events.transitions == [{"from": "RUNNING", "to": "HALTED", "reason": "kill", "ts": "x"}]
    assert events.alerts["risk_alert"] == 3
    assert events.hard_breaches == 6


def test_a_quiet_run_has_no_breaches_and_odd_lines_are_ignored() -> None:
    events = scan_audit(
        [
            {"event": "runtime.started", "data": {}},
            {"event": "alert.raised", "data": "not a mapping"},
            alert("risk_alert", {"limits": [{"key": "gross", "utilisation": 0.81}, "junk"]}),
            alert("data_quality", {"symbol": "AAPL"}),
        ]
    )
    assert not events.breaches
    assert not events.rejects
    assert dict(events.soft_breaches) == {"gross": 1}
    assert events.lines == 4
