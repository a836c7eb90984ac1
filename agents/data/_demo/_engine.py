"""The demo market: a regime-switching factor model, simulated on business days from the epoch.

Each security's daily log return is ``beta * market + loading * sector + idiosyncratic``; the market
factor's drift and volatility, and the scale of the other two, follow a three-state Markov chain
(bull, bear, volatile). Correlation therefore comes from shared factors: two securities of one sector
share the market and the sector factor, two of different sectors only the market.

Determinism: every random draw comes from a generator seeded by ``(seed, stream, block)``, where a
stream is the regime chain, the market, a sector or a security and a block is :data:`BLOCK` business
days. A security's path depends on the seed, its own stream and the shared ones, never on which other
securities exist or were asked for, nor on how far the simulation has been run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from numpy.typing import NDArray

from agents.data._demo._universe import (
    ANCHOR,
    BLOCK,
    DEFAULT_SECTOR_VOL,
    EPOCH,
    MARKET_DRIFT,
    MARKET_VOL,
    SECTOR_VOL,
    TRANSITIONS,
    VOL_MULTIPLIER,
    DemoSecurity,
    stable_id,
)

F64 = NDArray[np.float64]

_EPOCH64 = np.datetime64(EPOCH, "D")


def day_index(d: date) -> int:
    """Business days from the epoch to ``d`` (the index of ``d`` itself when it is a business day)."""
    return int(np.busday_count(_EPOCH64, np.datetime64(d, "D")))


def day_date(i: int) -> date:
    value: date = np.busday_offset(_EPOCH64, i, roll="forward").astype("datetime64[D]").item()
    return value


def day_dates(i0: int, i1: int) -> list[date]:
    """The dates of business days ``[i0, i1)``."""
    days = np.busday_offset(_EPOCH64, np.arange(i0, i1), roll="forward").astype("datetime64[D]")
    out: list[date] = days.tolist()
    return out


def index_range(start: date, end: date) -> tuple[int, int]:
    """``[i0, i1)`` covering the business days of ``[max(start, epoch), end]``."""
    i0 = day_index(max(start, EPOCH))
    i1 = day_index(end + timedelta(days=1))
    return i0, max(i0, i1)


@dataclass(frozen=True, slots=True)
class SecurityPath:
    """Published (rounded) daily values plus the model's return and its z-score, for days [0, n)."""

    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
    log_return: F64
    zscore: F64


@dataclass(frozen=True, slots=True)
class MarketPath:
    days: int
    regimes: NDArray[np.int8]
    securities: dict[str, SecurityPath]


class MarketSim:
    """Simulates and caches the demo market for a seed and a universe."""

    def __init__(self, seed: int, universe: Sequence[DemoSecurity]) -> None:
        self.seed = seed
        self.universe = {s.symbol: s for s in universe}
        self._path: MarketPath | None = None

    def generator(self, stream: int, block: int) -> np.random.Generator:
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, stream, block])))

    def _normals(self, stream: int, blocks: int, width: int) -> F64:
        parts = [self.generator(stream, b).standard_normal((BLOCK, width)) for b in range(blocks)]
        return np.concatenate(parts)

    def path(self, days: int) -> MarketPath:
        """The market for at least ``days`` business days from the epoch (and always past the anchor)."""
        needed = max(days, day_index(ANCHOR) + 1)
        if self._path is None or self._path.days < needed:
            blocks = math.ceil(needed / BLOCK)
            self._path = self._simulate(blocks)
        return self._path

    def _regimes(self, blocks: int) -> NDArray[np.int8]:
        stream = stable_id("regime")
        u = np.concatenate([self.generator(stream, b).random(BLOCK) for b in range(blocks)])
        cumulative = [list(np.cumsum(row)) for row in TRANSITIONS]
        out = np.empty(len(u), dtype=np.int8)
        state = 0
        for i, draw in enumerate(u.tolist()):
            out[i] = state
            row = cumulative[state]
            state = 0 if draw < row[0] else (1 if draw < row[1] else 2)
        return out

    def _simulate(self, blocks: int) -> MarketPath:
        n = blocks * BLOCK
        regimes = self._regimes(blocks)
        drift = np.asarray(MARKET_DRIFT)[regimes]
        mvol = np.asarray(MARKET_VOL)[regimes]
        mult = np.asarray(VOL_MULTIPLIER)[regimes]
        market = drift + mvol * self._normals(stable_id("market"), blocks, 1)[:, 0]
        sector_z: dict[str, F64] = {}
        anchor = day_index(ANCHOR)
        paths: dict[str, SecurityPath] = {}
        for sec in self.universe.values():
            if sec.sector not in sector_z:
                sector_z[sec.sector] = self._normals(stable_id(f"sector:{sec.sector}"), blocks, 1)[:, 0]
            svol = SECTOR_VOL.get(sec.sector, DEFAULT_SECTOR_VOL) * mult
            ivol = sec.idio_vol * mult
            z = self._normals(sec.stream, blocks, 5)
            r = sec.beta * market + sec.sector_loading * svol * sector_z[sec.sector] + ivol * z[:, 0]
            sigma = np.sqrt((sec.beta * mvol) ** 2 + (sec.sector_loading * svol) ** 2 + ivol**2)
            paths[sec.symbol] = _ohlcv(sec, r, sigma, z, anchor)
        assert len(regimes) == n
        return MarketPath(days=n, regimes=regimes, securities=paths)


def _cents(x: F64) -> F64:
    return np.maximum(np.round(x, 2), 0.01)


def _ohlcv(sec: DemoSecurity, r: F64, sigma: F64, z: F64, anchor: int) -> SecurityPath:
    cum = np.cumsum(r)
    close_raw = sec.anchor_price * np.exp(cum - cum[anchor])
    prev_close = np.concatenate(([close_raw[0] * math.exp(-float(r[0]))], close_raw[:-1]))
    gap = 0.35 * r + 0.2 * sigma * z[:, 1]
    open_raw = prev_close * np.exp(gap)
    high_raw = np.maximum(open_raw, close_raw) * np.exp(0.45 * sigma * np.abs(z[:, 2]))
    low_raw = np.minimum(open_raw, close_raw) * np.exp(-0.45 * sigma * np.abs(z[:, 3]))
    o, c = _cents(open_raw), _cents(close_raw)
    h = np.maximum(_cents(high_raw), np.maximum(o, c))
    lo = np.minimum(_cents(low_raw), np.minimum(o, c))
    calm_sigma = float(np.min(sigma))
    volume = np.round(sec.volume * np.exp(0.35 * np.abs(r) / calm_sigma + 0.25 * z[:, 4] - 0.3))
    return SecurityPath(open=o, high=h, low=lo, close=c, volume=volume, log_return=r, zscore=r / sigma)
