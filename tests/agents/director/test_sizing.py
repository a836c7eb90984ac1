"""Sizing: volatility-aware targets within max weight, names and gross budget; lots, thresholds, REDUCING,
priorities, and a reason for every symbol without a trade."""

from __future__ import annotations

import pytest

from agents.director import Consensus, Council, CouncilSettings, Holdings, plan_trades
from agents.director._sizing import _pass_through_why
from tests.agents.director._council_helpers import directive, pack, prop

NAV = 1_000_000.0


def two(symbol: str, score: float, conf: float = 1.0) -> list:  # type: ignore[type-arg]
    return [prop("a", symbol, score, conf), prop("b", symbol, score, conf)]


def test_target_is_consensus_times_risk_budget_over_vol() -> None:
    p = pack(two("X", 0.5), prices={"X": 100.0}, vols={"X": 0.04})
    [intent] = p.intents
    assert intent.target_weight == pytest.approx(0.5 * 0.004 / 0.04)  # 5% of NAV
    assert intent.qty == 500  # 50,000 / 100
    assert intent.side == "buy"
    assert intent.ref_price == 100.0
    assert intent.id == "t1:X"
    assert "target +5.00% of NAV" in intent.rationale


def test_calmer_names_get_more_weight_for_the_same_view() -> None:
    p = pack(
        two("CALM", 0.3) + two("WILD", 0.3), prices={"CALM": 10.0, "WILD": 10.0}, vols={"CALM": 0.02, "WILD": 0.04}
    )
    by = {i.symbol: i.target_weight for i in p.intents}
    assert by["CALM"] == pytest.approx(2 * by["WILD"])


def test_max_weight_caps_a_name() -> None:
    p = pack(two("X", 1.0), prices={"X": 50.0}, vols={"X": 0.005})
    [intent] = p.intents
    assert intent.target_weight == pytest.approx(0.08)
    assert "(capped)" in intent.rationale
    below = pack(two("X", 0.5), prices={"X": 50.0}, vols={"X": 0.05})
    assert below.intents[0].target_weight == pytest.approx(0.04)
    assert "(capped)" not in below.intents[0].rationale


def test_gross_target_scales_every_target_down_together() -> None:
    symbols = [f"S{i}" for i in range(20)]
    proposals = [p for s in symbols for p in two(s, 1.0)]
    prices = dict.fromkeys(symbols, 100.0)
    full = pack(proposals, prices=prices, vols=dict.fromkeys(symbols, 0.01), gross=2.0)
    assert sum(i.target_weight for i in full.intents) == pytest.approx(20 * 0.08)
    cut = pack(proposals, prices=prices, vols=dict.fromkeys(symbols, 0.01), gross=0.5)
    assert sum(i.target_weight for i in cut.intents) == pytest.approx(0.5)
    assert all(i.target_weight == pytest.approx(0.025) for i in cut.intents)
    assert "scaled x0.31" in cut.intents[0].rationale


def test_untouched_holdings_count_against_the_gross_target_and_names() -> None:
    proposals = two("NEW", 1.0)
    prices = {"NEW": 100.0, "OLD": 100.0}
    # OLD is held (40% of NAV) but nobody has a view on it today: it stays, and uses the budget
    p = pack(proposals, prices=prices, held={"OLD": 4000}, vols={"NEW": 0.01}, gross=0.45)
    [intent] = p.intents
    assert intent.target_weight == pytest.approx(0.05)
    assert "holding 4000" in p.no_trade["OLD"]
    full = pack(proposals, prices=prices, held={"OLD": 4000}, vols={"NEW": 0.01}, max_names=1)
    assert full.intents == []
    assert "outside the top 1 names" in full.no_trade["NEW"]


def test_max_names_keeps_the_strongest() -> None:
    proposals = two("A", 0.9) + two("B", 0.5) + two("C", 0.3)
    p = pack(proposals, prices={"A": 10.0, "B": 10.0, "C": 10.0}, max_names=2)
    assert sorted(i.symbol for i in p.intents) == ["A", "B"]
    assert "outside the top 2 names" in p.no_trade["C"]


def test_entry_and_exit_thresholds_give_hysteresis() -> None:
    weak = pack(two("X", 0.05), prices={"X": 10.0})
    assert weak.intents == []
    assert "below the entry threshold 0.10" in weak.no_trade["X"]
    # the same weak view keeps a position that is already there (no exit until consensus <= 0)
    kept = pack(two("X", 0.05), prices={"X": 10.0}, held={"X": 1500}, vols={"X": 0.01})
    assert kept.intents == []
    assert "inside the 1.0% band" in kept.no_trade["X"]
    gone = pack(two("X", -0.05), prices={"X": 10.0}, held={"X": 1500})
    [exit_] = gone.intents
    assert (exit_.side, exit_.qty, exit_.target_weight) == ("sell", 1500, 0.0)
    assert "exit threshold" in exit_.rationale


