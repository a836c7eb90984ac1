"""The key table, generated from the ``BINDINGS`` themselves (help screen, README), and the user keymap.

A user keymap is a TOML file of ``"<binding id>" = "<keys>"`` under a ``[keys]`` table, for example::

    [keys]
    "control.kill" = "ctrl+k"
    "view.alerts" = "4,f4"

Textual applies it with ``App.set_keymap``; unknown ids and unusable keys are reported, not applied.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from textual.binding import Binding, BindingType
from textual.keys import format_key

# Keys a terminal multiplexer or SSH often eats or mangles (tmux prefix, flow control, terminal signals).
RISKY_KEYS = frozenset({"ctrl+b", "ctrl+s", "ctrl+q", "ctrl+z", "ctrl+c", "ctrl+backslash", "ctrl+shift+p"})


@dataclass(frozen=True)
class KeyRow:
    scope: str
    keys: str
    id: str
    description: str
    tooltip: str


def bindings_of(items: Iterable[BindingType]) -> list[Binding]:
    """``BINDINGS`` entries as :class:`Binding` (tuples converted), one per declaration."""
    out = []
    for item in items:
        if isinstance(item, Binding):
            out.append(item)
        else:
            out.append(Binding(*item))
    return out


def display(keys: str) -> str:
    """``question_mark`` -> ``?``, ``ctrl+p,colon`` -> ``ctrl+p / :``."""
    shown = []
    for key in keys.split(","):
        *mods, name = key.strip().split("+")
        shown.append("+".join([*mods, format_key(name)]))
    return " / ".join(shown)


def key_rows(
    scopes: Sequence[tuple[str, Iterable[BindingType]]], keymap: Mapping[str, str] | None = None
) -> list[KeyRow]:
    """One row per binding with an id (or a description), keys as the keymap makes them."""
    rows = []
    keymap = keymap or {}
    for scope, items in scopes:
        for b in bindings_of(items):
            if not b.description and not b.id:
                continue
            keys = keymap.get(b.id, b.key) if b.id else b.key
            rows.append(KeyRow(scope, display(keys), b.id or "", b.description, b.tooltip))
    return rows


def markdown(rows: Sequence[KeyRow]) -> str:
    """The README key table."""
    lines = ["| Key | Action | Where | Binding id (remap it in keymap.toml) |", "|---|---|---|---|"]
    for r in rows:
        what = r.description + (f" — {r.tooltip}" if r.tooltip and r.tooltip != r.description else "")
        keys = r.keys.replace("|", "\\|")
        lines.append(f"| `{keys}` | {what} | {r.scope} | `{r.id}` |")
    return "\n".join(lines) + "\n"


def known_ids(scopes: Sequence[tuple[str, Iterable[BindingType]]]) -> set[str]:
    return {b.id for _, items in scopes for b in bindings_of(items) if b.id}


def load_keymap(path: Path, known: set[str]) -> tuple[dict[str, str], list[str]]:
    """The keymap in ``path`` (missing file: empty) and the problems found in it."""
    if not path.exists():
        return {}, []
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return {}, [f"{path}: {exc}"]
    table = data.get("keys", data)
    keymap: dict[str, str] = {}
    problems = []
    for binding_id, keys in table.items():
        if not isinstance(keys, str) or not keys.strip():
            problems.append(f"{binding_id}: the keys must be a non-empty string")
            continue
        if binding_id not in known:
            problems.append(f"{binding_id}: no such binding id")
            continue
        risky = [k for k in keys.split(",") if k.strip() in RISKY_KEYS]
        if risky:
            problems.append(f"{binding_id}: {', '.join(risky)} does not survive tmux/SSH reliably")
            continue
        keymap[binding_id] = keys.strip()
    return keymap, problems
