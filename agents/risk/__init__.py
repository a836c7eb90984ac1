"""Risk: pre-trade limits against NAV, VaR and stress, stop-losses and the loss breakers (issue 3, item 4).

Pure logic (:func:`check_intents`, :func:`monitor`, :class:`VarModel`, :class:`StressTable`) takes typed inputs and
returns typed results, so backtests run the very same checks; :class:`RiskAgent` is the thin stage-RISK wrapper
that reads the tick, acts on the runtime (pause, REDUCING, kill switch), publishes, audits and alerts.
"""

from agents.risk._agent import GROSS_CAP, STOP_LOSS, RiskAgent, build_risk_agent
from agents.risk._book import Exposure, mark
from agents.risk._measures import StressTable, VarModel
from agents.risk._messages import RiskConstraints, StopLossNotice, StopLossPosition, load_constraints
from agents.risk._monitor import MonitorReport, StopLossHit, monitor, session_closes
from agents.risk._pretrade import PretradeContext, PretradeResult, Rule, check_intents
from agents.risk._settings import RiskSettings, StressScenario, default_scenarios
from agents.risk._usage import Usage, soft_breaches, usages

__all__ = [
    "GROSS_CAP",
    "STOP_LOSS",
    "Exposure",
    "MonitorReport",
    "PretradeContext",
    "PretradeResult",
    "RiskAgent",
    "RiskConstraints",
    "RiskSettings",
    "Rule",
    "StopLossHit",
    "StopLossNotice",
    "StopLossPosition",
    "StressScenario",
    "StressTable",
    "Usage",
    "VarModel",
    "build_risk_agent",
    "check_intents",
    "default_scenarios",
    "load_constraints",
    "mark",
    "monitor",
    "session_closes",
    "soft_breaches",
    "usages",
]
