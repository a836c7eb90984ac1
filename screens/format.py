"""Formatting shared by every view: numbers, times, ages, and the words + glyphs that carry state.

No view tells state by colour alone: each state has a word and a glyph here, and colour (from the .tcss
theme) only reinforces it. Times are shown in UTC with a ``Z`` so that a snapshot, a log line and an
operator in another time zone all read the same instant.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from runtime.state import RuntimeState

CONNECTION_GLYPHS = {"connected": "●", "reconnecting": "◐", "disconnected": "○"}
SEVERITY_WORDS = {"info": "INFO", "warning": "WARN", "error": "ERROR", "critical": "CRIT"}
SEVERITY_GLYPHS = {"info": "·", "warning": "▲", "error": "✖", "critical": "‼"}
AGENT_GLYPHS = {"ok": "●", "starting": "◌", "safe": "◆", "error": "✖", "stopped": "○", "offline": "○"}
UNKNOWN = "—"


def state_glyph(state: str | None) -> str:
    """The glyph of a runtime state name; ``?`` for a name this build does not know."""
    try:
        return RuntimeState(state).glyph if state else "?"
    except ValueError:
        return "?"


def state_label(state: str | None) -> str:
    """``■ HALTED``: glyph and word."""
    return f"{state_glyph(state)} {state or 'UNKNOWN'}"


def clock_time(when: datetime | None) -> str:
    """``14:02:11Z`` (UTC)."""
    if when is None:
        return UNKNOWN
    return _utc(when).strftime("%H:%M:%SZ")


def stamp(when: datetime | None) -> str:
    """``2024-05-01 14:02:11Z`` (UTC)."""
    if when is None:
        return UNKNOWN
    return _utc(when).strftime("%Y-%m-%d %H:%M:%SZ")


def short_stamp(when: datetime | None) -> str:
    """``05-02 14:02:11Z`` (UTC): a table cell's time."""
    if when is None:
        return UNKNOWN
    return _utc(when).strftime("%m-%d %H:%M:%SZ")


def _utc(when: datetime) -> datetime:
    offset = when.utcoffset()
    return when if offset is None else (when - offset).replace(tzinfo=None)


def age(seconds: float | None) -> str:
    """A compact age: ``4s``, ``12m``, ``3h05m``, ``2d04h``; ``—`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return UNKNOWN
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s" if s < 600 else f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


def since(now: datetime, when: datetime | None) -> float | None:
    """Seconds from ``when`` to ``now`` (never negative: clocks of two hosts may disagree a little)."""
    if when is None:
        return None
    return max(0.0, (now - when) / timedelta(seconds=1))


def number(value: Any) -> float | None:
    """A finite float from a payload value, else None (payloads from other packages are read as dicts)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def money(value: Any, *, signed: bool = False) -> str:
    """``1,234,567.89``; ``—`` when missing."""
    v = number(value)
    if v is None:
        return UNKNOWN
    return f"{v:+,.2f}" if signed else f"{v:,.2f}"


def compact_money(value: Any, *, signed: bool = False) -> str:
    """``1.02M``, ``-12.3k``, ``512``."""
    v = number(value)
    if v is None:
        return UNKNOWN
    sign = "+" if signed and v > 0 else ""
    a = abs(v)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= size:
            return f"{sign}{v / size:,.2f}{suffix}"
    return f"{sign}{v:,.0f}"


def pct(value: Any, *, signed: bool = False, digits: int = 2) -> str:
    """A fraction as a percentage: ``0.0123`` -> ``1.23%``."""
    v = number(value)
    if v is None:
        return UNKNOWN
    return f"{v * 100:+.{digits}f}%" if signed else f"{v * 100:.{digits}f}%"


def qty(value: Any) -> str:
    v = number(value)
    if v is None:
        return UNKNOWN
    return f"{v:,.0f}" if v == int(v) else f"{v:,.4f}"


def ms(value: Any) -> str:
    v = number(value)
    if v is None:
        return UNKNOWN
    return f"{v:.1f}ms" if v < 100 else f"{v:,.0f}ms"


def trend(value: Any) -> str:
    """A sign word for a number, so a P&L is not told by red/green alone: ``▲ up``, ``▼ down``, ``= flat``."""
    v = number(value)
    if v is None:
        return ""
    return "▲" if v > 0 else "▼" if v < 0 else "="


def bar(fraction: float, width: int) -> str:
    """A horizontal bar of ``width`` cells for a fraction in [0, 1] (eighth-cell resolution)."""
    f = min(1.0, max(0.0, fraction))
    eighths = round(f * width * 8)
    full, part = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[part] if part else ""
    return ("█" * full + partial).ljust(width, "·")[:width]


def shorten(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` with an ellipsis."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= width else flat[: max(0, width - 1)] + "…"


def summary(data: dict[str, Any], width: int = 80) -> str:
    """``key=value`` pairs of a payload, flattened to one line for a table cell."""
    parts = []
    for key, value in data.items():
        shown = value if isinstance(value, str | int | float | bool) or value is None else "…"
        parts.append(f"{key}={shown}")
    return shorten(" ".join(parts), width)
