"""The metrics the runtime records, with the runbook's names (``runtime_bus_depth``,
``agent_tick_duration_seconds``, ...). Each runtime owns a registry; ops serves it over HTTP.

Values that already live somewhere (bus counters, the state) are read at scrape time by a collector
instead of being copied, so the figures cannot drift from the truth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from runtime.bus import BusStats
from runtime.state import RuntimeState

TICK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class LiveFigures:
    """Callables the collector reads at scrape time."""

    bus: Callable[[], BusStats]
    state: Callable[[], RuntimeState]
    kill_switch_active: Callable[[], bool]
    extra_gauges: dict[str, tuple[str, Callable[[], float]]] = field(default_factory=dict)


class _LiveCollector(Collector):
    def __init__(self, figures: LiveFigures) -> None:
        self.figures = figures

    def collect(self) -> Iterator[Metric]:
        stats = self.figures.bus()
        yield GaugeMetricFamily("runtime_bus_depth", "Bus messages received and not yet handled", value=stats.depth)
        published = CounterMetricFamily("runtime_bus_published", "Messages published on the bus")
        published.add_metric([], stats.published)
        yield published
        rejected = CounterMetricFamily(
            "runtime_bus_rejected", "Messages rejected at the edge, by reason", labels=["reason"]
        )
        for reason, count in sorted(stats.rejected.items()):
            rejected.add_metric([reason], count)
        yield rejected
        reconnects = CounterMetricFamily("runtime_bus_reconnects", "Bus reconnections")
        reconnects.add_metric([], stats.reconnects)
        yield reconnects
        state = GaugeMetricFamily("runtime_state", "1 for the runtime's current state", labels=["state"])
        current = self.figures.state()
        for s in RuntimeState:
            state.add_metric([s.value], 1.0 if s == current else 0.0)
        yield state
        yield GaugeMetricFamily(
            "runtime_kill_switch_active",
            "1 while the kill switch holds the runtime HALTED",
            value=1.0 if self.figures.kill_switch_active() else 0.0,
        )
        for name, (doc, read) in sorted(self.figures.extra_gauges.items()):
            yield GaugeMetricFamily(name, doc, value=read())


class RuntimeMetrics:
    """Counters and histograms recorded as things happen, plus the live collector."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.ticks = Counter("runtime_ticks", "Ticks by outcome", ["status"], registry=r)
        self.tick_duration = Histogram(
            "runtime_tick_duration_seconds", "Whole-tick duration", buckets=TICK_BUCKETS, registry=r
        )
        self.agent_tick_duration = Histogram(
            "agent_tick_duration_seconds",
            "Time an agent spent on its stage of a tick",
            ["agent"],
            buckets=TICK_BUCKETS,
            registry=r,
        )
        self.errors = Counter("runtime_errors", "Errors by component", ["component"], registry=r)
        self.transitions = Counter("runtime_transitions", "State transitions by target state", ["state"], registry=r)
        self.kill_switches = Counter(
            "runtime_kill_switch_events", "Kill-switch triggers by topic", ["source"], registry=r
        )
        self.alerts = Counter(
            "runtime_alerts", "Alerts raised by action and severity", ["action", "severity"], registry=r
        )
        self._live: _LiveCollector | None = None
        self._agent_timers: dict[str, Histogram] = {}

    def agent_timer(self, agent: str) -> Histogram:
        """``agent_tick_duration_seconds{agent=...}``, looked up once per agent (it is observed every tick)."""
        timer = self._agent_timers.get(agent)
        if timer is None:
            timer = self._agent_timers[agent] = self.agent_tick_duration.labels(agent=agent)
        return timer

    def bind(self, figures: LiveFigures) -> None:
        if self._live is not None:
            self.registry.unregister(self._live)
        self._live = _LiveCollector(figures)
        self.registry.register(self._live)
