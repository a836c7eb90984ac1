"""Fundamental plug-in: value against peers, Graham's margin of safety, quality; staleness; no earnings."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from agents.data import Fundamentals
from agents.quant import FundamentalPlugin, default_directive, graham_value
from agents.types import Proposal
from tests.agents.quant._market import crafted_market, monthly

END = date(2021, 6, 30)


def snap(symbol: str, eps: float | None, *, age: int = 30, sector: str = "Industrials", growth: float = 0.05,
         margin: float = 0.10, bvps: float = 20.0) -> Fundamentals:  # fmt: skip
    return Fundamentals(symbol, END - timedelta(days=age), sector, eps, bvps, growth, margin, 1e9)


def propose(snaps: list[Fundamentals], prices: dict[str, float], rates: float | None = None) -> dict[str, Proposal]:
    macro = monthly("rates", [rates] * 3, END) if rates is not None else []
    data = crafted_market(
        {s: [p] * 10 for s, p in prices.items()}, fundamentals={f.symbol: [f] for f in snaps}, macro=macro, end=END
    )
    view = data.view(data.dates[-1])
    return {p.symbol: p for p in FundamentalPlugin().propose(view, default_directive(view))}


def test_cheap_against_its_sector_is_positive_expensive_is_negative() -> None:
    out = propose(
        [snap("CHEAP", 5.0), snap("PEER1", 2.5), snap("PEER2", 2.5), snap("DEAR", 1.25)],
        {"CHEAP": 50.0, "PEER1": 50.0, "PEER2": 50.0, "DEAR": 50.0},
    )
    assert out["CHEAP"].signals["pe"] == pytest.approx(10.0)
    assert out["CHEAP"].signals["peer_pe"] == pytest.approx(20.0)  # median of 10, 20, 20, 40
    assert out["CHEAP"].score > 0.3
    assert out["CHEAP"].signals["margin_of_safety"] > 0
    assert out["DEAR"].score < -0.3
    assert out["DEAR"].signals["margin_of_safety"] < 0
    assert "P/E 10.0 vs sector 20.0" in out["CHEAP"].rationale


def test_peers_are_the_sector_when_it_has_two() -> None:
    out = propose(
        [
            snap("T1", 1.0, sector="Technology"),
            snap("T2", 2.0, sector="Technology"),
            snap("U1", 5.0, sector="Utilities"),
        ],
        {"T1": 30.0, "T2": 30.0, "U1": 30.0},
    )
    assert out["T1"].signals["peer_pe"] == pytest.approx(22.5)  # median of 30 and 15
    assert out["U1"].signals["peer_pe"] == pytest.approx(15.0)  # alone in its sector: everyone's median


def test_graham_value_formula() -> None:
    assert graham_value(2.0, 0.05, None) == pytest.approx(2.0 * (8.5 + 10.0))
    assert graham_value(2.0, 0.05, 8.8) == pytest.approx(2.0 * 18.5 / 2)
    assert graham_value(2.0, 0.05, 0.5) == pytest.approx(2.0 * 18.5 * 4.4 / 3.0)  # yields held at >= 3%
    assert graham_value(2.0, 0.40, None) == pytest.approx(2.0 * (8.5 + 30.0))  # growth capped at 15%
    assert graham_value(-1.0, 0.05, None) is None
    assert graham_value(0.0, 0.05, None) is None


def test_intrinsic_value_uses_the_current_rate() -> None:
    out = propose([snap("A", 2.0), snap("B", 2.0)], {"A": 40.0, "B": 40.0}, rates=6.0)
    assert out["A"].signals["intrinsic_value"] == pytest.approx(graham_value(2.0, 0.05, 6.0))


def test_a_loss_maker_scores_on_quality_only_with_low_confidence() -> None:
    out = propose([snap("LOSS", -1.0), snap("P1", 2.0), snap("P2", 2.0)], {"LOSS": 20.0, "P1": 40.0, "P2": 40.0})
    loss = out["LOSS"]
    assert "no earnings" in loss.rationale
    assert "pe" not in loss.signals
    assert "intrinsic_value" not in loss.signals
    assert loss.confidence == pytest.approx(0.2)
    assert out["P1"].confidence == pytest.approx(1.0)


def test_stale_fundamentals_give_no_view_and_ageing_ones_less_confidence() -> None:
    out = propose(
        [snap("FRESH", 2.0, age=30), snap("OLD", 2.0, age=300), snap("STALE", 2.0, age=500)],
        {"FRESH": 40.0, "OLD": 40.0, "STALE": 40.0},
    )
    assert "STALE" not in out
    assert out["OLD"].confidence < out["FRESH"].confidence


def test_no_fundamentals_no_view() -> None:
    data = crafted_market({"A": [10.0] * 5})
    view = data.view(data.dates[-1])
    assert FundamentalPlugin().propose(view, default_directive(view)) == []


def test_snapshots_published_after_the_view_are_not_seen() -> None:
    later = Fundamentals("A", END + timedelta(days=1), "Industrials", 100.0, 20.0, 0.05, 0.1, 1e9)
    data = crafted_market({"A": [10.0] * 5, "B": [10.0] * 5}, fundamentals={"A": [later]}, end=END)
    view = data.view(END)
    assert FundamentalPlugin().propose(view, default_directive(view)) == []
