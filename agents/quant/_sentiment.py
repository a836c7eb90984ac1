"""Sentiment plug-in: headlines scored by VADER (vaderSentiment's lexicon and rules), decay-weighted.

Each headline's VADER ``compound`` score (in [-1, 1]) weighs ``0.5 ** (age_days / half_life)``; a symbol's
score is the weighted mean over the last ``lookback`` days and its confidence ``n / (n + k)`` with ``n``
the weighted headline count. Scores are cached by text with digits blanked (VADER gives numbers no
sentiment), so a headline is scored once however many days it stays in the window.
"""

from __future__ import annotations

import functools
import math
import re
from collections import OrderedDict
from typing import Any

from agents.data import Headline
from agents.market import MarketView
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


class SentimentPlugin:
    """News sentiment per symbol from recent headlines."""

    def __init__(self, settings: QuantSettings | None = None, *, name: str = "sentiment") -> None:
        self.name = name
        self.s = settings or QuantSettings()
        self.scorer = HeadlineScorer()
        analyzer()  # build it now, not on the first tick

    def propose(self, view: MarketView, directive: Directive) -> list[Proposal]:
        wanted = set(universe(view, directive))
        by_symbol: dict[str, list[Headline]] = {}
        for h in view.headlines(None, days=self.s.sentiment_lookback_days):
            if h.symbol is not None and h.symbol in wanted:
                by_symbol.setdefault(h.symbol, []).append(h)
        decay = math.log(2.0) / self.s.sentiment_half_life_days
        k = self.s.sentiment_confidence_k
        out = []
        for symbol in sorted(by_symbol):
            total_w = 0.0
            total = 0.0
            strongest: tuple[float, str] = (0.0, "")
            for h in by_symbol[symbol]:
                age = max((view.as_of - h.ts.date()).days, 0)
                w = math.exp(-decay * age)
                c = self.scorer.score(h.title)
                total_w += w
                total += w * c
                if abs(c) * w > abs(strongest[0]):
                    strongest = (c * w, h.title)
            score = total / total_w
            confidence = total_w / (total_w + k)
            n = len(by_symbol[symbol])
            why = f"{n} headline(s) in {self.s.sentiment_lookback_days}d, VADER mean {score:+.2f}"
            if strongest[1]:
                why += f"; strongest: {strongest[1][:80]!r}"
            signals = {"headlines": float(n), "weighted_count": total_w, "compound": score}
            out.append(proposal(self.name, symbol, score, confidence, why, signals))
        return out
