"""``agenthedge daemon``: the headless runtime with control handlers on the bus."""

from __future__ import annotations

import asyncio
import logging
import signal

import click

from app.cli_common import Obj, fail, run
from app.wiring import build_runtime
from runtime.bus import BusError
from runtime.control import ControlService
from runtime.lock import HomeLocked

log = logging.getLogger("agenthedge.daemon")


@click.command()
@click.option("--interval", type=float, default=None, help="Seconds between ticks [RUNTIME_TICK_INTERVAL]")
@click.option("--no-ticks", is_flag=True, help="Serve control requests only; ticks come from run_once")
@click.pass_obj
def daemon(obj: Obj, interval: float | None, no_ticks: bool) -> None:
    """Run headless: the runtime, its tick loop and control on the bus. SIGTERM/SIGINT stop it cleanly."""
    config = obj.config()

    async def go() -> None:
        rt = build_runtime(config)
        try:
            await rt.start(role="daemon")
        except HomeLocked as exc:
            fail(str(exc))
        except BusError as exc:
            fail(f"cannot reach the bus: {exc}")
        control = ControlService(rt)
        await control.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        click.echo(
            f"daemon {rt.run_id} on {config.core.bus_display} env {rt.env} home {rt.home} state {rt.state}", err=True
        )
        try:
            if no_ticks:
                await stop.wait()
            else:
                await rt.run_loop(stop=stop, interval=interval)
        finally:
            await control.stop()
            await rt.stop()
        click.echo("daemon stopped", err=True)

    run(go())
