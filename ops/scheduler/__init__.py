"""The runbook's day on the NYSE calendar: planner, jobs, health SOP, pre-flight gate, limits sign-off.

Host it in the daemon with :func:`attach_scheduler`; run it on its own with ``agenthedge scheduler run``;
rehearse it on a fake clock with :func:`drive`.
"""

from ops.scheduler.calendar import CalendarError, Session, TradingCalendar
from ops.scheduler.facts import LedgerFacts, StateView
from ops.scheduler.health import CheckResult, HealthCheck, HealthOutcome, HealthSop, standard_checks
from ops.scheduler.ingest import provider_ingest
from ops.scheduler.limits import Baseline, LimitChange, LimitsVerdict, approve, compare, default_limits
from ops.scheduler.plan import JOB_NAMES, Anchor, JobKind, JobSpec, PlannedRun, default_jobs, plan_days, plan_sessions
from ops.scheduler.preflight import GateCheck, GateResult, PreflightGate
from ops.scheduler.runner import JobRunner, SchedulerStats
from ops.scheduler.runs import JobResult, RunRecord
from ops.scheduler.service import Scheduler, attach_scheduler, discover_data, job_specs, scheduler_for
from ops.scheduler.settings import SchedulerSettings
from ops.scheduler.simulate import drive
from ops.scheduler.target import InProcessTarget, JobTarget, RemoteTarget, TargetError

__all__ = [
    "JOB_NAMES",
    "Anchor",
    "Baseline",
    "CalendarError",
    "CheckResult",
    "GateCheck",
    "GateResult",
    "HealthCheck",
    "HealthOutcome",
    "HealthSop",
    "InProcessTarget",
    "JobKind",
    "JobResult",
    "JobRunner",
    "JobSpec",
    "JobTarget",
    "LedgerFacts",
    "LimitChange",
    "LimitsVerdict",
    "PlannedRun",
    "PreflightGate",
    "RemoteTarget",
    "RunRecord",
    "Scheduler",
    "SchedulerSettings",
    "SchedulerStats",
    "Session",
    "StateView",
    "TargetError",
    "TradingCalendar",
    "approve",
    "attach_scheduler",
    "compare",
    "default_jobs",
    "default_limits",
    "discover_data",
    "drive",
    "job_specs",
    "plan_days",
    "plan_sessions",
    "provider_ingest",
    "scheduler_for",
    "standard_checks",
]
