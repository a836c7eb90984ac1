"""The cockpit: a Textual client of the bus (screens, widgets, .tcss, the bus reader, typed messages).

It imports the runtime's messages, payloads, topics, bus and control client only; ``app.cockpit`` composes
it with a bus and, on the embedded default, a runtime in the same process.
"""

from screens.cockpit import CockpitBase
from screens.control import VERBS, Commander, Verb
from screens.keys import KeyRow, key_rows, load_keymap, markdown
from screens.reader import EVENT_BACKTEST, TOPICS, BusReader, translate
from screens.settings import CockpitSettings, default_keymap_path
from screens.store import CommandEntry, Connection, Store

__all__ = [
    "EVENT_BACKTEST",
    "TOPICS",
    "VERBS",
    "BusReader",
    "CockpitBase",
    "CockpitSettings",
    "CommandEntry",
    "Commander",
    "Connection",
    "KeyRow",
    "Store",
    "Verb",
    "default_keymap_path",
    "key_rows",
    "load_keymap",
    "markdown",
    "translate",
]
