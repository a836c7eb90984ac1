"""The performance tracker: weights follow the better plug-in, penalties bite and fade, the state survives
JSON and SQLite, and weights move between a backtest and live."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agents.director import (
    CouncilSettings,
    PerformanceTracker,
    install_weights,
    load_tracker,
    save_tracker,
)
from agents.types import ExecutionReport, FillReport, OrderIntent, Proposal, TradePack, Verdict, Verdicts
from storage.ledger import Ledger
from tests.agents.director._council_helpers import prop

START = date(2021, 1, 4)
PLUGINS = ["bad", "good"]


def intent(symbol: str, votes: dict[str, float], side: str = "buy", qty: float = 10.0, iid: str = "") -> OrderIntent:
    return OrderIntent(
        id=iid or f"i:{symbol}",
        symbol=symbol,
        side=side,
        qty=qty,
        ref_price=100.0,
        priority=0,
        target_weight=0.01,
        current_weight=0.0,
        consensus=0.5,
        votes=votes,
    )


def _path(k: int) -> float:
    """The price on session k: up 1% from k-1 to k, except down 1% when k-1 is a multiple of 3."""
    level = 100.0
    for i in range(1, k + 1):
        level *= 0.99 if (i - 1) % 3 == 0 else 1.01
    return level


def train(tracker: PerformanceTracker, sessions: int, *, start: int = 0) -> list[dict[str, float]]:
    """``good`` calls the next session's move right every time, ``bad`` calls it wrong."""
    history = []
    for k in range(start, start + sessions):
        up_next = k % 3 != 0  # the move from k to k+1 (see _path)
        call = 0.8 if up_next else -0.8
        proposals = [prop("good", "X", call, 0.7), prop("bad", "X", -call, 0.7)]
        tracker.update(START + timedelta(days=k), plugins=PLUGINS, proposals=proposals, prices={"X": _path(k)})
        history.append(tracker.weights_for(PLUGINS))
    return history


def test_weights_move_toward_the_plugin_that_calls_the_market_right() -> None:
    tracker = PerformanceTracker(CouncilSettings())
    history = train(tracker, 80)
    assert history[0] == pytest.approx({"bad": 0.5, "good": 0.5}, abs=0.02)
    assert history[-1]["good"] > 0.8
    assert history[-1]["bad"] < 0.2
    assert history[-1]["bad"] >= CouncilSettings().weight_floor - 1e-9
    assert history[40]["good"] < history[-1]["good"]  # it keeps learning
    fb = tracker.feedback(
        START, tracker.update(START + timedelta(days=80), plugins=PLUGINS, proposals=[], prices={}), PLUGINS
    )
    assert fb.hit_rates["good"] > 0.8
    assert fb.hit_rates["bad"] < 0.2


def test_a_plugin_with_no_track_record_stays_even() -> None:
    tracker = PerformanceTracker(CouncilSettings())
    for k in range(10):
        tracker.update(START + timedelta(days=k), plugins=PLUGINS, proposals=[], prices={"X": 100.0})
    assert tracker.weights_for(PLUGINS) == pytest.approx({"bad": 0.5, "good": 0.5})


def test_weights_are_floored() -> None:
    unfloored = PerformanceTracker(CouncilSettings(weight_floor=0.0))
    train(unfloored, 200)
    assert unfloored.target_weights()["bad"] < 0.05
    floored = PerformanceTracker(CouncilSettings(weight_floor=0.3))
    train(floored, 200)
    target = floored.target_weights()
    assert 0.3 <= target["bad"] < 0.32
    assert sum(target.values()) == pytest.approx(1.0)


def rejected(kind: str, *intents: OrderIntent, cut: float | None = None) -> Verdicts:
    items = [
        Verdict(intent_id=i.id, symbol=i.symbol, approved=cut is not None, qty=cut or 0.0, reasons=[f"{kind}: no"])
        for i in intents
    ]
    return Verdicts(agent=kind, items=items)


def test_a_compliance_veto_penalises_the_plugins_behind_the_intent() -> None:
    tracker = PerformanceTracker(CouncilSettings())
    buy = intent("X", {"good": 0.4, "bad": -0.1})  # good pushed for it, bad was against
    pack = TradePack(as_of=START, intents=[buy])
    effects = tracker.update(
        START, plugins=PLUGINS, proposals=[], prices={}, pack=pack, compliance=rejected("compliance", buy)
    )
    assert tracker.stats["good"].penalty == pytest.approx(0.25)
    assert tracker.stats["bad"].penalty == 0.0
    assert "compliance vetoed i:X: compliance: no" in effects.penalties["good"][0]
    assert tracker.weights_for(PLUGINS)["good"] < 0.5