def test_no_shorts_unless_allowed() -> None:
    p = pack(two("X", -0.8), prices={"X": 10.0})
    assert p.intents == []
    assert "shorts are not allowed" in p.no_trade["X"]
    short = pack(two("X", -0.8), prices={"X": 10.0}, settings=CouncilSettings(allow_short=True))
    [intent] = short.intents
    assert intent.side == "sell"
    assert intent.target_weight < 0


def test_quorum_not_met_means_no_trade_with_the_reason() -> None:
    p = pack([prop("a", "X", 1.0), prop("b", "Y", 1.0), prop("a", "Y", 1.0)], prices={"X": 10.0, "Y": 10.0})
    assert [i.symbol for i in p.intents] == ["Y"]
    assert "quorum not met: 1 of 2 plug-ins have a view (a)" in p.no_trade["X"]


def test_every_symbol_without_an_intent_has_a_reason() -> None:
    prices = {"A": 10.0, "B": 10.0, "C": 10.0}
    p = pack(two("A", 0.9), prices=prices, universe=["A", "B", "C", "D"])
    assert {i.symbol for i in p.intents} | set(p.no_trade) == {"A", "B", "C", "D"}
    assert p.no_trade["B"] == "no plug-in has a view"
    assert p.no_trade["D"] == "no price today (did not trade)"


def test_whole_lots_and_minimum_notional() -> None:
    lots = pack(two("X", 0.5), prices={"X": 30.0}, vols={"X": 0.04}, settings=CouncilSettings(lot_size=100))
    assert lots.intents[0].qty == 1600  # 50,000 / 30 = 1666.7 -> 16 lots
    tiny = pack(two("X", 0.5), prices={"X": 30.0}, vols={"X": 0.04}, nav=5_000.0)  # a 250 order
    assert tiny.intents == []
    assert "under the 500 minimum" in tiny.no_trade["X"]


def test_a_full_exit_ignores_the_minimum_notional_and_lots() -> None:
    p = pack(two("X", -0.5), prices={"X": 30.0}, held={"X": 7}, settings=CouncilSettings(lot_size=100))
    [intent] = p.intents
    assert (intent.side, intent.qty) == ("sell", 7)


def test_names_leaving_the_universe_are_closed() -> None:
    p = pack(two("X", 0.9), prices={"X": 10.0, "OLD": 20.0}, held={"OLD": 300}, universe=["X"])
    by = {i.symbol: i for i in p.intents}
    assert (by["OLD"].side, by["OLD"].qty) == ("sell", 300)
    assert "left the director's universe" in by["OLD"].rationale


def test_a_working_order_blocks_a_new_intent() -> None:
    p = pack(two("X", 0.9), prices={"X": 10.0}, working={"X": "c42"})
    assert p.intents == []
    assert p.no_trade["X"] == "order c42 is still working"


def test_reducing_only_keeps_just_the_intents_that_shrink_exposure() -> None:
    proposals = two("GROW", 0.9) + two("TRIM", 0.2) + two("EXIT", -0.5)
    prices = {"GROW": 10.0, "TRIM": 10.0, "EXIT": 10.0}
    held = {"TRIM": 15000, "EXIT": 1000}
    normal = pack(proposals, prices=prices, held=held, vols=dict.fromkeys(prices, 0.01))
    assert {i.symbol for i in normal.intents} == {"GROW", "TRIM", "EXIT"}
    reducing = pack(proposals, prices=prices, held=held, vols=dict.fromkeys(prices, 0.01), reducing_only=True)
    assert {i.symbol for i in reducing.intents} == {"TRIM", "EXIT"}
    assert all(i.reduces_exposure and i.side == "sell" for i in reducing.intents)
    assert "REDUCING" in reducing.no_trade["GROW"]


def test_priorities_reducing_first_then_by_conviction() -> None:
    proposals = (
        two("WEAK", 0.2, 0.6) + two("STRONG", 0.9, 0.9) + two("MID", 0.5, 0.9) + two("TRIM", 0.11) + two("EXIT", -0.5)
    )
    prices = dict.fromkeys(["WEAK", "STRONG", "MID", "TRIM", "EXIT"], 10.0)
    p = pack(proposals, prices=prices, held={"TRIM": 8000, "EXIT": 100}, vols=dict.fromkeys(prices, 0.02))
    order = [i.symbol for i in sorted(p.intents, key=lambda i: i.priority)]
    assert order == ["EXIT", "TRIM", "STRONG", "MID", "WEAK"]
    assert [i.priority for i in p.intents] == list(range(5))


