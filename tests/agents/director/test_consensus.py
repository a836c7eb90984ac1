"""Consensus: the tracker-weighted mean of score x confidence, quorum, weight threshold, avoided plug-ins."""

from __future__ import annotations

import pytest

from agents.director import CouncilSettings, build_consensus
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
