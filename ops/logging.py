"""Logging setup: human lines on the console, JSON lines in ``<LOG_DIR>/agenthedge.log`` rotated daily.

Every record that reaches these handlers, from our code or a third-party library, carries ``run_id`` and
``env`` (a handler-level :class:`ContextFilter`), so a log line can be joined with the audit log and the
incident files. The file rotates at UTC midnight into ``agenthedge.log.YYYY-MM-DD`` and keeps
``LOG_RETENTION_DAYS`` old files; the standard library's handler deletes the oldest one itself.

UTC rather than local midnight: the JSON timestamps are UTC, so a file's date suffix then names exactly
the day its lines carry, and a DST change never makes a day of 23 or 25 hours of logs.

Example:
    >>> configure_logging(load(LoggingSettings), run_id=rt.run_id, env=rt.env, home=rt.home)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import sys
from logging.handlers import TimedRotatingFileHandler
from pathlib import Path
from typing import IO, Annotated, Any

from pydantic import BeforeValidator, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pythonjsonlogger.json import JsonFormatter

LOG_FILE = "agenthedge.log"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
CONSOLE_FORMAT = "%(asctime)s %(levelname)-8s %(name)s [%(env)s %(run_id)s] %(message)s"
# The JSON keys written for every line, besides ``timestamp`` and any ``extra={...}`` the caller gave.
JSON_FIELDS = ("levelname", "name", "message", "run_id", "env", "process", "threadName")
_MARK = "_agenthedge_handler"


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


class LoggingSettings(BaseSettings):
    """``LOG_LEVEL``, ``LOG_DIR``, ``LOG_RETENTION_DAYS`` (the runbook's names)."""

    model_config = SettingsConfigDict(env_prefix="LOG_", env_file=".env", extra="ignore")

    level: Annotated[str, BeforeValidator(_upper)] = Field(
        default="INFO", description="Root log level: DEBUG, INFO, WARNING, ERROR or CRITICAL"
    )
    dir: Path | None = Field(default=None, description="Directory of agenthedge.log* (default <AGENTHEDGE_HOME>/logs)")
    retention_days: int = Field(default=7, ge=1, le=3650, description="Rotated daily files kept beside the live one")

    @field_validator("level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        if value not in LEVELS:
            raise ValueError(f"must be one of {', '.join(LEVELS)}")
        return value


class DailyFileHandler(TimedRotatingFileHandler):
    """Rotates at UTC midnight; a second rotation on the same day never overwrites the first file.

    The standard handler removes an existing ``agenthedge.log.YYYY-MM-DD`` before renaming onto it, so a
    forced rotation (end-of-day closure) followed by the midnight one would lose the afternoon's lines.
    Here the later file becomes ``agenthedge.log.YYYY-MM-DD.1`` (then ``.2``...), which the retention
    still recognises and prunes.
    """

    def __init__(self, path: Path, *, retention_days: int) -> None:
        super().__init__(path, when="midnight", backupCount=retention_days, encoding="utf-8", utc=True)

    def rotation_filename(self, default_name: str) -> str:
        name = super().rotation_filename(default_name)
        if self.namer is not None or not Path(name).exists():
            return name
        n = 1
        while Path(f"{name}.{n}").exists():
            n += 1
        return f"{name}.{n}"


class ContextFilter(logging.Filter):
    """Puts ``run_id`` and ``env`` on each record a handler sees (never overwriting a caller's own)."""

    def __init__(self, run_id: str, env: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.env = env

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "run_id"):
            record.run_id = self.run_id
        if not hasattr(record, "env"):
            record.env = self.env
        return True


def log_path(settings: LoggingSettings, home: Path | None = None) -> Path:
    """Where the live log file is: ``LOG_DIR`` or ``<home>/logs``."""
    directory = settings.dir if settings.dir is not None else (home if home is not None else Path("var")) / "logs"
    return directory / LOG_FILE


def json_formatter() -> logging.Formatter:
    """One JSON object per line: UTC ISO ``timestamp``, ``level``, ``logger``, ``message``, context, extras."""
    return JsonFormatter(
        list(JSON_FIELDS),
        rename_fields={"levelname": "level", "name": "logger", "threadName": "thread"},
        timestamp=True,
        json_ensure_ascii=False,
    )


def configure_logging(
    settings: LoggingSettings,
    *,
    run_id: str,
    env: str,
    home: Path | None = None,
    console: bool = True,
    stream: IO[str] | None = None,
) -> list[logging.Handler]:
    """Install the console and JSON-file handlers on the root logger.

    Idempotent: handlers installed by an earlier call are closed and replaced, never duplicated, so a
    second call (a new run id after a restart in the same process) only changes the context.

    Args:
        settings: Level, directory and retention.
        run_id: Stamped on every record.
        env: Stamped on every record.
        home: ``AGENTHEDGE_HOME``, for the default directory ``<home>/logs``.
        console: Also write human lines to ``stream``; turn off where another console handler exists.
        stream: The console stream (default stderr).

    Returns:
        The handlers installed (the file handler first).
    """
    root = logging.getLogger()
    remove_handlers(root)
    context = ContextFilter(run_id, env)
    path = log_path(settings, home)
    path.parent.mkdir(parents=True, exist_ok=True)
    daily = DailyFileHandler(path, retention_days=settings.retention_days)
    daily.setFormatter(json_formatter())
    handlers: list[logging.Handler] = [daily]
    if console:
        console_handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
        console_handler.setFormatter(logging.Formatter(CONSOLE_FORMAT))
        handlers.append(console_handler)
    for handler in handlers:
        handler.addFilter(context)
        setattr(handler, _MARK, True)
        root.addHandler(handler)
    root.setLevel(settings.level)
    logging.captureWarnings(True)
    return handlers


def remove_handlers(root: logging.Logger | None = None) -> None:
    """Close and remove the handlers :func:`configure_logging` installed (others are left alone)."""
    logger = root or logging.getLogger()
    for handler in list(logger.handlers):
        if getattr(handler, _MARK, False):
            logger.removeHandler(handler)
            handler.close()


def file_handler() -> DailyFileHandler | None:
    """The rotating file handler installed on the root logger, if any."""
    for handler in logging.getLogger().handlers:
        if getattr(handler, _MARK, False) and isinstance(handler, DailyFileHandler):
            return handler
    return None


def rotate_logs() -> Path | None:
    """Rotate the log file now (the end-of-day closure may call it); returns the live file's path.

    Safe to combine with the midnight rotation: nothing is overwritten (see :class:`DailyFileHandler`).
    """
    handler = file_handler()
    if handler is None:
        return None
    handler.acquire()
    try:
        handler.doRollover()
    finally:
        handler.release()
    return Path(handler.baseFilename)


__all__ = [
    "LEVELS",
    "LOG_FILE",
    "ContextFilter",
    "DailyFileHandler",
    "LoggingSettings",
    "configure_logging",
    "file_handler",
    "json_formatter",
    "log_path",
    "remove_handlers",
    "rotate_logs",
]
