"""The audit log on real files: writing, reopening, and verify naming the exact bad line."""

from __future__ import annotations

import asyncio
import itertools
import json
import tempfile
import threading
from datetime import datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage._audit_format import canonical_json, encode_record, record_hash
from storage.audit import (
    GENESIS_PREV,
    AuditChainError,
    AuditError,
    AuditLockedError,
    AuditLog,
    VerifyReason,
    read_head,
    verify,
)
from tests.storage._audit_helpers import StepClock, read_lines, record, rehashed, write_lines, write_log

N = 1000


@pytest.fixture(scope="module")
def clean_log(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a clean log of ``N`` events, written once through :class:`AuditLog`."""
    path = tmp_path_factory.mktemp("audit") / "runtime_events.jsonl"
    write_log(path, N)
    return path.read_bytes()


@pytest.fixture
def log_path(tmp_path: Path, clean_log: bytes) -> Path:
    """A fresh copy of the clean log, for one test to damage."""
    path = tmp_path / "audit" / "runtime_events.jsonl"
    path.parent.mkdir()
    path.write_bytes(clean_log)
    return path


def assert_bad(path: Path, line: int, reason: VerifyReason, **kwargs: Any) -> None:
    result = verify(path, **kwargs)
    assert (result.ok, result.first_bad_line, result.reason) == (False, line, reason), result.message
    assert result.message.startswith(f"line {line}:") or reason is VerifyReason.TAIL_MISSING


# -- verify ---------------------------------------------------------------------------------------


def test_clean_log_of_1000_events_verifies(log_path: Path) -> None:
    result = verify(log_path)
    lines = read_lines(log_path)
    assert result.ok
    assert result.lines == N
    assert result.first_bad_line is None
    assert result.reason is None
    assert result.head == (N, record(lines[-1])["hash"])
    first = record(lines[0])
    assert (first["seq"], first["prev"]) == (1, GENESIS_PREV)
    assert all(record(b)["prev"] == record(a)["hash"] for a, b in itertools.pairwise(lines))


def test_byte_flipped_inside_a_string_value_is_a_hash_mismatch_on_that_line(log_path: Path) -> None:
    lines = read_lines(log_path)
    at = lines[499].index(b"event-0499") + 6
    lines[499] = lines[499][:at] + b"X" + lines[499][at + 1 :]
    write_lines(log_path, lines)
    assert_bad(log_path, 500, VerifyReason.HASH_MISMATCH)


@pytest.mark.parametrize(
    ("old", "new"),
    [(b'"note"', b'"note:'), (b"{", b"["), (b"e", b"\xff")],
    ids=["quote-to-colon", "brace-to-bracket", "invalid-utf8"],
)
def test_byte_flipped_to_break_the_json_is_unparseable_on_that_line(log_path: Path, old: bytes, new: bytes) -> None:
    lines = read_lines(log_path)
    lines[499] = lines[499].replace(old, new, 1)
    write_lines(log_path, lines)
    assert_bad(log_path, 500, VerifyReason.UNPARSEABLE)


def test_escape_case_change_that_parses_the_same_is_still_caught(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    with AuditLog(path, run_id="r", env="e", clock=StepClock()) as log:
        log.append("test.event", {"ctl": "\x1f", "big": 1e16}, actor="tester")
    for old, new in [(b"\\u001f", b"\\u001F"), (b"1e+16", b"1E+16")]:
        original = path.read_bytes()
        path.write_bytes(original.replace(old, new))
        assert json.loads(path.read_bytes()) == json.loads(original)  # same values...
        assert_bad(path, 1, VerifyReason.HASH_MISMATCH)  # ...different bytes
        path.write_bytes(original)


def test_number_flipped_out_of_float_range_is_unparseable(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    with AuditLog(path, run_id="r", env="e", clock=StepClock()) as log:
        log.append("test.event", {"big": 1e16}, actor="tester")
    path.write_bytes(path.read_bytes().replace(b"1e+16", b"1e316"))  # parses to inf, which has no JSON form
    assert_bad(path, 1, VerifyReason.UNPARSEABLE)


def test_deleted_line_is_a_seq_gap_at_the_line_after_the_gap(log_path: Path) -> None:
    lines = read_lines(log_path)
    del lines[299]  # seq 300
    write_lines(log_path, lines)
    assert_bad(log_path, 300, VerifyReason.SEQ_GAP)
    assert "seq 301" in verify(log_path).message


def test_deleted_first_line_is_a_seq_gap_at_line_1(log_path: Path) -> None:
    write_lines(log_path, read_lines(log_path)[1:])
    assert_bad(log_path, 1, VerifyReason.SEQ_GAP)


@pytest.mark.parametrize(("a", "b"), [(9, 10), (9, 19), (0, 1)], ids=["adjacent", "apart", "first-two"])
def test_swapped_lines_are_named_at_the_first_swapped_line(log_path: Path, a: int, b: int) -> None:
    lines = read_lines(log_path)
    lines[a], lines[b] = lines[b], lines[a]
    write_lines(log_path, lines)
    result = verify(log_path)
    assert not result.ok
    assert result.first_bad_line == a + 1
    assert result.reason in {VerifyReason.CHAIN_BROKEN, VerifyReason.OUT_OF_ORDER}


def test_repeated_line_goes_backwards(log_path: Path) -> None:
    lines = read_lines(log_path)
    lines.insert(10, lines[9])
    write_lines(log_path, lines)
    assert_bad(log_path, 11, VerifyReason.OUT_OF_ORDER)


def test_line_with_a_rewritten_prev_breaks_the_chain(log_path: Path) -> None:
    lines = read_lines(log_path)
    forged = record(lines[41])
    forged["prev"] = "f" * 64
    lines[41] = rehashed(forged)
    write_lines(log_path, lines)
    assert_bad(log_path, 42, VerifyReason.CHAIN_BROKEN)


def test_missing_and_invalid_fields_are_named(log_path: Path) -> None:
    lines = read_lines(log_path)
    no_actor = record(lines[4])
    del no_actor["actor"]
    lines[4] = rehashed(no_actor)
    write_lines(log_path, lines)
    assert_bad(log_path, 5, VerifyReason.MISSING_FIELD)
    string_seq = record(lines[3])
    string_seq["seq"] = "4"
    lines[3] = rehashed(string_seq)
    write_lines(log_path, lines)
    assert_bad(log_path, 4, VerifyReason.INVALID_FIELD)


@pytest.mark.parametrize("at_line", [N, 700])
def test_file_cut_mid_line_is_truncated_at_its_last_line(log_path: Path, at_line: int) -> None:
    lines = read_lines(log_path)
    cut = [*lines[: at_line - 1], lines[at_line - 1][:40]]
    write_lines(log_path, cut)
    assert_bad(log_path, at_line, VerifyReason.TRUNCATED)


def test_tail_deletion_is_caught_only_with_the_expected_head(log_path: Path) -> None:
    lines = read_lines(log_path)
    head = (N, record(lines[-1])["hash"])
    assert verify(log_path, expected_head=head).ok
    write_lines(log_path, lines[:-5])
    assert verify(log_path).ok  # a shorter chain is still a valid chain
    assert_bad(log_path, N - 4, VerifyReason.TAIL_MISSING, expected_head=head)
    log_path.write_bytes(b"")
    assert_bad(log_path, 1, VerifyReason.TAIL_MISSING, expected_head=head)


def test_expected_head_may_lag_the_log_but_must_match_it(log_path: Path) -> None:
    lines = read_lines(log_path)
    at_900 = record(lines[899])["hash"]
    assert verify(log_path, expected_head=(900, at_900)).ok  # ledger behind after a crash: fine
    assert_bad(log_path, 900, VerifyReason.HASH_MISMATCH, expected_head=(900, "a" * 64))


def test_missing_and_empty_files_verify_with_zero_lines(tmp_path: Path) -> None:
    missing = verify(tmp_path / "nope.jsonl")
    assert missing.ok
    assert missing.missing
    assert missing.lines == 0
    assert "does not exist" in missing.message
    (tmp_path / "empty.jsonl").write_bytes(b"")
    empty = verify(tmp_path / "empty.jsonl")
    assert empty.ok
    assert not empty.missing
    assert empty.lines == 0
    assert empty.head is None
    gone = verify(tmp_path / "nope.jsonl", expected_head=(3, "0" * 64))
    assert not gone.ok
    assert gone.reason is VerifyReason.TAIL_MISSING
    assert gone.missing


# -- AuditLog -------------------------------------------------------------------------------------


def test_reopening_continues_seq_and_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "runtime_events.jsonl"
    write_log(path, 10)
    with AuditLog(path, run_id="run-2", env="test", clock=StepClock()) as log:
        assert log.head is not None
        assert log.head.seq == 10
        rec = log.append("test.event", {"again": True}, actor="tester")
    lines = read_lines(path)
    assert rec.seq == 11
    assert rec.prev == record(lines[9])["hash"]
    assert rec.run_id == "run-2"
    write_log(path, 5, first=11)
    result = verify(path)
    assert result.ok
    assert result.lines == 16
    assert result.head == (16, record(read_lines(path)[-1])["hash"])


def test_open_reads_only_the_tail(log_path: Path) -> None:
    lines = read_lines(log_path)
    lines[10] = b"garbage that verify will find\n"
    write_lines(log_path, lines)
    with AuditLog(log_path, run_id="r", env="test") as log:  # the damage is far from the tail
        assert log.append("test.event", {}, actor="tester").seq == N + 1
    assert_bad(log_path, 11, VerifyReason.UNPARSEABLE)


@pytest.mark.parametrize(
    ("damage", "line", "reason"),
    [
        (lambda ls: [*ls[:-1], ls[-1][:-1]], N, VerifyReason.TRUNCATED),
        (lambda ls: [*ls[:-1], ls[-1].replace(b"event-", b"EVENT-")], N, VerifyReason.HASH_MISMATCH),
        (lambda ls: ls[:-2] + ls[-1:], N - 1, VerifyReason.SEQ_GAP),
        (lambda ls: [*ls[:-2], b"{\n", *ls[-1:]], N - 1, VerifyReason.UNPARSEABLE),
        (lambda ls: [*ls, b"\n"], N + 1, VerifyReason.UNPARSEABLE),
    ],
    ids=["torn-last-line", "edited-last-line", "deleted-before-last", "corrupt-before-last", "blank-last"],
)
def test_refuses_to_append_to_a_corrupt_tail(
    log_path: Path, clean_log: bytes, damage: Any, line: int, reason: VerifyReason
) -> None:
    write_lines(log_path, damage(read_lines(log_path)))
    before = log_path.read_bytes()
    with pytest.raises(AuditChainError) as caught:
        AuditLog(log_path, run_id="r", env="test")
    assert (caught.value.line, caught.value.reason) == (line, reason)
    assert f":{line}:" in str(caught.value)
    assert log_path.read_bytes() == before
    with pytest.raises(AuditChainError):
        read_head(log_path)
    log_path.write_bytes(clean_log)
    AuditLog(log_path, run_id="r", env="test").close()  # the refusal released the writer lock


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    with AuditLog(path, run_id="r", env="test"), pytest.raises(AuditLockedError):
        AuditLog(path, run_id="r", env="test")
    with AuditLog(path, run_id="r", env="test") as log:
        log.append("test.event", {}, actor="tester")
    with pytest.raises(AuditError, match="closed"):
        log.append("test.event", {}, actor="tester")


def test_injected_clock_makes_the_file_deterministic(tmp_path: Path) -> None:
    for name in ("a", "b"):
        write_log(tmp_path / name / "log.jsonl", 3)
    assert (tmp_path / "a/log.jsonl").read_bytes() == (tmp_path / "b/log.jsonl").read_bytes()
    stamps = [record(line)["ts"] for line in read_lines(tmp_path / "a/log.jsonl")]
    assert stamps == ["2026-01-15T14:30:00.000000Z", "2026-01-15T14:30:01.000000Z", "2026-01-15T14:30:02.000000Z"]


def test_naive_clock_and_non_json_data_write_nothing(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    naive = AuditLog(path, run_id="r", env="test", clock=datetime.now)
    with naive, pytest.raises(ValueError, match="aware"):
        naive.append("test.event", {}, actor="tester")
    with AuditLog(path, run_id="r", env="test") as log:
        with pytest.raises(ValueError, match="plain JSON"):
            log.append("test.event", {"x": float("nan")}, actor="tester")
        with pytest.raises(TypeError):
            log.append("test.event", {"x": object()}, actor="tester")
        with pytest.raises(ValueError, match="actor"):
            log.append("test.event", {}, actor="")
        assert log.head is None
    assert path.read_bytes() == b""


class Side(Enum):
    BUY = "buy"


def test_data_is_written_in_its_json_form_and_returned_as_written(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    data: dict[Any, Any] = {
        "px": Decimal("101.25"),
        "at": datetime(2026, 1, 2, 3, 4, 5),  # noqa: DTZ001 - a naive value is data, not a clock
        "side": Side.BUY,
        "id": UUID(int=7),
        "legs": (1, 2),
        3: "int key",
    }
    with AuditLog(path, run_id="r", env="test", clock=StepClock()) as log:
        rec = log.append("order.sent", data, actor="execution", tick_id="tick-9")
        data["px"] = Decimal("0")  # later changes to the caller's dict do not leak into the record
    on_disk = record(read_lines(path)[0])
    assert rec.to_dict() == on_disk
    assert on_disk["data"] == {
        "px": "101.25",
        "at": "2026-01-02T03:04:05",
        "side": "buy",
        "id": str(UUID(int=7)),
        "legs": [1, 2],
        "3": "int key",
    }
    assert on_disk["tick_id"] == "tick-9"
    assert verify(path).ok


@pytest.mark.parametrize("n", [0, 1, 3, 10, 50])
def test_tail_returns_the_last_n_records(tmp_path: Path, n: int) -> None:
    path = tmp_path / "log.jsonl"
    with AuditLog(path, run_id="r", env="test") as log:
        assert log.tail(5) == []
        for i in range(10):  # lines of ~40 KB, so the tail spans several read blocks
            log.append("test.event", {"i": i, "pad": "x" * 40_000}, actor="tester")
        got = log.tail(n)
    assert [r["seq"] for r in got] == list(range(11 - min(n, 10), 11))


def test_failed_write_refuses_further_appends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "log.jsonl"
    with AuditLog(path, run_id="r", env="test") as log:
        log.append("test.event", {}, actor="tester")

        def broken_fsync(fd: int) -> None:
            raise OSError(5, "Input/output error")

        monkeypatch.setattr("storage.audit.os.fsync", broken_fsync)
        with pytest.raises(OSError, match="Input/output"):
            log.append("test.event", {}, actor="tester")
        monkeypatch.undo()
        with pytest.raises(AuditError, match="refusing to append"):
            log.append("test.event", {}, actor="tester")


def test_concurrent_threads_and_tasks_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    with AuditLog(path, run_id="r", env="test") as log:

        def worker(k: int) -> None:
            for i in range(50):
                log.append("test.thread", {"k": k, "i": i}, actor=f"thread-{k}")

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        async def tasks() -> list[int]:
            recs = await asyncio.gather(*(log.aappend("test.task", {"j": j}, actor="task") for j in range(20)))
            return sorted(r.seq for r in recs)

        assert asyncio.run(tasks()) == list(range(401, 421))
    result = verify(path)
    assert result.ok
    assert result.lines == 420


# -- property: any single-byte corruption is found, at its own line -------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
_events = st.lists(
    st.tuples(
        st.sampled_from(["runtime.transition", "order.sent", "risk.kill_switch"]),
        st.dictionaries(st.text(max_size=8), _json_values, max_size=4),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(events=_events, data=st.data())
def test_any_single_byte_corruption_is_reported_at_its_line(
    events: list[tuple[str, dict[str, Any]]], data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "runtime_events.jsonl"
        with AuditLog(path, run_id="run-p", env="prop", clock=StepClock()) as log:
            for event, payload in events:
                log.append(event, payload, actor="prop")
        original = path.read_bytes()
        offset = data.draw(st.integers(0, len(original) - 1), label="offset")
        value = data.draw(st.integers(0, 255), label="byte")
        damaged = bytearray(original)
        damaged[offset] = value
        path.write_bytes(bytes(damaged))
        result = verify(path)
    if value == original[offset]:
        assert result.ok
    else:
        assert not result.ok, f"byte {offset} set to {value:#04x} went unnoticed"
        assert result.first_bad_line == original.count(b"\n", 0, offset) + 1, result.message


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["prev", "hash", "a", ',"prev":', "z"]) | st.text(), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(data=st.dictionaries(st.text(), json_values, max_size=5), run_id=st.text(), tick_id=st.none() | st.text())
def test_the_written_line_is_the_canonical_form_of_the_hashed_record(
    data: dict[str, Any], run_id: str, tick_id: str | None
) -> None:
    body = {"seq": 7, "ts": "2026-01-05T14:30:00.000000Z", "run_id": run_id, "env": "paper", "event": "a.b",
            "actor": "x", "tick_id": tick_id, "data": data, "prev": GENESIS_PREV}  # fmt: skip
    try:
        record, line = encode_record(body)
    except ValueError:  # lone surrogates are refused, as before
        return
    assert line == (canonical_json(record) + "\n").encode("utf-8")
    assert record["hash"] == record_hash(record)
