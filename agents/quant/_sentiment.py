"""Sentiment plug-in: headlines scored by VADER (vaderSentiment's lexicon and rules), decay-weighted.

Each headline's VADER ``compound`` score (in [-1, 1]) weighs ``0.5 ** (age_days / half_life)`` (age in
calendar days: today's news counts fully); a symbol's score is the weighted mean over the last ``lookback``
days and its confidence ``n / (n + k)`` with ``n`` the weighted headline count. Scores are cached by text
with digits blanked (VADER gives numbers no sentiment), and each day's headlines are aggregated once.
"""

from __future__ import annotations

import functools
import math
import re
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from agents.market import MarketData, MarketView
from agents.quant._plugin import proposal, universe
from agents.quant._settings import QuantSettings
from agents.types import Directive, Proposal

_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
_CACHE_SIZE = 50_000


@functools.cache
def analyzer() -> Any:
    """The VADER analyzer, built once per process (loading its lexicon takes tens of milliseconds)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


class HeadlineScorer:
    """VADER compound scores with a bounded LRU cache keyed by the digit-blanked text."""

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self.size = size
        self._cache: OrderedDict[str, float] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def score(self, text: str) -> float:
        key = _DIGITS.sub("0", text.strip())
        found = self._cache.get(key)
        if found is not None:
            self.hits += 1
            self._cache.move_to_end(key)
            return found
        self.misses += 1
        value = float(analyzer().polarity_scores(key)["compound"])
        self._cache[key] = value
        if len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return value


@dataclass(slots=True)
class _DayScore:
    """One calendar day's headlines of one symbol: sum of compound scores, count, the loudest title."""

    total: float = 0.0
    count: int = 0
    loudest: float = 0.0
    title: str = ""


class SentimentPlugin:
    """News sentiment per symbol from recent headlines.

    Headlines are aggregated per calendar day and symbol once (a day is re-read only when its headline
    count changes, as today's does while news arrives), so a tick costs a few dictionary look-ups per symbol.
    """

    def __init__(self, settings: QuantSettings | None = None, *, name: str = "sentiment") -> None:
        self.name = name
        self.s = settings or QuantSettings()
        self.scorer = HeadlineScorer()
        self._days: weakref.WeakKeyDictionary[MarketData, dict[date, tuple[int, dict[str, _DayScore]]]] = (
            weakref.WeakKeyDictionary()
        )
        analyzer()  # build it now, not on the first tick

    def _day(self, data: MarketData, day: date) -> dict[str, _DayScore]:
        items = data.view(day).headlines(None, days=1)
        cache = self._days.setdefault(data, {})
        found = cache.get(day)
        if found is not None and found[0] == len(items):
            return found[1]
        agg: dict[str, _DayScore] = {}
        for h in items:
            if h.symbol is None:
                continue
            c = self.scorer.score(h.title)
            d = agg.get(h.symbol)
            if d is None:
                d = agg[h.symbol] = _DayScore()
            d.total += c
            d.count += 1
            if abs(c) > abs(d.loudest):
                d.loudest, d.title = c, h.title
        cache[day] = (len(items), agg)
        horizon = day - timedelta(days=4 * self.s.sentiment_lookback_days + 7)
        for old in [k for k in cache if k < horizon]:
            del cache[old]
        return agg

    def propose(self, view: MarketView, directive: Directive) -> list[Proposal]:
        wanted = universe(view, directive)
        lookback = self.s.sentiment_lookback_days
        decay = math.log(2.0) / self.s.sentiment_half_life_days
        k = self.s.sentiment_confidence_k
        totals: dict[str, list[float]] = {}  # symbol -> [sum w, sum w*c, n, loudest w*c]
        titles: dict[str, str] = {}
        for age in range(lookback):
            w = math.exp(-decay * age)
            for symbol, d in self._day(view.data, view.as_of - timedelta(days=age)).items():
                acc = totals.get(symbol)
                if acc is None:
                    acc = totals[symbol] = [0.0, 0.0, 0.0, 0.0]
                acc[0] += w * d.count
                acc[1] += w * d.total
                acc[2] += d.count
                if abs(d.loudest) * w > abs(acc[3]):
                    acc[3] = d.loudest * w
                    titles[symbol] = d.title
        out = []
        for symbol in wanted:
            acc = totals.get(symbol)
            if acc is None:
                continue
            weight, weighted, n, _ = acc
            score = weighted / weight
            why = f"{n:.0f} headline(s) in {lookback}d, VADER mean {score:+.2f}"
            if symbol in titles:
                why += f"; loudest: {titles[symbol][:80]!r}"
            signals = {"headlines": n, "weighted_count": weight, "compound": score}
            out.append(proposal(self.name, symbol, score, weight / (weight + k), why, signals))
        return out
