"""Consensus: the tracker-weighted mean of score x confidence, quorum, weight threshold, avoided plug-ins."""

from __future__ import annotations

import random

import pytest

from agents.director import Council, CouncilSettings, build_consensus
from tests.agents.director._council_helpers import directive, prop

S = CouncilSettings()


def test_weighted_mean_of_score_times_confidence() -> None:
    council = build_consensus(
        [prop("a", "X", 0.8, 0.5), prop("b", "X", -0.2, 1.0)], {"a": 0.75, "b": 0.25}, directive(["X"]), S
    )
    c = council.table["X"]
    assert c.consensus == pytest.approx(0.75 * 0.4 + 0.25 * -0.2)
    assert c.confidence == pytest.approx(0.75 * 0.5 + 0.25 * 1.0)
    assert c.votes == pytest.approx({"a": 0.6, "b": -0.05})
    assert sum(c.contributions.values()) == pytest.approx(c.consensus)
    assert c.quorum
    assert c.views == 2


def test_the_weights_decide_between_disagreeing_plugins() -> None:
    proposals = [prop("a", "X", 1.0), prop("b", "X", -1.0)]
    assert build_consensus(proposals, {"a": 0.7, "b": 0.3}, directive(["X"]), S).table["X"].consensus > 0
    assert build_consensus(proposals, {"a": 0.3, "b": 0.7}, directive(["X"]), S).table["X"].consensus < 0


def test_quorum_not_met_is_explained() -> None:
    proposals = [prop("a", "X", 1.0), prop("b", "X", 1.0), prop("a", "Y", 1.0)]
    council = build_consensus(proposals, {"a": 0.5, "b": 0.5}, directive(["X", "Y"]), S)
    assert council.quorum == 2
    assert council.table["X"].quorum
    assert not council.table["Y"].quorum
    assert council.table["Y"].reason == "quorum not met: 1 of 2 plug-ins have a view (a)"


def test_quorum_is_capped_at_the_active_plugins_unless_told_otherwise() -> None:
    proposals = [prop("technical", "X", 1.0)]  # prices only: no other plug-in has data
    weights = {"technical": 0.25, "fundamental": 0.25, "sentiment": 0.25, "macro": 0.25}
    capped = build_consensus(proposals, weights, directive(["X"]), S)
    assert capped.quorum == 1
    assert capped.table["X"].quorum
    strict = build_consensus(proposals, weights, directive(["X"]), CouncilSettings(quorum_of_active=False))
    assert not strict.table["X"].quorum


def test_weight_threshold() -> None:
    proposals = [
        prop("a", "X", 1.0),
        prop("b", "X", 1.0),
        prop("c", "X", 1.0),
        prop("a", "Y", 1.0),
        prop("b", "Y", 1.0),
    ]
    weights = {"a": 0.1, "b": 0.1, "c": 0.8}
    s = CouncilSettings(weight_threshold=0.5)
    council = build_consensus(proposals, weights, directive(["X", "Y"]), s)
    assert council.table["X"].quorum
    assert not council.table["Y"].quorum
    assert "weight threshold not met: 20%" in council.table["Y"].reason


def test_low_confidence_is_no_view() -> None:
    proposals = [prop("a", "X", 1.0, 0.01), prop("b", "X", 1.0, 0.9), prop("c", "X", 1.0, 0.9)]
    c = build_consensus(proposals, {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}, directive(["X"]), S).table["X"]
    assert c.views == 2
    assert "a" not in c.votes


def test_avoided_plugins_do_not_vote_even_if_they_propose() -> None:
    proposals = [prop("a", "X", 1.0), prop("b", "X", -1.0), prop("a", "Y", 1.0), prop("b", "Y", -1.0)]
    council = build_consensus(proposals, {"a": 0.5, "b": 0.5}, directive(["X", "Y"], avoid=["b:Y"]), S)
    assert council.table["X"].votes.keys() == {"a", "b"}
    assert council.table["Y"].votes.keys() == {"a"}
    whole = build_consensus(proposals, {"a": 0.5, "b": 0.5}, directive(["X", "Y"], avoid=["b"]), S)
    assert whole.active == ["a"]
    assert "b" in whole.ignored


def _bits(council: Council) -> list[tuple[object, ...]]:
    """Every field of every symbol, floats by repr (a -0.0 is not a 0.0 here), in table order."""
    return [
        (
            c.symbol,
            repr(c.consensus),
            repr(c.confidence),
            c.views,
            repr(c.weight_share),
            c.quorum,
            [(k, repr(v)) for k, v in c.votes.items()],
            [(k, repr(v)) for k, v in c.contributions.items()],
            c.reason,
        )
        for c in council.table.values()
    ]


@pytest.mark.parametrize("seed", range(40))
def test_one_plugin_councils_take_the_general_loops_values(seed: int) -> None:
    """A council whose proposals are all one plug-in's is decided by a shorter path: the same table, bit for bit,
    as the general loop gives (which a harmless avoided name forces)."""
    rng = random.Random(seed)
    symbols = [f"S{i:02d}" for i in range(rng.randint(0, 12))]
    proposals = [
        prop(
            "technical",
            rng.choice(symbols),
            rng.choice([1.0, -1.0, 0.0, -0.0, rng.uniform(-1, 1)]),
            rng.choice([1.0, 0.0, 0.01, rng.random()]),
        )
        for _ in range(rng.randint(0, 16) if symbols else 0)
    ]
    weights = rng.choice([{"technical": 1.0}, {"technical": 0.0}, {}, {"technical": 0.4, "other": 0.6}])
    settings = CouncilSettings(
        quorum=rng.choice([1, 2]),
        quorum_of_active=rng.choice([True, False]),
        weight_threshold=rng.choice([0.0, 0.5, 1.0]),
        min_confidence=rng.choice([0.0, 0.05]),
    )
    fast = build_consensus(proposals, weights, directive(symbols), settings)
    general = build_consensus(proposals, weights, directive(symbols, avoid=["nobody"]), settings)
    assert _bits(fast) == _bits(general)
    assert (fast.active, fast.quorum, fast.ignored) == (general.active, general.quorum, general.ignored)
