"""``agenthedge daemon``: the headless runtime with its services (control on the bus, alerts, metrics, logs)
and, by default, the runbook's schedule on the NYSE calendar."""

from __future__ import annotations

import asyncio
import logging
import signal

import click

from app.cli_common import Obj, fail, run
from app.services import start_services
from app.wiring import build_runtime
from runtime.bus import BusError
from runtime.gc_tuning import freeze_loaded
from runtime.lock import HomeLocked

log = logging.getLogger("agenthedge.daemon")


@click.command()
@click.option(
    "--interval", type=float, default=None, help="Tick every S seconds instead of following the schedule (demos, tests)"
)
@click.option("--no-ticks", is_flag=True, help="Serve control requests only; ticks come from run_once")
@click.option("--no-metrics", is_flag=True, help="Do not serve /metrics (PROMETHEUS_METRICS_PORT)")
@click.pass_obj
def daemon(obj: Obj, interval: float | None, no_ticks: bool, no_metrics: bool) -> None:
    """Run headless until SIGTERM/SIGINT. By default the scheduler runs the runbook's day (SCHEDULER_*);
    --interval ticks on a timer instead; --no-ticks only answers control requests."""
    if interval is not None and no_ticks:
        raise click.UsageError("--interval and --no-ticks exclude each other")
    if interval is not None and interval <= 0:
        raise click.BadParameter("must be positive", param_hint="--interval")
    config = obj.config()
    scheduled = interval is None and not no_ticks

    async def go() -> None:
        rt = build_runtime(config)
        try:
            await rt.start(role="daemon", announce=False)
        except HomeLocked as exc:
            fail(str(exc))
        except BusError as exc:
            fail(f"cannot reach the bus: {exc}")
        services = await start_services(rt, config=config, scheduler=scheduled, metrics_endpoint=not no_metrics)
        freeze_loaded()  # the preloaded data and the agents live as long as the process
        await rt.announce()  # online: control requests are served from here on
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        mode = "schedule" if scheduled else ("control only" if no_ticks else f"every {interval:g}s")
        metrics = f" metrics :{services.port}" if services.port else ""
        log.warning(
            "daemon %s on %s env %s home %s state %s, ticks: %s%s",
            rt.run_id,
            config.core.bus_display,
            rt.env,
            rt.home,
            rt.state,
            mode,
            metrics,
        )
        try:
            if interval is not None:
                await rt.run_loop(stop=stop, interval=interval)
            else:
                await stop.wait()
        finally:
            await services.stop()
            await rt.stop()
        log.warning("daemon %s stopped", rt.run_id)

    run(go())