def test_approved_intents_cost_nothing() -> None:
    tracker = PerformanceTracker(CouncilSettings())
    buy = intent("X", {"good": 0.4})
    ok = Verdicts(agent="risk", items=[Verdict(intent_id=buy.id, symbol="X", approved=True, qty=buy.qty)])
    effects = tracker.update(
        START, plugins=PLUGINS, proposals=[], prices={}, pack=TradePack(as_of=START, intents=[buy]), risk=ok
    )
    assert effects.penalties == {}
    assert tracker.stats["good"].penalty == 0.0


def test_risk_rejections_and_cuts_penalise_less_and_fade() -> None:
    s = CouncilSettings()
    tracker = PerformanceTracker(s)
    a, b = intent("A", {"good": 0.5}), intent("B", {"bad": 0.5})
    pack = TradePack(as_of=START, intents=[a, b])
    risk = Verdicts(agent="risk", items=[*rejected("risk", a).items, *rejected("risk", b, cut=5.0).items])
    tracker.update(START, plugins=PLUGINS, proposals=[], prices={}, pack=pack, risk=risk)
    assert tracker.stats["good"].penalty == pytest.approx(s.risk_penalty)
    assert tracker.stats["bad"].penalty == pytest.approx(0.5 * s.risk_penalty * 0.5)
    before = tracker.stats["good"].penalty
    tracker.update(START, plugins=PLUGINS, proposals=[], prices={})  # same session: no decay yet
    assert tracker.stats["good"].penalty == before
    for k in range(1, 11):
        tracker.update(START + timedelta(days=k), plugins=PLUGINS, proposals=[], prices={})
    assert tracker.stats["good"].penalty == pytest.approx(before * s.penalty_decay**10)


def test_penalties_are_capped() -> None:
    tracker = PerformanceTracker(CouncilSettings())
    intents = [intent(f"S{i}", {"good": 1.0}) for i in range(10)]
    tracker.update(START, plugins=PLUGINS, proposals=[], prices={}, pack=TradePack(as_of=START, intents=intents),
                   compliance=rejected("compliance", *intents))  # fmt: skip
    assert tracker.stats["good"].penalty == pytest.approx(CouncilSettings().max_penalty)


def fill(symbol: str, side: str, qty: float, price: float, iid: str, n: int, commission: float = 1.0) -> FillReport:
    return FillReport(client_order_id=f"c{n}", intent_id=iid, venue="v", trade_id=f"t{n}", symbol=symbol,
                      side=side, qty=qty, price=price, commission=commission,
                      ts=datetime(2021, 1, 4, 15, tzinfo=UTC) + timedelta(minutes=n))  # fmt: skip


def test_realised_pnl_goes_to_the_plugins_that_opened_the_position() -> None:
    tracker = PerformanceTracker(CouncilSettings())
    buy = intent("X", {"good": 0.3, "bad": 0.1}, iid="buy")
    sell = intent("X", {"good": -0.2, "bad": 0.2}, side="sell", iid="sell")
    tracker.update(START, plugins=PLUGINS, proposals=[], prices={}, pack=TradePack(as_of=START, intents=[buy]),
                   report=ExecutionReport(fills=[fill("X", "buy", 10, 100.0, "buy", 1)]), nav=1e6)  # fmt: skip
    effects = tracker.update(
        START + timedelta(days=1), plugins=PLUGINS, proposals=[], prices={},
        pack=TradePack(as_of=START, intents=[sell]),
        report=ExecutionReport(fills=[fill("X", "sell", 10, 110.0, "sell", 2)]), nav=1e6,
    )  # fmt: skip
    # +100 realised, split 3:1 between the openers; the seller's commission (1.0) goes to good, its only supporter
    assert tracker.stats["good"].pnl_total == pytest.approx(-0.75 + 75.0 - 1.0)
    assert tracker.stats["bad"].pnl_total == pytest.approx(-0.25 + 25.0)
    assert effects.fills == 1
    assert "X" not in tracker.books


def test_a_fill_delivered_twice_is_attributed_once() -> None:
    tracker = PerformanceTracker(CouncilSettings())
    buy = intent("X", {"good": 0.3}, iid="buy")
    report = ExecutionReport(fills=[fill("X", "buy", 10, 100.0, "buy", 1)])
    pack = TradePack(as_of=START, intents=[buy])
    tracker.update(START, plugins=PLUGINS, proposals=[], prices={}, pack=pack, report=report, nav=1e6)
    again = tracker.update(START, plugins=PLUGINS, proposals=[], prices={}, report=report, nav=1e6)
    assert again.fills == 0
    assert tracker.books["X"].qty == 10


