"""Nightly archive and weekly rotation: the chain of custody stays provable across files."""

from __future__ import annotations

import gzip
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from storage.audit import (
    ROTATED_EVENT,
    AuditChainError,
    AuditError,
    AuditLockedError,
    AuditLog,
    VerifyReason,
    archive,
    rotate,
    verify,
    verify_chain,
)
from tests.storage._audit_helpers import T0, StepClock, read_lines, record, write_lines, write_log

NIGHT = datetime(2026, 1, 15, 23, 0, tzinfo=timezone(timedelta(hours=-5)))  # New York, 04:00 UTC next day


@pytest.fixture
def live(tmp_path: Path) -> Path:
    path = tmp_path / "audit" / "runtime_events.jsonl"
    write_log(path, 50)
    return path


def gunzip(path: Path) -> bytes:
    with gzip.open(path, "rb") as f:
        return f.read()


def test_archive_is_a_verified_gzip_copy_named_by_the_local_date(live: Path, tmp_path: Path) -> None:
    done = archive(live, tmp_path / "archive", now=NIGHT)
    assert done.path == tmp_path / "archive" / "runtime_events-20260115.jsonl.gz"
    assert gunzip(done.path) == live.read_bytes()
    assert done.size == live.stat().st_size
    assert done.verify.ok
    assert done.verify.lines == 50
    assert done.verify.path == str(done.path)
    assert verify(done.path).head == verify(live).head
    assert not list((tmp_path / "archive").glob(".*"))  # no temporary file left behind


def test_archive_of_a_grown_log_replaces_tonights_archive(live: Path, tmp_path: Path) -> None:
    first = archive(live, tmp_path / "archive", now=NIGHT)
    write_log(live, 5, first=50)
    again = archive(live, tmp_path / "archive", now=NIGHT)
    assert again.path == first.path
    assert again.verify.lines == 55


def test_archive_skips_a_torn_last_line_and_keeps_it_in_the_live_file(live: Path, tmp_path: Path) -> None:
    lines = read_lines(live)
    write_lines(live, [*lines, b'{"seq":51,"half a li'])
    done = archive(live, tmp_path / "archive", now=NIGHT)
    assert gunzip(done.path) == b"".join(lines)
    assert done.verify.ok
    assert verify(live).reason is VerifyReason.TRUNCATED


def test_archive_of_a_corrupt_log_is_kept_as_evidence(live: Path, tmp_path: Path) -> None:
    lines = read_lines(live)
    lines[20] = lines[20].replace(b"event-", b"EVENT-")
    write_lines(live, lines)
    done = archive(live, tmp_path / "archive", now=NIGHT)
    assert gunzip(done.path) == live.read_bytes()
    assert (done.verify.ok, done.verify.first_bad_line, done.verify.reason) == (
        False,
        21,
        VerifyReason.HASH_MISMATCH,
    )


def test_rotation_links_the_new_file_to_the_archive(live: Path, tmp_path: Path) -> None:
    dest = tmp_path / "archive"
    before = verify(live).head
    assert before is not None
    with AuditLog(live, run_id="run-1", env="test", clock=StepClock()) as log:
        rotated = log.rotate(dest, now=NIGHT)
        rec = log.append("test.event", {"after": "rotation"}, actor="tester")
        head = log.head
    assert rotated.record["event"] == ROTATED_EVENT
    assert rotated.record["seq"] == 51
    assert rotated.record["prev"] == before.hash
    assert rotated.record["data"] == {
        "archived": "runtime_events-20260115.jsonl.gz",
        "last_seq": 50,
        "last_hash": before.hash,
    }
    assert rotated.archive.verify.head == before
    assert rec.seq == 52
    assert rec.prev == rotated.record["hash"]
    assert [record(line)["seq"] for line in read_lines(live)] == [51, 52]
    # The new file verifies alone (its first line is the rotation record), and the pair as one chain.
    alone = verify(live)
    assert alone.ok
    assert alone.lines == 2
    chain = verify_chain([rotated.archive.path, live], expected_head=head)
    assert chain.ok
    assert chain.lines == 52
    assert chain.head == head


