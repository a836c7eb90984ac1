"""Building the daily report from the ledger and the audit log. Deterministic: same inputs, same report.

Sources:

- performance: the ledger's ``nav_history`` (the last point of each session is its close) for NAV and the
  day/MTD/YTD returns; the books for cash, commissions and P&L. Realised P&L includes closed positions:
  under average-cost accounting ``realised + unrealised = NAV - initial capital + commissions``, so it is
  derived from figures the ledger reconciles every tick rather than by re-running the fills.
- exposures: the books (positions at generation time: the report runs after the close), sectors from the
  caller (e.g. the retained portfolio state, see :func:`sectors_from_portfolio`).
- breaches and rejects: the session's ``alert.raised`` lines of the audit log (risk, compliance, kill
  switch and the other alert actions), its state transitions and alert acknowledgements/escalations.
- incidents: the ledger's incidents opened during the session or still open.

The session day of a timestamp is its date in the exchange's time zone (America/New_York).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

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
from storage.ledger import Ledger
from storage.records import Books, Incident, NavPoint

TZ = "America/New_York"
UNCLASSIFIED = "Unclassified"
KV = "reports"
PNL_KEY = "pnl:last"
# The actions that are breaches or rejects (the runbook's), listed first in the report.
BREACH_PREFIXES = ("risk_", "compliance_", "runtime_kill_switch")
# How far back NAV points are read: the year to date plus the last sessions of the year before.
_LOOKBACK = timedelta(days=35)


def _ratio(num: float, den: float | None) -> float | None:
    return num / den if den and math.isfinite(den) and den != 0 else None


def _ret(end: float, base: float | None) -> float | None:
    ratio = _ratio(end, base)
    return ratio - 1.0 if ratio is not None else None


def _money(x: float) -> float:
    return round(x, 2)


def _frac(x: float | None) -> float | None:
    return round(x, 8) if x is not None else None


def session_closes(points: Iterable[NavPoint], until: date) -> dict[date, NavPoint]:
    """The last NAV point of each session up to ``until``, by session date (in time order)."""
    closes: dict[date, NavPoint] = {}
    for point in points:
        day = date.fromisoformat(point.session)
        if day > until:
            continue
        held = closes.get(day)
        if held is None or point.ts >= held.ts:
            closes[day] = point
    return dict(sorted(closes.items()))


def _base(closes: Mapping[date, NavPoint], before: date, fallback: float) -> float | None:
    """The close of the last session before ``before`` or, with none, the capital the account started with."""
    earlier = [p for d, p in closes.items() if d < before]
    if earlier:
        return earlier[-1].nav
    return fallback if fallback > 0 else None


def performance(
    closes: Mapping[date, NavPoint],
    books: Books,
    session_date: date,
    previous_realised: float | None,
) -> tuple[Performance, list[str]]:
    notes: list[str] = []
    account = books.account
    close = closes.get(session_date)
    if close is not None:
        nav, source = close.nav, "nav_history"
    else:
        nav, source = books.nav, "books"
        notes.append("no NAV point was recorded for the session: NAV is taken from the books")
    initial = account.initial_capital
    day_base = _base(closes, session_date, initial)
    month_base = _base(closes, session_date.replace(day=1), initial)
    year_base = _base(closes, date(session_date.year, 1, 1), initial)
    year_navs = [p.nav for d, p in closes.items() if d.year == session_date.year] or [nav]
    peak = max([*year_navs, nav])
    unrealised = sum((p.last_price - p.avg_cost) * p.qty for p in books.positions.values() if p.last_price is not None)
    realised = books.nav - initial + account.commissions - unrealised
    perf = Performance(
        nav=_money(nav),
        nav_source=source,
        day_return=_frac(_ret(nav, day_base)),
        day_pnl=_money(nav - day_base) if day_base is not None else None,
        mtd_return=_frac(_ret(nav, month_base)),
        ytd_return=_frac(_ret(nav, year_base)),
        ytd_peak_nav=_money(peak),
        drawdown_from_peak=_frac(_ret(nav, peak)),
        initial_capital=_money(initial),
        cash=_money(account.cash),
        realised_pnl=_money(realised),
        realised_pnl_day=_money(realised - previous_realised) if previous_realised is not None else None,
        unrealised_pnl=_money(unrealised),
        commissions=_money(account.commissions),
    )
    if previous_realised is None:
        notes.append("no earlier report snapshot: the day's realised P&L is not known")
    return perf, notes


def exposures(books: Books, nav: float, sectors: Mapping[str, str] | None = None) -> Exposures:
    sectors = sectors or {}
    lines = []
    by_sector: dict[str, list[float]] = {}
    for symbol, p in books.positions.items():
        sector = sectors.get(symbol) or UNCLASSIFIED
        mv = p.market_value
        lines.append(
            PositionLine(
                symbol=symbol,
                sector=sector,
                qty=p.qty,
                avg_cost=_money(p.avg_cost),
                last_price=p.last_price,
                market_value=_money(mv),
                weight=_frac(_ratio(mv, nav)),
                unrealised_pnl=_money((p.last_price - p.avg_cost) * p.qty if p.last_price is not None else 0.0),
                realised_pnl=_money(p.realised_pnl),
            )
        )
        by_sector.setdefault(sector, []).append(mv)
    lines.sort(key=lambda line: (-abs(line.market_value), line.symbol))
    sector_lines = [
        SectorLine(
            sector=name,
            gross=_money(sum(abs(v) for v in values)),
            net=_money(sum(values)),
            weight=_frac(_ratio(sum(values), nav)),
            names=len(values),
        )
        for name, values in by_sector.items()
    ]
    sector_lines.sort(key=lambda line: (-line.gross, line.sector))
    return Exposures(
        gross=_money(books.gross_exposure),
        net=_money(books.net_exposure),
        gross_ratio=_frac(_ratio(books.gross_exposure, nav)),
        net_ratio=_frac(_ratio(books.net_exposure, nav)),
        by_name=lines,
        by_sector=sector_lines,
    )


def _session_day(ts: datetime, zone: ZoneInfo) -> date:
    return ts.astimezone(zone).date()


def _rule_ids(reasons: Any) -> set[str]:
    if not isinstance(reasons, list):
        return set()
    return {str(r).split(":", 1)[0].strip() for r in reasons if str(r).strip()}


def _rules(details: Mapping[str, Any]) -> Counter[str]:
    """Rejects by rule id an alert reports, one per rejected intent and rule.

    Reads what the agents put in their alerts: ``rejected`` (risk) or ``vetoes`` (compliance), lists of
    ``{..., "reasons": ["rule: detail", ...]}``.
    """
    found: Counter[str] = Counter()
    for key in ("rejected", "vetoes"):
        items = details.get(key)
        if isinstance(items, list):
            for item in items:
                if isinstance(item, Mapping):
                    found.update(_rule_ids(item.get("reasons")))
    return found


def breaches(
    records: Iterable[Mapping[str, Any]], session_date: date, *, tz: str = TZ, max_alerts: int = 50, unreadable: int = 0
) -> Breaches:
    """The session's alerts, rejects by rule, state transitions and alert lifecycle, from audit records."""
    zone = ZoneInfo(tz)
    alerts: list[AlertLine] = []
    transitions: list[TransitionLine] = []
    by_action: Counter[str] = Counter()
    by_severity: Counter[str] = Counter()
    by_rule: Counter[str] = Counter()
    read = acknowledged = escalated = 0
    for record in records:
        read += 1
        try:
            ts = datetime.fromisoformat(str(record["ts"]))
            event, data = str(record["event"]), record.get("data") or {}
        except (KeyError, ValueError, TypeError):
            unreadable += 1
            continue
        if _session_day(ts, zone) != session_date:
            continue
        if event == "alert.raised":
            action, severity = str(data.get("action", "?")), str(data.get("severity", "?"))
            by_action[action] += 1
            by_severity[severity] += 1
            details = data.get("details")
            by_rule.update(_rules(details if isinstance(details, Mapping) else {}))
            alerts.append(
                AlertLine(
                    ts=ts,
                    action=action,
                    severity=severity,
                    message=str(data.get("message", "")),
                    source=str(data.get("source", record.get("actor", ""))),
                    id=data.get("id"),
                )
            )
        elif event == "runtime.transition":
            transitions.append(
                TransitionLine(
                    ts=ts,
                    from_state=str(data.get("from", "")),
                    to_state=str(data.get("to", "")),
                    reason=str(data.get("reason", "")),
                    actor=str(record.get("actor", "")),
                )
            )
        elif event == "alert.acknowledged":
            acknowledged += 1
        elif event == "alert.escalated":
            escalated += 1
    # breaches first (in time order), then the rest; a long day lists the first ``max_alerts``
    alerts.sort(key=lambda a: (not a.action.startswith(BREACH_PREFIXES), a.ts))
    return Breaches(
        alerts_by_action=dict(sorted(by_action.items())),
        alerts_by_severity=dict(sorted(by_severity.items())),
        rejects_by_rule=dict(sorted(by_rule.items())),
        alerts=alerts[:max_alerts],
        alerts_not_listed=max(0, len(alerts) - max_alerts),
        transitions=transitions,
        acknowledged=acknowledged,
        escalated=escalated,
        audit_lines_read=read,
        audit_lines_unreadable=unreadable,
    )


