"""The planner on the real XNYS calendar: holidays, closures, early closes, DST, the runbook's times."""

from __future__ import annotations

from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from ops.scheduler import TradingCalendar, default_jobs, plan_days, plan_sessions
from ops.scheduler.plan import PlannedRun, plan_day

NY = ZoneInfo("America/New_York")
CAL = TradingCalendar("XNYS")
JOBS = default_jobs()
SESSION_JOBS = {
    "health_check",
    "data_ingestion",
    "pretrade_review",
    "run_daily_trade",
    "reconciliation",
    "midday_check",
    "eod_closure",
    "daily_report",
}


def local_times(runs: list[PlannedRun], tz: ZoneInfo = NY) -> dict[str, time]:
    return {r.job: r.local(tz).time() for r in runs}


def test_a_regular_session_follows_the_runbook_table() -> None:
    runs = plan_day(date(2026, 11, 24), CAL, NY, JOBS)
    assert local_times(runs) == {
        "health_check": time(8, 0),
        "data_ingestion": time(8, 15),
        "pretrade_review": time(9, 0),
        "run_daily_trade": time(9, 30),
        "reconciliation": time(10, 0),
        "midday_check": time(12, 0),
        "eod_closure": time(16, 0),
        "daily_report": time(16, 30),
        "audit_archive": time(23, 45),
    }
    assert [r.job for r in runs] == [r.job for r in sorted(runs, key=lambda r: r.at)]


@pytest.mark.parametrize(
    ("day", "why"),
    [
        (date(2025, 1, 9), "national day of mourning"),
        (date(2026, 11, 26), "Thanksgiving"),
        (date(2026, 11, 28), "Saturday"),
    ],
)
def test_no_trading_day_job_when_the_exchange_is_closed(day: date, why: str) -> None:
    runs = plan_day(day, CAL, NY, JOBS)
    assert not CAL.is_session(day), why
    assert "run_daily_trade" not in {r.job for r in runs}
    assert not SESSION_JOBS & {r.job for r in runs}
    assert "audit_archive" in {r.job for r in runs}  # maintenance still runs on calendar days


def test_the_days_around_a_closure_still_trade() -> None:
    trades = [r.day for r in plan_days(date(2025, 1, 8), 3, CAL, NY, JOBS) if r.job == "run_daily_trade"]
    assert trades == [date(2025, 1, 8), date(2025, 1, 10)]


def test_an_early_close_moves_the_close_relative_jobs() -> None:
    times = local_times(plan_day(date(2026, 11, 27), CAL, NY, JOBS))
    assert CAL.session(date(2026, 11, 27)).early_close  # type: ignore[union-attr]
    assert times["eod_closure"] == time(13, 0)
    assert times["daily_report"] == time(13, 30)
    assert times["run_daily_trade"] == time(9, 30)  # open-relative jobs do not move
    assert times["midday_check"] == time(12, 0)


def test_a_regular_close_is_not_early() -> None:
    assert not CAL.session(date(2026, 11, 24)).early_close  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("before", "after"),
    [(date(2026, 3, 6), date(2026, 3, 9)), (date(2026, 10, 30), date(2026, 11, 2))],
    ids=["spring-forward", "fall-back"],
)
def test_dst_keeps_local_times_and_moves_utc(before: date, after: date) -> None:
    first, second = plan_day(before, CAL, NY, JOBS), plan_day(after, CAL, NY, JOBS)
    assert local_times(first) == local_times(second)
    shift = {r.job: r.at.time() for r in first}, {r.job: r.at.time() for r in second}
    assert all(shift[0][job] != shift[1][job] for job in SESSION_JOBS)  # the UTC instants moved by an hour


def test_the_wall_clock_jobs_on_the_dst_day_itself() -> None:
    runs = plan_day(date(2026, 3, 8), CAL, NY, JOBS)  # Sunday, clocks jump 02:00 -> 03:00
    archive = next(r for r in runs if r.job == "audit_archive")
    assert archive.local(NY).time() == time(23, 45)
    assert archive.local(NY).utcoffset() == timedelta(hours=-4)


def test_weekly_rotation_only_on_saturday_morning() -> None:
    runs = [r for r in plan_days(date(2026, 11, 23), 7, CAL, NY, JOBS) if r.job == "audit_rotate"]
    assert [(r.day, r.local(NY).time()) for r in runs] == [(date(2026, 11, 28), time(10, 0))]


def test_the_zone_setting_does_not_move_trading_jobs() -> None:
    pacific = ZoneInfo("America/Los_Angeles")
    ny_runs = {r.job: r.at for r in plan_day(date(2026, 11, 24), CAL, NY, JOBS)}
    la_runs = plan_day(date(2026, 11, 24), CAL, pacific, default_jobs())
    assert {r.job: r.at for r in la_runs if r.job in SESSION_JOBS} == {j: ny_runs[j] for j in SESSION_JOBS}
    assert local_times(la_runs, pacific)["run_daily_trade"] == time(6, 30)  # the NYSE open, shown in PT


def test_plan_sessions_counts_sessions_not_days() -> None:
    runs = plan_sessions(date(2026, 11, 25), 3, CAL, NY, JOBS)
    trades = [r.day for r in runs if r.job == "run_daily_trade"]
    assert trades == [date(2026, 11, 25), date(2026, 11, 27), date(2026, 11, 30)]


def test_the_calendar_widens_itself_for_far_dates() -> None:
    cal = TradingCalendar("XNYS")
    assert cal.session(date(2031, 12, 25)) is None  # Christmas, years past the library's default window
    assert cal.session(date(2031, 12, 26)) is not None
