"""The audit line's fast encoder (:func:`encode_line`) writes the very bytes :func:`encode_record` writes, and
:meth:`AuditLog.write` the very lines :meth:`AuditLog.append` writes."""

from __future__ import annotations

import math
from collections import OrderedDict
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum, IntEnum, StrEnum
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from storage._audit_format import GENESIS_PREV, encode_line, encode_record
from storage.audit import AuditLog, verify
from tests.storage._audit_helpers import StepClock


class Side(Enum):
    BUY = "buy"


class Odd(Enum):
    PAIR = (1, 2)
    MAP = 7.5


class Level(IntEnum):
    HIGH = 3


class Word(StrEnum):
    B = "b"
    A = "a"


class Point(NamedTuple):
    x: int
    y: dict[Any, Any]


class Model(BaseModel):
    name: str
    when: datetime
    weights: dict[str, float]


class Floaty(float):
    def __repr__(self) -> str:
        return "floaty"


def body(data: Any, **fields: Any) -> dict[str, Any]:
    out = {"seq": 3, "ts": "2026-01-05T14:30:00.000000Z", "run_id": "r", "env": "paper", "event": "a.b",
           "actor": "x", "tick_id": "t:1", "data": data, "prev": GENESIS_PREV}  # fmt: skip
    out.update(fields)
    return out


AT = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=-5)))

VARIED: list[Any] = [
    {},
    {"verdicts": [{"approved": True, "qty": 100.0, "reasons": [], "symbol": "S017"}] * 3, "nav": 1e16, "n": -0.0},
    {"legs": (1, (2, 3)), "t": ({"b": 1, "a": 2},)},
    {3: "int key", "a": 1},
    {"m": {10: "ten", 9: "nine"}},
    {"m": {1.5: "x", 10: "y"}},
    {"m": {True: 1, None: 2}},
    {"m": {None: 2}},
    {"m": {Word.B: 1, Word.A: 2}},
    {"at": AT, "day": date(2026, 1, 2), "naive": datetime(2026, 1, 2, 3, 4)},  # noqa: DTZ001 - data, not a clock
    {"px": Decimal("101.250"), "id": UUID(int=7), "path": PurePosixPath("/a/b"), "p": Path("x/y")},
    {"side": Side.BUY, "odd": Odd.PAIR, "odd2": Odd.MAP, "level": Level.HIGH, "word": Word.A},
    {"model": Model(name="m", when=AT, weights={"b": 1.0, "a": 0.5})},
    {"models": [Model(name="n", when=AT, weights={})]},
    {"ordered": OrderedDict([("b", 1), ("a", 2)]), "point": Point(1, {2: "two"})},
    {"floaty": Floaty(1.5), "big": 2**70, "small": 5e-324, "neg": -1.0e-7},
    {"text": 'é ü ß 漢字 🎉 \u2028 \u0000 \x1f " \\ /', "é": "key", "🎉": ["emoji key"]},
    {"deep": [[[[{"z": {"y": {"x": [1, {"w": None}]}}}]]]]},
    {"prev": "not the top-level one", "hash": "nor this", ',"prev":': 1},
]


@pytest.mark.parametrize("data", VARIED, ids=range(len(VARIED)))
def test_the_fast_line_is_the_line_of_encode_record(data: Any) -> None:
    b = body(data)
    record, line = encode_record(b)
    assert encode_line(b) == (record["hash"], line)


@pytest.mark.parametrize(
    "fields",
    [{"tick_id": None}, {"run_id": 'quote " and ,"prev":'}, {"extra": {"k": 1}}, {"hash": "ignored"}, {}],
)
def test_odd_bodies_give_the_same_line(fields: dict[str, Any]) -> None:
    b = body({"a": [1, 2]}, **fields)
    record, line = encode_record(b)
    assert encode_line(b) == (record["hash"], line)
    no_prev = {k: v for k, v in b.items() if k != "prev"}
    record, line = encode_record(no_prev)
    assert encode_line(no_prev) == (record["hash"], line)


