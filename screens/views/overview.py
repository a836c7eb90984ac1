"""1 Overview: NAV, day P&L and exposure, the equity and drawdown chart, health, council weights,
tick-duration and bus-depth sparklines, and the latest alerts. The kill-switch banner sits above every view.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from screens.format import (
    AGENT_GLYPHS,
    SEVERITY_GLYPHS,
    SEVERITY_WORDS,
    age,
    bar,
    clock_time,
    money,
    number,
    pct,
    shorten,
    since,
    trend,
)
from screens.messages import (
    AlertRaised,
    BusMessage,
    CommandAnswered,
    HealthUpdated,
    HeartbeatUpdated,
    MarketUpdated,
    PortfolioUpdated,
    TickCompleted,
    WeightsUpdated,
)
from screens.views._base import View
from screens.widgets.charts import EquityChart, LabelledSpark

LATEST_ALERTS = 6


class OverviewView(View):
    VIEW_ID = "overview"
    KEY = "1"
    LABEL = "Overview"
    HELP = "State, NAV, P&L, exposure, equity and drawdown, health, council weights, latest alerts"

    def compose(self) -> ComposeResult:
        yield Static(id="ov-kpis", markup=False)
        with Horizontal(id="ov-main"):
            chart = Vertical(id="ov-chart", classes="panel")
            chart.border_title = "Equity & drawdown"
            with chart:
                yield EquityChart(waiting="waiting for NAV points (state/portfolio)")
            with Vertical(id="ov-side"):
                health = Static(id="ov-health", classes="panel", markup=False)
                health.border_title = "Health"
                yield health
                weights = Static(id="ov-weights", classes="panel", markup=False)
                weights.border_title = "Council weights"
                yield weights
        with Vertical(id="ov-sparks"):
            yield LabelledSpark("tick", "ms", id="spark-tick")
            yield LabelledSpark("bus depth", "", id="spark-depth")
        alerts = Static(id="ov-alerts", classes="panel", markup=False)
        alerts.border_title = "Latest alerts"
        yield alerts

    def sync(self) -> None:
        self._kpis()
        self.query_one(EquityChart).set_points(self.store.nav)
        self._health()
        self._weights()
        self._sparks()
        self._alerts()

    @on(PortfolioUpdated)
    def _portfolio(self, message: BusMessage) -> None:
        self._kpis()
        self.query_one(EquityChart).set_points(self.store.nav)

    @on(HeartbeatUpdated)
    @on(HealthUpdated)
    @on(MarketUpdated)
    def _health_changed(self, message: BusMessage) -> None:
        self._health()
        self._sparks()

    @on(WeightsUpdated)
    def _weights_changed(self, message: BusMessage) -> None:
        self._weights()

    @on(TickCompleted)
    def _tick(self, message: BusMessage) -> None:
        self.soon(self._sparks)

    @on(AlertRaised)
    def _alerts_changed(self, message: BusMessage) -> None:
        self.soon(self._alerts)

    @on(CommandAnswered)
    def _answered(self, message: BusMessage) -> None:
        self.sync()

    # -- parts ---------------------------------------------------------------------------------------
    def _kpis(self) -> None:
        p = self.store.portfolio
        widget = self.query_one("#ov-kpis", Static)
        if p is None:
            widget.update(
                "NAV — · waiting for the portfolio (state/portfolio, retained; published after a tick)", layout=False
            )
            return
        nav = number(p.get("nav"))
        day = number(p.get("day_pnl"))
        prev = number(p.get("previous_nav"))
        day_pct = f" ({pct(day / prev, signed=True)})" if day is not None and prev else ""
        gross, net = number(p.get("gross_exposure")), number(p.get("net_exposure"))
        gross_r = pct(gross / nav, digits=1) if gross is not None and nav else "—"
        net_r = pct(net / nav, signed=True, digits=1) if net is not None and nav else "—"
        positions = p.get("positions")
        count = len(positions) if isinstance(positions, list | dict) else positions
        parts = [
            f"NAV {money(nav)}",
            f"day {trend(day)} {money(day, signed=True)}{day_pct}",
            f"gross {gross_r}",
            f"net {net_r}",
            f"pos {count if count is not None else '—'}",
            f"orders {p.get('open_orders', '—')}",
        ]
        as_of = p.get("as_of")
        if as_of:
            parts.append(f"as of {as_of}")
        if p.get("reconciled") is False:
            parts.append("✖ NOT RECONCILED")
        widget.update(" · ".join(parts), layout=False)

    def _health(self) -> None:
        store = self.store
        now = self.clock.now()
        lines = []
        if store.agents:
            counts: dict[str, int] = {}
            for row in store.agents.values():
                counts[row.heartbeat.status] = counts.get(row.heartbeat.status, 0) + 1
            summary = " ".join(f"{AGENT_GLYPHS.get(s, '?')} {n} {s}" for s, n in sorted(counts.items()))
            lines.append(f"agents {summary}")
            for name, row in sorted(store.agents.items()):
                hb = row.heartbeat
                if hb.status not in ("ok", "starting", "safe"):
                    detail = shorten(hb.detail, 40) if hb.detail else ""
                    lines.append(f" {AGENT_GLYPHS.get(hb.status, '?')} {name} {hb.status.upper()} {detail}".rstrip())
            oldest = max((since(now, r.seen) or 0.0) for r in store.agents.values())
            lines.append(f"oldest heartbeat {age(oldest)}")
        else:
            lines.append("agents: no heartbeat yet")
        market = store.market
        if market:
            quarantined = market.get("quarantined") or []
            impacted = market.get("impacted_signals") or []
            lines.append(
                f"data {market.get('provider', '?')} · {market.get('symbols', 0)} sym"
                f" · quarantined {len(quarantined)} · impacted {', '.join(impacted) or 'none'}"
            )
        health = store.health
        if health:
            verdict = "✓ healthy" if health.get("healthy") else "✖ UNHEALTHY"
            storage = (health.get("storage") or {}).get("integrity", "?")
            lines.append(f"{verdict} · storage {storage}")
            lines += [f" ✖ {shorten(str(p), 60)}" for p in (health.get("problems") or [])[:3]]
        self.query_one("#ov-health", Static).update("\n".join(lines), layout=False)

    def _weights(self) -> None:
        weights = self.store.weights
        widget = self.query_one("#ov-weights", Static)
        if not weights:
            widget.update("no council feedback yet (strategy/feedback)")
            return
        top = max(weights.values()) or 1.0
        lines = []
        for name, w in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0])):
            penalty = self.store.penalties.get(name)
            pen = f" pen {penalty:.2f}" if penalty else ""
            lines.append(f"{name[:11]:<11} {bar(w / top, 6)} {w:.2f}{pen}")
        widget.update(Text("\n".join(lines), no_wrap=True, overflow="ellipsis"))

    def _sparks(self) -> None:
        self.query_one("#spark-tick", LabelledSpark).set_data(
            [t.duration_ms for t in self.store.ticks if t.status != "skipped"]
        )
        self.query_one("#spark-depth", LabelledSpark).set_data(list(self.store.depths))

    def _alerts(self) -> None:
        rows = self.store.alerts[-LATEST_ALERTS:][::-1]
        widget = self.query_one("#ov-alerts", Static)
        if not rows:
            widget.update("no alert since the cockpit connected", layout=False)
            return
        lines = []
        for a in rows:
            ack = f" ✓ acked {a.acked_by}" if a.acked_by else (" ☐ NEEDS ACK" if a.needs_ack else "")
            lines.append(
                f"{SEVERITY_GLYPHS[a.severity]} {SEVERITY_WORDS[a.severity]:<5} {clock_time(a.ts)} "
                f"{a.action}{ack} {shorten(a.message, 160)}"
            )
        widget.update(Text("\n".join(lines), no_wrap=True, overflow="ellipsis"), layout=False)
