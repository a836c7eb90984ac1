"""CsvProvider on both layouts, on the real public-domain file, and on broken files."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from agents.data import (
    CsvFormatError,
    CsvProvider,
    Dataset,
    DatasetUnavailable,
    SymbolNotFound,
    read_bars_csv,
)

STOCKS = Path(__file__).resolve().parents[2] / "data" / "stocks.csv.gz"
WIDE = date(1990, 1, 1), date(2030, 1, 1)


async def test_real_file_long_layout() -> None:
    p = CsvProvider(STOCKS)
    bars = await p.bars(["AAPL", "GOOG", "IBM", "MSFT", "FB"], *WIDE)
    aapl = bars["AAPL"]
    assert len(aapl) == 3270
    assert (aapl[0].date, aapl[-1].date) == (date(2000, 3, 1), date(2013, 3, 1))
    first, last = aapl[0], aapl[-1]
    assert (first.open, first.high, first.low, first.close, first.volume) == (118.56, 132.06, 118.5, 130.31, 9616100)
    assert (last.close, last.volume, last.adj_close) == (430.47, 19730300, 56.137353095488)
    split = {b.date: b for b in aapl if date(2005, 2, 25) <= b.date <= date(2005, 2, 28)}
    assert (split[date(2005, 2, 25)].close, split[date(2005, 2, 28)].close) == (88.99, 44.86)
    assert bars["GOOG"][0].date == date(2004, 8, 19)
    assert bars["GOOG"][0].close == 100.335
    assert (len(bars["GOOG"]), len(bars["IBM"]), len(bars["MSFT"]), len(bars["FB"])) == (2148, 3270, 3270, 196)
    for series in bars.values():
        assert [b.date for b in series] == sorted({b.date for b in series})
    assert p.symbols() == ["AAPL", "FB", "GOOG", "IBM", "MSFT"]


async def test_real_file_range_and_adjustment() -> None:
    raw = (await CsvProvider(STOCKS).bars(["aapl"], date(2005, 2, 24), date(2005, 3, 1)))["aapl"]
    assert [b.date.day for b in raw] == [24, 25, 28, 1]
    adjusted = (await CsvProvider(STOCKS, adjust=True).bars(["AAPL"], date(2005, 2, 24), date(2005, 3, 1)))["AAPL"]
    # back-adjusted: the 2:1 split no longer looks like a -50% day
    assert abs(adjusted[2].close / adjusted[1].close - 1) < 0.02
    for b in adjusted:
        assert b.close == b.adj_close
        assert b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high


async def test_only_bars_and_known_symbols() -> None:
    p = CsvProvider(STOCKS)
    with pytest.raises(SymbolNotFound, match="TSLA"):
        await p.bars(["TSLA"], *WIDE)
    with pytest.raises(DatasetUnavailable) as info:
        await p.fundamentals(["AAPL"], date(2010, 1, 4))
    assert info.value.dataset is Dataset.FUNDAMENTALS
    with pytest.raises(DatasetUnavailable):
        await p.headlines(["AAPL"], datetime(2010, 1, 1, tzinfo=UTC), datetime(2010, 2, 1, tzinfo=UTC))
    with pytest.raises(DatasetUnavailable):
        await p.macro(["rates"], date(2010, 1, 1), date(2010, 2, 1))
    assert (await p.health()).ok


def _write(path: Path, text: str) -> Path:
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


async def test_directory_layout_plain_and_gzip_sorted_deduped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _write(
        tmp_path / "AAA.csv",
        "Date,Open,High,Low,Close,Volume,Adj Close\n"
        "2024-01-03,11,12,10,11.5,1000,11.4\n"
        "2024-01-02,10,11,9,10.5,900,10.4\n"
        "2024-01-03,11,12,10,11.6,1100,11.5\n"
        "\n",
    )
    _write(
        tmp_path / "BBB.csv.gz",
        "date,open,high,low,close,volume\n2024-01-02 00:00:00,20,21,19,20.5,5e3\n",
    )
    p = CsvProvider(tmp_path)
    assert p.symbols() == ["AAA", "BBB"]
    bars = await p.bars(["BBB", "AAA"], date(2024, 1, 1), date(2024, 1, 31))
    assert [b.date for b in bars["AAA"]] == [date(2024, 1, 2), date(2024, 1, 3)]
    assert bars["AAA"][1].close == 11.6  # the later duplicate row wins
    assert "1 duplicate dated rows dropped" in caplog.text
    assert bars["BBB"][0].adj_close is None
    assert bars["BBB"][0].volume == 5000
    with pytest.raises(SymbolNotFound, match="CCC"):
        await p.bars(["CCC"], date(2024, 1, 1), date(2024, 1, 31))


async def test_long_layout_with_symbol_column(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "prices.csv",
        "Symbol,Date,Open,High,Low,Close,Volume\n"
        "YYY,01/03/2024,5,6,4,5.5,10\n"
        "XXX,2024-01-02,1,2,0.5,1.5,10\n"
        "YYY,2024-01-02,5,6,4,5.25,10\n",
    )
    bars = await CsvProvider(path).bars(["XXX", "YYY"], date(2024, 1, 1), date(2024, 1, 31))
    assert [b.close for b in bars["YYY"]] == [5.25, 5.5]
    assert len(bars["XXX"]) == 1


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("2024-01-04,12,13,11,twelve,100", "close: 'twelve' is not a number"),
        ("2024-13-40,12,13,11,12,100", "unrecognised date '2024-13-40'"),
        ("2024-01-04,12,13", "expected 6 fields, got 3"),
        ("2024-01-04,12,13,11,nan,100", "close: 'nan' is not finite"),
    ],
)
async def test_bad_row_names_file_and_line(tmp_path: Path, row: str, reason: str) -> None:
    path = _write(
        tmp_path / "ZZZ.csv",
        f"Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10,100\n2024-01-03,11,12,10,11,100\n{row}\n",
    )
    with pytest.raises(CsvFormatError) as info:
        await CsvProvider(tmp_path).bars(["ZZZ"], date(2024, 1, 1), date(2024, 1, 31))
    assert str(info.value) == f"{path}:4: {reason}"
    assert info.value.line == 4
    health = await CsvProvider(tmp_path).health()
    assert health.ok  # not loaded yet; the failing instance reports it:
    failing = CsvProvider(tmp_path)
    with pytest.raises(CsvFormatError):
        await failing.bars(["ZZZ"], date(2024, 1, 1), date(2024, 1, 31))
    assert not (await failing.health()).ok


def test_bad_headers(tmp_path: Path) -> None:
    no_close = _write(tmp_path / "a.csv", "Date,Open,High,Low,Volume\n")
    with pytest.raises(CsvFormatError, match=r"a\.csv:1: header lacks close"):
        read_bars_csv(no_close, "A")
    no_ticker = _write(tmp_path / "b.csv", "Date,Open,High,Low,Close,Volume\n")
    with pytest.raises(CsvFormatError, match="needs a Ticker or Symbol column"):
        read_bars_csv(no_ticker)
    empty = _write(tmp_path / "c.csv", "")
    with pytest.raises(CsvFormatError, match="empty file"):
        read_bars_csv(empty, "C")
    broken_gz = tmp_path / "d.csv.gz"
    broken_gz.write_bytes(b"not gzip at all")
    with pytest.raises(CsvFormatError, match="cannot read"):
        read_bars_csv(broken_gz, "D")


async def test_missing_path_is_unhealthy(tmp_path: Path) -> None:
    p = CsvProvider(tmp_path / "nope.csv")
    assert not (await p.health()).ok
    with pytest.raises(CsvFormatError, match="no such file"):
        await p.bars(["A"], date(2024, 1, 1), date(2024, 1, 2))
