"""Prometheus metrics: the families ops adds to the runtime's registry, and the ``/metrics`` endpoint.

The daemon wires them as::

    ops_metrics = OpsMetrics(rt.metrics.registry, ledger_path=rt.home / "ledger.sqlite")
    await ops_metrics.start(rt.bus)
    server = MetricsServer.from_settings(rt.metrics.registry, load(MetricsSettings))
    server.start()
    ...
    server.stop(); await ops_metrics.stop()
"""

from __future__ import annotations

from ops.metrics._collectors import LedgerCollector, SessionCollector
from ops.metrics._ops import JOB_OUTCOMES, NOT_JUDGED, TOPICS, OpsMetrics, rule_of
from ops.metrics._server import MetricsServer, MetricsServerError
from ops.metrics._settings import MetricsSettings

__all__ = [
    "JOB_OUTCOMES",
    "NOT_JUDGED",
    "TOPICS",
    "LedgerCollector",
    "MetricsServer",
    "MetricsServerError",
    "MetricsSettings",
    "OpsMetrics",
    "SessionCollector",
    "rule_of",
]