def test_what_encode_record_refuses_the_fast_line_refuses_alike() -> None:
    cycle: dict[str, Any] = {"a": 1}
    cycle["self"] = cycle
    looped: list[Any] = []
    looped.append(looped)
    for data, error in [
        ({"x": math.nan}, ValueError),
        ({"x": [math.inf]}, ValueError),
        ({"x": Odd.MAP, "y": float("-inf")}, ValueError),
        ({"x": object()}, TypeError),
        ({"x": {(1, 2): "tuple key"}}, TypeError),
        ({"x": "\ud800 lone surrogate"}, ValueError),
        ({"\udfff": 1}, ValueError),
        ({"c": cycle}, ValueError),
        ({"c": looped}, ValueError),
    ]:
        b = body(data)
        with pytest.raises(error) as slow:
            encode_record(b)
        with pytest.raises(error) as fast:
            encode_line(b)
        assert str(fast.value) == str(slow.value)


_keys = st.text(max_size=4) | st.integers(-20, 20) | st.floats(allow_nan=False, allow_infinity=False) | st.booleans()
_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.datetimes(timezones=st.just(UTC))
    | st.dates()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.sampled_from([Side.BUY, Level.HIGH, Word.A, Odd.MAP])
)
_values = st.recursive(
    _leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=4), inner, max_size=4)
        | st.dictionaries(_keys, inner, max_size=3)
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(data=st.dictionaries(st.text(max_size=6), _values, max_size=5), tick_id=st.none() | st.text(max_size=5))
def test_any_body_gives_the_line_and_hash_of_encode_record(data: dict[str, Any], tick_id: str | None) -> None:
    b = body(data, tick_id=tick_id)
    try:
        record, line = encode_record(b)
    except (TypeError, ValueError) as exc:
        with pytest.raises(type(exc)):
            encode_line(b)
        return
    assert encode_line(b) == (record["hash"], line)


def test_write_writes_the_lines_append_writes(tmp_path: Path) -> None:
    events = [("runtime.started", {"state": "RUNNING"}), *((f"e.{i}", VARIED[i]) for i in range(len(VARIED)))]
    for name, how in (("a", "append"), ("w", "write")):
        with AuditLog(tmp_path / name / "log.jsonl", run_id="r", env="t", clock=StepClock()) as log:
            for i, (event, data) in enumerate(events):
                written = getattr(log, how)(event, data, actor="tester", tick_id=f"t{i}")
                assert (written.seq, written.hash) == tuple(log.head)  # type: ignore[arg-type]
    assert (tmp_path / "a/log.jsonl").read_bytes() == (tmp_path / "w/log.jsonl").read_bytes()
    assert verify(tmp_path / "w/log.jsonl").ok


def test_one_moment_is_formatted_once_and_each_new_one_again(tmp_path: Path) -> None:
    moments = [AT, AT.astimezone(UTC), AT + timedelta(microseconds=1), AT]
    clock = iter(moments)
    with AuditLog(tmp_path / "log.jsonl", run_id="r", env="t", clock=lambda: next(clock)) as log:
        stamps = [log.write("e", {}, actor="x").ts for _ in moments]
    assert stamps == ["2026-01-02T08:04:05.000006Z"] * 2 + ["2026-01-02T08:04:05.000007Z"] + [
        "2026-01-02T08:04:05.000006Z"
    ]
    naive = iter([datetime(2026, 1, 2), datetime(2026, 1, 2)])  # noqa: DTZ001 - a naive clock is refused
    with AuditLog(tmp_path / "n.jsonl", run_id="r", env="t", clock=lambda: next(naive)) as log:
        for _ in range(2):
            with pytest.raises(ValueError, match="aware"):
                log.write("e", {}, actor="x")


def test_a_plain_body_is_serialised_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import storage._audit_format as fmt

    def slow(body: Any) -> Any:
        raise AssertionError("took the slow path")

    plain = body({"at": AT, "side": Side.BUY, "px": Decimal(1), "legs": ({"b": [1, None]}, "s"), "é": 1.5})
    expected = encode_record(plain)
    monkeypatch.setattr(fmt, "encode_record", slow)
    assert fmt.encode_line(plain) == (expected[0]["hash"], expected[1])
    with pytest.raises(AssertionError, match="slow path"):
        fmt.encode_line(body({1: "int key"}))
