"""ops.logging: JSON lines with run id and environment, daily rotation, retention, idempotence, settings."""

from __future__ import annotations

import io
import json
import logging
from calendar import timegm
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ops.logging import (
    LOG_FILE,
    DailyFileHandler,
    LoggingSettings,
    configure_logging,
    file_handler,
    log_path,
    remove_handlers,
    rotate_logs,
)
from runtime.settings import ConfigError, load


@pytest.fixture(autouse=True)
def _restore_root() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    remove_handlers(root)
    root.setLevel(level)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _flush() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()


def _settings(tmp_path: Path, **kw: Any) -> LoggingSettings:
    return LoggingSettings(dir=tmp_path / "logs", **kw)


def test_json_lines_parse_and_carry_run_id_and_env(tmp_path: Path) -> None:
    console = io.StringIO()
    configure_logging(_settings(tmp_path), run_id="run-1", env="paper", stream=console)
    logging.getLogger("agenthedge.test").info("hello %s", "world", extra={"order": "T-000001"})
    logging.getLogger("thirdparty.lib").warning("a third-party library line")  # not ours: still stamped
    _flush()
    lines = _lines(tmp_path / "logs" / LOG_FILE)
    assert [line["message"] for line in lines] == ["hello world", "a third-party library line"]
    first, second = lines
    assert first["run_id"] == second["run_id"] == "run-1"
    assert first["env"] == second["env"] == "paper"
    assert first["level"] == "INFO"
    assert first["logger"] == "agenthedge.test"
    assert first["order"] == "T-000001"
    assert second["logger"] == "thirdparty.lib"
    assert second["level"] == "WARNING"
    stamp = datetime.fromisoformat(first["timestamp"])
    assert stamp.utcoffset() == timedelta(0)
    assert "[paper run-1] hello world" in console.getvalue()
    assert "[paper run-1] a third-party library line" in console.getvalue()


def test_a_callers_own_run_id_is_not_overwritten(tmp_path: Path) -> None:
    configure_logging(_settings(tmp_path), run_id="run-1", env="paper", console=False)
    logging.getLogger("agenthedge.test").info("replayed", extra={"run_id": "backtest-7"})
    _flush()
    assert _lines(tmp_path / "logs" / LOG_FILE)[0]["run_id"] == "backtest-7"


def test_exceptions_are_one_json_line(tmp_path: Path) -> None:
    configure_logging(_settings(tmp_path), run_id="r", env="e", console=False)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("agenthedge.test").exception("failed")
    _flush()
    (line,) = _lines(tmp_path / "logs" / LOG_FILE)
    assert line["message"] == "failed"
    assert "ValueError: boom" in line["exc_info"]


def test_level_filters_records(tmp_path: Path) -> None:
    configure_logging(_settings(tmp_path, level="warning"), run_id="r", env="e", console=False)
    logging.getLogger("x").info("dropped")
    logging.getLogger("x").warning("kept")
    _flush()
    assert [line["message"] for line in _lines(tmp_path / "logs" / LOG_FILE)] == ["kept"]
    assert logging.getLogger().level == logging.WARNING


def test_configuring_twice_does_not_duplicate_handlers(tmp_path: Path) -> None:
    configure_logging(_settings(tmp_path), run_id="run-1", env="paper", console=True, stream=io.StringIO())
    console = io.StringIO()
    configure_logging(_settings(tmp_path), run_id="run-2", env="paper", console=True, stream=console)
    ours = [h for h in logging.getLogger().handlers if isinstance(h, DailyFileHandler)]
    assert len(ours) == 1
    logging.getLogger("x").warning("once")
    _flush()
    lines = _lines(tmp_path / "logs" / LOG_FILE)
    assert [(line["message"], line["run_id"]) for line in lines] == [("once", "run-2")]
    assert console.getvalue().count("once") == 1


def test_other_handlers_are_left_alone(tmp_path: Path) -> None:
    foreign = logging.NullHandler()
    root = logging.getLogger()
    root.addHandler(foreign)
    try:
        configure_logging(_settings(tmp_path), run_id="r", env="e", console=False)
        remove_handlers()
        assert foreign in root.handlers
        assert file_handler() is None
    finally:
        root.removeHandler(foreign)


def test_default_directory_is_under_home(tmp_path: Path) -> None:
    assert log_path(LoggingSettings(), tmp_path) == tmp_path / "logs" / LOG_FILE
    assert log_path(LoggingSettings(dir=tmp_path / "elsewhere"), tmp_path) == tmp_path / "elsewhere" / LOG_FILE


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("LOG_DIR", str(tmp_path))
    monkeypatch.setenv("LOG_RETENTION_DAYS", "3")
    settings = load(LoggingSettings)
    assert (settings.level, settings.dir, settings.retention_days) == ("DEBUG", tmp_path, 3)


@pytest.mark.parametrize(
    ("name", "value"), [("LOG_LEVEL", "LOUD"), ("LOG_RETENTION_DAYS", "0"), ("LOG_RETENTION_DAYS", "seven")]
)
def test_bad_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load(LoggingSettings)


