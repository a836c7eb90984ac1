"""FailoverProvider: runbook SOP 2 (quarantine, switch to backup, report the impacted signals)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from agents.data import (
    CsvProvider,
    DataQualityEvent,
    Dataset,
    DatasetKey,
    DatasetUnavailable,
    DemoProvider,
    FailoverProvider,
    Fundamentals,
    MacroObservation,
    ManualClock,
    ProviderUnreachable,
    QualityAction,
    SymbolNotFound,
)
from tests.agents.data.fakes import FakeProvider, headline, make_bars

START, END = date(2024, 1, 2), date(2024, 3, 28)
NOW = datetime(2024, 3, 28, 22, tzinfo=UTC)


def pair() -> tuple[FakeProvider, FakeProvider, ManualClock, FailoverProvider]:
    clock = ManualClock(NOW)
    primary = FakeProvider("vendor", bars={s: make_bars(s, START, END) for s in ("AAA", "BBB", "CCC")})
    backup = FakeProvider("spare", bars={s: make_bars(s, START, END, base=50.0) for s in ("AAA", "BBB", "CCC")})
    return primary, backup, clock, FailoverProvider(primary, backup, clock=clock, quarantine_seconds=600)


async def test_clean_primary_is_served_without_events() -> None:
    primary, backup, _, fo = pair()
    out = await fo.bars(["AAA", "BBB"], START, END)
    assert out == {s: primary.data_bars[s] for s in ("AAA", "BBB")}
    assert backup.calls == []
    assert fo.events == []
    assert fo.quarantined == frozenset()


async def test_bad_data_is_quarantined_and_served_from_backup() -> None:
    primary, backup, clock, fo = pair()
    seen: list[DataQualityEvent] = []
    fo.add_listener(seen.append)
    bad = primary.data_bars["BBB"]
    bad[20] = replace(bad[20], close=float("nan"))
    out = await fo.bars(["AAA", "BBB", "CCC"], START, END)
    assert out["AAA"] == primary.data_bars["AAA"]
    assert out["BBB"] == backup.data_bars["BBB"]  # the backup's copy, not the suspect one
    assert list(out) == ["AAA", "BBB", "CCC"]
    key = DatasetKey("vendor", Dataset.BARS, "BBB")
    assert fo.quarantined == {key}
    assert fo.impacted_signals() == {"technical": frozenset({"BBB"})}
    [event] = fo.events
    assert seen == [event]
    assert event.action is QualityAction.FAILED_OVER
    assert event.checks_failed == {"missing"}
    assert event.impacted_signals == {"technical"}
    assert (event.provider, event.backup, event.symbol, event.key) == ("vendor", "spare", "BBB", key)
    assert event.ts == NOW
    payload = json.loads(json.dumps(event.to_dict()))
    assert payload["action"] == "failed_over"
    assert payload["checks_failed"] == ["missing"]
    health = await fo.health()
    assert health.ok
    assert health.quarantined == {key}

    # while quarantined, the primary is not asked for BBB and nothing new is reported
    primary.calls.clear()
    again = await fo.bars(["AAA", "BBB"], START, END)
    assert again["BBB"] == backup.data_bars["BBB"]
    assert primary.symbols_called("bars") == ["AAA"]
    assert len(fo.events) == 1

    # after the quarantine the primary is tried again; fixed data restores it
    bad[20] = replace(bad[20], close=bad[20].open)
    clock.advance(601)
    restored = await fo.bars(["BBB"], START, END)
    assert restored["BBB"] == primary.data_bars["BBB"]
    assert fo.events[-1].action is QualityAction.RESTORED
    assert fo.quarantined == frozenset()
    assert fo.impacted_signals() == {}


async def test_still_bad_after_expiry_is_quarantined_again() -> None:
    primary, _, clock, fo = pair()
    primary.data_bars["AAA"] = primary.data_bars["AAA"][:-10]  # two weeks stale
    await fo.bars(["AAA"], START, END)
    clock.advance(601)
    await fo.bars(["AAA"], START, END)
    assert [e.action for e in fo.events] == [QualityAction.FAILED_OVER, QualityAction.FAILED_OVER]
    assert all(e.checks_failed == {"stale"} for e in fo.events)


async def test_provider_error_isolated_to_the_failing_symbol() -> None:
    primary, backup, _, fo = pair()
    primary.fail_symbols["CCC"] = ProviderUnreachable("vendor", "connect timeout")
    out = await fo.bars(["AAA", "BBB", "CCC"], START, END)
    assert out["AAA"] == primary.data_bars["AAA"]
    assert out["CCC"] == backup.data_bars["CCC"]
    [event] = fo.events
    assert event.checks_failed == {"provider_error"}
    assert "connect timeout" in event.detail
    assert backup.symbols_called("bars") == ["CCC"]


async def test_without_backup_the_key_is_withheld() -> None:
    clock = ManualClock(NOW)
    primary = FakeProvider("vendor", bars={"AAA": make_bars("AAA", START, END)})
    fo = FailoverProvider(primary, clock=clock)
    primary.data_bars["AAA"][5] = replace(primary.data_bars["AAA"][5], low=-1.0)
    assert await fo.bars(["AAA", "ZZZ"], START, END) == {}
    actions = {e.symbol: (e.action, e.checks_failed) for e in fo.events}
    assert actions == {
        "AAA": (QualityAction.QUARANTINED, frozenset({"non_positive"})),
        "ZZZ": (QualityAction.QUARANTINED, frozenset({"provider_error"})),
    }
    assert fo.name == "vendor"


async def test_backup_bad_too_is_quarantined_with_both_reasons() -> None:
    primary, backup, clock, fo = pair()
    primary.fail_all = ProviderUnreachable("vendor", "down")
    backup.data_bars["AAA"] = backup.data_bars["AAA"][:3]  # stale
    out = await fo.bars(["AAA", "BBB"], START, END)
    assert list(out) == ["BBB"]
    events = {e.symbol: e for e in fo.events}
    assert events["AAA"].action is QualityAction.QUARANTINED
    assert "backup spare" in events["AAA"].detail
    assert "stale" in events["AAA"].detail
    assert events["BBB"].action is QualityAction.FAILED_OVER
    # the backup's copy is quarantined too; once both quarantines expire, a recovered backup serves
    backup.data_bars["AAA"] = make_bars("AAA", START, END, base=50.0)
    assert await fo.bars(["AAA"], START, END) == {}
    clock.advance(601)
    before = len(fo.events)
    assert (await fo.bars(["AAA"], START, END))["AAA"] == backup.data_bars["AAA"]
    new = [(e.provider, e.action) for e in fo.events[before:]]
    assert new == [("spare", QualityAction.RESTORED), ("vendor", QualityAction.FAILED_OVER)]


async def test_release_by_operator() -> None:
    primary, _, _, fo = pair()
    primary.fail_all = ProviderUnreachable("vendor", "down")
    await fo.bars(["AAA"], START, END)
    primary.fail_all = None
    fo.release(DatasetKey("vendor", Dataset.BARS, "AAA"))
    assert (await fo.bars(["AAA"], START, END))["AAA"] == primary.data_bars["AAA"]
    assert fo.events[-1].action is QualityAction.RESTORED


async def test_dataset_routing_and_impacted_signals_per_dataset() -> None:
    clock = ManualClock(NOW)
    primary = FakeProvider("csv", bars={}, capabilities=frozenset({Dataset.BARS}))
    day = date(2024, 3, 27)
    good = Fundamentals("AAA", date(2024, 2, 1), "Tech", 2.0, 10.0, 0.1, 0.2, 1e9, 20.0, 40.0)
    backup = FakeProvider(
        "spare",
        fundamentals={"AAA": good, "BBB": replace(good, symbol="BBB", asof=date(2024, 4, 30))},
        headlines={"AAA": [headline("AAA", i, day) for i in range(3)]},
        macro={"rates": [MacroObservation("rates", date(2023, m, 1), 4.0) for m in range(1, 13)]},
    )
    fo = FailoverProvider(primary, backup, clock=clock)
    news = await fo.headlines(["AAA"], datetime(2024, 3, 1, tzinfo=UTC), NOW)
    assert len(news["AAA"]) == 3  # primary has no headlines: the backup serves them, nothing to report
    assert fo.events == []
    fund = await fo.fundamentals(["AAA", "BBB"], day)
    assert list(fund) == ["AAA"]  # BBB's snapshot is dated after the as-of date
    [event] = fo.events
    assert (event.dataset, event.action, event.checks_failed) == (
        Dataset.FUNDAMENTALS,
        QualityAction.QUARANTINED,
        frozenset({"lookahead"}),
    )
    assert event.impacted_signals == {"fundamental"}
    assert (event.provider, event.backup) == ("spare", None)  # the backup is the only source here
    macro = await fo.macro(["rates"], date(2023, 1, 1), date(2024, 3, 28))
    assert macro == {}  # last observation 2023-12 is stale on 2024-03-28
    assert fo.events[-1].impacted_signals == {"macro"}
    assert fo.events[-1].checks_failed == {"stale"}


async def test_neither_source_serves_the_dataset() -> None:
    clock = ManualClock(NOW)
    csv_only = FakeProvider("a", capabilities=frozenset({Dataset.BARS}))
    fo = FailoverProvider(csv_only, FakeProvider("b", capabilities=frozenset({Dataset.BARS})), clock=clock)
    with pytest.raises(DatasetUnavailable):
        await fo.macro(["rates"], START, END)


async def test_listener_errors_do_not_break_serving() -> None:
    primary, backup, _, fo = pair()

    def broken(_: DataQualityEvent) -> None:
        raise RuntimeError("listener bug")

    fo.add_listener(broken)
    primary.fail_symbols["AAA"] = SymbolNotFound("vendor", "AAA")
    assert (await fo.bars(["AAA"], START, END))["AAA"] == backup.data_bars["AAA"]
    await fo.aclose()
    assert primary.closed
    assert backup.closed


async def test_real_sources_stale_csv_fails_over_to_demo(tmp_path: Path) -> None:
    """Real providers end to end: a CSV that stopped updating fails over to the demo source."""
    (tmp_path / "MSFT.csv").write_text(
        "Date,Open,High,Low,Close,Volume\n"
        + "".join(f"2024-01-{d:02d},370,375,365,372,1000\n" for d in (2, 3, 4, 5, 8, 9, 10))
    )
    clock = ManualClock(datetime(2024, 2, 1, 22, tzinfo=UTC))
    fo = FailoverProvider(CsvProvider(tmp_path), DemoProvider(seed=1), clock=clock)
    out = await fo.bars(["MSFT"], date(2024, 1, 1), date(2024, 2, 1))
    assert out["MSFT"][-1].date == date(2024, 2, 1)
    assert out["MSFT"] == (await DemoProvider(seed=1).bars(["MSFT"], date(2024, 1, 1), date(2024, 2, 1)))["MSFT"]
    [event] = fo.events
    assert event.checks_failed == {"stale"}
    assert (event.provider, event.backup) == ("csv", "demo")
