"""Typed Textual messages: what the bus reader and the control client tell the cockpit.

Each message folds itself into the :class:`~screens.store.Store` (:meth:`BusMessage.apply`); the app then
hands it to the visible widgets, which react with ``@on(...)``. Messages do not bubble: the app delivers
them. High-rate kinds override ``can_replace`` so that a backlog merges into the latest value instead of
queueing (Textual drops the older of two adjacent messages when ``older.can_replace(newer)``); kinds of which
every message counts are :class:`Batched`: the newer message takes the older ones along.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Self

from textual.message import Message

from runtime.payloads import Alert, AuditEvent, Heartbeat, Presence, TickReport
from runtime.payloads import StateChanged as StatePayload
from screens.store import CommandEntry, Connection, Store, curve

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BusMessage(Message, bubble=False):
    """Something the cockpit learnt. ``ts`` is when it was published (envelope time), if it came by bus."""

    def __init_subclass__(cls, bubble: bool | None = False, **kwargs: Any) -> None:
        # Textual's default would make every subclass bubble again: delivered to a view, a message would
        # climb back to the app and be folded twice.
        super().__init_subclass__(bubble=bubble, **kwargs)

    def __init__(self, ts: datetime | None = None) -> None:
        super().__init__()
        self.ts = ts

    def apply(self, store: Store) -> None:
        """Fold this message into ``store``."""
        if self.ts is not None:
            store.received(self.ts)


class Batched(BusMessage):
    """A kind of which every message matters (alerts, audit lines, ticks, fills, portfolios for the NAV
    curve), yet a burst should cost one render: adjacent messages of the same kind merge, the newest carrying
    the older ones, which it applies first, in order."""

    def __init__(self, ts: datetime | None = None) -> None:
        super().__init__(ts)
        self.earlier: list[Self] = []

    def can_replace(self, message: Message) -> bool:
        if type(message) is not type(self):
            return False
        assert isinstance(message, type(self))
        message.earlier = [*self.earlier, self, *message.earlier]
        self.earlier = []
        return True

    @property
    def count(self) -> int:
        """How many messages this one stands for."""
        return len(self.earlier) + 1

    def apply(self, store: Store) -> None:
        for message in self.earlier:
            message.apply_one(store)
        self.apply_one(store)

    def apply_one(self, store: Store) -> None:
        """Fold this message alone."""
        BusMessage.apply(self, store)


class ConnectionChanged(BusMessage):
    """The cockpit's own link to the bus changed (connected / reconnecting n / disconnected)."""

    def __init__(self, connection: Connection) -> None:
        super().__init__()
        self.connection = connection

    def apply(self, store: Store) -> None:
        store.set_connection(self.connection)


class PresenceChanged(BusMessage):
    """The runtime announced itself online, went offline cleanly, or its last will fired."""

    def __init__(self, presence: Presence, ts: datetime | None = None) -> None:
        super().__init__(ts)
        self.presence = presence

    def apply(self, store: Store) -> None:
        super().apply(store)
        store.set_presence(self.presence)


class StateChanged(BusMessage):
    """The runtime's retained state (``state/runtime``)."""

    def __init__(self, state: StatePayload, ts: datetime | None = None) -> None:
        super().__init__(ts)
        self.state = state

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StateChanged)

    def apply(self, store: Store) -> None:
        super().apply(store)
        store.set_state(self.state)


class HeartbeatUpdated(BusMessage):
    """An agent's retained heartbeat (``state/agents/<name>``)."""

    def __init__(self, heartbeat: Heartbeat, ts: datetime) -> None:
        super().__init__(ts)
        self.heartbeat = heartbeat

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, HeartbeatUpdated) and message.heartbeat.name == self.heartbeat.name

    def apply(self, store: Store) -> None:
        super().apply(store)
        store.set_heartbeat(self.heartbeat, self.ts or self.heartbeat.ts)


class PortfolioUpdated(Batched):
    """The retained portfolio (``state/portfolio``), read as a dict. Merged in a burst, each one still adds
    its point to the NAV curve."""

    def __init__(self, portfolio: dict[str, Any], ts: datetime) -> None:
        super().__init__(ts)
        self.portfolio = portfolio

    def apply_one(self, store: Store) -> None:
        super().apply_one(store)
        store.set_portfolio(self.portfolio, self.ts or _EPOCH)


class HealthUpdated(BusMessage):
    """A health report (``state/health`` or a ``health`` reply): agents, bus depth, storage, kill switch."""

    def __init__(self, report: dict[str, Any], ts: datetime | None = None) -> None:
        super().__init__(ts)
        self.report = report

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, HealthUpdated)

    def apply(self, store: Store) -> None:
        super().apply(store)
        store.set_health(self.report)


class MarketUpdated(BusMessage):
    """A market snapshot: which provider served it, quarantined symbols, impacted signals."""

    def __init__(self, snapshot: dict[str, Any], ts: datetime) -> None:
        super().__init__(ts)
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, MarketUpdated)

    def apply(self, store: Store) -> None:
        super().apply(store)
        store.set_market(self.snapshot)


class WeightsUpdated(BusMessage):
    """Strategy Council weights and penalties (``strategy/feedback``)."""

    def __init__(self, weights: dict[str, float], penalties: dict[str, float], as_of: str, ts: datetime) -> None:
        super().__init__(ts)
        self.weights = weights
        self.penalties = penalties
        self.as_of = as_of

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, WeightsUpdated)

    def apply(self, store: Store) -> None:
        super().apply(store)
        store.set_weights(self.weights, self.penalties, self.as_of)


