"""The compliance agent behind the real risk agent in a real runtime: vetoes, owners told, kill switch."""

from __future__ import annotations

import json
from pathlib import Path

from agents.compliance import ComplianceSettings, LastFills, build_compliance_agent, final_orders, review, risk_approved
from agents.risk import build_risk_agent
from agents.types import COMPLIANCE_VERDICTS, RISK_VERDICTS, TRADE_PACK, TradePack, Verdicts
from runtime import topics
from runtime.agent import Agent
from runtime.health import health_report
from runtime.state import RuntimeState
from tests.agents.risk.helpers import intent, make_market
from tests.agents.risk.runtime_harness import Harness, at_close, close_of, hold, running

DATA = make_market()
DAYS = DATA.dates
VIEW = DATA.view(DAYS[-1])


def agents(settings: ComplianceSettings) -> list[Agent]:
    return [build_risk_agent(), build_compliance_agent(settings)]


def outputs(h: Harness) -> tuple[TradePack, Verdicts, Verdicts]:
    out = h.capture.outputs[-1]
    return out[TRADE_PACK], out[RISK_VERDICTS], out[COMPLIANCE_VERDICTS]


async def test_a_restricted_name_is_vetoed_the_owner_told_and_nothing_goes_out(tmp_path: Path, bus_env: str) -> None:
    settings = ComplianceSettings(restricted=["AAPL"])
    async with running(tmp_path / "home", bus_env, agents(settings), at_close(DAYS[-2])) as h:
        approvals = h.rt.bus.subscribe(topics.COMPLIANCE_APPROVAL)
        bad = intent("AAPL", "buy", 100, strategy="momentum")
        good = intent("JPM", "buy", 100, strategy="value")
        await h.tick(VIEW, [bad, good])
        pack, risk, compliance = outputs(h)
        assert all(v.approved for v in risk.items)
        veto = compliance.by_intent()[bad.id]
        assert not veto.approved
        assert veto.reasons == ["restricted: AAPL is on the restricted list"]
        assert final_orders(pack, risk, compliance) == [(good, 100)]
        (alert,) = await h.alerts_named("compliance_reject")
        assert alert["details"]["owner"] == "momentum"
        assert "strategy 'momentum'" in alert["message"]
        assert "restricted" in alert["message"]
        message = (await approvals.get(timeout=1)).envelope
        assert message.type == "verdicts"
        assert message.payload["agent"] == "compliance"
        lines = (h.rt.home / "audit" / "runtime_events.jsonl").read_text().splitlines()
        (audit,) = [json.loads(x) for x in lines if json.loads(x)["event"] == "compliance.verdicts"]
        assert audit["data"]["verdicts"][0]["strategy"] == "momentum"
        assert await h.persisted_state() == "RUNNING"


async def test_only_what_risk_approved_is_examined(tmp_path: Path, bus_env: str) -> None:
    async with running(tmp_path / "home", bus_env, agents(ComplianceSettings()), at_close(DAYS[-2])) as h:
        dead = intent("AAPL", "buy", 100, ref=150.0)  # outside risk's price collar
        live = intent("JPM", "buy", 100)
        await h.tick(VIEW, [dead, live])
        pack, risk, compliance = outputs(h)
        assert not risk.by_intent()[dead.id].approved
        closing = compliance.by_intent()[dead.id]  # dead already: not examined, and not a veto
        assert not closing.approved
        assert closing.reasons == ["not_examined: risk did not approve it"]
        assert compliance.by_intent()[live.id].approved
        assert final_orders(pack, risk, compliance) == [(live, 100)]
        assert await h.alerts_named("compliance_reject") == []
        assert (await health_report(h.rt))["agents"]["compliance"]["vetoes_in_window"] == 0


