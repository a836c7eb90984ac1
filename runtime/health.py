"""The health snapshot behind ``runtime health``: agents, bus, storage, state, kill switch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runtime.state import RuntimeState

if TYPE_CHECKING:
    from runtime.runtime import Runtime


async def health_report(rt: Runtime) -> dict[str, Any]:
    """A JSON-ready report; ``healthy`` is False when the bus is down, storage is damaged or an agent fails."""
    agents: dict[str, Any] = {}
    for agent in rt.registry:
        h = agent.health()
        agents[agent.name] = {
            "stage": agent.stage.value,
            "version": agent.version,
            "ok": h.ok,
            "detail": h.detail,
            "errors": agent.errors,
            "last_tick_id": agent.last_tick_id,
            "last_tick_ms": agent.last_tick_ms,
            **h.data,
        }
    integrity = await rt.books.integrity_check() if rt.ledger is not None else "not open"
    stats = rt.bus.stats
    bus = {
        "url": rt.core.bus_display,
        "connected": rt.bus.connected,
        "status": rt.bus.status.state,
        "depth": stats.depth,
        "published": stats.published,
        "received": stats.received,
        "rejected": dict(stats.rejected),
        "reconnects": stats.reconnects,
    }
    record = rt.record
    incident = await rt.open_incident() if rt.ledger is not None else None
    kill = {
        "active": rt.state == RuntimeState.HALTED,
        "incident_id": incident.id if incident else None,
        "reason": incident.reason if incident else None,
        "source": incident.source if incident else None,
        "since": incident.opened_at.isoformat() if incident else None,
    }
    problems = []
    if not rt.bus.connected:
        problems.append(f"bus {rt.core.bus_display} is {rt.bus.status.state}")
    if integrity != "ok":
        problems.append(f"ledger integrity: {integrity}")
    problems += [f"agent {n}: {a['detail'] or 'unhealthy'}" for n, a in agents.items() if not a["ok"]]
    return {
        "healthy": not problems,
        "problems": problems,
        "ts": rt.clock.now().isoformat(),
        "run_id": rt.run_id,
        "env": rt.env,
        "state": {
            "state": rt.state.value,
            "reason": record.reason if record else "",
            "actor": record.actor if record else "",
            "since": record.since.isoformat() if record else None,
        },
        "kill_switch": kill,
        "bus": bus,
        "storage": {"ledger": str(rt.home / "ledger.sqlite"), "integrity": integrity, "home": str(rt.home)},
        "agents": agents,
    }
