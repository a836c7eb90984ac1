"""3 Portfolio and orders: positions (state/portfolio), open orders (the ``orders`` verb), fills (live)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from screens.format import clock_time, money, number, pct, qty, shorten
from screens.messages import BusMessage, CommandAnswered, FillReceived, PortfolioUpdated
from screens.views._base import View
from screens.widgets.vtable import Cell, Column, VirtualTable


def _cells_position(p: Any) -> Sequence[Cell]:
    return (
        str(p.get("symbol", "?")),
        qty(p.get("qty")),
        money(p.get("avg_cost")),
        money(p.get("last_price")),
        money(p.get("market_value")),
        money(p.get("unrealised_pnl"), signed=True),
        pct(p.get("weight"), digits=1),
        str(p.get("sector", "")),
    )


def _cells_order(o: Any) -> Sequence[Cell]:
    filled = number(o.get("filled_qty")) or 0.0
    return (
        str(o.get("client_order_id", "?")),
        str(o.get("symbol", "?")),
        str(o.get("side", "?")).upper(),
        f"{qty(filled)}/{qty(o.get('qty'))}",
        money(o.get("limit_price")) if o.get("limit_price") is not None else "MKT",
        str(o.get("status", "?")),
        str(o.get("venue", "")),
    )


def _cells_fill(f: Any) -> Sequence[Cell]:
    ts = f.get("ts")
    return (
        clock_time(_time(ts)) if ts else "—",
        str(f.get("symbol", "?")),
        str(f.get("side", "?")).upper(),
        qty(f.get("qty")),
        money(f.get("price")),
        money(f.get("commission")),
        str(f.get("venue", "")),
        str(f.get("client_order_id", "")),
    )


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


class PortfolioView(View):
    VIEW_ID = "portfolio"
    KEY = "3"
    LABEL = "Portfolio"
    HELP = "Positions, open orders and fills"

    def compose(self) -> ComposeResult:
        yield Static(id="pf-summary", markup=False)
        with Vertical(classes="panel", id="pf-positions") as box:
            box.border_title = "Positions"
            yield VirtualTable(
                (
                    Column("symbol", 8, min=6),
                    Column("qty", 9, "right", min=7),
                    Column("avg cost", 10, "right", min=8),
                    Column("last", 10, "right", min=8),
                    Column("mkt value", 13, "right", min=11),
                    Column("unrealised", 12, "right", min=10),
                    Column("weight", 6, "right"),
                    Column("sector", min=6),
                ),
                _cells_position,
                empty="no position",
                id="positions-table",
            )
        with Vertical(classes="panel", id="pf-orders") as box:
            box.border_title = "Open orders"
            yield VirtualTable(
                (
                    Column("client order id", 22, min=16),
                    Column("symbol", 8, min=6),
                    Column("side", 4),
                    Column("filled/qty", 13, "right", min=9),
                    Column("limit", 10, "right", min=8),
                    Column("status", 16, min=10),
                    Column("venue", min=6),
                ),
                _cells_order,
                empty="no open order",
                id="orders-table",
            )
        with Vertical(classes="panel", id="pf-fills") as box:
            box.border_title = "Fills (newest first)"
            yield VirtualTable(
                (
                    Column("time", 9),
                    Column("symbol", 8, min=6),
                    Column("side", 4),
                    Column("qty", 9, "right", min=7),
                    Column("price", 10, "right", min=8),
                    Column("comm.", 7, "right", min=6),
                    Column("venue", 10, min=7),
                    Column("order", min=8),
                ),
                _cells_fill,
                empty="no fill seen since the cockpit connected (execution/fill)",
                id="fills-table",
            )

    def sync(self) -> None:
        store = self.store
        p = store.portfolio or {}
        positions = p.get("positions")
        rows = positions if isinstance(positions, list) else []
        self.query_one("#positions-table", VirtualTable).set_rows([r for r in rows if isinstance(r, dict)])
        orders = self.query_one("#orders-table", VirtualTable)
        if store.open_orders is None:
            count = p.get("open_orders")
            why = store.unsupported.get("orders")
            orders.set_empty(
                f"{count if count is not None else '?'} open order(s) per state/portfolio; "
                + ("the list needs the `orders` control verb" if why else "asking the runtime for the list…")
            )
            orders.set_rows([])
        else:
            orders.set_rows(store.open_orders)
        self.query_one("#fills-table", VirtualTable).set_rows(list(store.fills)[::-1])
        summary = "waiting for the portfolio (state/portfolio)"
        if store.portfolio is not None:
            summary = (
                f"cash {money(p.get('cash'))} · realised {money(p.get('realised_pnl'), signed=True)}"
                f" · unrealised {money(p.get('unrealised_pnl'), signed=True)}"
                f" · commissions {money(p.get('commissions'))}"
                f" · total P&L {money(p.get('total_pnl'), signed=True)}"
            )
            problems = p.get("problems") or []
            if problems:
                summary += " · ✖ " + shorten("; ".join(str(x) for x in problems), 120)
        self.query_one("#pf-summary", Static).update(summary)

    @on(PortfolioUpdated)
    @on(FillReceived)
    @on(CommandAnswered)
    def _changed(self, message: BusMessage) -> None:
        self.sync()
