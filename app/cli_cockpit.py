"""``agenthedge cockpit``: the terminal cockpit (global ``--bus``/``--home``/``--env`` apply)."""

from __future__ import annotations

from typing import Any

import click

from app.cli_common import Obj
from app.cockpit import cockpit_options, start
from runtime.settings import CoreSettings, load


@click.command()
@cockpit_options
@click.pass_obj
def cockpit(obj: Obj, /, **kwargs: Any) -> None:
    """The cockpit. On memory:// it runs the runtime in-process (demo replay); on mqtt:// it attaches to a
    daemon as a pure client. Quitting it, or losing the terminal, never touches a daemon's trading."""
    core = load(CoreSettings, home=obj.home, bus=obj.bus, env=obj.env)
    if core.bus.startswith("memory"):
        obj.config()  # the runtime will run here: every package's settings checked before the screen opens
    start(core, **kwargs)