def incident_lines(incidents: Iterable[Incident], session_date: date, *, tz: str = TZ) -> list[IncidentLine]:
    """Incidents opened during the session, and any still open."""
    zone = ZoneInfo(tz)
    out = [
        IncidentLine(
            id=i.id,
            opened_at=i.opened_at,
            source=i.source,
            reason=i.reason,
            status=i.status,
            closed_at=i.closed_at,
            closed_by=i.closed_by,
        )
        for i in incidents
        if _session_day(i.opened_at, zone) == session_date
        or (i.status == "open" and _session_day(i.opened_at, zone) <= session_date)
    ]
    return sorted(out, key=lambda line: (line.opened_at, line.id))


def read_audit_lines(lines: Iterable[bytes | str]) -> tuple[list[dict[str, Any]], int]:
    """Decode audit log lines (the file's format: one JSON object per line); returns (records, unreadable)."""
    records: list[dict[str, Any]] = []
    bad = 0
    for raw in lines:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(record, dict):
            records.append(record)
        else:
            bad += 1
    return records, bad


def sectors_from_portfolio(payload: Mapping[str, Any] | None) -> dict[str, str]:
    """Sectors from the retained portfolio state: its ``positions`` (a list of ``{symbol, sector, ...}``, as
    ``agents.execution`` publishes them, or a ``{symbol: {sector}}`` mapping) and an optional ``sectors`` map."""
    if not payload:
        return {}
    found: dict[str, str] = {}
    positions = payload.get("positions")
    items: Iterable[tuple[Any, Any]] = ()
    if isinstance(positions, Mapping):
        items = positions.items()
    elif isinstance(positions, list):
        items = ((p.get("symbol"), p) for p in positions if isinstance(p, Mapping))
    for symbol, position in items:
        if symbol and isinstance(position, Mapping) and isinstance(position.get("sector"), str):
            found[str(symbol)] = position["sector"]
    sectors = payload.get("sectors")
    if isinstance(sectors, Mapping):
        found.update({str(k): str(v) for k, v in sectors.items()})
    return found


