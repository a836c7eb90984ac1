"""The monthly kill-switch drill: a replay runtime on a temporary home, halted on ``runtime.kill_switch``.

Never the live home: the drill's runtime lives in a fresh temporary directory with its own in-process bus,
and the agents are built for that home (the deployment's registry when it has agents, else the embedded
demo agents). It replays a few past sessions so that working orders exist, publishes a kill switch on
``runtime.kill_switch`` from a separate bus client, and times, from the publish (wall-clock, monotonic):

* **halt**: the retained ``state/runtime`` says HALTED, broadcast only after the transition is committed
  (and the ledger is read to confirm it);
* **cancel**: the runtime audits every agent's safe state (``kill_switch.safe_state``), and the ledger then
  holds no open order;
* **incident**: the critical ``runtime_kill_switch`` alert, raised after the incident's forensics are written.

The drill passes when the runtime halted and every order was cancelled within the SLOs, every agent
reported a safe state, the incident folder exists and the drill home's audit chain verifies. The report
(JSON and Markdown) goes under ``<live home>/drills/<ts>/``; the temporary home is deleted unless kept.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from ops.maintenance._drill_agents import demo_registry
from ops.maintenance._drill_report import write_report
from ops.maintenance.settings import MaintenanceSettings
from ops.scheduler.calendar import TradingCalendar
from runtime import topics
from runtime.agent import AgentRegistry
from runtime.bus import MemoryBroker, MemoryBus
from runtime.clock import SimClock
from runtime.messages import make
from runtime.payloads import Alert, AuditEvent, Heartbeat, KillSwitch, StateChanged
from runtime.replay import replay, session_time
from runtime.runtime import Runtime
from runtime.settings import CoreSettings, RuntimeSettings
from storage.artifacts import read_incident
from storage.audit import AUDIT_FILE, verify
from storage.db import connect
from storage.records import ORDER_OPEN_STATUSES

RegistryFactory = Callable[[CoreSettings], AgentRegistry]
OPERATOR = "drill"


@dataclass
class DrillCheck:
    name: str
    ok: bool
    detail: str


@dataclass
class DrillReport:
    started_at: str
    drill_home: str
    agents_source: str
    agents: list[str]
    ticks: list[dict[str, Any]] = field(default_factory=list)
    open_orders_before: int = 0
    open_orders_after: int | None = None
    time_to_halt_ms: float | None = None
    time_to_cancel_ms: float | None = None
    time_to_incident_ms: float | None = None
    incident_id: str | None = None
    safe_states: dict[str, dict[str, Any]] = field(default_factory=dict)
    heartbeats: dict[str, str] = field(default_factory=dict)
    audit_verified: bool | None = None
    checks: list[DrillCheck] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    slo_ms: dict[str, float] = field(default_factory=dict)
    finished_at: str = ""
    report_dir: str = ""
    kept_home: bool = False

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)


async def run_drill(
    report_home: Path,
    settings: MaintenanceSettings,
    *,
    registry_factory: RegistryFactory | None = None,
    runtime_settings: RuntimeSettings | None = None,
    now: datetime,
    keep: bool = False,
) -> DrillReport:
    """Run the drill and write its report under ``report_home/drills/<ts>/``."""
    drill_home = await asyncio.to_thread(_temporary_home, report_home)
    bus_name = f"memory://drill-{secrets.token_hex(4)}"
    core = CoreSettings(home=drill_home, bus=bus_name, env="drill")
    registry = registry_factory(core) if registry_factory is not None else AgentRegistry()
    source = "deployment registry (app.wiring.build_registry)"
    if len(registry) == 0:
        registry, source = demo_registry(), "embedded demo agents (the deployment registry is empty)"
    base = runtime_settings or RuntimeSettings()
    rt_settings = base.model_copy(update={"operators": [OPERATOR], "heartbeat_interval": 3600.0})
    sessions = _recent_sessions(now.date(), settings.drill_ticks)
    clock = SimClock(session_time(sessions[0]) - timedelta(hours=1))
    report = DrillReport(
        started_at=now.isoformat(),
        drill_home=str(drill_home),
        agents_source=source,
        agents=[a.name for a in registry],
        slo_ms={"halt": settings.drill_halt_slo_seconds * 1000, "cancel": settings.drill_cancel_slo_seconds * 1000},
        kept_home=keep,
    )
    rt = Runtime(core, rt_settings, registry, clock=clock)
    try:
        await rt.start(role="drill")
        await rt.books.fund(settings.drill_capital, ts=clock.now())
        await replay(rt, clock, sessions, on_tick=lambda o: report.ticks.append(_tick(o)))
        report.open_orders_before = len(await rt.books.open_orders())
        await _inject_and_time(rt, bus_name, settings, report)
    finally:
        if rt.started:
            await rt.stop()
        MemoryBroker.reset(bus_name.removeprefix("memory://"))
    await asyncio.to_thread(_conclude, report, drill_home, report_home / "drills" / now.strftime("%Y%m%dT%H%M%S"))
    return report


def _temporary_home(live: Path) -> Path:
    drill_home = Path(tempfile.mkdtemp(prefix="agenthedge-drill-"))
    if drill_home.resolve() == live.resolve() or live.resolve() in drill_home.resolve().parents:
        raise RuntimeError(f"the drill home {drill_home} must not be the live home {live}")
    return drill_home


def _conclude(report: DrillReport, drill_home: Path, folder: Path) -> None:
    """Verify the drill home's audit chain, judge, write the report, delete the home unless kept."""
    report.audit_verified = verify(drill_home / AUDIT_FILE).ok
    _judge(report, drill_home)
    report.finished_at = datetime.now(UTC).isoformat()
    report.report_dir = str(folder)
    write_report(folder, report)
    if not report.kept_home:
        shutil.rmtree(drill_home, ignore_errors=True)


