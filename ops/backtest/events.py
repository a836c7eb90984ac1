"""Breaches and rejects of a run, by reason, from its own audit log.

**Rejects** come from the verdict records the agents write for every intent they examine: ``risk.verdicts``
and ``compliance.verdicts`` (a verdict with ``approved: false`` counts once per rule it names, the rule being
the text before the first ``:`` of each reason, as ``risk:max_position``), plus ``execution.fail_closed``
(intents sent without both verdicts). Compliance's ``not_examined`` closing verdicts are not rejects and are
not in those records.

**Breaches** are the hard ones, from the raised alerts:

* ``kill_switch`` for every ``runtime_kill_switch`` alert (any of the three kill-switch topics or an operator);
* ``breaker:<name>`` for a risk loss breaker (``daily_loss_pause``, ``drawdown``; ``daily_loss_kill`` also
  trips the kill switch);
* ``limit:<limit>`` for a limit at or over 100% in a ``risk_alert`` (``single_name``, ``var``, ...);
* ``stress:<scenario>`` for a ``risk_stress_breach``.

Soft breaches (a limit used between the soft ratio and 100%) are counted apart, by limit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

HARD = 1.0 - 1e-12


@dataclass
class RunEvents:
    rejects: Counter[str] = field(default_factory=Counter)
    breaches: Counter[str] = field(default_factory=Counter)
    soft_breaches: Counter[str] = field(default_factory=Counter)
    alerts: Counter[str] = field(default_factory=Counter)
    kill_switches: list[str] = field(default_factory=list)
    transitions: list[dict[str, Any]] = field(default_factory=list)
    lines: int = 0

    @property
    def hard_breaches(self) -> int:
        return sum(self.breaches.values())


def _rules(reasons: Any) -> set[str]:
    if not isinstance(reasons, list):
        return {"unspecified"}
    found = {str(r).split(":", 1)[0].strip() for r in reasons if str(r).strip()}
    return found or {"unspecified"}


def _verdicts(prefix: str, data: Mapping[str, Any], into: Counter[str]) -> None:
    items = data.get("verdicts")
    if not isinstance(items, list):
        return
    for v in items:
        if isinstance(v, Mapping) and v.get("approved") is False:
            into.update(f"{prefix}:{rule}" for rule in _rules(v.get("reasons")))


def _alert(data: Mapping[str, Any], events: RunEvents) -> None:
    action = str(data.get("action", "?"))
    events.alerts[action] += 1
    details = data.get("details")
    details = details if isinstance(details, Mapping) else {}
    if action == "runtime_kill_switch":
        events.breaches["kill_switch"] += 1
        events.kill_switches.append(str(data.get("message", "")))
    elif action == "risk_stress_breach":
        events.breaches[f"stress:{details.get('scenario', 'unknown')}"] += 1
    elif action == "risk_alert":
        if "breaker" in details:
            events.breaches[f"breaker:{details['breaker']}"] += 1
        limits = details.get("limits")
        for u in limits if isinstance(limits, list) else []:
            if not isinstance(u, Mapping):
                continue
            kind = str(u.get("key", "unknown")).split(":", 1)[0]
            used = u.get("utilisation")
            if isinstance(used, int | float) and used >= HARD:
                events.breaches[f"limit:{kind}"] += 1
            else:
                events.soft_breaches[kind] += 1


def scan_audit(records: Iterable[Mapping[str, Any]]) -> RunEvents:
    """Fold a run's audit records (decoded JSON lines) into rejects and breaches by reason."""
    events = RunEvents()
    for record in records:
        events.lines += 1
        event = record.get("event")
        data = record.get("data")
        if not isinstance(data, Mapping):
            continue
        if event == "risk.verdicts":
            _verdicts("risk", data, events.rejects)
        elif event == "compliance.verdicts":
            _verdicts("compliance", data, events.rejects)
        elif event == "execution.fail_closed":
            intents = data.get("intents")
            events.rejects["execution:fail_closed"] += len(intents) if isinstance(intents, Mapping) else 1
        elif event == "alert.raised":
            _alert(data, events)
        elif event == "runtime.transition":
            events.transitions.append(
                {"from": data.get("from"), "to": data.get("to"), "reason": data.get("reason"), "ts": record.get("ts")}
            )
    return events
