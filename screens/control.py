"""The cockpit's side of operator control: one generic ``send(verb, request)`` and the verbs it knows.

A new control verb is one entry in :data:`VERBS` (its description, whether it changes the runtime's state,
and how its request reads in the command log). The operator is the topic segment the
:class:`~runtime.control.ControlClient` publishes under, so a broker ACL vouches for it; the payload
never claims another name. Every send, answered or not, becomes a :class:`~screens.store.CommandEntry`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from runtime.bus import Bus, BusError, RequestTimeout
from runtime.clock import Clock
from runtime.control import ControlClient
from runtime.payloads import ControlRequest
from screens.format import shorten
from screens.store import CommandEntry


@dataclass(frozen=True)
class Verb:
    name: str
    description: str
    changes_state: bool = False
    logged: bool = True  # False: routine reads (status on connect) stay out of the operator's command log


VERBS: dict[str, Verb] = {
    v.name: v
    for v in (
        Verb("pause", "Pause: no new ticks", changes_state=True),
        Verb("resume", "Resume (from HALTED with a sign-off)", changes_state=True),
        Verb("run_once", "Run one tick now", changes_state=True),
        Verb("kill", "Trip the kill switch: HALT, cancel open orders, open an incident", changes_state=True),
        Verb("ack", "Acknowledge an alert"),
        Verb("snooze", "Snooze an alert"),
        Verb("backtest", "Launch a backtest run"),
        Verb("status", "Runtime status", logged=False),
        Verb("health", "Health report", logged=False),
        Verb("incidents", "Open and closed incidents with forensic snapshots and sign-offs", logged=False),
        Verb("orders", "Open orders and recent fills", logged=False),
        Verb("alerts", "Alert records and their acknowledgements", logged=False),
        Verb("audit", "Audit log tail and hash-chain verification", logged=False),
        Verb("trace", "Decision trace of one proposal", logged=False),
        Verb("backtests", "Backtest runs with metrics", logged=False),
        Verb("nav_history", "NAV history for the equity chart", logged=False),
    )
}


def describe(verb: str, request: ControlRequest) -> str:
    """How a request reads in the command log: the verb's arguments, never a secret."""
    parts = []
    if request.reason:
        parts.append(f"reason={request.reason!r}")
    if request.incident_id:
        parts.append(f"incident={request.incident_id}")
    if request.approver:
        parts.append(f"approver={request.approver}")
    parts += [f"{k}={v}" for k, v in request.args.items()]
    return shorten(" ".join(parts), 200)


class Commander:
    """Sends control requests as ``operator`` and records each outcome.

    Args:
        bus: The cockpit's bus client.
        operator: Who is acting: a topic segment (``control/<operator>/<verb>``).
        clock: The injected clock, for the command log's times.
        timeout: Seconds to wait for a reply.
    """

    def __init__(self, bus: Bus, operator: str, clock: Clock, *, timeout: float = 10.0) -> None:
        self.client = ControlClient(bus, operator, source="cockpit")
        self.operator = operator
        self.clock = clock
        self.timeout = timeout

    async def send(self, verb: str, request: ControlRequest | None = None) -> CommandEntry:
        """Send ``verb`` and return what happened; never raises for a refusal, a timeout or a dead bus."""
        body = request or ControlRequest()
        at = self.clock.now()
        started = time.perf_counter()
        ok: bool | None
        data: dict[str, Any] = {}
        try:
            reply = await self.client.send(verb, body, timeout=self.timeout)
            ok, answer, data = reply.ok, reply.message, dict(reply.data)
        except RequestTimeout:
            ok, answer = None, f"no answer within {self.timeout:g}s: is a runtime serving control on this bus?"
        except BusError as exc:
            ok, answer = None, f"bus: {exc}"
        latency = (time.perf_counter() - started) * 1000
        return CommandEntry(at, self.operator, verb, describe(verb, body), ok, answer, round(latency, 1), data)
