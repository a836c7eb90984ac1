"""The pre-flight gate: every reason not to trade, each shown blocking and its mirror case passing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from ops.scheduler import approve, compare, default_limits, drive
from ops.scheduler.limits import snapshot
from runtime.clock import SimClock
from runtime.errors import Refused
from storage.records import NavPoint, Order
from tests.ops.scheduler.harness import (
    ComplianceLimits,
    FakeProvider,
    Limits,
    Rig,
    RiskLimits,
    alerts,
    audit_events,
    et,
    make_rig,
    reset_bus,
)

DAY = date(2026, 11, 24)


@pytest.fixture
async def rig(tmp_path: Path, bus_env: str) -> AsyncIterator[Rig]:
    clock = SimClock(et(DAY, 9, 30))
    made = await make_rig(tmp_path / "home", clock, bus_env)
    yield made
    await made.stop()
    reset_bus(bus_env)


async def gate_reasons(rig: Rig) -> dict[str, str]:
    result = await rig.scheduler.gate.evaluate(rig.clock.now())
    return {c.name: c.detail for c in result.checks if not c.ok}


async def test_everything_in_order_passes(rig: Rig) -> None:
    result = await rig.scheduler.gate.evaluate(rig.clock.now())
    assert result.ok, result.reasons
    assert [c.name for c in result.checks] == ["providers", "calendar", "kill_switch", "ledger", "limits"]


async def test_an_unapproved_limit_change_blocks_with_the_diff_then_passes_after_sign_off(rig: Rig) -> None:
    rig.limits.risk = RiskLimits(max_position_pct=0.20)
    rig.limits.compliance = ComplianceLimits(restricted=["XYZ", "ACME"])
    record = await rig.scheduler.run_now("run_daily_trade")
    assert record.status == "blocked"
    assert "risk.max_position_pct: 0.1 -> 0.2" in record.message
    assert "compliance.restricted: ['XYZ'] -> ['XYZ', 'ACME']" in record.message
    assert rig.agent.ticks == []
    [alert] = alerts(rig.rt.home, "trading_blocked")
    assert "limits approve" in alert["message"]
    assert audit_events(rig.rt.home, "preflight.blocked")

    baseline, changes = await approve(rig.rt, rig.limits(), operator="bob", reason="CR-42: wider single-name cap")
    assert {c.path for c in changes} == {"risk.max_position_pct", "compliance.restricted"}
    initial, approved = audit_events(rig.rt.home, "limits.approved")
    assert (initial["actor"], approved["actor"]) == ("alice", "bob")
    assert {c["path"] for c in approved["data"]["changes"]} == {"risk.max_position_pct", "compliance.restricted"}
    assert approved["data"]["previous_hash"] != baseline.hash
    again = await rig.scheduler.run_now("run_daily_trade")
    assert again.status == "ok"
    assert len(rig.agent.ticks) == 1


async def test_no_baseline_at_all_blocks(tmp_path: Path, bus_env: str) -> None:
    made = await make_rig(tmp_path / "fresh", SimClock(et(DAY, 9, 30)), bus_env, approve_limits=False)
    try:
        reasons = await gate_reasons(made)
        assert "no approved limits baseline" in reasons["limits"]
    finally:
        await made.stop()


async def test_sign_off_is_refused_off_the_roster_and_audited(rig: Rig) -> None:
    rig.limits.risk = RiskLimits(daily_loss_pct=0.10)
    with pytest.raises(Refused, match="not on the roster"):
        await approve(rig.rt, rig.limits(), operator="mallory", reason="trust me")
    with pytest.raises(Refused, match="a reason is required"):
        await approve(rig.rt, rig.limits(), operator="alice", reason="  ")
    refused = audit_events(rig.rt.home, "limits.refused")
    assert [r["actor"] for r in refused] == ["mallory", "alice"]
    assert refused[0]["data"]["changes"][0]["path"] == "risk.daily_loss_pct"
    assert "limits" in await gate_reasons(rig)  # still blocked


async def test_two_approvers_when_the_runtime_asks_for_two(rig: Rig) -> None:
    rig.rt.settings.resume_approvers = 2
    rig.limits.risk = RiskLimits(daily_loss_pct=0.05)
    with pytest.raises(Refused, match="second approver"):
        await approve(rig.rt, rig.limits(), operator="alice", reason="CR-7")
    with pytest.raises(Refused, match="different person"):
        await approve(rig.rt, rig.limits(), operator="alice", reason="CR-7", approver="alice")
    baseline, _ = await approve(rig.rt, rig.limits(), operator="alice", reason="CR-7", approver="bob")
    assert baseline.approver == "bob"
    assert "limits" not in await gate_reasons(rig)


async def test_outside_the_session_hours_and_on_a_holiday_block(rig: Rig) -> None:
    before_open = await rig.scheduler.gate.evaluate(et(DAY, 9, 29))
    assert "outside the session's hours" in dict((c.name, c.detail) for c in before_open.checks)["calendar"]
    holiday = await rig.scheduler.gate.evaluate(rig.clock.now(), window=et(date(2026, 11, 26), 10))
    assert "2026-11-26 is not a XNYS session" in holiday.reasons[0]
    half_day_after_close = await rig.scheduler.gate.evaluate(rig.clock.now(), window=et(date(2026, 11, 27), 13, 5))
    assert not half_day_after_close.ok
    half_day_before_close = await rig.scheduler.gate.evaluate(rig.clock.now(), window=et(date(2026, 11, 27), 12, 55))
    assert half_day_before_close.ok


async def test_the_kill_switch_latch_blocks(rig: Rig) -> None:
    incident = await rig.rt.kill(source="operator", reason="fat finger", actor="alice")
    reasons = await gate_reasons(rig)
    assert "kill switch latched" in reasons["kill_switch"]
    assert incident.id in reasons["kill_switch"]


async def test_a_broken_nav_identity_blocks_and_a_sound_one_passes(rig: Rig) -> None:
    books = rig.rt.books
    await books.record_nav(
        NavPoint(et(DAY, 9, 0), "2026-11-23", nav=1_000_000, cash=1_000_000, gross_exposure=0, net_exposure=0)
    )
    assert "ledger" not in await gate_reasons(rig)
    await books.record_nav(
        NavPoint(et(DAY, 9, 1), "2026-11-24", nav=1_000_500, cash=900_000, gross_exposure=100_000, net_exposure=100_000)
    )
    assert "NAV identity broken" in (await gate_reasons(rig))["ledger"]


async def test_an_order_in_unknown_status_blocks(rig: Rig) -> None:
    await rig.rt.books.insert_order(Order("U-1", "AAPL", "buy", 5, "PAPER", rig.clock.now(), status="unknown"))
    assert "need reconciliation (U-1)" in (await gate_reasons(rig))["ledger"]


async def test_an_unhealthy_provider_blocks(rig: Rig) -> None:
    rig.provider.script = [False]
    assert "HTTP 503" in (await gate_reasons(rig))["providers"]


async def test_the_gate_fails_closed_when_a_check_cannot_be_made(rig: Rig) -> None:
    def broken() -> dict[str, object]:
        raise ValueError("RISK_MAX_GROSS_LEVERAGE: not a number")

    rig.scheduler.gate.limits = broken
    reasons = await gate_reasons(rig)
    assert reasons["limits"].startswith("could not be checked: ValueError: RISK_MAX_GROSS_LEVERAGE")


async def test_the_0900_review_warns_ahead_of_the_window(tmp_path: Path, bus_env: str) -> None:
    clock = SimClock(et(DAY, 8, 59))
    made = await make_rig(tmp_path / "h", clock, bus_env, limits=Limits(risk=RiskLimits(max_position_pct=0.3)))
    made.limits.risk = RiskLimits(max_position_pct=0.5)
    try:
        [review] = await drive(made.scheduler, clock, et(DAY, 9, 1), only=lambda r: r.job == "pretrade_review")
        assert review.status == "blocked"
        assert review.data["window"] == et(DAY, 9, 30).isoformat()
        assert [c["name"] for c in review.data["checks"] if not c["ok"]] == ["limits"]  # not the calendar: 09:30 is in
        assert alerts(made.rt.home, "pretrade_review")
    finally:
        await made.stop()


def test_the_real_settings_are_read_as_generic_models() -> None:
    snap = snapshot(default_limits())
    assert set(snap) == {"risk", "compliance"}
    assert compare(default_limits(), None).changes  # every leaf is new against no baseline


def test_an_unchanged_limit_set_matches_its_own_baseline() -> None:
    limits = Limits()
    verdict = compare(limits(), None)
    assert not verdict.ok
    from ops.scheduler.limits import Baseline, digest

    snap = snapshot(limits())
    same = compare(limits(), Baseline(digest(snap), snap, "alice", None, "initial", "2026-11-24T00:00:00+00:00"))
    assert same.ok
    assert same.changes == []


def test_provider_fixture_scripts_health() -> None:
    provider = FakeProvider((False, True))
    assert provider.script == [False, True]
