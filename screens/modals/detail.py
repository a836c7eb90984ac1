"""Screens pushed over a view (``esc`` goes back): help, a decision trace, an incident, a backtest result,
and the plain detail of one record.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from screens.format import bar, compact_money, number, pct, shorten
from screens.keys import KeyRow
from screens.store import BacktestRun
from screens.widgets.charts import EquityChart
from screens.widgets.vtable import Column, VirtualTable


class Pushed(ModalScreen[None]):
    """A full-size screen over the views; ``esc`` (or ``q``) closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back", id="detail.back", tooltip="Back to the view"),
    ]

    def __init__(self, title: str) -> None:
        super().__init__(classes="pushed-screen")
        self.title_text = title

    def action_close(self) -> None:
        self.dismiss(None)


class HelpScreen(Pushed):
    """Every key, generated from the bindings (as the user keymap makes them)."""

    def __init__(self, rows: Sequence[KeyRow], notes: Sequence[str] = ()) -> None:
        super().__init__("Keys")
        self.rows = list(rows)
        self.notes = list(notes)

    def compose(self) -> ComposeResult:
        with Vertical(classes="pushed") as box:
            box.border_title = "Keys (? help · esc back)"
            yield VirtualTable(
                (Column("key", 16), Column("action", 14), Column("where", 12), Column("what")),
                lambda r: (r.keys, r.description, r.scope, r.tooltip),
                rows=self.rows,
                id="help-table",
            )
            if self.notes:
                yield Static("\n".join(self.notes), classes="note", markup=False)


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


class DetailScreen(Pushed):
    """A record shown whole: a title, a few summary lines and the raw data."""

    def __init__(self, title: str, lines: Sequence[str], data: Any = None) -> None:
        super().__init__(title)
        self.lines = list(lines)
        self.data = data

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="pushed") as box:
            box.border_title = f"{self.title_text} (esc back)"
            yield Static("\n".join(self.lines), classes="detail-lines", markup=False)
            if self.data is not None:
                yield Static(_pretty(self.data), classes="detail-data", markup=False)


def _verdict(v: Any) -> str:
    if not isinstance(v, dict):
        return "—"
    return "approved" if v.get("approved") else "REJECTED (" + "; ".join(map(str, v.get("reasons") or [])) + ")"


def trace_lines(records: Sequence[dict[str, Any]]) -> list[str]:
    """The decision records of ``agenthedge trace``: outcome, votes, intents and verdicts, orders, fills, why.

    Records of another shape are shown as ``key=value`` lines, so the view never hides what it was given.
    """
    lines: list[str] = []
    for r in records:
        if "symbol" not in r or "outcome" not in r:
            flat = " ".join(f"{k}={v}" for k, v in r.items() if not isinstance(v, dict | list))
            lines.append(shorten(flat, 300))
            continue
        lines.append(
            f"{r.get('session', '?')} {r['symbol']:<6} {str(r['outcome']).upper():<18} tick {r.get('tick_id')}"
        )
        for v in r.get("votes") or []:
            weight = number(v.get("weight"))
            lines.append(
                f"  vote {v.get('plugin')!s:<12} score {number(v.get('score')) or 0:+.2f}"
                f" conf {number(v.get('confidence')) or 0:.2f} weight {'n/a' if weight is None else f'{weight:.2f}'}"
                f"  {shorten(str(v.get('rationale', '')), 80)}"
            )
        for leg in r.get("intents") or []:
            lines.append(
                f"  intent {leg.get('side')} {number(leg.get('qty')) or 0:,.0f}"
                f" @ {number(leg.get('ref_price')) or 0:.2f}"
                f" consensus {number(leg.get('consensus')) or 0:+.2f} -> risk {_verdict(leg.get('risk'))}"
                f" compliance {_verdict(leg.get('compliance'))} -> {leg.get('execution', '—')}"
            )
        for o in r.get("orders") or []:
            lines.append(
                f"  order {o.get('client_order_id')} {o.get('status')} filled {number(o.get('filled_qty')) or 0:,.0f}"
            )
        for f in r.get("fills") or []:
            lines.append(
                f"  fill {f.get('trade_id')} {number(f.get('qty')) or 0:,.0f} @ {number(f.get('price')) or 0:.4f}"
            )
        if r.get("why_no_trade"):
            lines.append(f"  why no trade: {r['why_no_trade']}")
    return lines