async def previous_realised(ledger: Ledger, session_date: date) -> float | None:
    """The realised P&L snapshot of the last report before ``session_date`` (None without one)."""
    doc = await ledger.get_json(KV, PNL_KEY)
    if not isinstance(doc, dict):
        return None
    for snap in (doc, doc.get("previous")):
        if isinstance(snap, dict) and snap.get("session", "9999") < session_date.isoformat():
            value = snap.get("realised")
            return float(value) if isinstance(value, int | float) else None
    return None


async def build_daily_report(
    ledger: Ledger,
    session_date: date,
    *,
    generated_at: datetime,
    audit_records: Iterable[Mapping[str, Any]] = (),
    audit_unreadable: int = 0,
    sectors: Mapping[str, str] | None = None,
    env: str = "",
    tz: str = TZ,
    max_alerts: int = 50,
) -> DailyReport:
    """The report of ``session_date`` (see the module doc for where each figure comes from)."""
    since = (date(session_date.year, 1, 1) - _LOOKBACK).isoformat()
    closes = session_closes(await ledger.nav_history(since_session=since, limit=10_000_000), session_date)
    books = await ledger.books()
    perf, notes = performance(closes, books, session_date, await previous_realised(ledger, session_date))
    return DailyReport(
        session_date=session_date,
        generated_at=generated_at,
        env=env,
        timezone=tz,
        performance=perf,
        exposures=exposures(books, perf.nav, sectors),
        breaches=breaches(audit_records, session_date, tz=tz, max_alerts=max_alerts, unreadable=audit_unreadable),
        incidents=incident_lines(await ledger.incidents(limit=1000), session_date, tz=tz),
        notes=notes,
    )


def iter_lines(path: Any) -> Iterator[bytes]:
    """The lines of a file, or nothing when it does not exist."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return
    with f:
        yield from f
