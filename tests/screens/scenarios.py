"""Fixed data for the cockpit: five states of the world, fed through a real ``memory://`` bus.

Everything is deterministic: envelope times and ids are fixed, the clock is a :class:`SimClock` at ``NOW``,
numbers come from formulas. :class:`FakeRuntime` answers control requests on the bus the way the daemon's
control service does (operator from the topic), from canned replies, and records every request it got.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from runtime import topics
from runtime.bus import Bus, Subscription
from runtime.clock import SimClock
from runtime.messages import Envelope, make
from runtime.payloads import (
    Alert,
    AuditEvent,
    ControlReply,
    ControlRequest,
    Heartbeat,
    Presence,
    StateChanged,
    TickReport,
)
from screens.store import CommandEntry

NOW = datetime(2024, 5, 2, 14, 30, 0, tzinfo=UTC)
RUN = "run-20240502T080000-ab12"
ENV = "paper"
STATES = ("nominal", "degraded", "disconnected", "halted", "paused")
INCIDENT = "INC-20240502-141500-7F3A"
AGENTS = (
    ("data", "data"),
    ("director", "director"),
    ("technical", "council"),
    ("fundamental", "council"),
    ("sentiment", "council"),
    ("council", "council"),
    ("risk", "risk"),
    ("compliance", "compliance"),
    ("execution", "execution"),
    ("feedback", "feedback"),
    ("reconciliation", "reconciliation"),
)
SYMBOLS = (("AAPL", "tech", 410), ("MSFT", "tech", 180), ("IBM", "tech", 240), ("XOM", "energy", 300))


def clock() -> SimClock:
    return SimClock(NOW)


_counter = 0


def envelope(
    type_name: str, payload: Any, *, at: datetime, source: str = "runtime", tick: str | None = None
) -> Envelope:
    """An envelope with a fixed id and time."""
    global _counter
    _counter += 1
    message = make(type_name, payload, source=source, run_id=RUN, env=ENV, tick_id=tick)
    return message.model_copy(update={"ts": at, "id": f"fixed-{_counter:06d}"})


def nav_curve(n: int = 60) -> list[tuple[str, float]]:
    """A deterministic equity curve with a drawdown in the middle."""
    start = date(2024, 2, 5)
    out = []
    for i in range(n):
        value = 1_000_000 * (1 + 0.0009 * i + 0.025 * math.sin(i / 6.0) - (0.03 if 30 <= i < 40 else 0.0))
        out.append(((start + timedelta(days=i)).isoformat(), round(value, 2)))
    return out


def portfolio(nav: float, as_of: str) -> dict[str, Any]:
    positions = []
    gross = 0.0
    for symbol, sector, q in SYMBOLS:
        price = 100 + len(symbol) * 37.5
        value = q * price
        gross += value
        positions.append(
            {
                "symbol": symbol,
                "sector": sector,
                "qty": float(q),
                "avg_cost": round(price * 0.97, 2),
                "last_price": price,
                "market_value": value,
                "unrealised_pnl": round(value * 0.03, 2),
                "realised_pnl": 0.0,
                "weight": value / nav,
            }
        )
    return {
        "as_of": as_of,
        "ts": NOW.isoformat(),
        "tick_id": f"{RUN}:60",
        "nav": nav,
        "cash": round(nav - gross, 2),
        "initial_capital": 1_000_000.0,
        "positions": positions,
        "gross_exposure": gross,
        "net_exposure": gross,
        "gross_leverage": gross / nav,
        "previous_nav": round(nav - 1234.5, 2),
        "day_pnl": 1234.5,
        "total_pnl": round(nav - 1_000_000, 2),
        "realised_pnl": 5210.0,
        "unrealised_pnl": round(gross * 0.03, 2),
        "commissions": 312.4,
        "open_orders": 2,
        "reconciled": True,
        "problems": [],
    }


@dataclass
class Scenario:
    name: str
    retained: list[tuple[str, Envelope]] = field(default_factory=list)
    events: list[tuple[str, Envelope]] = field(default_factory=list)
    replies: dict[str, ControlReply] = field(default_factory=dict)
    disconnect: bool = False


def _state(name: str, reason: str, actor: str, since: datetime, incident: str | None = None) -> StateChanged:
    return StateChanged(
        state=name,
        previous="RUNNING" if name != "RUNNING" else "NONE",
        reason=reason,
        actor=actor,
        since=since,
        incident_id=incident,
        seq=7,
        run_id=RUN,
    )


def build(name: str) -> Scenario:
    """The fixed world of one state: nominal, degraded, disconnected, halted or paused."""
    s = Scenario(name, disconnect=name == "disconnected")
    t_state = NOW - timedelta(minutes=15)
    if name == "halted":
        reason = "kill switch (risk.kill_switch): daily loss 3.2% > 3.0% limit"
        state = _state("HALTED", reason, "risk", t_state, INCIDENT)
    elif name == "paused":
        state = _state("PAUSED", "pre-open checks before the FOMC release", "alice", t_state)
    elif name == "degraded":
        reason = "health check failed after 3 retries: data provider demo unreachable"
        state = _state("DEGRADED", reason, "ops", t_state)
    else:
        state = _state("RUNNING", "first start", "runtime", NOW - timedelta(hours=6))
    s.retained.append((topics.STATE_RUNTIME, envelope("runtime.state", state, at=t_state)))
    presence = Presence(
        online=True, client_id="agenthedge-paper-runtime", pid=4242, host="ops-1", started=NOW, run_id=RUN
    )
    s.retained.append((topics.STATE_CONNECTION, envelope("presence", presence, at=NOW - timedelta(hours=6))))
    for i, (agent, stage) in enumerate(AGENTS):
        status = "ok"
        detail = ""
        if name == "halted":
            status = "safe"
            detail = f"kill switch {INCIDENT}"
        if name == "degraded" and agent == "data":
            status, detail = "error", "provider demo: connection refused (3 retries)"
        beat = Heartbeat(
            name=agent,
            stage=stage,
            version="1.4.0",
            status=status,
            ts=NOW - timedelta(seconds=2 + i),
            last_tick_id=f"{RUN}:60",
            last_tick_ms=round(1.5 + 0.7 * i, 1),
            errors=3 if status == "error" else 0,
            detail=detail,
        )
        s.retained.append((topics.state_agent(agent), envelope("heartbeat", beat, at=NOW - timedelta(seconds=2 + i))))
    curve = nav_curve()
    s.replies["nav_history"] = ControlReply(
        ok=True, verb="nav_history", message="60 points", data={"points": [list(p) for p in curve]}
    )
    label, nav = curve[-1]
    s.retained.append(
        (topics.STATE_PORTFOLIO, envelope("portfolio.state", portfolio(nav, label), at=NOW - timedelta(seconds=3)))
    )
    healthy = name not in ("degraded",)
    health = {
        "healthy": healthy,
        "problems": [] if healthy else ["agent data: provider demo: connection refused (3 retries)"],
        "bus": {"depth": 0, "status": "connected"},
        "storage": {"integrity": "ok"},
    }
    s.retained.append((topics.STATE_HEALTH, envelope("health", health, at=NOW - timedelta(seconds=4))))
    feedback = {
        "as_of": label,
        "weights": {"technical": 0.38, "fundamental": 0.27, "sentiment": 0.2, "macro": 0.15},
        "penalties": {"sentiment": 0.05},
    }
    s.events.append((topics.STRATEGY_FEEDBACK, envelope("strategy.feedback", feedback, at=NOW - timedelta(seconds=5))))
    for i in range(24):
        report = TickReport(
            tick_id=f"{RUN}:{37 + i}",
            seq=37 + i,
            status="completed",
            started=NOW - timedelta(seconds=120 - 5 * i),
            duration_ms=round(18 + 9 * math.sin(i / 2.5) + (25 if i == 17 else 0), 1),
            state="RUNNING",
        )
        s.events.append((topics.EVENT_TICK, envelope("tick", report, at=NOW - timedelta(seconds=120 - 5 * i))))
    s.events += [(topics.EVENT_ALERT, envelope("alert", a, at=a.ts)) for a in alerts(name)]
    s.events += [(topics.EVENT_AUDIT, envelope("audit.event", e, at=e.ts, tick=tick)) for e, tick in audit_lines(name)]
    for i, (symbol, _, q) in enumerate(SYMBOLS[:3]):
        fill = {
            "client_order_id": f"AH-20240502-{i + 1:04d}",
            "venue": "paper-a",
            "trade_id": f"T{i + 1:05d}",
            "symbol": symbol,
            "side": "buy",
            "qty": float(q // 4),
            "price": 100 + len(symbol) * 37.5,
            "commission": 1.25,
            "ts": (NOW - timedelta(minutes=40 - i)).isoformat(),
        }
        s.events.append((topics.EXECUTION_FILL, envelope("execution.fill", fill, at=NOW - timedelta(minutes=40 - i))))
    s.replies.update(replies(name, state))
    return s


def alerts(name: str) -> list[Alert]:
    out = [
        Alert(
            id="al-0001",
            action="risk_alert",
            severity="warning",
            message="soft breach: AAPL at 8.2% of NAV (80% of the 10% single-name limit)",
            source="risk",
            ts=NOW - timedelta(minutes=50),
        ),
        Alert(
            id="al-0002",
            action="compliance_reject",
            severity="error",
            message="restricted list: TSLA vetoed (policy R-12)",
            source="compliance",
            ts=NOW - timedelta(minutes=35),
            needs_ack=True,
        ),
    ]
    if name == "degraded":
        out.append(
            Alert(
                id="al-0003",
                action="health_failed",
                severity="error",
                message="health check failed after 3 retries: trading skipped for the day",
                source="ops",
                ts=NOW - timedelta(minutes=15),
                needs_ack=True,
            )
        )
    if name == "halted":
        out.append(
            Alert(
                id="al-0004",
                action="runtime_kill_switch",
                severity="critical",
                message=f"HALTED by kill switch (risk.kill_switch): daily loss 3.2% > 3.0% [incident {INCIDENT}]",
                source="runtime",
                ts=NOW - timedelta(minutes=15),
                needs_ack=True,
            )
        )
    return out


def audit_lines(name: str) -> list[tuple[AuditEvent, str | None]]:
    lines: list[tuple[AuditEvent, str | None]] = []
    seq = 1200
    for i in range(6):
        seq += 1
        tick = f"{RUN}:{55 + i}"
        data = {"intent_id": f"i-{55 + i}-AAPL", "symbol": "AAPL", "qty": 10 * (i + 1)}
        when = NOW - timedelta(minutes=30 - i)
        lines.append((AuditEvent(seq=seq, event="trade_pack.intent", actor="council", ts=when, data=data), tick))
    seq += 1
    lines.append(
        (
            AuditEvent(
                seq=seq,
                event="control.command",
                actor="alice",
                ts=NOW - timedelta(minutes=20),
                data={"verb": "status", "ok": True},
            ),
            None,
        )
    )
    if name == "halted":
        seq += 1
        lines.append(
            (
                AuditEvent(
                    seq=seq,
                    event="runtime.transition",
                    actor="risk",
                    ts=NOW - timedelta(minutes=15),
                    data={"from": "RUNNING", "to": "HALTED", "incident_id": INCIDENT},
                ),
                None,
            )
        )
    return lines


def replies(name: str, state: StateChanged) -> dict[str, ControlReply]:
    incident = {
        "id": INCIDENT,
        "reason": "daily loss 3.2% > 3.0% limit",
        "source": "risk.kill_switch",
        "opened_at": (NOW - timedelta(minutes=15)).isoformat(),
    }
    status = {
        "state": state.state,
        "reason": state.reason,
        "incident": incident if name == "halted" else None,
        "run_id": RUN,
        "env": ENV,
        "resume_approvers": 1,
        "operators": ["alice", "bob"],
    }
    closed = {
        "id": "INC-20240415-101200-1C2D",
        "status": "closed",
        "opened_at": "2024-04-15T10:12:00+00:00",
        "closed_at": "2024-04-15T11:02:00+00:00",
        "closed_by": "bob",
        "source": "compliance.kill_switch",
        "reason": "wash-trade pattern on IBM",
        "snapshot": {
            "nav": 1_012_345.5,
            "positions": {"IBM": {"qty": 240}, "AAPL": {"qty": 410}},
            "open_orders_after_cancel": [],
            "still_open": [],
            "health": {"healthy": True, "problems": []},
            "agents_safe_state": {
                "execution": {"safe": True, "detail": "cancelled 3 open order(s)"},
                "risk": {"safe": True, "detail": ""},
            },
        },
        "signoffs": [
            {
                "ts": "2024-04-15T11:01:00+00:00",
                "operator": "carol",
                "reason": "too early",
                "accepted": False,
                "refusal": "operator 'carol' is not on the roster (RUNTIME_OPERATORS)",
            },
            {
                "ts": "2024-04-15T11:02:00+00:00",
                "operator": "bob",
                "reason": "orders reviewed with compliance",
                "accepted": True,
            },
        ],
    }
    incidents = [closed]
    if name == "halted":
        incidents.append(dict(incident, status="open", signoffs=[]))
    orders = [
        {
            "client_order_id": "AH-20240502-0004",
            "symbol": "XOM",
            "side": "buy",
            "qty": 75.0,
            "filled_qty": 25.0,
            "limit_price": 118.5,
            "status": "partially_filled",
            "venue": "paper-a",
        },
        {
            "client_order_id": "AH-20240502-0005",
            "symbol": "IBM",
            "side": "sell",
            "qty": 40.0,
            "filled_qty": 0.0,
            "limit_price": None,
            "status": "sent",
            "venue": "paper-b",
        },
    ]
    return {
        "status": ControlReply(ok=True, verb="status", message=state.state, data=status),
        "incidents": ControlReply(ok=True, verb="incidents", message="2", data={"incidents": incidents}),
        "orders": ControlReply(ok=True, verb="orders", message="2 open", data={"open_orders": orders, "fills": []}),
    }


class FakeRuntime:
    """Answers ``control/<operator>/<verb>`` on ``bus`` from canned replies (unknown verbs: refused as the real
    control service refuses them) and records ``(operator, verb, request)`` for every request."""

    def __init__(self, bus: Bus, replies: dict[str, ControlReply] | None = None) -> None:
        self.bus = bus
        self.replies = dict(replies or {})
        self.requests: list[tuple[str, str, ControlRequest]] = []
        self.handlers: dict[str, Callable[[str, ControlRequest], ControlReply]] = {}
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._sub = self.bus.subscribe(topics.CONTROL_ALL)
        await self.bus.wait_subscribed(self._sub)
        self._task = asyncio.create_task(self._serve(self._sub))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._sub is not None:
            await self._sub.close()

    def verbs(self, operator: str | None = None) -> list[str]:
        return [v for op, v, _ in self.requests if operator is None or op == operator]

    async def _serve(self, sub: Subscription) -> None:
        async for delivery in sub:
            _, operator, verb = delivery.topic.split("/")
            request = delivery.envelope.parsed(ControlRequest)
            self.requests.append((operator, verb, request))
            if verb in self.handlers:
                reply = self.handlers[verb](operator, request)
            else:
                reply = self.replies.get(verb) or ControlReply(ok=False, verb=verb, message=f"unknown command {verb!r}")
            answer = make("control.reply", reply, source="runtime", env=self.bus.env)
            await self.bus.reply(delivery.envelope, answer)


async def feed(bus: Bus, scenario: Scenario, *, retained: bool = True, events: bool = True) -> None:
    """Publish the scenario's retained state and events on ``bus``."""
    if retained:
        for topic, message in scenario.retained:
            await bus.publish(topic, message, retain=True)
    if events:
        for topic, message in scenario.events:
            await bus.publish(topic, message)


def replies_for_log() -> list[CommandEntry]:
    """A command log: what an operator's morning looks like (answered, refused, unanswered)."""
    t = NOW - timedelta(minutes=20)
    return [
        CommandEntry(t, "alice", "pause", "reason='pre-open checks'", True, "PAUSED by alice", 3.1),
        CommandEntry(t + timedelta(minutes=1), "alice", "resume", "reason=''", True, "RUNNING again", 2.7),
        CommandEntry(
            t + timedelta(minutes=5),
            "carol",
            "resume",
            f"reason='too early' incident={INCIDENT}",
            False,
            "operator 'carol' is not on the roster (RUNTIME_OPERATORS)",
            2.2,
        ),
        CommandEntry(t + timedelta(minutes=7), "alice", "ack", "alert_id=al-0002", True, "al-0002 acknowledged", 1.9),
        CommandEntry(
            t + timedelta(minutes=9),
            "alice",
            "run_once",
            "reason='run once from the cockpit'",
            None,
            "no answer within 10s: is a runtime serving control on this bus?",
            10000.0,
        ),
    ]