class TraceScreen(DetailScreen):
    """A decision trace: a list of records (dicts) in order, as ``agenthedge trace --raw`` gives them."""

    def __init__(self, what: str, records: Sequence[dict[str, Any]], *, problem: str = "", line: Any = None) -> None:
        head = [f"decision trace of {what}" if what else "audit line (it belongs to no tick)"]
        if problem:
            head.append(f"✖ {problem}")
        body = trace_lines(records) if records else []
        if what and not records and not problem:
            body = ["no decision recorded for it"]
        super().__init__("Decision trace", head + body, data=None if records else line)


def incident_lines(incident: dict[str, Any]) -> list[str]:
    """Summary, sign-offs and the headline of the forensic snapshot."""
    status = str(incident.get("status", "?"))
    lines = [
        f"{incident.get('id', '?')}  {'● OPEN' if status == 'open' else '○ closed'}",
        f"opened {incident.get('opened_at', '?')} from {incident.get('source', '?')}",
        f"reason: {incident.get('reason', '')}",
    ]
    if incident.get("closed_at"):
        lines.append(f"closed {incident['closed_at']} by {incident.get('closed_by', '?')}")
    signoffs = incident.get("signoffs")
    if isinstance(signoffs, list):
        lines.append(f"sign-offs ({len(signoffs)}):")
        for s in signoffs:
            if isinstance(s, dict):
                verdict = "✓ accepted" if s.get("accepted") else f"✖ refused: {s.get('refusal', '')}"
                approver = f" + {s['approver']}" if s.get("approver") else ""
                lines.append(
                    f"  {s.get('ts', '?')} {s.get('operator', '?')}{approver}: {s.get('reason', '')} {verdict}"
                )
    else:
        lines.append("sign-offs: not in this reply (needs the `incidents` control verb)")
    snap = incident.get("snapshot")
    if isinstance(snap, dict):
        positions = snap.get("positions") or {}
        still = snap.get("still_open") or []
        health = snap.get("health") or {}
        lines += [
            "forensic snapshot:",
            f"  NAV {compact_money(snap.get('nav'))} · {len(positions)} position(s)"
            f" · {len(snap.get('open_orders_after_cancel') or [])} order(s) open after cancel"
            f" · still open: {', '.join(still) or 'none'}",
            "  health: "
            + ("healthy" if health.get("healthy") else "UNHEALTHY: " + "; ".join(health.get("problems") or [])),
        ]
        for name, safe in sorted((snap.get("agents_safe_state") or {}).items()):
            if isinstance(safe, dict):
                mark = "✓ safe" if safe.get("safe") else "✖ NOT SAFE"
                lines.append(f"  {name}: {mark} {safe.get('detail', '')}")
    else:
        lines.append("forensic snapshot: not in this reply (ask with the `incidents` verb, args.id)")
    return lines


class IncidentScreen(DetailScreen):
    def __init__(self, incident: dict[str, Any]) -> None:
        super().__init__(f"Incident {incident.get('id', '?')}", incident_lines(incident), data=incident.get("snapshot"))


class BacktestResultScreen(Pushed):
    """A run's metrics and its equity curve."""

    def __init__(self, run: BacktestRun) -> None:
        super().__init__(f"Backtest {run.run_id}")
        self.run = run

    def compose(self) -> ComposeResult:
        run = self.run
        m = run.metrics
        with Vertical(classes="pushed") as box:
            box.border_title = f"Backtest {run.run_id} (esc back)"
            figures = [
                f"{run.status} {bar(run.progress, 10)} {run.progress * 100:.0f}%",
                f"symbols {', '.join(run.spec.get('symbols') or []) or '?'}"
                f" · {run.spec.get('start', '?')}..{run.spec.get('end', '?')}"
                f" · capital {compact_money(run.spec.get('capital'))}",
            ]
            shown = []
            for key, value in sorted(m.items()):
                v = number(value)
                if v is None:
                    continue
                is_ratio = any(s in key for s in ("return", "drawdown", "dd", "rate", "vol"))
                shown.append(f"{key} {pct(v, digits=2) if is_ratio else f'{v:,.4g}'}")
            figures.append(" · ".join(shown) or "no metrics yet")
            if run.message:
                figures.append(run.message)
            yield Static("\n".join(figures), classes="detail-lines", markup=False)
            chart = EquityChart(title="equity", waiting="no equity curve in the result (metrics.equity)")
            chart.points = list(run.equity)
            yield chart