async def test_a_wash_trade_is_read_from_the_ledgers_fills(tmp_path: Path, bus_env: str) -> None:
    async with running(tmp_path / "home", bus_env, agents(ComplianceSettings()), at_close(DAYS[-8])) as h:
        await hold(h.ledger, "AAPL", 100, 100.0, at_close(DAYS[-8]), number=1)
        await hold(h.ledger, "AAPL", -100, 100.0, at_close(DAYS[-6]), number=2)  # sold out a few days ago
        await close_of(h.ledger, DAYS[-2], 1_000_000)
        rebuy, other = intent("AAPL", "buy", 100), intent("JPM", "buy", 100)
        await h.tick(VIEW, [rebuy, other])
        _, _, compliance = outputs(h)
        assert compliance.by_intent()[rebuy.id].reasons[0].startswith("wash_trade")
        assert compliance.by_intent()[other.id].approved


async def test_without_a_wash_window_the_fills_are_not_read_and_the_verdicts_are_the_same(
    tmp_path: Path, bus_env: str
) -> None:
    off = build_compliance_agent(ComplianceSettings(wash_window_days=0))
    async with running(tmp_path / "home", bus_env, [build_risk_agent(), off], at_close(DAYS[-8])) as h:
        await hold(h.ledger, "AAPL", 100, 100.0, at_close(DAYS[-8]), number=1)
        await hold(h.ledger, "AAPL", -100, 100.0, at_close(DAYS[-6]), number=2)
        await close_of(h.ledger, DAYS[-2], 1_000_000)
        rebuy, other = intent("AAPL", "buy", 100), intent("JPM", "buy", 100)
        await h.tick(VIEW, [rebuy, other])
        pack, risk, compliance = outputs(h)
        assert off.fills.rowid == 0  # never asked the ledger
        assert all(v.approved for v in compliance.items)  # no window: the re-buy is no wash trade
        # what the review gives with every fill read: the same verdicts
        approved = risk_approved(pack, risk)
        _, fills = await h.ledger.fills_after(0)
        assert fills
        read = LastFills()
        full = review(approved, await h.ledger.books(), VIEW, off.settings, await read.refresh(h.ledger), VIEW.as_of)
        assert full.items == compliance.items


async def test_repeated_vetoes_trip_the_compliance_kill_switch(tmp_path: Path, bus_env: str) -> None:
    settings = ComplianceSettings(restricted=["AAPL"], max_vetoes=3)
    async with running(tmp_path / "home", bus_env, agents(settings), at_close(DAYS[-2])) as h:
        for _ in range(2):
            await h.tick(VIEW, [intent("AAPL", "buy", 10)])
            h.clock.advance(60)
        assert await h.persisted_state() == "RUNNING"  # the mirror: below the count
        await h.tick(VIEW, [intent("AAPL", "buy", 10)])
        await h.wait_state(RuntimeState.HALTED)
        assert await h.persisted_state() == "HALTED"
        (incident,) = await h.ledger.incidents(status="open")
        assert incident.source == "compliance.kill_switch"
        assert incident.payload["metrics"]["vetoes"] == 3


async def test_the_veto_count_survives_a_restart(tmp_path: Path, bus_env: str) -> None:
    settings = ComplianceSettings(restricted=["AAPL"], max_vetoes=3)
    async with running(tmp_path / "home", bus_env, agents(settings), at_close(DAYS[-2])) as h:
        await h.tick(VIEW, [intent("AAPL", "buy", 10), intent("AAPL", "buy", 10, priority=1)])
        assert await h.persisted_state() == "RUNNING"
    async with running(tmp_path / "home", bus_env, agents(settings), at_close(DAYS[-1]), capital=None) as h:
        await h.tick(VIEW, [intent("AAPL", "buy", 10)])
        await h.wait_state(RuntimeState.HALTED)
        (incident,) = await h.ledger.incidents(status="open")
        assert incident.source == "compliance.kill_switch"


async def test_health_shows_the_rules(tmp_path: Path, bus_env: str) -> None:
    async with running(
        tmp_path / "home", bus_env, agents(ComplianceSettings(restricted=["XOM"])), at_close(DAYS[-2])
    ) as h:
        await h.tick(VIEW, [intent("XOM", "buy", 10)])
        report = await health_report(h.rt)
        compliance = report["agents"]["compliance"]
        assert compliance["rules"]["restricted"] == ["XOM"]
        assert compliance["vetoes_in_window"] == 1