def test_nothing_to_size_against_without_nav() -> None:
    p = pack(two("X", 0.9), prices={"X": 10.0}, nav=0.0)
    assert p.intents == []
    assert "NAV is 0.00" in p.no_trade["X"]


def test_pass_through_holds_a_fixed_lot_while_the_signal_is_positive() -> None:
    s = CouncilSettings(pass_through=True, lot=100, quorum=1)
    enter = pack([prop("technical", "X", 1.0)], prices={"X": 37.0}, settings=s)
    [buy] = enter.intents
    assert (buy.side, buy.qty, buy.strategy) == ("buy", 100, "council-pass-through")
    hold = pack([prop("technical", "X", 1.0)], prices={"X": 37.0}, held={"X": 100}, settings=s)
    assert hold.intents == []
    assert "already there" in hold.no_trade["X"]
    leave = pack([prop("technical", "X", -1.0)], prices={"X": 37.0}, held={"X": 100}, settings=s)
    [sell] = leave.intents
    assert (sell.side, sell.qty) == ("sell", 100)
    assert sell.reduces_exposure
    flat = pack([prop("technical", "X", -1.0)], prices={"X": 37.0}, settings=s)
    assert flat.intents == []
    # no minimum notional, no band, no gross budget in pass-through
    cheap = pack([prop("technical", "X", 1.0)], prices={"X": 1.0}, settings=s, gross=0.0)
    assert cheap.intents[0].qty == 100


def test_determinism_same_inputs_same_pack() -> None:
    proposals = [p for s in ("A", "B", "C", "D") for p in two(s, 0.3 + 0.1 * (ord(s) % 5))]
    prices = {"A": 10.0, "B": 20.0, "C": 30.0, "D": 40.0}
    first = pack(proposals, prices=prices, held={"B": 100})
    second = pack(list(reversed(proposals)), prices=dict(reversed(list(prices.items()))), held={"B": 100})
    assert first == second
    assert first.model_dump_json() == second.model_dump_json()


def test_no_volatility_estimate_no_new_position() -> None:
    p = pack(two("NEW", 0.9), prices={"NEW": 10.0}, vols={})
    assert p.intents == []
    assert "too little history to estimate its volatility" in p.no_trade["NEW"]


def test_pass_through_no_trade_reasons_keep_their_order_and_words() -> None:
    s = CouncilSettings(pass_through=True, lot=100, quorum=1)
    prices = {"A": 10.0, "B": 20.0, "C": 30.0, "D": 40.0, "E": 50.0}
    held = {"A": 100, "C": 100, "E": 100}
    scores = {"A": 1.0, "B": -1.0, "C": -1.0, "D": 1.0, "E": 1.0}
    p = pack([prop("technical", k, v) for k, v in scores.items()], prices=prices, held=held, settings=s)
    assert [i.symbol for i in p.intents] == ["C", "D"]
    assert list(p.no_trade) == ["A", "B", "E"]  # in symbol order, as the plans would give them
    assert p.no_trade["A"] == "pass-through: signal +1.00 -> long 100; already there (100 shares)"
    assert p.no_trade["B"] == "pass-through: signal -1.00 -> flat; already there (0 shares)"


def test_pass_through_reasons_formatted_once_keep_each_sign_of_zero() -> None:
    """Symbols already at their lot share a formatted reason when their signal and holding are the same numbers;
    a zero's sign shows in the text (+0.00 / -0.00, 0 / -0), so a 0.0 never takes a -0.0's reason or back."""
    s = CouncilSettings(pass_through=True, lot=100, quorum=1)
    held = {"A": 0.0, "B": -0.0, "C": 100.0, "D": -0.0, "E": 0.0, "F": 100.0}
    cons = {"A": -1.0, "B": -1.0, "C": 1.0, "D": 0.0, "E": -0.0, "F": 1.0}
    council = Council({k: Consensus(k, v, 1.0, 1, 1.0, True) for k, v in cons.items()}, ["technical"], 1)
    p = plan_trades(
        council,
        holdings=Holdings(1e6, held, {}),
        prices=dict.fromkeys(held, 10.0),
        vols={},
        directive=directive(sorted(held)),
        settings=s,
        weights={"technical": 1.0},
        tick_id="t",
    )
    assert p.intents == []
    for symbol, c in council.table.items():
        qty = 100.0 if c.consensus > 0 else 0.0
        assert p.no_trade[symbol] == f"{_pass_through_why(c, qty, s)}; already there ({held[symbol]:g} shares)"
    assert p.no_trade["B"].endswith("(-0 shares)")
    assert "signal -0.00" in p.no_trade["E"]
