"""What agents see of the market: a :class:`MarketView` that ends at the simulated now.

:class:`MarketData` holds a panel of daily bars (one row per session date, one column per symbol, NaN where a
symbol has no bar) plus fundamentals, headlines and macro series. :meth:`MarketData.view` cuts it at an
``as_of`` date; every accessor of the view reads only rows up to that date, so no agent can look ahead.
The same objects serve live (refreshed from a provider), replay and backtests.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time

import numpy as np
import numpy.typing as npt

from agents.data import Bar, Fundamentals, Headline, MacroObservation

F64 = npt.NDArray[np.float64]
FIELDS = ("open", "high", "low", "close", "volume")


class LookAheadError(Exception):
    """An agent asked for data after the view's ``as_of``."""


class MarketData:
    """A dense panel of bars with the side datasets, indexed by session date."""

    def __init__(
        self,
        bars: Mapping[str, Sequence[Bar]],
        *,
        fundamentals: Mapping[str, Sequence[Fundamentals]] | None = None,
        headlines: Sequence[Headline] = (),
        macro: Sequence[MacroObservation] = (),
        sectors: Mapping[str, str] | None = None,
    ) -> None:
        self.symbols: list[str] = sorted(s for s, b in bars.items() if b)
        self.dates: list[date] = sorted({b.date for s in self.symbols for b in bars[s]})
        self._row = {d: i for i, d in enumerate(self.dates)}
        n, m = len(self.dates), len(self.symbols)
        self.col = {s: j for j, s in enumerate(self.symbols)}
        self.panel: dict[str, F64] = {f: np.full((n, m), np.nan) for f in FIELDS}
        for j, symbol in enumerate(self.symbols):
            rows = np.fromiter((self._row[b.date] for b in bars[symbol]), dtype=np.int64)
            for f in FIELDS:
                self.panel[f][rows, j] = np.fromiter((getattr(b, f) for b in bars[symbol]), dtype=np.float64)
        self.fundamentals = {s: sorted(v, key=lambda x: x.asof) for s, v in (fundamentals or {}).items()}
        self.headlines = sorted(headlines, key=lambda h: h.ts)
        self._headline_ts = [h.ts for h in self.headlines]
        self.macro: dict[str, list[MacroObservation]] = {}
        for obs in sorted(macro, key=lambda o: o.date):
            self.macro.setdefault(obs.series, []).append(obs)
        self.sectors = dict(sectors or {})
        for symbol, snaps in self.fundamentals.items():
            if snaps and symbol not in self.sectors:
                self.sectors[symbol] = snaps[-1].sector
        self._columns: dict[tuple[str, ...], tuple[list[str], npt.NDArray[np.int64]]] = {}

    def columns(self, symbols: Sequence[str]) -> tuple[list[str], npt.NDArray[np.int64]]:
        """The symbols of ``symbols`` the panel has (in their order, repeats kept) and their panel columns.

        The same few lists are asked for every tick (the day's universe): the answer is remembered by list (the
        last 16 lists), since the panel's columns never change. The list is the caller's; the array is shared and
        read-only.
        """
        key = tuple(symbols)
        found = self._columns.get(key)
        if found is None:
            known = [s for s in key if s in self.col]
            cols = np.fromiter((self.col[s] for s in known), dtype=np.int64, count=len(known))
            cols.flags.writeable = False
            if len(self._columns) >= 16:
                self._columns.clear()
            found = self._columns[key] = (known, cols)
        return list(found[0]), found[1]

    def row_of(self, as_of: date) -> int:
        """Index of the last session on or before ``as_of`` (-1 if none)."""
        return bisect.bisect_right(self.dates, as_of) - 1

    def view(self, as_of: date) -> MarketView:
        return MarketView(self, as_of)


