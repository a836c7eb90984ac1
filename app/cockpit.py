"""The cockpit composed: its bus, its keymap, and on the embedded default a runtime in the same process.

``agenthedge cockpit`` (``app.cli_cockpit``) and ``python -m app.cockpit`` both land in :func:`run_cockpit`.
``python -m app.cockpit --keys-markdown`` prints the key table generated from the bindings (README).

On ``memory://`` the runtime starts here, on the same in-process broker, with a control service, and the
cockpit drives it over the bus exactly as it drives a daemon over MQTT. With ``--bus mqtt://...`` the
cockpit is a pure client: quitting it, or losing its terminal (SIGHUP), never touches trading.
Heavy imports (the agents, numpy, pandas) happen only for the embedded runtime, after the first paint.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import importlib
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import click

from runtime.bus import create_bus
from runtime.gc_tuning import freeze_loaded
from runtime.lock import HomeLocked
from runtime.settings import ConfigError, CoreSettings, RuntimeSettings, load
from screens import CockpitBase, CockpitSettings, key_rows, load_keymap, markdown
from screens.keys import known_ids

log = logging.getLogger("agenthedge.cockpit")

# Modules whose import registers payload types the cockpit reads (a pure MQTT client must know them too,
# or the bus rejects those messages as unknown types). Missing ones are skipped.
PAYLOAD_MODULES = ("agents.types", "agents.execution")
EXIT_HANGUP = 129


class Cockpit(CockpitBase):
    """The AgentHedge cockpit (the Textual App). See :class:`screens.cockpit.CockpitBase`."""


@dataclass
class CockpitOptions:
    speed: float | None = None
    read_only: bool = False
    operator: str | None = None
    user: str | None = None
    password: str | None = None
    keymap: Path | None = None


def default_operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


def with_credentials(url: str, user: str | None, password: str | None) -> str:
    """``mqtt://host:1883`` + user/password -> ``mqtt://user:password@host:1883`` (URL-quoted)."""
    if not user:
        return url
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    return parts._replace(netloc=f"{auth}@{host}").geturl()


def register_payloads() -> None:
    for name in PAYLOAD_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # a package not built yet: its messages are rejected, the rest works
            log.warning("cockpit: %s not importable; its messages will not show", name)


async def run_embedded(
    app: CockpitBase, core: CoreSettings, settings: RuntimeSettings, speed: float, stop: asyncio.Event
) -> None:
    """The demo market replayed in this process, ``speed`` sessions a second, until ``stop``; the runtime's
    services (control with the alert verbs, the notifier, JSON logs to the home, not the terminal) on the bus."""
    from app.services import start_services  # heavy: agents, numpy, pandas
    from app.wiring import build_demo, load_config

    try:
        config = load_config(home=core.home, bus=core.bus, env=core.env)
        demo = build_demo(config)
        rt = demo.runtime
        await rt.start(role="cockpit", announce=False)
    except HomeLocked as exc:
        app.exit(return_code=2, message=f"{exc}: a daemon owns this home; attach with --bus mqtt://...")
        return
    except Exception as exc:  # the cockpit must not sit there showing a runtime that never came
        log.exception("the embedded runtime failed to start")
        app.exit(return_code=1, message=f"the embedded runtime failed to start: {exc}")
        return
    services = await start_services(rt, config=config, metrics_endpoint=False, console_logs=False)
    freeze_loaded()  # the preloaded data, the agents and the screens live as long as the process
    await rt.announce()
    try:
        await demo.run(speed=speed, stop=stop)
        await stop.wait()  # the replay reached today: keep serving the cockpit until it quits
    finally:
        await services.stop()
        await rt.stop()


def build_app(core: CoreSettings, options: CockpitOptions, cockpit: CockpitSettings) -> Cockpit:
    operator = options.operator or options.user or default_operator()
    url = with_credentials(core.bus, options.user, options.password)
    bus = create_bus(url, core.env, client_id=f"cockpit-{operator}-{os.getpid()}", connect_timeout=5.0)
    ids = known_ids(Cockpit.binding_scopes())
    path = options.keymap or cockpit.keymap_path()
    keymap, problems = load_keymap(path, ids)
    return Cockpit(
        bus,
        env=core.env,
        operator=operator,
        read_only=options.read_only,
        settings=cockpit,
        embedded=core.bus.startswith("memory"),
        bus_display=core.bus_display,
        keymap=keymap,
        notes=[f"{path}: {p}" for p in problems],
    )


