"""``--config FILE``: settings for one run, from a file.

``KEY=VALUE`` lines (``#`` comments, an optional ``export``, quotes stripped) or a JSON object of
``KEY: value`` are environment variables for this run, over the process environment. A previous run's
``config.json`` (it has a ``settings`` object) is returned whole, so the app can rebuild every section exactly
as that run had it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from runtime.settings import ConfigError


def apply_settings_file(path: Path) -> dict[str, Any] | None:
    """Put a settings file's variables into this process's environment (the CLI runs one backtest per process),
    or return a previous run's ``config.json`` for ``app.cli_backtest.restore_settings``.

    Raises:
        runtime.settings.ConfigError: the file is neither form (names the line).
    """
    text = path.read_text("utf-8")
    values: dict[str, str] = {}
    if text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--config {path}: not valid JSON ({exc})") from None
        if not isinstance(doc, dict):
            raise ConfigError(f"--config {path}: expected a JSON object")
        if isinstance(doc.get("settings"), dict):
            return doc
        values = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in doc.items()}
    else:
        for n, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, sep, value = line.removeprefix("export ").partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"--config {path}:{n}: expected KEY=VALUE")
            values[key.strip()] = value.strip().strip("'\"")
    os.environ.update({k.upper(): v for k, v in values.items()})
    return None
