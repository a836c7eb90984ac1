"""Sentiment plug-in: VADER scores, decay, confidence from headline count, no look-ahead."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from agents.data import Headline
from agents.quant import HeadlineScorer, SentimentPlugin, analyzer, default_directive
from agents.types import Proposal
from tests.agents.quant._market import crafted_market, headline

END = date(2021, 6, 30)


def propose(news: list[Headline], symbols: tuple[str, ...] = ("A", "B"), as_of: date = END) -> dict[str, Proposal]:
    data = crafted_market({s: [10.0] * 5 for s in symbols}, headlines=news, end=END)
    view = data.view(as_of)
    return {p.symbol: p for p in SentimentPlugin().propose(view, default_directive(view))}


def test_positive_news_scores_positive_and_negative_news_negative() -> None:
    out = propose(
        [
            headline("A", END, "Apple shares soar after record profits and glowing reviews"),
            headline("B", END, "Bank hit by fraud charges as losses deepen and shares collapse"),
        ]
    )
    assert out["A"].score > 0.5
    assert out["B"].score < -0.5
    assert "VADER" in out["A"].rationale
    assert "soar" in out["A"].rationale


def test_it_is_vader_scoring_not_a_word_list() -> None:
    text = "Shareholders delighted by a splendid, triumphant quarter"  # words no template here uses
    out = propose([headline("A", END, text)])
    assert out["A"].score == pytest.approx(analyzer().polarity_scores(text)["compound"])
    assert out["A"].score > 0.5
    grim = "An abysmal, catastrophic quarter leaves investors furious"
    assert propose([headline("A", END, grim)])["A"].score < -0.5


def test_older_news_weighs_less() -> None:
    good, bad = "Profits surge to a record, investors thrilled", "Profits collapse, investors furious"
    recent_good = propose([headline("A", END - timedelta(days=3), bad), headline("A", END, good)])["A"]
    recent_bad = propose([headline("A", END - timedelta(days=3), good), headline("A", END, bad)])["A"]
    assert recent_good.score > 0 > recent_bad.score


def test_news_outside_the_lookback_is_ignored() -> None:
    out = propose([headline("A", END - timedelta(days=10), "Profits surge to a record, investors thrilled")])
    assert "A" not in out


def test_confidence_grows_with_the_number_of_headlines() -> None:
    one = propose([headline("A", END, "Strong gains for the company")])["A"]
    many = propose([headline("A", END, "Strong gains for the company", k) for k in range(6)])["A"]
    assert 0 < one.confidence < many.confidence < 1
    assert many.signals["headlines"] == 6


def test_no_headlines_no_view_and_other_symbols_news_does_not_leak() -> None:
    out = propose([headline("A", END, "Great results")])
    assert set(out) == {"A"}


def test_news_after_the_view_is_not_seen() -> None:
    news = [headline("A", END, "Terrible, disastrous results"), headline("A", END - timedelta(days=1), "Good news")]
    out = propose(news, as_of=END - timedelta(days=1))
    assert out["A"].score > 0


def test_numbers_do_not_defeat_the_cache() -> None:
    scorer = HeadlineScorer()
    a = scorer.score("Acme jumps 5.2% on excellent results")
    b = scorer.score("Acme jumps 7.9% on excellent results")
    assert a == b
    assert (scorer.hits, scorer.misses) == (1, 1)


def test_a_refreshed_dataset_is_rescored() -> None:
    plugin = SentimentPlugin()
    first = [headline("A", END, "Good results")]
    data1 = crafted_market({"A": [10.0] * 5}, headlines=first, end=END)
    view1 = data1.view(END)
    before = plugin.propose(view1, default_directive(view1))[0]
    data2 = crafted_market({"A": [10.0] * 5}, headlines=[*first, headline("A", END, "Awful fraud scandal", 1)], end=END)
    view2 = data2.view(END)
    after = plugin.propose(view2, default_directive(view2))[0]
    assert after.score < before.score
    assert after.signals["headlines"] == 2
