"""What the cockpit knows, folded from bus traffic and control replies. Plain Python: no Textual here.

The bus reader turns traffic into typed messages; each message applies itself to the :class:`Store`, and
views render from it. A view that was hidden while messages arrived renders from the store when shown, so
nothing is lost and hidden views cost nothing. Every series is bounded.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from runtime.payloads import Alert, AuditEvent, Heartbeat, Presence, Severity, StateChanged, TickReport
from screens.format import number

ConnectionState = Literal["connected", "reconnecting", "disconnected"]

NAV_POINTS = 2000
TICKS = 120
DEPTHS = 120
AUDIT_LINES = 5000
FILLS = 500
COMMANDS = 1000


@dataclass(frozen=True)
class Connection:
    """The cockpit's link to the bus: ``connected``, ``reconnecting`` (attempt n) or ``disconnected`` since."""

    state: ConnectionState = "disconnected"
    since: datetime | None = None
    attempts: int = 0
    error: str = ""

    @property
    def label(self) -> str:
        if self.state == "reconnecting":
            return f"reconnecting {self.attempts}"
        return self.state


@dataclass
class AgentRow:
    heartbeat: Heartbeat
    seen: datetime  # when the heartbeat was published (envelope time)


@dataclass(slots=True)
class AlertRow:
    """One alert as the cockpit shows it; ``acked_by`` once an acknowledgement is known.

    The alert's fields, flat, in one object without a ``__dict__``: the pydantic model kept per row made five
    objects the garbage collector tracks, and with 100,000 alerts each full collection paused the cockpit
    for 200-400 ms (a key pressed then waited for it). One tracked object per alert keeps that under 50 ms.
    """

    id: str
    action: str
    severity: Severity
    message: str
    source: str
    ts: datetime
    needs_ack: bool = False
    details: dict[str, Any] = field(default_factory=dict, repr=False)
    acked_by: str | None = None
    acked_at: datetime | None = None
    _hay: str = field(default="", repr=False)

    @classmethod
    def of(cls, alert: Alert) -> AlertRow:
        a = alert
        ts = a.ts.astimezone(UTC) if a.ts.tzinfo is not None else a.ts  # one UTC, not a parsed tzinfo per alert
        return cls(a.id, a.action, a.severity, a.message, a.source, ts, a.needs_ack, a.details)

    @property
    def waiting(self) -> bool:
        """Needs an acknowledgement and has none."""
        return self.needs_ack and self.acked_by is None

    def haystack(self) -> str:
        """Lower-case text a filter matches (cached: a filter over 100,000 alerts runs per keystroke)."""
        if not self._hay:
            ack = f"acked {self.acked_by}" if self.acked_by else ("needs-ack" if self.needs_ack else "")
            self._hay = f"{self.severity} {self.action} {self.source} {self.message} {ack}".lower()
        return self._hay


@dataclass(frozen=True)
class AuditLine:
    """An audit line as seen live, with the tick it belongs to (from its envelope)."""

    event: AuditEvent
    tick_id: str | None = None


@dataclass
class ChainStatus:
    """Continuity of the audit sequence numbers seen live, plus the runtime's own verification if asked."""

    first: int | None = None
    last: int | None = None
    gaps: list[tuple[int, int]] = field(default_factory=list)
    verified: dict[str, Any] | None = None

    def see(self, seq: int) -> None:
        if self.last is None:
            self.first = self.last = seq
            return
        if seq > self.last + 1:
            self.gaps.append((self.last + 1, seq - 1))
        self.last = max(self.last, seq)

    @property
    def text(self) -> str:
        if self.verified is not None:
            ok = bool(self.verified.get("ok"))
            head = self.verified.get("head_seq", self.last)
            detail = self.verified.get("problem") or self.verified.get("message") or ""
            word = "✓ VERIFIED" if ok else "✖ BROKEN"
            return f"chain {word} to seq {head}" + (f": {detail}" if detail and not ok else "")
        if self.last is None:
            return "chain: no audit line seen yet"
        if self.gaps:
            lo, hi = self.gaps[-1]
            missed = sum(b - a + 1 for a, b in self.gaps)
            return f"chain: seq {self.first}..{self.last}, {missed} line(s) not seen live (last gap {lo}..{hi})"
        return f"chain: seq {self.first}..{self.last} contiguous as seen live (not verified)"


@dataclass
class BacktestRun:
    run_id: str
    status: str = "submitted"
    progress: float = 0.0
    metrics: dict[str, Any] = field(default_factory=dict)
    spec: dict[str, Any] = field(default_factory=dict)
    equity: list[tuple[str, float]] = field(default_factory=list)
    message: str = ""

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed", "cancelled", "error")