def test_verify_chain_catches_a_broken_link_between_files(live: Path, tmp_path: Path) -> None:
    dest = tmp_path / "archive"
    with AuditLog(live, run_id="run-1", env="test", clock=StepClock()) as log:
        first = log.rotate(dest, now=NIGHT).archive.path
        log.append("test.event", {}, actor="tester")
        second = log.rotate(dest, now=NIGHT + timedelta(days=7)).archive.path
    assert verify_chain([first, second, live]).ok
    assert verify_chain([second, first, live]).reason is VerifyReason.OUT_OF_ORDER
    skipped = verify_chain([first, live])
    assert (skipped.ok, skipped.path, skipped.first_bad_line) == (False, str(live), 1)
    assert skipped.reason is VerifyReason.SEQ_GAP
    # Tamper with the older archive: the chain names that file and line.
    lines = gunzip(first).split(b"\n")
    lines[9] = lines[9].replace(b"event-", b"EVENT-")
    first.write_bytes(gzip.compress(b"\n".join(lines)))
    tampered = verify_chain([first, second, live])
    assert (tampered.ok, tampered.path, tampered.first_bad_line) == (False, str(first), 10)
    assert tampered.reason is VerifyReason.HASH_MISMATCH


def test_verify_with_a_start_that_does_not_match(live: Path, tmp_path: Path) -> None:
    with AuditLog(live, run_id="run-1", env="test", clock=StepClock()) as log:
        log.rotate(tmp_path / "archive", now=NIGHT)
    result = verify(live, start=(50, "e" * 64))
    assert (result.ok, result.first_bad_line, result.reason) == (False, 1, VerifyReason.CHAIN_BROKEN)
    genesis = tmp_path / "fresh.jsonl"
    write_log(genesis, 2)
    assert verify(genesis, start=(50, "e" * 64)).reason is VerifyReason.OUT_OF_ORDER


def test_expected_head_before_the_rotation_is_checked_against_the_rotation_record(live: Path, tmp_path: Path) -> None:
    old_head = verify(live).head
    assert old_head is not None
    rotate(live, tmp_path / "archive", now=NIGHT, run_id="run-1", env="test")
    assert verify(live, expected_head=old_head).ok
    wrong = verify(live, expected_head=(old_head.seq, "d" * 64))
    assert (wrong.ok, wrong.first_bad_line, wrong.reason) == (False, 1, VerifyReason.CHAIN_BROKEN)


def test_an_archive_from_the_same_day_is_never_overwritten(live: Path, tmp_path: Path) -> None:
    dest = tmp_path / "archive"
    week = rotate(live, dest, now=NIGHT, run_id="run-1", env="test").archive
    week_bytes = week.path.read_bytes()
    nightly = archive(live, dest, now=NIGHT)  # the new file is not a prefix of the week's archive
    assert nightly.path.name == "runtime_events-20260115-2.jsonl.gz"
    assert week.path.read_bytes() == week_bytes
    assert nightly.verify.lines == 1


def test_rotate_refuses_a_writer_held_log_and_a_corrupt_one(live: Path, tmp_path: Path) -> None:
    dest = tmp_path / "archive"
    with AuditLog(live, run_id="run-1", env="test"), pytest.raises(AuditLockedError):
        rotate(live, dest, now=NIGHT, run_id="run-1", env="test")
    lines = read_lines(live)
    write_lines(live, lines[:30] + lines[31:])
    before = live.read_bytes()
    with pytest.raises(AuditChainError) as caught:
        rotate(live, dest, now=NIGHT, run_id="run-1", env="test")
    assert (caught.value.line, caught.value.reason) == (31, VerifyReason.SEQ_GAP)
    assert live.read_bytes() == before  # still the log; its archive is kept as evidence
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with pytest.raises(AuditError, match="nothing to rotate"):
        rotate(empty, dest, now=NIGHT, run_id="run-1", env="test")


def test_rotate_refuses_a_torn_last_line(live: Path, tmp_path: Path) -> None:
    write_lines(live, [*read_lines(live), b'{"seq":51'])
    with pytest.raises(AuditChainError) as caught:
        rotate(live, tmp_path / "archive", now=NIGHT, run_id="run-1", env="test")
    assert (caught.value.line, caught.value.reason) == (51, VerifyReason.TRUNCATED)


def test_a_corrupt_gzip_archive_is_reported_not_raised(live: Path, tmp_path: Path) -> None:
    done = archive(live, tmp_path / "archive", now=NIGHT)
    data = done.path.read_bytes()
    done.path.write_bytes(data[: len(data) // 2])
    result = verify(done.path)
    assert not result.ok
    assert result.reason is VerifyReason.UNPARSEABLE
    assert "compressed" in result.message


def test_rotation_record_uses_the_rotation_time(live: Path, tmp_path: Path) -> None:
    done = rotate(live, tmp_path / "archive", now=T0, run_id="run-9", env="paper", actor="ops.scheduler")
    assert done.record["ts"] == "2026-01-15T14:30:00.000000Z"
    assert (done.record["run_id"], done.record["env"], done.record["actor"]) == ("run-9", "paper", "ops.scheduler")
    with pytest.raises(ValueError, match="aware"):
        archive(live, tmp_path / "archive", now=datetime(2026, 1, 1))  # noqa: DTZ001 - on purpose
