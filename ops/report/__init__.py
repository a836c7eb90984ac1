"""The daily report (16:30): performance, exposures, breaches and rejects, incidents.

Written as ``<home>/reports/daily-YYYY-MM-DD.md`` and ``.json`` and dispatched to the alert channels::

    written = await write_daily_report(home, ledger, session_date, generated_at=clock.now(), env=env,
                                       bus=rt.bus, notifier=notifier)
"""

from __future__ import annotations

from ops.report._build import (
    breaches,
    build_daily_report,
    exposures,
    incident_lines,
    performance,
    read_audit_lines,
    sectors_from_portfolio,
    session_closes,
)
from ops.report._model import (
    AlertLine,
    Breaches,
    DailyReport,
    Exposures,
    IncidentLine,
    Performance,
    PositionLine,
    SectorLine,
    TransitionLine,
)
from ops.report._render import render_markdown
from ops.report._write import WrittenReport, report_alert, report_paths, retained_portfolio, write_daily_report

__all__ = [
    "AlertLine",
    "Breaches",
    "DailyReport",
    "Exposures",
    "IncidentLine",
    "Performance",
    "PositionLine",
    "SectorLine",
    "TransitionLine",
    "WrittenReport",
    "breaches",
    "build_daily_report",
    "exposures",
    "incident_lines",
    "performance",
    "read_audit_lines",
    "render_markdown",
    "report_alert",
    "report_paths",
    "retained_portfolio",
    "sectors_from_portfolio",
    "session_closes",
    "write_daily_report",
]