def test_json_round_trip_gives_the_same_tracker() -> None:
    original = PerformanceTracker(CouncilSettings())
    train(original, 30)
    buy = intent("X", {"good": 0.3}, iid="buy")
    original.update(START + timedelta(days=30), plugins=PLUGINS, proposals=[], prices={"X": 101.0},
                    pack=TradePack(as_of=START, intents=[buy]),
                    report=ExecutionReport(fills=[fill("X", "buy", 10, 100.0, "buy", 1)]), nav=1e6)  # fmt: skip
    doc = json.loads(json.dumps(original.to_json(), sort_keys=True))
    copy = PerformanceTracker(CouncilSettings())
    copy.restore(doc)
    assert copy.to_json() == original.to_json()
    train(original, 10, start=31)
    train(copy, 10, start=31)
    assert copy.to_json() == original.to_json()


def test_restore_refuses_another_version() -> None:
    with pytest.raises(ValueError, match="version"):
        PerformanceTracker().restore({"version": 99})


def test_export_and_install_weights() -> None:
    backtest = PerformanceTracker(CouncilSettings())
    train(backtest, 60)
    exported = json.loads(json.dumps(backtest.export_weights()))
    assert exported["kind"] == "agenthedge.council.weights"
    assert exported["stats"]["good"]["hit_rate"] > 0.7
    live = PerformanceTracker(CouncilSettings())
    live.stats.clear()
    installed = live.install_weights(exported, source="backtest run-1")
    assert installed == pytest.approx(backtest.weights_for(PLUGINS))
    assert live.weights_for(PLUGINS) == pytest.approx(backtest.weights_for(PLUGINS))
    assert live.source == "backtest run-1"
    # the evidence came along: the next live update does not wash the weights back to even
    live.update(START + timedelta(days=100), plugins=PLUGINS, proposals=[], prices={})
    assert live.weights_for(PLUGINS)["good"] > 0.7


def test_install_takes_bare_weights_and_refuses_nonsense_without_changing_anything() -> None:
    tracker = PerformanceTracker(CouncilSettings())
    assert tracker.install_weights({"weights": {"a": 3, "b": 1}}, source="ops") == pytest.approx({"a": 0.75, "b": 0.25})
    bad_docs: list[dict[str, Any]] = [
        {},
        {"weights": {}},
        {"weights": {"a": -1}},
        {"weights": {"a": float("nan")}},
        {"weights": {"a": 0}},
    ]
    for bad in bad_docs:
        with pytest.raises(ValueError, match="weight"):
            tracker.install_weights(bad, source="x")
    assert tracker.weights_for(["a", "b"]) == pytest.approx({"a": 0.75, "b": 0.25})


def test_newcomers_join_with_an_equal_share() -> None:
    tracker = PerformanceTracker(CouncilSettings())
    tracker.install_weights({"weights": {"a": 0.8, "b": 0.2}}, source="ops")
    tracker.ensure(["a", "b", "c"])
    w = tracker.weights_for(["a", "b", "c"])
    assert w["c"] == pytest.approx(1 / 3)
    assert w["a"] / w["b"] == pytest.approx(4.0)


async def test_persistence_round_trip_through_a_real_sqlite_ledger(tmp_path: Path) -> None:
    ledger = await Ledger.open(tmp_path / "l.sqlite")
    try:
        tracker = PerformanceTracker(CouncilSettings())
        train(tracker, 40)
        await save_tracker(ledger, tracker, ts=datetime(2021, 3, 1, tzinfo=UTC))
        fresh = PerformanceTracker(CouncilSettings())
        assert await load_tracker(ledger, fresh)
        assert fresh.to_json() == tracker.to_json()
        assert not await load_tracker(ledger, fresh)  # once only
        exported = tracker.export_weights()
        weights = await install_weights(ledger, exported, source="backtest b1", ts=datetime(2021, 3, 2, tzinfo=UTC))
        assert weights == pytest.approx(tracker.weights_for(PLUGINS))
    finally:
        await ledger.close()
    reopened = await Ledger.open(tmp_path / "l.sqlite")
    try:
        again = PerformanceTracker(CouncilSettings())
        assert await load_tracker(reopened, again)
        assert again.source == "backtest b1"
        assert again.weights_for(PLUGINS) == pytest.approx(tracker.weights_for(PLUGINS))
        empty = await Ledger.open(tmp_path / "empty.sqlite")
        assert not await load_tracker(empty, PerformanceTracker())
        await empty.close()
    finally:
        await reopened.close()


