"""Topic names: the runbook's dotted names map one-to-one onto ``agenthedge/<env>/<segments>``.

The bus takes *relative* topics (``risk/kill_switch``) and adds the ``agenthedge/<env>/`` prefix itself,
so code never spells an environment. :func:`dotted` turns a runbook name into a relative topic.
"""

from __future__ import annotations

import re

ROOT = "agenthedge"

_SEGMENT = re.compile(r"^[A-Za-z0-9_.\-]+$")


def dotted(name: str) -> str:
    """``risk.kill_switch`` -> ``risk/kill_switch``."""
    return name.replace(".", "/")


def prefix(env: str) -> str:
    return f"{ROOT}/{env}/"


def absolute(env: str, relative: str) -> str:
    return prefix(env) + relative


def relative(env: str, topic: str) -> str | None:
    """The topic without its ``agenthedge/<env>/`` prefix, or None if it belongs to another environment."""
    p = prefix(env)
    return topic[len(p) :] if topic.startswith(p) else None


def valid_segment(value: str) -> bool:
    """True for a value that may stand as one topic segment (an operator or agent name)."""
    return bool(_SEGMENT.match(value)) and value not in {"+", "#"}


def matches(pattern: str, topic: str) -> bool:
    """MQTT wildcard matching: ``+`` one level, ``#`` the rest (including the parent level)."""
    p_parts = pattern.split("/")
    t_parts = topic.split("/")
    for i, part in enumerate(p_parts):
        if part == "#":
            return True
        if i >= len(t_parts):
            return False
        if part != "+" and part != t_parts[i]:
            return False
    return len(p_parts) == len(t_parts)


# The runbook's topics.
MARKET_SNAPSHOT = dotted("market.snapshot")
DIRECTOR_DIRECTIVE = dotted("director.directive")
QUANT_PROPOSAL = dotted("quant.proposal")
RISK_APPROVAL = dotted("risk.approval")
RISK_STOP_LOSS = dotted("risk.stop_loss")
RISK_KILL_SWITCH = dotted("risk.kill_switch")
COMPLIANCE_APPROVAL = dotted("compliance.approval")
COMPLIANCE_KILL_SWITCH = dotted("compliance.kill_switch")
RUNTIME_KILL_SWITCH = dotted("runtime.kill_switch")
EXECUTION_FILL = dotted("execution.fill")
STRATEGY_FEEDBACK = dotted("strategy.feedback")
KILL_SWITCH_TOPICS = (RISK_KILL_SWITCH, COMPLIANCE_KILL_SWITCH, RUNTIME_KILL_SWITCH)


def strategy_proposal(plugin: str) -> str:
    return f"strategy/proposal/{plugin}"


# Retained state.
STATE_RUNTIME = "state/runtime"
STATE_HEALTH = "state/health"
STATE_PORTFOLIO = "state/portfolio"
STATE_CONNECTION = "state/connection"


def state_agent(name: str) -> str:
    return f"state/agents/{name}"


# Events (not retained): ticks, alerts, audit lines for live viewers.
EVENT_TICK = "events/tick"
EVENT_ALERT = "events/alert"
EVENT_AUDIT = "events/audit"
EVENT_BACKTEST = "events/backtest"

# Control: the operator is a topic segment so a broker ACL vouches for it.
CONTROL_ALL = "control/+/+"
CONTROL_VERBS = (
    "pause",
    "resume",
    "run_once",
    "kill",
    "status",
    "health",
    "ack",
    "snooze",
    "alerts",
    "backtest",
    "incidents",
)


def control(operator: str, verb: str) -> str:
    if not valid_segment(operator):
        raise ValueError(f"operator {operator!r} cannot be a topic segment")
    return f"control/{operator}/{verb}"


def reply_inbox(client_id: str) -> str:
    return f"reply/{client_id}"