class MarketView:
    """The market as known at the close of ``as_of``."""

    def __init__(self, data: MarketData, as_of: date) -> None:
        self.data = data
        self.as_of = as_of
        self.row = data.row_of(as_of)
        self.session = data.dates[self.row] if self.row >= 0 else None
        self._prices: dict[str, float] | None = None

    def today(self) -> dict[str, float]:
        """The session's close of every symbol that traded, by symbol (sorted), computed once per view: the dict
        is shared, read it and never change it (:meth:`prices` gives a copy)."""
        found = self._prices
        if found is None:
            if self.row < 0:
                found = {}
            else:
                closes = self.data.panel["close"][self.row]
                present = ~np.isnan(closes)
                if present.all():  # usually: every symbol traded, no column to pick
                    found = dict(zip(self.data.symbols, closes.tolist(), strict=True))
                else:
                    traded = np.flatnonzero(present).tolist()
                    names = self.data.symbols
                    found = dict(zip([names[j] for j in traded], closes[traded].tolist(), strict=True))
            self._prices = found
        return found

    @property
    def symbols(self) -> list[str]:
        """Symbols with a bar on the view's session (tradeable today)."""
        return list(self.today())

    def _check(self, when: date | None) -> None:
        if when is not None and when > self.as_of:
            raise LookAheadError(f"asked for {when} in a view as of {self.as_of}")

    def series(self, symbol: str, field: str = "close", n: int | None = None) -> F64:
        """The last ``n`` values of ``field`` up to ``as_of`` (NaN rows dropped)."""
        j = self.data.col.get(symbol)
        if j is None or self.row < 0:
            return np.empty(0)
        start = 0 if n is None else max(0, self.row + 1 - 3 * n)  # leave room for holidays/NaN rows
        column = self.data.panel[field][start : self.row + 1, j]
        column = column[~np.isnan(column)]
        return column if n is None else column[-n:]

    def closes(self, symbol: str, n: int | None = None) -> F64:
        return self.series(symbol, "close", n)

    def last(self, symbol: str) -> Bar | None:
        """The symbol's bar on the view's session, or None if it did not trade that day."""
        j = self.data.col.get(symbol)
        if j is None or self.row < 0 or np.isnan(self.data.panel["close"][self.row, j]):
            return None
        return self._bar(symbol, self.row, j)

    def _bar(self, symbol: str, r: int, j: int) -> Bar:
        p = self.data.panel
        return Bar(
            symbol,
            self.data.dates[r],
            float(p["open"][r, j]),
            float(p["high"][r, j]),
            float(p["low"][r, j]),
            float(p["close"][r, j]),
            float(p["volume"][r, j]),
        )

    def bars(self, symbol: str, n: int) -> list[Bar]:
        """The symbol's last ``n`` bars up to ``as_of`` (sessions it did not trade are skipped)."""
        j = self.data.col.get(symbol)
        if j is None or self.row < 0:
            return []
        p = self.data.panel
        start = max(0, self.row + 1 - 3 * n)
        rows = [r for r in range(start, self.row + 1) if not np.isnan(p["close"][r, j])][-n:]
        return [self._bar(symbol, r, j) for r in rows]

    def last_price(self, symbol: str) -> float | None:
        bar = self.last(symbol)
        return bar.close if bar else None

    def prices(self) -> dict[str, float]:
        return dict(self.today())

    def adv(self, symbol: str, n: int = 20) -> float:
        """Average daily volume over the last ``n`` sessions (0 if unknown)."""
        vols = self.series(symbol, "volume", n)
        return float(vols.mean()) if vols.size else 0.0

    def returns(self, symbols: Iterable[str], n: int) -> F64:
        """Daily simple returns of ``symbols`` over the last ``n`` sessions, shape (n, k); NaN-free rows only."""
        cols = self.data.columns(tuple(symbols))[1]
        if self.row < 1 or not cols.size:
            return np.empty((0, cols.size))
        start = max(0, self.row - n)
        closes = self.data.panel["close"][start : self.row + 1][:, cols]
        rets = closes[1:] / closes[:-1] - 1.0
        return rets[~np.isnan(rets).any(axis=1)]

    def fundamentals(self, symbol: str) -> Fundamentals | None:
        snaps = self.data.fundamentals.get(symbol, [])
        i = bisect.bisect_right([f.asof for f in snaps], self.as_of) - 1
        return snaps[i] if i >= 0 else None

    def headlines(self, symbol: str | None = None, *, days: int = 1) -> list[Headline]:
        """Headlines published up to the end of ``as_of``, from the last ``days`` days."""
        end = datetime.combine(self.as_of, time.max, tzinfo=UTC)
        start = datetime.combine(date.fromordinal(self.as_of.toordinal() - days + 1), time.min, tzinfo=UTC)
        lo = bisect.bisect_left(self.data._headline_ts, start)
        hi = bisect.bisect_right(self.data._headline_ts, end)
        return [h for h in self.data.headlines[lo:hi] if symbol is None or h.symbol == symbol]

    def macro(self, series: str, n: int = 1) -> list[MacroObservation]:
        """The last ``n`` observations of a macro series dated on or before ``as_of``."""
        obs = self.data.macro.get(series, [])
        i = bisect.bisect_right([o.date for o in obs], self.as_of)
        return obs[max(0, i - n) : i]

    def sector(self, symbol: str) -> str:
        return self.data.sectors.get(symbol, "unknown")