class TickCompleted(Batched):
    """A tick report (``events/tick``): completed, aborted or skipped, with its duration."""

    def __init__(self, report: TickReport, ts: datetime) -> None:
        super().__init__(ts)
        self.report = report

    def apply_one(self, store: Store) -> None:
        super().apply_one(store)
        store.add_tick(self.report)


class AlertRaised(Batched):
    """An alert (``events/alert``)."""

    def __init__(self, alert: Alert, ts: datetime) -> None:
        super().__init__(ts)
        self.alert = alert

    def apply_one(self, store: Store) -> None:
        super().apply_one(store)
        store.add_alert(self.alert)


class AuditAppended(Batched):
    """A copy of an audit line (``events/audit``)."""

    def __init__(self, event: AuditEvent, ts: datetime, tick_id: str | None = None) -> None:
        super().__init__(ts)
        self.event = event
        self.tick_id = tick_id

    def apply_one(self, store: Store) -> None:
        super().apply_one(store)
        store.add_audit(self.event, self.tick_id)
        if self.event.event == "alert.acknowledged":  # by anyone, from anywhere: the audit line says who
            alert_id = self.event.data.get("alert_id") or self.event.data.get("id")
            if isinstance(alert_id, str):
                store.mark_acked(alert_id, self.event.actor, self.event.ts)


class FillReceived(Batched):
    """An execution fill (``execution/fill``), read as a dict."""

    def __init__(self, fill: dict[str, Any], ts: datetime) -> None:
        super().__init__(ts)
        self.fill = fill

    def apply_one(self, store: Store) -> None:
        super().apply_one(store)
        store.add_fill(self.fill)


class BacktestProgressed(BusMessage):
    """Progress of a backtest run (``events/backtest``: run_id, progress 0..1, status, metrics?)."""

    def __init__(
        self,
        run_id: str,
        progress: float,
        status: str,
        metrics: dict[str, Any] | None = None,
        ts: datetime | None = None,
        message: str = "",
    ) -> None:
        super().__init__(ts)
        self.run_id = run_id
        self.progress = progress
        self.status = status
        self.metrics = metrics
        self.message = message

    def can_replace(self, message: Message) -> bool:
        return (
            isinstance(message, BacktestProgressed)
            and message.run_id == self.run_id
            and self.status == "running"
            and message.status == "running"
        )

    def apply(self, store: Store) -> None:
        super().apply(store)
        store.set_backtest_progress(self.run_id, self.progress, self.status, self.metrics, self.message)


class CommandAnswered(BusMessage):
    """A control action the cockpit sent and its answer (or the lack of one)."""

    def __init__(self, entry: CommandEntry) -> None:
        super().__init__()
        self.entry = entry

    def apply(self, store: Store) -> None:
        store.add_command(self.entry)
        if self.entry.ok:
            _fold_reply(store, self.entry)


def _fold_reply(store: Store, entry: CommandEntry) -> None:
    """What a successful reply teaches the store, per verb (unknown verbs teach nothing)."""
    data = entry.data
    if entry.verb == "status":
        store.set_status(data)
    elif entry.verb == "health":
        store.set_health(data)
    elif entry.verb == "incidents" and isinstance(data.get("incidents"), list):
        store.set_incidents([i for i in data["incidents"] if isinstance(i, dict)])
    elif entry.verb == "orders" and isinstance(data.get("open_orders"), list):
        fills = data.get("fills")
        store.set_orders(
            [o for o in data["open_orders"] if isinstance(o, dict)],
            [f for f in fills if isinstance(f, dict)] if isinstance(fills, list) else None,
        )
    elif entry.verb == "ack":
        alert_id = data.get("id") or data.get("alert_id")
        if isinstance(alert_id, str):
            store.mark_acked(alert_id, str(data.get("acked_by") or entry.operator), entry.ts)
    elif entry.verb == "alerts" and isinstance(data.get("alerts"), list):
        for record in data["alerts"]:
            if isinstance(record, dict):
                store.add_alert_record(record)
    elif entry.verb == "audit" and isinstance(data.get("chain"), dict):
        store.chain.verified = data["chain"]
    elif entry.verb == "nav_history" and isinstance(data.get("points"), list):
        store.set_nav_history(curve(data["points"]))
    elif entry.verb == "backtest" and isinstance(data.get("run_id"), str):
        run = store.backtest(data["run_id"])
        run.spec = dict(data.get("spec") or {})
        run.status = "submitted" if run.status == "submitted" else run.status
    elif entry.verb == "backtests" and isinstance(data.get("runs"), list):
        for item in data["runs"]:
            if isinstance(item, dict) and isinstance(item.get("run_id"), str):
                run = store.backtest(item["run_id"])
                run.status = str(item.get("status", run.status))
                run.progress = 1.0 if run.status == "completed" else float(item.get("progress", run.progress) or 0)
                run.metrics = dict(item.get("metrics") or run.metrics)
                run.spec = {k: item[k] for k in ("symbols", "start", "end", "capital") if k in item} or run.spec
                if isinstance(item.get("equity"), list):
                    run.equity = curve(item["equity"])


class TraceLoaded(Message):
    """The decision trace of one proposal, as records (dicts), for the trace screen."""

    def __init__(self, key: str, records: list[dict[str, Any]], problem: str = "") -> None:
        super().__init__()
        self.key = key
        self.records = records
        self.problem = problem
