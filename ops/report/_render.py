"""The daily report as Markdown (GitHub tables; states and severities as words)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from ops.report._model import DailyReport


def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _money(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.2f}"


def _signed(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+,.2f}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:+.2f}%"


def _weight(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:.2f}%"


def _table(header: list[str], rows: list[list[str]], align: str) -> list[str]:
    """``align``: one character per column, ``l`` or ``r``."""
    marks = ["---:" if a == "r" else "---" for a in align]
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(marks) + " |"]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def render_markdown(report: DailyReport) -> str:
    zone = ZoneInfo(report.timezone)

    def local(ts: datetime) -> str:
        return ts.astimezone(zone).strftime("%H:%M:%S")

    p, e, b = report.performance, report.exposures, report.breaches
    env = f" ({report.env})" if report.env else ""
    lines = [
        f"# AgentHedge daily report: {report.session_date.isoformat()}{env}",
        "",
        f"Generated {report.generated_at.astimezone(zone):%Y-%m-%d %H:%M %Z}. Times below are {report.timezone}.",
        "",
        "## Performance",
        "",
    ]
    lines += _table(
        ["Figure", "Value"],
        [
            ["NAV", _money(p.nav) + ("" if p.nav_source == "nav_history" else " (from the books)")],
            ["Day", f"{_pct(p.day_return)} ({_signed(p.day_pnl)})"],
            ["Month to date", _pct(p.mtd_return)],
            ["Year to date", _pct(p.ytd_return)],
            ["Drawdown from the year's peak", _pct(p.drawdown_from_peak)],
            ["Realised P&L, cumulative", _signed(p.realised_pnl)],
            ["Realised P&L, day", _signed(p.realised_pnl_day)],
            ["Unrealised P&L", _signed(p.unrealised_pnl)],
            ["Commissions, cumulative", _money(p.commissions)],
            ["Cash", _money(p.cash)],
        ],
        "lr",
    )
    lines += ["", "## Exposures", ""]
    lines.append(
        f"Gross {_money(e.gross)} ({_weight(e.gross_ratio)} of NAV), net {_money(e.net)} ({_weight(e.net_ratio)})."
    )
    lines += ["", "### By name", ""]
    if e.by_name:
        lines += _table(
            ["Symbol", "Sector", "Qty", "Last", "Market value", "Weight", "Unrealised"],
            [
                [
                    x.symbol,
                    x.sector,
                    f"{x.qty:,.4g}",
                    _money(x.last_price),
                    _money(x.market_value),
                    _weight(x.weight),
                    _signed(x.unrealised_pnl),
                ]
                for x in e.by_name
            ],
            "llrrrrr",
        )
    else:
        lines.append("No positions.")
    lines += ["", "### By sector", ""]
    if e.by_sector:
        lines += _table(
            ["Sector", "Names", "Gross", "Net", "Weight"],
            [[s.sector, str(s.names), _money(s.gross), _money(s.net), _weight(s.weight)] for s in e.by_sector],
            "lrrrr",
        )
    else:
        lines.append("No positions.")
    lines += ["", "## Breaches and rejects", ""]
    total = sum(b.alerts_by_action.values())
    if total:
        severities = ", ".join(f"{n} {s.upper()}" for s, n in sorted(b.alerts_by_severity.items()))
        actions = ", ".join(f"{a} x{n}" for a, n in b.alerts_by_action.items())
        lines.append(f"{total} alert(s): {severities}. By action: {actions}.")
        if b.rejects_by_rule:
            lines.append("Rejects by rule: " + ", ".join(f"{r} x{n}" for r, n in b.rejects_by_rule.items()) + ".")
        lines.append("")
        lines += _table(
            ["Time", "Severity", "Action", "Message"],
            [[local(a.ts), a.severity.upper(), a.action, a.message] for a in b.alerts],
            "llll",
        )
        if b.alerts_not_listed:
            lines += ["", f"... and {b.alerts_not_listed} more (see the audit log)."]
    else:
        lines.append("No breaches, rejects or other alerts.")
    if b.acknowledged or b.escalated:
        lines += ["", f"Alerts acknowledged: {b.acknowledged}; escalated: {b.escalated}."]
    lines += ["", "### State changes", ""]
    if b.transitions:
        lines += _table(
            ["Time", "From", "To", "Reason", "By"],
            [[local(t.ts), t.from_state, t.to_state, t.reason, t.actor] for t in b.transitions],
            "lllll",
        )
    else:
        lines.append("None.")
    lines += ["", "## Incidents", ""]
    if report.incidents:
        lines += _table(
            ["Incident", "Opened", "Source", "Reason", "Status"],
            [
                [
                    i.id,
                    i.opened_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                    i.source,
                    i.reason,
                    i.status.upper() + (f" by {i.closed_by}" if i.closed_by else ""),
                ]
                for i in report.incidents
            ],
            "lllll",
        )
    else:
        lines.append("None.")
    notes = list(report.notes)
    if b.audit_lines_unreadable:
        notes.append(f"{b.audit_lines_unreadable} audit line(s) could not be read: run `agenthedge audit verify`")
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"
