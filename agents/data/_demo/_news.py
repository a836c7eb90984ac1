"""Demo headlines: a few per symbol per business day, written after the close about that day.

Sentiment follows the day's move: the day's return z-score plus noise picks a positive, negative or
neutral template, so a sentiment model (VADER, say) scores up days higher than down days without the
two being identical. On a report day the first headline is about the quarter's earnings surprise.
Headlines are stamped 20:30-23:30 UTC, after the US close, so a signal built on them at the next
open has no look-ahead. Everything is seeded by (seed, symbol, day) and is reproducible.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

from agents.data._demo._universe import DemoSecurity
from agents.data._types import Headline

SOURCES = ("Demo Wire", "Synthetic Markets Daily", "AgentHedge Demo Desk")

_POSITIVE = (
    "{name} shares rally as investors cheer strong {product} momentum",
    "Analysts upgrade {name}, citing a strong {product} outlook",
    "{name} jumps {pct}% on excellent {product} news",
    "{name} wins major {product} deal, boosting growth hopes",
    "{name} gains as record {product} demand lifts optimism",
    "Investors bullish on {name} after impressive {product} results",
)
_NEGATIVE = (
    "{name} shares slide amid serious worries over {product} problems",
    "Analyst downgrades {name} on weak {product} outlook",
    "{name} falls {pct}% as worries over weak {product} sales mount",
    "Regulators probe {name} over {product} fraud allegations, shares drop",
    "{name} slumps as {product} demand disappoints",
    "Investors fear losses at {name} after poor {product} figures",
)
_NEUTRAL = (
    "{name} to present at {sector} industry conference",
    "{name} holds investor day, reiterates {product} strategy",
    "{name} stock flat as traders await {sector} data",
    "{name} names new head of {product}",
    "{name} schedules quarterly earnings call",
)
_BEAT = "{name} beats profit estimates on strong {product} demand"
_MISS = "{name} misses estimates as weak {product} sales hurt profit"


def _rng(seed: int, sec: DemoSecurity, day: date) -> random.Random:
    return random.Random(f"demo-news:{seed}:{sec.symbol}:{day.toordinal()}")


def headlines_for_day(
    seed: int,
    sec: DemoSecurity,
    day: date,
    *,
    zscore: float,
    pct_move: float,
    close: float,
    earnings_surprise: float | None,
) -> list[Headline]:
    """The headlines published about ``sec`` after the close of ``day`` (sorted by time)."""
    rng = _rng(seed, sec, day)
    count = rng.randint(1, 2) + (abs(zscore) > 1.0) + (abs(zscore) > 2.0)
    titles: list[str] = []
    if earnings_surprise is not None:
        titles.append(_BEAT if earnings_surprise >= 0 else _MISS)
    for _ in range(count):
        score = zscore + rng.gauss(0.0, 0.7)
        pool = _POSITIVE if score > 0.5 else _NEGATIVE if score < -0.5 else _NEUTRAL
        titles.append(rng.choice(pool))
    if not titles:
        return []
    minutes = sorted(rng.sample(range(0, 180), len(titles)))
    out = []
    for k, (title, minute) in enumerate(zip(titles, minutes, strict=True)):
        ts = datetime.combine(day, time(20, 30), tzinfo=UTC) + timedelta(minutes=minute)
        product = rng.choice(sec.products)
        text = title.format(name=sec.name, product=product, pct=f"{abs(pct_move):.1f}", sector=sec.sector)
        summary = (
            f"{sec.name} ({sec.symbol}) closed at {close:.2f}, {pct_move:+.1f}% on the day. "
            "Synthetic demo headline; not real news."
        )
        out.append(
            Headline(
                id=f"demo:{sec.symbol}:{day:%Y%m%d}:{k}",
                ts=ts,
                symbol=sec.symbol,
                source=rng.choice(SOURCES),
                title=text,
                summary=summary,
            )
        )
    return out