def test_the_stored_text_is_the_document_encoded_whole_after_every_kind_of_tick() -> None:
    from pydantic_core import to_json

    tracker = PerformanceTracker(CouncilSettings())
    assert tracker.to_json_text() == to_json(tracker.to_json()).decode()
    for n in range(8):  # intents, fills, quiet ticks and old sessions dropped: the cached half follows each
        day = START + timedelta(days=n)
        pack = TradePack(as_of=day, intents=[intent("X", {"good": 0.3}, iid=f"i{n}")] if n % 3 == 0 else [])
        fills = [fill("X", "buy", 10, 100.0 + n, f"i{n - 1}", n)] if n % 3 == 1 else []
        tracker.update(day, plugins=PLUGINS, proposals=[prop("good", "X", 0.5)], prices={"X": 100.0 + n},
                       pack=pack, report=ExecutionReport(fills=fills), nav=1e6)  # fmt: skip
        assert tracker.to_json_text() == to_json(tracker.to_json()).decode()
    copy = PerformanceTracker(CouncilSettings())
    copy.restore(json.loads(tracker.to_json_text()))
    assert copy.to_json_text() == tracker.to_json_text()


def test_the_saved_seen_fills_follow_the_oldest_dropped_and_any_other_change(monkeypatch: pytest.MonkeyPatch) -> None:
    """The saved list of seen fills is joined from each fill's encoded key: the same bytes as encoding the list
    whole, when fills pass the cap and the oldest go, after a restore, and if anything else edits the list."""
    from pydantic_core import to_json

    monkeypatch.setattr("agents.director._tracker._MAX_FILLS", 3)
    tracker = PerformanceTracker(CouncilSettings())
    for n in range(6):
        day = START + timedelta(days=n)
        fills = [fill("X", "buy", 1, 100.0, "i", 10 * n + k) for k in range(n % 3)]
        tracker.update(day, plugins=PLUGINS, proposals=[prop("good", "X", 0.5)], prices={"X": 100.0},
                       report=ExecutionReport(fills=fills), nav=1e6)  # fmt: skip
        assert len(tracker.seen_fills) <= 3
        assert tracker.to_json_text() == to_json(tracker.to_json()).decode()
    copy = PerformanceTracker(CouncilSettings())
    copy.restore(json.loads(tracker.to_json_text()))
    assert copy.to_json_text() == tracker.to_json_text()
    tracker.seen_fills.popitem(last=False)  # not through the tracker's own paths
    tracker._tail = None
    assert tracker.to_json_text() == to_json(tracker.to_json()).decode()


def _general_store_pending(
    self: PerformanceTracker, session: date, proposals: list[Proposal], prices: dict[str, float], only: object = None
) -> None:
    """The pending calls as stored before the one-plug-in path (the reference it must equal)."""
    calls: dict[str, dict[str, list[float]]] = {}
    for p in proposals:
        if p.symbol in prices:
            calls.setdefault(p.plugin, {})[p.symbol] = [p.score, p.confidence]
    if not calls:
        return
    wanted = {s for c in calls.values() for s in c}
    self.pending = {
        "session": session.isoformat(),
        "prices": {s: prices[s] for s in sorted(wanted)},
        "calls": {k: dict(sorted(v.items())) for k, v in sorted(calls.items())},
    }


def _general_observe_confidence(self: PerformanceTracker, proposals: list[Proposal], only: object = None) -> None:
    sums: dict[str, list[float]] = {}
    for p in proposals:
        sums.setdefault(p.plugin, []).append(p.confidence)
    for plugin, confs in sorted(sums.items()):
        st = self.stats[plugin]
        st.conf_ew += sum(confs) / len(confs)
        st.conf_n_ew += 1.0


@pytest.mark.parametrize("seed", range(12))
def test_one_plugin_ticks_store_and_score_what_the_general_loops_do(seed: int) -> None:
    """Ticks whose proposals are all one plug-in's store their pending calls and observe confidence by a shorter
    path: the tracker's document is the same, byte for byte, as the general loops give, tick after tick."""
    import types

    rng = random.Random(seed)
    fast, general = PerformanceTracker(CouncilSettings()), PerformanceTracker(CouncilSettings())
    general._store_pending = types.MethodType(_general_store_pending, general)  # type: ignore[method-assign]
    general._observe_confidence = types.MethodType(_general_observe_confidence, general)  # type: ignore[method-assign]
    symbols = ["A", "B", "C", "D", "E"]
    for n in range(30):
        day = START + timedelta(days=n // 2)  # two ticks a session: the second stores, does not score
        plugins = ["good"] if rng.random() < 0.8 else ["good", "bad"]
        proposals = [
            prop(
                rng.choice(plugins),
                rng.choice(symbols),
                rng.choice([1.0, -1.0, 0.0, rng.uniform(-1, 1)]),
                rng.choice([1.0, 0.0, rng.random()]),
            )
            for _ in range(rng.randint(0, 8))
        ]
        prices = {s: rng.choice([100.0, 101.0, rng.uniform(90, 110)]) for s in symbols if rng.random() < 0.9}
        for tracker in (fast, general):
            tracker.update(day, plugins=PLUGINS, proposals=proposals, prices=prices)
        assert fast.to_json_text() == general.to_json_text()
