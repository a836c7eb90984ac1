"""The metric families ops adds to the runtime's registry, fed by one bus reader.

:mod:`runtime.metrics` records what the runtime itself does (ticks, tick and agent durations, errors, state,
kill switch, alerts by action and severity, bus depth). This module adds what the agents' messages say:

=============================================  ====================================================
metric                                         fed by
=============================================  ====================================================
``runtime_last_tick_timestamp_seconds``        ``events/tick``
``portfolio_nav``, ``_cash``,                  retained ``state/portfolio`` (read as a plain dict)
``_gross_exposure``, ``_net_exposure``,
``_gross_exposure_ratio``, ``_positions``,
``_day_pnl``, ``_reconciled``,
``execution_open_orders``
``execution_fills_total{side}``                ``execution/fill``
``trade_verdicts_total{agent,outcome}``        ``risk/approval``, ``compliance/approval``
``trade_rejects_total{agent,rule}``            the rule id before ``:`` in each reject reason
``data_provider_active{provider}``,            ``market/snapshot`` (which provider served the bars,
``data_quarantined_symbols``, ...              quarantine, impacted signals)
``agent_up{agent}``                            retained ``state/agents/<name>`` heartbeats
``council_weight{plugin}``                     ``strategy/feedback`` weights
``scheduler_job_runs_total{job,outcome}``,     APScheduler events (:meth:`OpsMetrics.observe_scheduler`)
``scheduler_job_misses_total{job}``
=============================================  ====================================================

Plus the scrape-time collectors of :mod:`ops.metrics._collectors`. The reader only updates metric objects
(thread-safe, microseconds per message), so it adds nothing measurable to ``runtime_bus_depth``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from ops.metrics._collectors import LedgerCollector, SessionCollector
from runtime import topics
from runtime.bus import Bus, Delivery, Subscription
from runtime.messages import Envelope

log = logging.getLogger(__name__)

AGENT_STATE = "state/agents/+"
TOPICS = (
    topics.EVENT_TICK,
    topics.STATE_PORTFOLIO,
    topics.EXECUTION_FILL,
    topics.RISK_APPROVAL,
    topics.COMPLIANCE_APPROVAL,
    topics.MARKET_SNAPSHOT,
    topics.STRATEGY_FEEDBACK,
    AGENT_STATE,
)
JOB_OUTCOMES = ("ok", "skipped", "refused", "failed", "error")
# Verdicts that close an intent without judging it (compliance's "not_examined" for what risk already
# refused): counted as their own outcome, never as a reject, or every risk reject would count twice.
NOT_JUDGED = frozenset({"not_examined"})
ALIVE = frozenset({"starting", "ok", "safe"})
# A label value taken from a message must stay a short identifier: free text would explode the series.
_LABEL = re.compile(r"^[A-Za-z0-9_.\-]{1,48}$")


def rule_of(reason: str) -> str:
    """``"single_name: 12% > 10%"`` -> ``"single_name"``; anything that is not an identifier -> ``"other"``."""
    head = reason.split(":", 1)[0].strip()
    return head if _LABEL.match(head) else "other"


def _label(value: Any, default: str = "unknown") -> str:
    text = str(value) if value is not None else ""
    return text if _LABEL.match(text) else default


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


class OpsMetrics:
    """Metric families on ``registry`` (share the runtime's: one endpoint serves both).

    Args:
        registry: Usually ``runtime.metrics.registry``.
        now: Wall time for the session gauge (``runtime_session_open``).
        ledger_path: ``<home>/ledger.sqlite`` for the order counts; None leaves them out.
        calendar: Exchange calendar of the session gauge; None leaves it out.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        now: Callable[[], datetime] | None = None,
        ledger_path: Path | None = None,
        calendar: str | None = "XNYS",
    ) -> None:
        self.registry = r = registry
        self.last_tick = Gauge(
            "runtime_last_tick_timestamp_seconds", "When the last tick report was published (Unix time)", registry=r
        )
        self.nav = Gauge("portfolio_nav", "Net asset value, account currency", registry=r)
        self.cash = Gauge("portfolio_cash", "Cash, account currency", registry=r)
        self.gross = Gauge("portfolio_gross_exposure", "Sum of |market value| of positions", registry=r)
        self.net = Gauge("portfolio_net_exposure", "Sum of signed market value of positions", registry=r)
        self.gross_ratio = Gauge("portfolio_gross_exposure_ratio", "Gross exposure / NAV", registry=r)
        self.positions = Gauge("portfolio_positions", "Open positions", registry=r)
        self.day_pnl = Gauge("portfolio_day_pnl", "P&L since the previous session's close", registry=r)
        self.reconciled = Gauge(
            "portfolio_reconciled", "1 when the last reconciliation matched the ledger, 0 on a mismatch", registry=r
        )
        self.open_orders = Gauge("execution_open_orders", "Open orders after the last reconciliation", registry=r)
        self.portfolio_updated = Gauge(
            "portfolio_updated_timestamp_seconds", "When the portfolio state was last published", registry=r
        )
        self.fills = Counter("execution_fills", "Fills received, by side", ["side"], registry=r)
        self.verdicts = Counter(
            "trade_verdicts", "Risk and compliance verdicts by outcome", ["agent", "outcome"], registry=r
        )
        self.rejects = Counter(
            "trade_rejects", "Rejected order intents by agent and rule (one per reason)", ["agent", "rule"], registry=r
        )
        self.provider_active = Gauge(
            "data_provider_active", "1 for the provider that served the last market snapshot", ["provider"], registry=r
        )
        self.snapshot_ts = Gauge(
            "data_snapshot_timestamp_seconds", "When the last market snapshot was published", registry=r
        )
        self.quarantined = Gauge("data_quarantined_symbols", "Symbols quarantined in the last snapshot", registry=r)
        self.impacted = Gauge("data_impacted_signals", "Signals impacted by a data-quality issue", registry=r)
        self.agent_up = Gauge("agent_up", "1 while an agent's heartbeat says it is alive", ["agent"], registry=r)
        self.agent_seen = Gauge(
            "agent_heartbeat_timestamp_seconds", "When an agent's last heartbeat was published", ["agent"], registry=r
        )
        self.council_weight = Gauge(
            "council_weight", "Strategy Council weight of each plug-in (strategy.feedback)", ["plugin"], registry=r
        )
        self.council_penalty = Gauge(
            "council_penalty", "Strategy Council penalty of each plug-in (strategy.feedback)", ["plugin"], registry=r
        )
        self.job_runs = Counter("scheduler_job_runs", "Scheduled job runs by outcome", ["job", "outcome"], registry=r)
        self.job_misses = Counter(
            "scheduler_job_misses", "Scheduled runs missed (past their misfire grace)", ["job"], registry=r
        )
        self.job_last_run = Gauge(
            "scheduler_job_last_run_timestamp_seconds", "When a job last ran", ["job"], registry=r
        )
        self.messages_ignored = Counter(
            "ops_metrics_messages_ignored",
            "Messages the metrics reader could not read, by topic kind",
            ["kind"],
            registry=r,
        )
        if calendar is not None:
            r.register(SessionCollector(now or (lambda: datetime.now(UTC)), calendar))
        if ledger_path is not None:
            r.register(LedgerCollector(ledger_path))
        self._providers: set[str] = set()
        self._plugins: set[str] = set()
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    # -- the bus reader ------------------------------------------------------------------------------
    async def start(self, bus: Bus) -> None:
        """Subscribe (retained state first) and read in a task of its own."""
        if self._task is not None:
            return
        self._sub = bus.subscribe(*TOPICS)
        wait = getattr(bus, "wait_subscribed", None)
        if wait is not None:
            await wait(self._sub)
        self._task = asyncio.create_task(self._read(self._sub), name="ops-metrics")

    async def stop(self) -> None:
        task, sub = self._task, self._sub
        self._task = self._sub = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if sub is not None:
            await sub.close()

    async def _read(self, sub: Subscription) -> None:
        async for delivery in sub:
            self.observe(delivery)

    def observe(self, delivery: Delivery) -> None:
        """Update the figures from one message (never raises: a bad message is counted and skipped)."""
        topic, message = delivery.topic, delivery.envelope
        kind = "agent" if topics.matches(AGENT_STATE, topic) else topic.replace("/", "_")
        try:
            handler = self._HANDLERS.get(topic) or (OpsMetrics._heartbeat if kind == "agent" else None)
            if handler is not None:
                handler(self, topic, message)
        except Exception:
            self.messages_ignored.labels(kind=kind).inc()
            log.warning("metrics could not read %s message %s", topic, message.id, exc_info=True)

    def _tick(self, topic: str, message: Envelope) -> None:
        self.last_tick.set(message.ts.timestamp())

    def _portfolio(self, topic: str, message: Envelope) -> None:
        p = message.payload
        figures = (
            (self.nav, "nav"),
            (self.cash, "cash"),
            (self.gross, "gross_exposure"),
            (self.net, "net_exposure"),
            (self.day_pnl, "day_pnl"),
            (self.open_orders, "open_orders"),
        )
        for gauge, key in figures:
            value = _number(p.get(key))
            if value is not None:
                gauge.set(value)
        nav, gross = _number(p.get("nav")), _number(p.get("gross_exposure"))
        if nav and gross is not None:
            self.gross_ratio.set(gross / nav)
        if isinstance(p.get("reconciled"), bool):
            self.reconciled.set(1.0 if p["reconciled"] else 0.0)
        positions = p.get("positions")
        count = len(positions) if isinstance(positions, Mapping | list) else _number(positions)
        if count is not None:
            self.positions.set(count)
        self.portfolio_updated.set(message.ts.timestamp())

    def _fill(self, topic: str, message: Envelope) -> None:
        side = message.payload.get("side")
        self.fills.labels(side=side if side in ("buy", "sell") else "unknown").inc()

    def _verdicts(self, topic: str, message: Envelope) -> None:
        agent = "risk" if topic == topics.RISK_APPROVAL else "compliance"
        outcomes: collections.Counter[str] = collections.Counter()
        rejects: collections.Counter[str] = collections.Counter()
        for item in message.payload.get("items", []):
            if item.get("approved"):
                outcomes["approved"] += 1
                continue
            rules = {rule_of(str(reason)) for reason in item.get("reasons") or ["unspecified"]}
            if rules <= NOT_JUDGED:
                outcomes["not_examined"] += 1
                continue
            outcomes["rejected"] += 1
            rejects.update(rules - NOT_JUDGED)
        # one increment per label set, not per intent: a 100-intent tick costs a few label look-ups
        for outcome, n in outcomes.items():
            self.verdicts.labels(agent=agent, outcome=outcome).inc(n)
        for rule, n in rejects.items():
            self.rejects.labels(agent=agent, rule=rule).inc(n)

    def _snapshot(self, topic: str, message: Envelope) -> None:
        p = message.payload
        provider = _label(p.get("provider"))
        self._providers.add(provider)
        for name in self._providers:
            self.provider_active.labels(provider=name).set(1.0 if name == provider else 0.0)
        self.quarantined.set(len(p.get("quarantined") or []))
        self.impacted.set(len(p.get("impacted_signals") or []))
        self.snapshot_ts.set(message.ts.timestamp())

    def _heartbeat(self, topic: str, message: Envelope) -> None:
        agent = _label(message.payload.get("name") or topic.rsplit("/", 1)[-1])
        self.agent_up.labels(agent=agent).set(1.0 if message.payload.get("status") in ALIVE else 0.0)
        self.agent_seen.labels(agent=agent).set(message.ts.timestamp())

    def _feedback(self, topic: str, message: Envelope) -> None:
        weights = message.payload.get("weights") or {}
        penalties = message.payload.get("penalties") or {}
        plugins = {_label(name) for name in weights}
        for gone in self._plugins - plugins:  # a plug-in dropped from the council stops being shown
            for gauge in (self.council_weight, self.council_penalty):
                with contextlib.suppress(KeyError):
                    gauge.remove(gone)
        self._plugins = plugins
        for name, value in weights.items():
            weight = _number(value)
            if weight is not None:
                self.council_weight.labels(plugin=_label(name)).set(weight)
        for name, value in penalties.items():
            penalty = _number(value)
            if penalty is not None:
                self.council_penalty.labels(plugin=_label(name)).set(penalty)

    _HANDLERS: dict[str, Callable[[OpsMetrics, str, Envelope], None]] = {
        topics.EVENT_TICK: _tick,
        topics.STATE_PORTFOLIO: _portfolio,
        topics.EXECUTION_FILL: _fill,
        topics.RISK_APPROVAL: _verdicts,
        topics.COMPLIANCE_APPROVAL: _verdicts,
        topics.MARKET_SNAPSHOT: _snapshot,
        topics.STRATEGY_FEEDBACK: _feedback,
    }

    # -- the scheduler -------------------------------------------------------------------------------
    def record_job_run(self, job: str, outcome: str = "ok", when: datetime | None = None) -> None:
        """Count one run of ``job``; ``outcome`` one of :data:`JOB_OUTCOMES` (others count as ``ok``)."""
        name = _label(job, "other")
        self.job_runs.labels(job=name, outcome=outcome if outcome in JOB_OUTCOMES else "ok").inc()
        self.job_last_run.labels(job=name).set((when or datetime.now(UTC)).timestamp())

    def record_job_miss(self, job: str) -> None:
        self.job_misses.labels(job=_label(job, "other")).inc()

    def observe_scheduler(self, scheduler: Any) -> None:
        """Count an APScheduler 3.x scheduler's runs, errors and misfires.

        A job may return one of :data:`JOB_OUTCOMES` (e.g. ``"skipped"`` when the runtime is HALTED) to be
        counted under it; any other return value counts as ``ok``, an exception as ``error``.
        """
        from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED

        def listener(event: Any) -> None:
            if event.code == EVENT_JOB_MISSED:
                self.record_job_miss(event.job_id)
            elif event.code == EVENT_JOB_ERROR:
                self.record_job_run(event.job_id, "error")
            else:
                retval = getattr(event, "retval", None)
                self.record_job_run(event.job_id, retval if isinstance(retval, str) else "ok")

        scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
