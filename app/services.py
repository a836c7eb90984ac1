"""The operations services around a started runtime: control on the bus, alert fan-out, metrics (and their
HTTP endpoint), JSON logs and, in the daemon, the runbook's scheduler. One place builds them so the daemon,
``scheduler run`` and the in-process cockpit host the same things.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.control_verbs import ReadVerbs
from app.wiring import AppConfig
from ops.alerts import AlertControl, Notifier
from ops.alerts._settings import AlertSettings
from ops.logging import LoggingSettings, configure_logging
from ops.metrics import MetricsServer, MetricsServerError, MetricsSettings, OpsMetrics
from ops.scheduler import Scheduler, attach_scheduler
from runtime.control import ControlService
from runtime.runtime import Runtime
from runtime.settings import load

log = logging.getLogger(__name__)


@dataclass
class Services:
    runtime: Runtime
    control: ControlService
    notifier: Notifier
    metrics: OpsMetrics
    server: MetricsServer | None = None
    scheduler: Scheduler | None = None
    port: int | None = None
    reads: ReadVerbs | None = None

    async def stop(self) -> None:
        """Stop in the reverse order of start; trading state is untouched."""
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.server is not None:
            self.server.stop()
        await self.control.stop()
        if self.reads is not None:
            await self.reads.stop()
        await self.notifier.stop(drain=5.0)
        await self.metrics.stop()


async def start_services(
    rt: Runtime,
    *,
    config: AppConfig | None = None,
    scheduler: bool = False,
    metrics_endpoint: bool = True,
    json_logs: bool = True,
    console_logs: bool = True,
) -> Services:
    """Start the services of a started runtime. A metrics port in use is logged, never fatal."""
    if json_logs:
        for handler in list(logging.root.handlers):  # the CLI's stderr handler: ops.logging's replace it
            logging.root.removeHandler(handler)
        configure_logging(load(LoggingSettings), run_id=rt.run_id, env=rt.env, home=rt.home, console=console_logs)
    ops_metrics = OpsMetrics(rt.metrics.registry, now=rt.clock.now, ledger_path=rt.home / "ledger.sqlite")
    await ops_metrics.start(rt.bus)
    notifier = Notifier.from_settings(
        load(AlertSettings),
        clock=rt.clock,
        ledger=rt.books,
        registry=rt.metrics.registry,
        raise_alert=rt.alert,
        audit=rt.audit,
        env=rt.env,
    )
    await notifier.start(rt.bus)
    control = ControlService(rt)
    alerts = AlertControl(notifier)
    control.register("ack", alerts.execute)
    control.register("snooze", alerts.execute)
    control.register("alerts", alerts.execute, changes_state=False)
    reads = ReadVerbs(rt, config) if config is not None else None
    if reads is not None:
        reads.register(control)
    services = Services(rt, control, notifier, ops_metrics, reads=reads)
    settings = load(MetricsSettings)
    if metrics_endpoint and settings.enabled:
        server = MetricsServer.from_settings(rt.metrics.registry, settings)
        try:
            services.port = server.start()
            services.server = server
        except MetricsServerError as exc:  # observability must not stop trading
            log.error("metrics endpoint not started: %s", exc)
    if scheduler:
        services.scheduler = await attach_scheduler(rt)
        services.scheduler.stats.feed(ops_metrics)
    await control.start()
    return services
