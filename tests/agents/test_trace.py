"""The decision trace: one record per symbol, every plug-in's vote, both verdicts and what execution did."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from agents.trace import decision_records, encode_record
from agents.types import (
    COMPLIANCE_VERDICTS,
    DIRECTIVE,
    EXECUTION_REPORT,
    PROPOSALS,
    RISK_VERDICTS,
    TRADE_PACK,
    Directive,
    ExecutionReport,
    OrderIntent,
    Proposal,
    TradePack,
    Verdict,
    Verdicts,
)
from runtime.agent import Tick

DAY = date(2024, 3, 1)


def intent(symbol: str, side: str = "buy") -> OrderIntent:
    return OrderIntent.model_validate(
        {
            "id": f"t1:{symbol}",
            "symbol": symbol,
            "side": side,
            "qty": 100,
            "ref_price": 1e-05 + 50,
            "priority": 0,
            "target_weight": 0.05,
            "current_weight": 0.0,
            "consensus": 0.4,
            "votes": {"technical": 0.2, "macro": 0.1},
            "rationale": "strong",
        }
    )


def tick() -> Tick:
    t = Tick("t1", 1, datetime(2024, 3, 1, 21, tzinfo=UTC))
    t.put(DIRECTIVE, Directive(as_of=DAY, universe=["AAA", "BBB", "CCC"], gross_target=0.8, max_names=5))
    t.put(
        PROPOSALS,
        [
            Proposal(plugin="technical", symbol="AAA", score=0.5, confidence=0.8, rationale="trend"),
            Proposal(plugin="macro", symbol="AAA", score=0.1, confidence=1e-05, rationale="calm"),
            Proposal(plugin="technical", symbol="BBB", score=-0.3, confidence=0.6, rationale="weak"),
            Proposal(plugin="macro", symbol="BBB", score=0.026443305517838703, confidence=1.0, rationale="ok"),
        ],
    )
    t.put(
        TRADE_PACK,
        TradePack(
            as_of=DAY,
            intents=[intent("AAA"), intent("BBB", "sell")],
            weights={"technical": 0.6, "macro": 0.4},
            no_trade={"CCC": "no plug-in has a view"},
        ),
    )
    t.put(
        RISK_VERDICTS,
        Verdicts(
            agent="risk",
            items=[
                Verdict(intent_id="t1:AAA", symbol="AAA", approved=True, qty=100),
                Verdict(intent_id="t1:BBB", symbol="BBB", approved=False, qty=0, reasons=["var: over"]),
            ],
        ),
    )
    t.put(
        COMPLIANCE_VERDICTS,
        Verdicts(agent="compliance", items=[Verdict(intent_id="t1:AAA", symbol="AAA", approved=True, qty=100)]),
    )
    t.put(EXECUTION_REPORT, ExecutionReport(submitted=["C-1"]))
    return t


def keys_sorted(doc: Any) -> bool:
    if isinstance(doc, dict):
        return list(doc) == sorted(doc) and all(keys_sorted(v) for v in doc.values())
    if isinstance(doc, list):
        return all(keys_sorted(v) for v in doc)
    return True


def test_one_record_per_symbol_with_votes_verdicts_and_outcome() -> None:
    records = {s: (o, r) for s, o, r in decision_records(tick())}
    assert {s: o for s, (o, _) in records.items()} == {"AAA": "sent", "BBB": "risk_rejected", "CCC": "no_intent"}
    aaa = records["AAA"][1]
    assert [v["plugin"] for v in aaa["votes"]] == ["macro", "technical"]  # plug-in order
    assert aaa["votes"][1] == {
        "confidence": 0.8,
        "plugin": "technical",
        "rationale": "trend",
        "score": 0.5,
        "weight": 0.6,
    }
    assert aaa["directive"] == {"avoid_signals": [], "gross_target": 0.8, "max_names": 5, "regime": "neutral"}
    assert aaa["why_no_trade"] is None
    assert aaa["intents"][0]["execution"] == "sent"
    assert records["BBB"][1]["why_no_trade"] == "risk: var: over"
    assert records["CCC"][1]["why_no_trade"] == "no plug-in has a view"
    assert records["CCC"][1]["votes"] == []


def test_the_stored_json_is_what_json_dumps_would_say_with_sorted_keys() -> None:
    for _, _, record in decision_records(tick()):
        text = encode_record(record)
        assert json.loads(text) == json.loads(json.dumps(record, sort_keys=True, default=str))
        assert keys_sorted(json.loads(text))