HANGUP_GRACE = 5.0  # seconds a lost terminal leaves the cockpit to stop cleanly before it simply exits


async def run_cockpit(core: CoreSettings, options: CockpitOptions) -> int:
    """Run the cockpit until it quits or its terminal goes away; returns the exit code."""
    cockpit = load(CockpitSettings)
    register_payloads()
    app = build_app(core, options, cockpit)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    runtime: asyncio.Task[None] | None = None
    leaving: set[asyncio.Task[None]] = set()

    async def wind_down() -> None:
        stop.set()
        if runtime is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await runtime
        await app.bus.close()

    def hangup() -> None:
        # The terminal is gone. Textual's own exit would write to it (and can block forever once its writer
        # thread has died on EIO), so: stop what must stop, then leave. A watchdog ends it if the loop is stuck.
        threading.Thread(target=_exit_after, args=(HANGUP_GRACE,), daemon=True, name="hangup").start()

        async def leave() -> None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(HANGUP_GRACE - 1):
                    await wind_down()
            _exit_now()

        leaving.add(loop.create_task(leave()))

    loop.add_signal_handler(signal.SIGHUP, hangup)
    loop.add_signal_handler(signal.SIGTERM, app.exit, None, 0)
    if core.bus.startswith("memory"):
        speed = options.speed or cockpit.speed
        runtime = asyncio.create_task(run_embedded(app, core, load(RuntimeSettings), speed, stop), name="runtime")
    try:
        await app.run_async()
    finally:
        await wind_down()
        for sig in (signal.SIGHUP, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return app.return_code or 0


def _exit_now(code: int = EXIT_HANGUP) -> None:
    logging.shutdown()
    os._exit(code)


def _exit_after(seconds: float) -> None:
    time.sleep(seconds)
    _exit_now()


def cockpit_options(func: Any) -> Any:
    """The cockpit's own options (shared by ``agenthedge cockpit`` and ``python -m app.cockpit``)."""
    for option in reversed(
        [
            click.option("--speed", type=click.FloatRange(min=0.01), help="Embedded demo: trading days per second"),
            click.option("--read-only", is_flag=True, help="Show every control as inactive"),
            click.option("--operator", help="Who acts (the control topic segment) [$USER, or --user]"),
            click.option("--user", help="MQTT user name"),
            click.option(
                "--password", envvar="AGENTHEDGE_MQTT_PASSWORD", help="MQTT password [AGENTHEDGE_MQTT_PASSWORD]"
            ),
            click.option("--keymap", type=click.Path(path_type=Path), help="Keymap TOML [COCKPIT_KEYMAP]"),
        ]
    ):
        func = option(func)
    return func


def start(core: CoreSettings, **kwargs: Any) -> None:
    """Run the cockpit from a click command and exit with its code."""
    code = asyncio.run(run_cockpit(core, CockpitOptions(**kwargs)))
    sys.exit(code)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(path_type=Path), help="State directory [AGENTHEDGE_HOME]")
@click.option("--bus", "bus_url", metavar="URL", help="memory:// | mqtt://host:port [AGENTHEDGE_BUS]")
@click.option("--env", "env_name", metavar="NAME", help="Environment [AGENTHEDGE_ENV]")
@click.option("--keys-markdown", is_flag=True, help="Print the key table (from the bindings) as Markdown")
@cockpit_options
def main(home: Path | None, bus_url: str | None, env_name: str | None, keys_markdown: bool, **kwargs: Any) -> None:
    """The AgentHedge cockpit (same as ``agenthedge cockpit``)."""
    if keys_markdown:
        click.echo(markdown(key_rows(Cockpit.binding_scopes())), nl=False)
        return
    try:
        core = load(CoreSettings, home=home, bus=bus_url, env=env_name)
    except ConfigError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
    start(core, **kwargs)


if __name__ == "__main__":
    main()