@dataclass(frozen=True)
class CommandEntry:
    """One control action the cockpit sent: who, when, what, and the answer (lazygit's command log)."""

    ts: datetime
    operator: str
    verb: str
    what: str
    ok: bool | None  # None: no answer (timeout, bus down)
    answer: str
    latency_ms: float | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def result(self) -> str:
        return "✓ ok" if self.ok else "✖ refused" if self.ok is False else "? no answer"


class Store:
    """The cockpit's state. Methods are called by the typed messages; views read the attributes."""

    def __init__(self, *, env: str, operator: str, read_only: bool, bus: str, embedded: bool = False) -> None:
        self.env = env
        self.operator = operator
        self.read_only = read_only
        self.bus = bus
        self.embedded = embedded
        self.connection = Connection()
        self.presence: Presence | None = None
        self.state: StateChanged | None = None
        self.last_rx: datetime | None = None
        self.agents: dict[str, AgentRow] = {}
        self.portfolio: dict[str, Any] | None = None
        self.portfolio_ts: datetime | None = None
        self.nav: deque[tuple[str, float]] = deque(maxlen=NAV_POINTS)
        self.weights: dict[str, float] = {}
        self.penalties: dict[str, float] = {}
        self.weights_as_of = ""
        self.market: dict[str, Any] | None = None
        self.ticks: deque[TickReport] = deque(maxlen=TICKS)
        self.depths: deque[float] = deque(maxlen=DEPTHS)
        self.health: dict[str, Any] | None = None
        self.alerts: list[AlertRow] = []
        self._alert_index: dict[str, int] = {}
        self._waiting = 0  # kept as alerts come and are acknowledged: counting 100,000 per message is too slow
        self.audit: deque[AuditLine] = deque(maxlen=AUDIT_LINES)
        self.chain = ChainStatus()
        self.fills: deque[dict[str, Any]] = deque(maxlen=FILLS)
        self.open_orders: list[dict[str, Any]] | None = None
        self.status: dict[str, Any] | None = None
        self.incidents: list[dict[str, Any]] | None = None
        self.backtests: dict[str, BacktestRun] = {}
        self.commands: deque[CommandEntry] = deque(maxlen=COMMANDS)
        self.unsupported: dict[str, str] = {}  # verb -> why the runtime could not answer it
        self.busy: str | None = None  # the state-changing verb in flight, if any

    # -- derived ---------------------------------------------------------------------------------
    @property
    def runtime_online(self) -> bool:
        return self.presence is not None and self.presence.online

    @property
    def controllable(self) -> bool:
        """Control keys work: connected, the runtime is online, not read-only."""
        return not self.read_only and self.connection.state == "connected" and self.runtime_online

    @property
    def controls_off_reason(self) -> str:
        if self.read_only:
            return "read-only"
        if self.connection.state != "connected":
            return f"bus {self.connection.label}"
        if not self.runtime_online:
            return "runtime offline"
        return ""

    @property
    def state_name(self) -> str | None:
        return self.state.state if self.state else None

    @property
    def resume_approvers(self) -> int:
        value = (self.status or {}).get("resume_approvers", 1)
        return 2 if value == 2 else 1

    @property
    def open_incident(self) -> dict[str, Any] | None:
        """The open incident: from the status reply, else from the retained state's incident id."""
        found = (self.status or {}).get("incident")
        if isinstance(found, dict) and found.get("id") and self.state and self.state.incident_id == found["id"]:
            return found
        if self.state and self.state.state == "HALTED" and self.state.incident_id:
            return {"id": self.state.incident_id, "reason": self.state.reason, "opened_at": self.state.since}
        return None

    def waiting_alerts(self) -> int:
        return self._waiting

    # -- folding ---------------------------------------------------------------------------------
    def received(self, ts: datetime) -> None:
        if self.last_rx is None or ts > self.last_rx:
            self.last_rx = ts

    def set_connection(self, connection: Connection) -> None:
        self.connection = connection

    def set_presence(self, presence: Presence) -> None:
        self.presence = presence

    def set_state(self, state: StateChanged) -> None:
        if self.state is None or state.seq >= self.state.seq or state.run_id != self.state.run_id:
            self.state = state

    def set_heartbeat(self, heartbeat: Heartbeat, seen: datetime) -> None:
        self.agents[heartbeat.name] = AgentRow(heartbeat, seen)

    def set_portfolio(self, portfolio: dict[str, Any], ts: datetime) -> None:
        self.portfolio = portfolio
        self.portfolio_ts = ts
        nav = number(portfolio.get("nav"))
        if nav is None:
            return
        label = str(portfolio.get("as_of") or portfolio.get("tick_id") or ts.isoformat())
        if self.nav and self.nav[-1][0] == label:
            self.nav[-1] = (label, nav)
        else:
            self.nav.append((label, nav))

    def set_nav_history(self, points: Sequence[tuple[str, float]]) -> None:
        self.nav.clear()
        self.nav.extend(points)

    def set_weights(self, weights: dict[str, float], penalties: dict[str, float], as_of: str) -> None:
        self.weights = weights
        self.penalties = penalties
        self.weights_as_of = as_of

    def set_market(self, snapshot: dict[str, Any]) -> None:
        self.market = snapshot

    def add_tick(self, report: TickReport) -> None:
        self.ticks.append(report)

    def set_health(self, report: dict[str, Any]) -> None:
        self.health = report
        depth = number((report.get("bus") or {}).get("depth"))
        if depth is not None:
            self.depths.append(depth)

    def add_alert(self, alert: Alert) -> AlertRow:
        index = self._alert_index.get(alert.id)
        if index is not None:  # QoS 1 may deliver twice
            return self.alerts[index]
        row = AlertRow.of(alert)
        row.haystack()  # now, a microsecond each, rather than 100,000 at once in the first filter
        self._alert_index[alert.id] = len(self.alerts)
        self.alerts.append(row)
        self._waiting += row.waiting
        return row

    def add_alert_record(self, record: dict[str, Any]) -> None:
        """An alert book record (the ``alerts`` verb): add it if it was raised before the cockpit connected,
        and take its acknowledgement either way. A record that does not read as an alert is skipped."""
        try:
            alert = Alert(
                id=str(record["id"]),
                action=str(record["action"]),
                severity=record.get("severity", "info"),
                message=str(record.get("message", "")),
                source=str(record.get("source", "")),
                ts=record.get("raised_at") or record["ts"],
                details=dict(record.get("details") or {}),
                needs_ack=bool(record.get("needs_ack")),
            )
        except (KeyError, TypeError, ValueError):
            return
        row = self.add_alert(alert)
        if record.get("status") == "acknowledged" and row.acked_by is None:
            self.mark_acked(alert.id, str(record.get("acked_by") or "?"), None)

    def alert(self, alert_id: str) -> AlertRow | None:
        index = self._alert_index.get(alert_id)
        return None if index is None else self.alerts[index]

    def mark_acked(self, alert_id: str, by: str, at: datetime | None) -> None:
        row = self.alert(alert_id)
        if row is not None:
            self._waiting -= row.waiting
            row.acked_by, row.acked_at, row._hay = by, at, ""

    def add_audit(self, event: AuditEvent, tick_id: str | None = None) -> None:
        self.audit.append(AuditLine(event, tick_id))
        self.chain.see(event.seq)

    def add_fill(self, fill: dict[str, Any]) -> None:
        self.fills.append(fill)

    def set_status(self, status: dict[str, Any]) -> None:
        self.status = status

    def set_incidents(self, incidents: list[dict[str, Any]]) -> None:
        self.incidents = incidents

    def set_orders(self, open_orders: list[dict[str, Any]], fills: list[dict[str, Any]] | None) -> None:
        self.open_orders = open_orders
        if fills is not None:
            known = {(f.get("venue"), f.get("trade_id")) for f in self.fills}
            for fill in fills:
                if (fill.get("venue"), fill.get("trade_id")) not in known:
                    self.fills.append(fill)

    def backtest(self, run_id: str) -> BacktestRun:
        run = self.backtests.get(run_id)
        if run is None:
            run = self.backtests[run_id] = BacktestRun(run_id)
        return run

    def set_backtest_progress(
        self, run_id: str, progress: float, status: str, metrics: dict[str, Any] | None, message: str = ""
    ) -> None:
        run = self.backtest(run_id)
        run.progress = min(1.0, max(run.progress if status == "running" else 0.0, progress))
        run.status = status
        if metrics:
            run.metrics = metrics
            equity = metrics.get("equity")
            if isinstance(equity, list):
                run.equity = curve(equity)
        if message:
            run.message = message

    def add_command(self, entry: CommandEntry) -> None:
        self.commands.append(entry)
        if entry.ok is False and entry.answer.startswith("unknown command"):
            self.unsupported[entry.verb] = entry.answer
        elif entry.ok is not None:
            self.unsupported.pop(entry.verb, None)


def curve(points: list[Any]) -> list[tuple[str, float]]:
    """``[[label, value], ...]`` or ``[{"date"|"ts": .., "nav"|"equity": ..}, ...]`` -> ``[(label, value)]``."""
    out: list[tuple[str, float]] = []
    for point in points:
        if isinstance(point, list | tuple) and len(point) == 2:
            value = number(point[1])
            if value is not None:
                out.append((str(point[0]), value))
        elif isinstance(point, dict):
            value = number(point.get("nav", point.get("equity")))
            label = point.get("date", point.get("session", point.get("ts")))
            if value is not None and label is not None:
                out.append((str(label), value))
    return out
