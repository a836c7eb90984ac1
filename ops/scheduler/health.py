"""Runbook SOP 1, Health Check Failure: each check retried up to N times, then DEGRADED for the day.

A check is a named coroutine returning :class:`CheckResult`. A failing check is retried ``retries`` times
(so at most ``retries + 1`` attempts) with an injected sleep doubling from ``backoff`` seconds; a check that
passes is not run again. If any check still fails: an incident (``<home>/incidents/<id>/``, with every
attempt and the steps to find the root cause), an ``error`` alert, and the runtime goes DEGRADED, so every
trading job of the day is skipped. Only a RUNNING or REDUCING runtime is degraded; a PAUSED one (an
operator's pause) or a HALTED one keeps its state, the incident and alert are still raised.

Recovery: the next session's health check, if everything passes, returns a runtime that *this SOP*
degraded *from RUNNING* on an *earlier* day to RUNNING (``SCHEDULER_AUTO_RECOVER``). Never the same day
(the SOP skips trading for the day), never a state someone else set, never HALTED (a kill switch needs a
signed-off resume). A runtime degraded from REDUCING stays DEGRADED for an operator.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from agents.data import DataProvider
from ops.scheduler.facts import StateView
from ops.scheduler.target import SOP_MARK, JobTarget, TargetError
from runtime.state import RuntimeState
from storage.artifacts import write_incident

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HealthCheck:
    name: str
    run: Callable[[], Awaitable[CheckResult]]
    hint: str = ""  # where to look first: the incident's root-cause steps


@dataclass(frozen=True, slots=True)
class CheckRun:
    """One check through its retries."""

    name: str
    ok: bool
    attempts: list[CheckResult]
    waits: list[float]

    @property
    def last(self) -> CheckResult:
        return self.attempts[-1]


@dataclass(frozen=True, slots=True)
class HealthOutcome:
    healthy: bool
    action: str  # none | degraded | recovered | held
    message: str
    checks: list[CheckRun]
    state_before: StateView
    state_after: StateView
    incident_id: str | None = None

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if not c.ok]

    def to_json(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy,
            "action": self.action,
            "message": self.message,
            "incident_id": self.incident_id,
            "failed": self.failed,
            "state_before": self.state_before.to_json(),
            "state_after": self.state_after.to_json(),
            "checks": [
                {"name": c.name, "ok": c.ok, "attempts": [asdict(a) for a in c.attempts], "waits": c.waits}
                for c in self.checks
            ],
        }


async def run_with_retries(check: HealthCheck, *, retries: int, backoff: float, sleep: Sleep) -> CheckRun:
    attempts: list[CheckResult] = []
    waits: list[float] = []
    for attempt in range(retries + 1):
        if attempt:
            wait = backoff * 2 ** (attempt - 1)
            waits.append(wait)
            await sleep(wait)
        try:
            result = await check.run()
        except Exception as exc:  # a check that raises is a failed check, never a crashed SOP
            result = CheckResult(check.name, False, f"{type(exc).__name__}: {exc}")
        attempts.append(result)
        if result.ok:
            break
    return CheckRun(check.name, attempts[-1].ok, attempts, waits)


# -- the standard checks -------------------------------------------------------------------------------
async def provider_check(providers: Sequence[DataProvider], report: dict[str, Any] | None) -> CheckResult:
    """Every data provider's own ``health()``, and every data-stage agent's health in the runtime report."""
    problems: list[str] = []
    data: dict[str, Any] = {}
    for provider in providers:
        try:
            h = await provider.health()
        except Exception as exc:  # health() must not raise; if it does, that is the answer
            problems.append(f"provider {provider.name}: health() raised {exc!r}")
            continue
        data[h.name] = {"ok": h.ok, "latency_ms": h.latency_ms, "last_error": h.last_error, "detail": h.detail}
        if not h.ok:
            problems.append(f"provider {h.name}: {h.last_error or h.detail or 'unhealthy'}")
    for name, agent in (report or {}).get("agents", {}).items():
        if agent.get("stage") == "data":
            data[f"agent:{name}"] = {"ok": agent.get("ok"), "detail": agent.get("detail", "")}
            if not agent.get("ok"):
                problems.append(f"data agent {name}: {agent.get('detail') or 'unhealthy'}")
    if not data:
        return CheckResult("data_providers", True, "no data provider or data agent configured", data)
    return CheckResult("data_providers", not problems, "; ".join(problems) or f"{len(data)} source(s) healthy", data)


def standard_checks(
    target: JobTarget,
    *,
    providers: Callable[[], Sequence[DataProvider]] = tuple,
    scheduler: Callable[[], Awaitable[CheckResult]] | None = None,
) -> list[HealthCheck]:
    """Data providers, bus, agent heartbeats, ledger integrity and the scheduler itself."""

    async def report() -> dict[str, Any]:
        return await target.health()

    async def providers_ok() -> CheckResult:
        return await provider_check(providers(), await report())

    async def bus_ok() -> CheckResult:
        bus = (await report()).get("bus", {})
        ok = bool(bus.get("connected"))
        return CheckResult("bus", ok, f"{bus.get('url')} {bus.get('status')}", {"depth": bus.get("depth")})

    async def agents_ok() -> CheckResult:
        agents = (await report()).get("agents", {})
        bad = {n: a.get("detail") or "unhealthy" for n, a in agents.items() if not a.get("ok")}
        detail = "; ".join(f"{n}: {d}" for n, d in bad.items()) or f"{len(agents)} agent(s) healthy"
        return CheckResult("agents", not bad, detail, {"agents": sorted(agents)})

    async def ledger_ok() -> CheckResult:
        facts = await target.facts()
        problems = facts.problems_for(health=True)
        return CheckResult("ledger", not problems, "; ".join(problems) or "integrity ok, NAV identity holds")

    checks = [
        HealthCheck(
            "data_providers", providers_ok, "provider status pages, API keys, rate limits; agents.data quarantine"
        ),
        HealthCheck("bus", bus_ok, "the broker (systemctl status mosquitto), network, credentials"),
        HealthCheck("agents", agents_ok, "agenthedge runtime health --raw: the failing agent's detail and errors"),
        HealthCheck("ledger", ledger_ok, "PRAGMA integrity_check on ledger.sqlite; restore the last verified backup"),
    ]
    if scheduler is not None:
        checks.append(HealthCheck("scheduler", scheduler, "agenthedge scheduler jobs; exchange_calendars coverage"))
    return checks


# -- the SOP -------------------------------------------------------------------------------------------
class HealthSop:
    def __init__(
        self,
        target: JobTarget,
        checks: Sequence[HealthCheck],
        *,
        actor: str,
        retries: int = 3,
        backoff: float = 5.0,
        auto_recover: bool = True,
        sleep: Sleep | None = None,
        local_date: Callable[[datetime], date],
    ) -> None:
        self.target = target
        self.checks = list(checks)
        self.actor = actor
        self.retries = retries
        self.backoff = backoff
        self.auto_recover = auto_recover
        self.sleep: Sleep = sleep or target.clock.sleep
        self.local_date = local_date

    async def run(self, day: date) -> HealthOutcome:
        before = await self.target.state()
        runs = [
            await run_with_retries(c, retries=self.retries, backoff=self.backoff, sleep=self.sleep) for c in self.checks
        ]
        if all(r.ok for r in runs):
            return await self._passed(day, before, runs)
        return await self._failed(day, before, runs)

    async def _passed(self, day: date, before: StateView, runs: list[CheckRun]) -> HealthOutcome:
        now = await self.target.state()
        if not self._recoverable(now, day):
            note = "" if now.state.trades else f" ({now.describe()}; not changed by the health check)"
            return HealthOutcome(True, "none", f"all {len(runs)} checks passed{note}", runs, before, now)
        reason = f"{SOP_MARK}: all checks passed on {day.isoformat()}; trading resumes"
        try:
            after = await self.target.recover(reason, self.actor)
        except TargetError as exc:
            await self.target.alert(
                "health_check_recovery",
                "warning",
                f"health checks pass but the runtime stays {now.state}: {exc}",
                {"state": now.to_json()},
                self.actor,
            )
            return HealthOutcome(True, "held", f"checks passed; could not recover: {exc}", runs, before, now)
        await self.target.alert(
            "health_check_recovered", "info", f"health checks pass: {now.state} -> {after.state}", {}, self.actor
        )
        return HealthOutcome(True, "recovered", f"all checks passed: {now.state} -> {after.state}", runs, before, after)

    def _recoverable(self, view: StateView, day: date) -> bool:
        """A state this SOP set (from RUNNING) on an earlier day; remote targets pause instead of degrade."""
        if not self.auto_recover or view.state not in (RuntimeState.DEGRADED, RuntimeState.PAUSED):
            return False
        if view.actor != self.actor or not view.reason.startswith(SOP_MARK) or "(was RUNNING)" not in view.reason:
            return False
        return view.since is not None and self.local_date(view.since) < day

    async def _failed(self, day: date, before: StateView, runs: list[CheckRun]) -> HealthOutcome:
        failed = [r for r in runs if not r.ok]
        names = ", ".join(r.name for r in failed)
        now = self.target.clock.now()
        incident_id = f"INC-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2).upper()}"
        summary = "; ".join(f"{r.name}: {r.last.detail}" for r in failed)
        current = await self.target.state()
        after, action = current, "held"
        if current.state in (RuntimeState.RUNNING, RuntimeState.REDUCING):
            reason = (
                f"{SOP_MARK}: {names} failed after {self.retries} retries [incident {incident_id}] "
                f"(was {current.state.value})"
            )
            try:
                after, action = await self.target.degrade(reason, self.actor), "degraded"
            except TargetError as exc:
                log.error("health SOP could not degrade the runtime: %s", exc)
        outcome = HealthOutcome(
            False,
            action,
            f"{names} failed after {self.retries} retries: {summary}; runtime {after.state.value}, trading skipped "
            f"for {day.isoformat()} [incident {incident_id}]",
            runs,
            before,
            after,
            incident_id,
        )
        await self._write_incident(incident_id, now, day, outcome, failed)
        await self.target.alert(
            "health_check_failed",
            "error",
            outcome.message,
            {"incident_id": incident_id, "failed": outcome.failed, "state": after.state.value},
            self.actor,
        )
        return outcome

    async def _write_incident(
        self, incident_id: str, now: datetime, day: date, outcome: HealthOutcome, failed: list[CheckRun]
    ) -> None:
        hints = {c.name: c.hint for c in self.checks}
        steps = [f"{r.name}: {r.last.detail} -> look at {hints.get(r.name) or 'the check detail'}" for r in failed]
        steps.append(
            "when fixed: the next session's 08:00 health check returns the runtime to RUNNING "
            "(or `agenthedge runtime resume --operator NAME --reason TEXT` now; trading resumes at the next window)"
        )
        snapshot = {
            "incident": {
                "id": incident_id,
                "opened_at": now.isoformat(),
                "source": "ops.health_sop",
                "reason": outcome.message,
                "kind": "health_check_failure",
                "session": day.isoformat(),
            },
            "metrics": {"failed": outcome.failed, "retries": self.retries, "action": outcome.action},
            "root_cause_steps": steps,
            "health": outcome.to_json(),
        }
        await asyncio.to_thread(write_incident, self.target.home, incident_id, snapshot)
