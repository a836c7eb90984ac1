"""What a run records: its settings, the books and fills read back from its ledger, and ``result.json``'s shape.

Everything here is deterministic given the run's ledger and audit log: no run id, no wall clock.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings

from agents.director import KEY as TRACKER_KEY
from agents.director import NAMESPACE as TRACKER_NAMESPACE
from agents.director import CouncilSettings, PerformanceTracker
from ops.backtest.artifacts import sha256_file
from ops.backtest.events import RunEvents
from ops.backtest.metrics import Metrics, drawdowns
from ops.backtest.spec import BacktestSpec
from ops.backtest.trades import TradeBook, TradeFill, build_trades
from runtime.runtime import Runtime
from storage.ledger import Ledger
from storage.records import Books, Fill, NavPoint

RESULT_SCHEMA = 1
_ALL = 1 << 62


def settings_json(settings: Mapping[str, BaseSettings]) -> dict[str, Any]:
    """Every setting by section (secrets masked by pydantic as ``**********``)."""
    return {name: s.model_dump(mode="json") for name, s in sorted(settings.items())}


def settings_environment(settings: Mapping[str, BaseSettings]) -> dict[str, str]:
    """Every setting as the environment variable that sets it (secrets and unset values left out): lists of
    plain values comma-separated, anything structured as JSON."""
    env: dict[str, str] = {}
    for model in settings.values():
        prefix = str(model.model_config.get("env_prefix", ""))
        dumped = model.model_dump(mode="json")
        for name in type(model).model_fields:
            value = dumped.get(name)
            if value is None or isinstance(getattr(model, name), SecretStr):
                continue
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
                text = ",".join(str(v) for v in value)
            elif isinstance(value, list | dict):
                text = json.dumps(value, sort_keys=True)
            else:
                text = str(value)
            env[f"{prefix}{name}".upper()] = text
    return dict(sorted(env.items()))


def nav_by_session(points: Sequence[NavPoint]) -> list[NavPoint]:
    last: dict[str, NavPoint] = {}
    for p in points:  # time order: the last point of a session is its close
        last[p.session] = p
    return [last[s] for s in sorted(last)]


def fill_json(f: Fill) -> dict[str, Any]:
    return {
        "ts": f.ts.isoformat(),
        "session": f.ts.astimezone(UTC).date().isoformat(),
        "symbol": f.symbol,
        "side": f.side,
        "qty": f.qty,
        "price": f.price,
        "commission": f.commission,
        "venue": f.venue,
        "trade_id": f.trade_id,
        "client_order_id": f.client_order_id,
    }


def portfolio_json(books: Books) -> dict[str, Any]:
    positions = []
    for p in sorted(books.positions.values(), key=lambda x: x.symbol):
        price = p.last_price if p.last_price is not None else p.avg_cost
        positions.append(
            {
                "symbol": p.symbol,
                "qty": p.qty,
                "avg_cost": p.avg_cost,
                "last_price": price,
                "market_value": p.qty * price,
                "unrealised_pnl": (price - p.avg_cost) * p.qty,
                "realised_pnl": p.realised_pnl,
            }
        )
    return {
        "nav": books.nav,
        "cash": books.account.cash,
        "initial_capital": books.account.initial_capital,
        "commissions": books.account.commissions,
        "gross_exposure": books.gross_exposure,
        "net_exposure": books.net_exposure,
        "positions": positions,
    }


async def tracker_weights(ledger: Ledger, council: CouncilSettings) -> dict[str, Any]:
    doc = await ledger.get_json(TRACKER_NAMESPACE, TRACKER_KEY)
    if not isinstance(doc, dict):
        return {"kind": "agenthedge.council.weights", "weights": {}, "note": "no council tracker in this run"}
    tracker = PerformanceTracker(council)
    tracker.restore(doc)
    return tracker.export_weights()


@dataclass
class Collected:
    navs: list[NavPoint]
    fills: list[Fill]
    books: Books
    orders: dict[str, int]
    weights: dict[str, Any]
    state: str
    incidents: list[dict[str, Any]]


async def collect(runtime: Runtime, council: CouncilSettings) -> Collected:
    ledger = runtime.books
    orders: dict[str, int] = {}
    for o in await ledger.orders(limit=_ALL):
        orders[o.status] = orders.get(o.status, 0) + 1
    incidents = [
        {"id": i.id, "source": i.source, "reason": i.reason, "status": i.status, "opened_at": i.opened_at.isoformat()}
        for i in await ledger.incidents(limit=_ALL)
    ]
    return Collected(
        navs=nav_by_session(await ledger.nav_history(limit=_ALL)),
        fills=await ledger.fills(limit=_ALL),
        books=await ledger.books(),
        orders=dict(sorted(orders.items())),
        weights=await tracker_weights(ledger, council),
        state=runtime.state.value,
        incidents=sorted(incidents, key=lambda i: (i["opened_at"], i["id"])),
    )


def trade_book(c: Collected) -> TradeBook:
    last = {s: p.last_price for s, p in c.books.positions.items() if p.last_price is not None}
    fills = [TradeFill(f.ts, f.symbol, f.side, f.qty, f.price, f.commission) for f in c.fills]
    return build_trades(fills, last)


def build_result(
    spec: BacktestSpec,
    c: Collected,
    trades: TradeBook,
    events: RunEvents,
    metrics: Metrics,
    *,
    var_limit: float,
    var_source: str,
    var_nav: Mapping[str, float],
    statuses: Mapping[str, int],
    data_sha256: str,
) -> dict[str, Any]:
    """``result.json``: everything about the outcome, nothing about the run id or the wall clock."""
    capital = spec.capital
    dd = drawdowns(capital, [p.nav for p in c.navs])
    nav_curve = [
        {
            "date": p.session,
            "nav": p.nav,
            "cash": p.cash,
            "gross_exposure": p.gross_exposure,
            "net_exposure": p.net_exposure,
            "drawdown": float(d),
        }
        for p, d in zip(c.navs, dd.tolist(), strict=True)
    ]
    var_values = [var_nav[s] for s in sorted(var_nav)]
    return {
        "schema": RESULT_SCHEMA,
        "spec": spec.to_json(),
        "data_sha256": data_sha256,
        "sessions": len(c.navs),
        "ticks": dict(sorted(statuses.items())),
        "final_state": c.state,
        "incidents": c.incidents,
        "metrics": metrics.to_json(),
        "nav": nav_curve,
        "trades": [t.to_json() for t in trades.trips],
        "fills": [fill_json(f) for f in c.fills],
        "orders": c.orders,
        "pnl_by_symbol": {s: p.to_json() for s, p in sorted(trades.by_symbol.items())},
        "risk": {
            "var_source": var_source,
            "var_limit": var_limit,
            "var_usage_mean": (sum(var_values) / len(var_values) / var_limit) if var_values and var_limit else None,
            "soft_breaches": dict(sorted(events.soft_breaches.items())),
            "alerts": dict(sorted(events.alerts.items())),
            "transitions": events.transitions,
        },
        "totals": {
            "fills": len(c.fills),
            "round_trips": len(trades.trips),
            "closed_round_trips": len(trades.closed_pnls),
            "traded_notional": trades.traded_notional,
            "commissions": c.books.account.commissions,
        },
    }


def data_source(spec: BacktestSpec) -> dict[str, Any]:
    if spec.data_path:
        path = Path(spec.data_path)
        out: dict[str, Any] = {"source": "csv", "path": str(path.resolve())}
        if path.is_file():
            out["file_sha256"] = sha256_file(path)
        elif path.is_dir():
            out["files_sha256"] = {
                p.name: sha256_file(p) for p in sorted(path.iterdir()) if p.is_file() and ".csv" in p.name
            }
        return out
    return {"source": spec.provider or "settings (DATA_PROVIDER)"}