def _roll(handler: DailyFileHandler, day: datetime) -> None:
    """Make the handler believe ``day``'s midnight rollover is due now, and let it roll."""
    handler.rolloverAt = timegm((day + timedelta(days=1)).timetuple())
    handler.doRollover()


def test_rotation_names_the_file_by_its_utc_day(tmp_path: Path) -> None:
    (handler, *_) = configure_logging(_settings(tmp_path), run_id="r", env="e", console=False)
    assert isinstance(handler, DailyFileHandler)
    assert (handler.when, handler.utc, handler.backupCount) == ("MIDNIGHT", True, 7)
    logging.getLogger("x").warning("on the ninth")
    _roll(handler, datetime(2025, 1, 9, tzinfo=UTC))
    logging.getLogger("x").warning("on the tenth")
    _flush()
    logs = tmp_path / "logs"
    assert [line["message"] for line in _lines(logs / "agenthedge.log.2025-01-09")] == ["on the ninth"]
    assert [line["message"] for line in _lines(logs / LOG_FILE)] == ["on the tenth"]


def test_a_rollover_that_is_due_happens_on_the_next_record(tmp_path: Path) -> None:
    (handler, *_) = configure_logging(_settings(tmp_path), run_id="r", env="e", console=False)
    assert isinstance(handler, DailyFileHandler)
    logging.getLogger("x").warning("before")
    handler.rolloverAt = timegm(datetime(2025, 1, 10, tzinfo=UTC).timetuple())  # in the past: due
    logging.getLogger("x").warning("after")
    _flush()
    assert [line["message"] for line in _lines(tmp_path / "logs" / "agenthedge.log.2025-01-09")] == ["before"]
    assert [line["message"] for line in _lines(tmp_path / "logs" / LOG_FILE)] == ["after"]


def test_retention_deletes_the_eighth_file(tmp_path: Path) -> None:
    (handler, *_) = configure_logging(_settings(tmp_path), run_id="r", env="e", console=False)
    assert isinstance(handler, DailyFileHandler)
    days = [datetime(2025, 1, d, tzinfo=UTC) for d in range(1, 10)]  # nine rotations
    for day in days[:7]:
        logging.getLogger("x").warning(day.date().isoformat())
        _roll(handler, day)
    logs = tmp_path / "logs"
    kept = sorted(p.name for p in logs.iterdir() if p.name != LOG_FILE)
    assert kept == [f"agenthedge.log.2025-01-0{d}" for d in range(1, 8)]
    logging.getLogger("x").warning(days[7].date().isoformat())
    _roll(handler, days[7])
    kept = sorted(p.name for p in logs.iterdir() if p.name != LOG_FILE)
    assert kept == [f"agenthedge.log.2025-01-0{d}" for d in range(2, 9)]  # the 1st went with the 8th
    assert [line["message"] for line in _lines(logs / "agenthedge.log.2025-01-08")] == ["2025-01-08"]


def test_retention_follows_the_setting(tmp_path: Path) -> None:
    (handler, *_) = configure_logging(_settings(tmp_path, retention_days=2), run_id="r", env="e", console=False)
    assert isinstance(handler, DailyFileHandler)
    for d in range(1, 5):
        logging.getLogger("x").warning("line")
        _roll(handler, datetime(2025, 2, d, tzinfo=UTC))
    kept = sorted(p.name for p in (tmp_path / "logs").iterdir() if p.name != LOG_FILE)
    assert kept == ["agenthedge.log.2025-02-03", "agenthedge.log.2025-02-04"]


def test_a_second_rotation_the_same_day_keeps_both_files(tmp_path: Path) -> None:
    (handler, *_) = configure_logging(_settings(tmp_path), run_id="r", env="e", console=False)
    assert isinstance(handler, DailyFileHandler)
    day = datetime(2025, 3, 3, tzinfo=UTC)
    logging.getLogger("x").warning("morning")
    _roll(handler, day)  # e.g. the end-of-day closure forcing a rotation
    logging.getLogger("x").warning("evening")
    _roll(handler, day)  # then the midnight one
    logs = tmp_path / "logs"
    assert [line["message"] for line in _lines(logs / "agenthedge.log.2025-03-03")] == ["morning"]
    assert [line["message"] for line in _lines(logs / "agenthedge.log.2025-03-03.1")] == ["evening"]


def test_rotate_logs_now(tmp_path: Path) -> None:
    assert rotate_logs() is None  # nothing configured: nothing to do
    configure_logging(_settings(tmp_path), run_id="r", env="e", console=False)
    logging.getLogger("x").warning("before the closure")
    assert rotate_logs() == tmp_path / "logs" / LOG_FILE
    rotated = [p for p in (tmp_path / "logs").iterdir() if p.name != LOG_FILE]
    assert len(rotated) == 1
    assert _lines(rotated[0])[0]["message"] == "before the closure"
