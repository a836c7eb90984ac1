"""Daily bars from CSV files: one file per symbol, or one long file with a ticker column.

Layouts (``.csv`` or ``.csv.gz``):

* a directory of ``<SYMBOL>.csv[.gz]`` files with a header ``Date,Open,High,Low,Close,Volume[,Adj Close]``;
* a single file with an extra ``Ticker`` (or ``Symbol``) column holding the symbol, rows in any order;
  this is the layout of the public-domain ``stocks.csv.gz`` shipped in tests/data.

Header names are matched case-insensitively, ignoring spaces and underscores (``Adj Close``,
``adj_close`` and ``AdjClose`` are the same column). Rows are sorted by date and de-duplicated (the
last row for a date wins, a warning is logged). A row that cannot be parsed raises
:class:`~agents.data.CsvFormatError` naming ``file:line``.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import logging
import math
import time
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import IO

from agents.data._clock import Clock, SystemClock
from agents.data._errors import CsvFormatError, SymbolNotFound
from agents.data._provider import DataProvider, dedupe_symbols
from agents.data._types import Bar, Dataset, ProviderHealth

log = logging.getLogger(__name__)

_REQUIRED = ("date", "open", "high", "low", "close", "volume")
_ALIASES = {
    "date": "date",
    "timestamp": "date",
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "volume": "volume",
    "adjclose": "adj_close",
    "adjustedclose": "adj_close",
    "ticker": "symbol",
    "symbol": "symbol",
}
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y", "%Y%m%d")
_SUFFIXES = (".csv.gz", ".csv")


def _canonical(header: str) -> str:
    key = header.strip().lower().replace(" ", "").replace("_", "").replace("-", "")
    return _ALIASES.get(key, key)


def _parse_date(text: str) -> date:
    text = text.strip()
    head = text[:10] if len(text) > 10 and text[4:5] == "-" else text  # "2013-03-01 00:00:00"
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(head, fmt).date()  # noqa: DTZ007 - a calendar date, no time zone
        except ValueError:
            continue
    raise ValueError(f"unrecognised date {text!r}")


def _parse_float(text: str, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{column}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{column}: {text!r} is not finite")
    return value


def _open_text(path: Path) -> IO[str]:
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def _symbol_of(path: Path) -> str | None:
    for suffix in _SUFFIXES:
        if path.name.lower().endswith(suffix):
            return path.name[: -len(suffix)].upper()
    return None


def read_bars_csv(path: Path, symbol: str | None = None) -> dict[str, list[Bar]]:
    """Read one CSV file into bars per symbol (sorted by date, one bar per date).

    Args:
        path: the file (``.csv`` or ``.csv.gz``).
        symbol: the symbol for a per-symbol file; None means the file must have a ticker column.

    Raises:
        CsvFormatError: bad header or row; the message names ``path:line``.
    """
    by_symbol: dict[str, dict[date, Bar]] = {}
    duplicates = 0
    try:
        with _open_text(path) as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise CsvFormatError(path, 1, "empty file (no header)")
            columns = [_canonical(h) for h in header]
            index = {name: i for i, name in enumerate(columns)}
            missing = [c for c in _REQUIRED if c not in index]
            if missing:
                raise CsvFormatError(path, 1, f"header lacks {', '.join(missing)} (got {header})")
            if symbol is None and "symbol" not in index:
                raise CsvFormatError(path, 1, "a single-file layout needs a Ticker or Symbol column")
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                line = reader.line_num
                try:
                    bar = _bar_from_row(row, index, symbol, len(columns))
                except ValueError as exc:
                    raise CsvFormatError(path, line, str(exc)) from None
                series = by_symbol.setdefault(bar.symbol, {})
                if bar.date in series:
                    duplicates += 1
                series[bar.date] = bar
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
        raise CsvFormatError(path, None, f"cannot read: {exc}") from exc
    if duplicates:
        log.warning("%s: %d duplicate dated rows dropped (last one kept)", path, duplicates)
    return {sym: [series[d] for d in sorted(series)] for sym, series in by_symbol.items()}


def _bar_from_row(row: list[str], index: dict[str, int], symbol: str | None, width: int) -> Bar:
    if len(row) < width:
        raise ValueError(f"expected {width} fields, got {len(row)}")

    def cell(name: str) -> str:
        return row[index[name]].strip()

    sym = symbol if symbol is not None else cell("symbol").upper()
    if not sym:
        raise ValueError("empty ticker")
    adj_text = cell("adj_close") if "adj_close" in index else ""
    volume = _parse_float(cell("volume"), "volume")
    return Bar(
        symbol=sym,
        date=_parse_date(cell("date")),
        open=_parse_float(cell("open"), "open"),
        high=_parse_float(cell("high"), "high"),
        low=_parse_float(cell("low"), "low"),
        close=_parse_float(cell("close"), "close"),
        volume=float(round(volume)) if volume.is_integer() else volume,
        adj_close=_parse_float(adj_text, "adj_close") if adj_text else None,
    )


def adjust_bars(bars: Sequence[Bar]) -> list[Bar]:
    """Back-adjust OHLC and volume by the ``adj_close / close`` ratio (splits and dividends).

    Bars without an adjusted close are returned unchanged. Useful when a source's raw prices carry
    splits that would look like crashes to the outlier check and to technical signals.
    """
    out = []
    for b in bars:
        if b.adj_close is None or b.close <= 0:
            out.append(b)
            continue
        k = b.adj_close / b.close
        out.append(
            Bar(
                symbol=b.symbol,
                date=b.date,
                open=b.open * k,
                high=b.high * k,
                low=b.low * k,
                close=b.adj_close,
                volume=b.volume / k if k > 0 else b.volume,
                adj_close=b.adj_close,
            )
        )
    return out


class CsvProvider(DataProvider):
    """Bars from a directory of per-symbol CSV files or one long CSV file (see module docstring).

    Files are parsed on first use (in a worker thread) and kept in memory. Only ``bars`` is served.

    Args:
        path: a directory or a single ``.csv``/``.csv.gz`` file.
        adjust: back-adjust OHLC and volume with the file's adjusted close (see :func:`adjust_bars`).
        name: the provider name used in health, errors and quarantine keys.
        clock: stamps health reports (defaults to the system clock).
    """

    capabilities = frozenset({Dataset.BARS})

    def __init__(
        self, path: Path | str, *, adjust: bool = False, name: str = "csv", clock: Clock | None = None
    ) -> None:
        self.path = Path(path)
        self._clock: Clock = clock or SystemClock()
        self.adjust = adjust
        self.name = name
        self._long: dict[str, list[Bar]] | None = None
        self._per_symbol: dict[str, list[Bar]] = {}
        self._lock = asyncio.Lock()
        self._last_error: str | None = None
        self._last_latency_ms: float | None = None

    def _file_for(self, symbol: str) -> Path | None:
        for suffix in _SUFFIXES:
            for candidate in (symbol, symbol.upper(), symbol.lower()):
                p = self.path / f"{candidate}{suffix}"
                if p.is_file():
                    return p
        return None

    def symbols(self) -> list[str]:
        """The symbols available (for a single file: after it has been loaded once)."""
        if self.path.is_dir():
            return sorted({s for p in self.path.iterdir() if (s := _symbol_of(p)) is not None})
        return sorted(self._long or {})

    def _load_sync(self, symbols: Sequence[str]) -> dict[str, list[Bar]]:
        if self.path.is_dir():
            for sym in symbols:
                if sym in self._per_symbol:
                    continue
                file = self._file_for(sym)
                if file is None:
                    raise SymbolNotFound(self.name, sym, f"no {sym}.csv or {sym}.csv.gz in {self.path}")
                series = read_bars_csv(file, sym.upper()).get(sym.upper(), [])
                self._per_symbol[sym] = adjust_bars(series) if self.adjust else series
            return {sym: self._per_symbol[sym] for sym in symbols}
        if self._long is None:
            if not self.path.is_file():
                raise CsvFormatError(self.path, None, "no such file or directory")
            data = read_bars_csv(self.path)
            self._long = {s: adjust_bars(v) if self.adjust else v for s, v in data.items()}
        long = self._long
        out: dict[str, list[Bar]] = {}
        for sym in symbols:
            found = long.get(sym.upper())
            if found is None:
                raise SymbolNotFound(self.name, sym, f"not in {self.path.name}")
            out[sym] = found
        return out

    async def bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, list[Bar]]:
        wanted = dedupe_symbols(symbols)
        t0 = time.perf_counter()
        try:
            async with self._lock:
                loaded = await asyncio.to_thread(self._load_sync, wanted)
        except CsvFormatError as exc:
            self._last_error = str(exc)
            raise
        self._last_latency_ms = (time.perf_counter() - t0) * 1000
        self._last_error = None
        return {sym: [b for b in series if start <= b.date <= end] for sym, series in loaded.items()}

    async def health(self) -> ProviderHealth:
        exists = self.path.exists()
        error = self._last_error or (None if exists else f"{self.path} does not exist")
        return ProviderHealth(
            name=self.name,
            ok=exists and self._last_error is None,
            latency_ms=self._last_latency_ms,
            last_error=error,
            checked_at=self._clock.now(),
        )