def _recent_sessions(today: date, count: int) -> list[date]:
    calendar = TradingCalendar("XNYS")
    found: list[date] = []
    day = today - timedelta(days=1)
    while len(found) < count:
        if calendar.is_session(day):
            found.append(day)
        day -= timedelta(days=1)
    return sorted(found)


def _tick(outcome: Any) -> dict[str, Any]:
    return {
        "tick_id": outcome.tick.id,
        "status": outcome.status,
        "reason": outcome.reason,
        "duration_ms": round(outcome.duration_ms, 3),
    }


async def _inject_and_time(rt: Runtime, bus_name: str, settings: MaintenanceSettings, report: DrillReport) -> None:
    observer = MemoryBus(bus_name, "drill", client_id="drill-observer")
    injector = MemoryBus(bus_name, "drill", client_id="drill-injector")
    await observer.start()
    await injector.start()
    reader = await connect(rt.home / "ledger.sqlite", migrate=False)
    sub = observer.subscribe(topics.STATE_RUNTIME, topics.EVENT_AUDIT, topics.EVENT_ALERT, "state/agents/+")
    try:
        message = make(
            "kill_switch",
            KillSwitch(reason="monthly kill-switch drill", metrics={"drill": True}, operator=OPERATOR),
            source="ops.drill",
            env="drill",
        )
        started = time.perf_counter()
        await injector.publish(topics.RUNTIME_KILL_SWITCH, message)
        try:
            async with asyncio.timeout(settings.drill_timeout_seconds):
                async for delivery in sub:
                    elapsed = (time.perf_counter() - started) * 1000
                    if await _observe(delivery.topic, delivery.envelope, elapsed, reader, report):
                        break
        except TimeoutError:
            report.warnings.append(f"the drill stopped waiting after {settings.drill_timeout_seconds:g}s")
        report.open_orders_after = await _open_orders(reader)
    finally:
        await sub.close()
        await reader.close()
        await observer.close()
        await injector.close()


async def _observe(topic: str, envelope: Any, elapsed: float, reader: Any, report: DrillReport) -> bool:
    """Record one observed message; True once the incident alert (the end of the halt) arrived."""
    if topic == topics.STATE_RUNTIME:
        state = envelope.parsed(StateChanged)
        if state.state == "HALTED" and report.time_to_halt_ms is None:
            async with reader.execute("SELECT state, incident_id FROM runtime_state WHERE id = 1") as cur:
                row = await cur.fetchone()
            if row is not None and row[0] == "HALTED":  # the broadcast follows the commit: confirm it anyway
                report.time_to_halt_ms = elapsed
                report.incident_id = row[1]
    elif topic == topics.EVENT_AUDIT:
        event = envelope.parsed(AuditEvent)
        if event.event == "kill_switch.safe_state":
            report.safe_states = dict(event.data)
            if await _open_orders(reader) == 0:
                report.time_to_cancel_ms = elapsed
    elif topic.startswith("state/agents/"):
        beat = envelope.parsed(Heartbeat)
        report.heartbeats[beat.name] = beat.status
    elif topic == topics.EVENT_ALERT:
        alert = envelope.parsed(Alert)
        if alert.action == "runtime_kill_switch":
            report.time_to_incident_ms = elapsed
            return True
    return False


async def _open_orders(reader: Any) -> int:
    marks = ", ".join("?" for _ in ORDER_OPEN_STATUSES)
    async with reader.execute(f"SELECT COUNT(*) FROM orders WHERE status IN ({marks})", ORDER_OPEN_STATUSES) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


def _judge(report: DrillReport, drill_home: Path) -> None:
    checks = report.checks
    halt, cancel = report.time_to_halt_ms, report.time_to_cancel_ms
    checks.append(
        DrillCheck(
            "halted",
            halt is not None and halt <= report.slo_ms["halt"],
            f"HALTED persisted after {halt:.1f} ms" if halt is not None else "the runtime never reported HALTED",
        )
    )
    checks.append(
        DrillCheck(
            "orders_cancelled",
            cancel is not None and cancel <= report.slo_ms["cancel"] and report.open_orders_after == 0,
            f"{report.open_orders_before} working order(s) cancelled, none open after {cancel:.1f} ms"
            if cancel is not None
            else f"{report.open_orders_after} order(s) still open",
        )
    )
    unsafe = [n for n in report.agents if not report.safe_states.get(n, {}).get("safe")]
    checks.append(
        DrillCheck(
            "agents_safe",
            not unsafe and bool(report.safe_states),
            "every agent reported a safe state" if not unsafe else f"not safe: {', '.join(unsafe)}",
        )
    )
    incident_ok = False
    if report.incident_id:
        try:
            incident_ok = bool(read_incident(drill_home, report.incident_id).get("agents_safe_state"))
        except (OSError, ValueError):
            incident_ok = False
    checks.append(
        DrillCheck(
            "incident",
            incident_ok and report.time_to_incident_ms is not None,
            f"incident {report.incident_id} with forensics, alert after {report.time_to_incident_ms or 0:.1f} ms"
            if incident_ok
            else "no incident folder with forensics",
        )
    )
    checks.append(DrillCheck("audit_chain", bool(report.audit_verified), "the drill home's audit chain verifies"))
    if report.open_orders_before == 0:
        report.warnings.append("no working order at the kill switch: the cancel path was not exercised")
    if any(t["status"] != "completed" for t in report.ticks):
        report.warnings.append("some replay ticks did not complete (see ticks)")
