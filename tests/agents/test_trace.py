"""The decision trace: one record per symbol, every plug-in's vote, both verdicts and what execution did."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic_core import to_json

from agents.trace import decision_records, decision_rows, encode_record
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


def old_rows(t: Tick) -> list[tuple[str, str, str, str, str]]:
    """What the trace agent stored before records were written from fragments."""
    pack = t.get(TRADE_PACK, TradePack)
    if pack is None:
        return []
    session = pack.as_of.isoformat()
    return [(t.id, session, s, o, to_json(r, fallback=str).decode()) for s, o, r in decision_records(t)]


def test_the_stored_rows_are_the_encoded_records_byte_for_byte() -> None:
    t = tick()
    assert decision_rows(t) == old_rows(t)
    assert [r[3] for r in decision_rows(t)] == ["sent", "risk_rejected", "no_intent"]
    empty = Tick("t0", 1, datetime(2024, 3, 1, 21, tzinfo=UTC))
    assert decision_rows(empty) == old_rows(empty) == []
    empty.put(TRADE_PACK, TradePack(as_of=DAY))
    assert decision_rows(empty) == old_rows(empty) == []


_text = st.text(max_size=12)
_unit = st.floats(-1, 1) | st.sampled_from([1e-05, -0.0, 0.0, 1.0, -1.0, 0.026443305517838703])
_price = st.floats(1e-06, 1e09) | st.sampled_from([1e16, 1e-05 + 50])
_weight = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([1e16, 1e-07, 123456789.0, 0.0])


@settings(max_examples=150, deadline=None)
@given(
    tick_id=_text,
    symbols=st.lists(_text, min_size=1, max_size=6, unique=True),
    plugins=st.lists(st.sampled_from(["technical", "macro", "é", 'q"t', "a\\b"]), min_size=1, max_size=3, unique=True),
    weights=st.dictionaries(st.sampled_from(["technical", "macro", "é"]), _weight, max_size=3),
    directive=st.none() | st.tuples(st.sampled_from(["neutral", "risk_on", "ünï\u2028"]), st.floats(0, 3)),
    data=st.data(),
)
def test_any_tick_stores_what_its_records_encode_to(
    tick_id: str,
    symbols: list[str],
    plugins: list[str],
    weights: dict[str, float],
    directive: tuple[str, float] | None,
    data: st.DataObject,
) -> None:
    t = Tick(tick_id, 1, datetime(2024, 3, 1, 21, tzinfo=UTC))
    if directive is not None:
        t.put(
            DIRECTIVE,
            Directive(as_of=DAY, universe=symbols, regime=directive[0], gross_target=directive[1], max_names=3,
                      avoid_signals=plugins[:1]),
        )  # fmt: skip
    proposals = [
        Proposal(plugin=plugin, symbol=symbol, score=data.draw(_unit), confidence=abs(data.draw(_unit)),
                 rationale=data.draw(_text))
        for symbol in symbols
        for plugin in plugins
        if data.draw(st.booleans())
    ]  # fmt: skip
    t.put(PROPOSALS, proposals)
    traded = [s for s in symbols if data.draw(st.booleans())]
    intents = [
        OrderIntent(id=f"{tick_id}:{s}", symbol=s, side="buy", qty=100, ref_price=data.draw(_price),
                    priority=i, target_weight=data.draw(_unit), current_weight=0.0, consensus=data.draw(_unit),
                    votes={p: data.draw(_unit) for p in plugins}, rationale=data.draw(_text))
        for i, s in enumerate(traded)
    ]  # fmt: skip
    no_trade = {s: data.draw(_text) for s in symbols if data.draw(st.booleans())}
    t.put(TRADE_PACK, TradePack(as_of=DAY, intents=intents, weights=weights, no_trade=no_trade))
    verdicts = [
        Verdict(intent_id=i.id, symbol=i.symbol, approved=data.draw(st.booleans()), qty=100, reasons=[data.draw(_text)])
        for i in intents
    ]
    t.put(RISK_VERDICTS, Verdicts(agent="risk", items=verdicts))
    t.put(COMPLIANCE_VERDICTS, Verdicts(agent="compliance", items=verdicts[::2]))
    t.put(EXECUTION_REPORT, ExecutionReport(failures={i.id: "venue down" for i in intents[1::3]}))
    assert decision_rows(t) == old_rows(t)


def test_symbols_kept_encoded_between_ticks_give_the_fresh_text(monkeypatch: pytest.MonkeyPatch) -> None:
    import agents.trace as trace_module

    monkeypatch.setattr(trace_module, "_SYMBOLS", {})
    monkeypatch.setattr(trace_module, "_SYMBOLS_KEPT", 2)  # emptied every other tick here
    for n in range(4):
        t = tick()
        t.put(TRADE_PACK, TradePack(as_of=DAY, no_trade={"CCC": "none", f'é"{n}': "none", "A\\B": "x"}))
        assert decision_rows(t) == old_rows(t)
    assert set(trace_module._SYMBOLS) == {"AAA", "BBB", "CCC", 'é"3', "A\\B"}  # the last tick's, after emptying
