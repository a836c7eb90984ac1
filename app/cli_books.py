"""``agenthedge portfolio`` and ``agenthedge trace``: read the ledger (beside a running runtime: WAL readers)."""

from __future__ import annotations

import sys
from collections import defaultdict
from typing import Any

import click

from agents.trace import trace as load_trace
from app.cli_common import Obj, echo_json, fail, run
from app.wiring import AppConfig, build_market
from runtime.clock import WallClock
from storage.ledger import Ledger


async def _open(config: AppConfig) -> Ledger:
    try:
        return await Ledger.open(config.core.home / "ledger.sqlite", readonly=True)
    except FileNotFoundError as exc:
        fail(f"{exc}: nothing has run on this home yet")


def _sectors(config: AppConfig) -> dict[str, str]:
    try:
        return build_market(config, WallClock()).sectors
    except Exception:  # the sector map is a convenience; the books stand without it
        return {}


async def portfolio_report(ledger: Ledger, sectors: dict[str, str]) -> dict[str, Any]:
    books = await ledger.books()
    nav = books.nav
    history = await ledger.nav_history(limit=2)
    sessions = sorted({p.session for p in history})
    previous = [p for p in history if p.session == sessions[0]] if len(sessions) > 1 else []
    day_pnl = nav - previous[-1].nav if previous else None
    positions = []
    by_sector: dict[str, float] = defaultdict(float)
    for p in books.positions.values():
        price = p.last_price if p.last_price is not None else p.avg_cost
        value = p.qty * price
        sector = sectors.get(p.symbol, "unknown")
        by_sector[sector] += value
        positions.append(
            {
                "symbol": p.symbol,
                "qty": p.qty,
                "avg_cost": p.avg_cost,
                "last": price,
                "market_value": value,
                "weight": value / nav if nav else 0.0,
                "unrealised_pnl": (price - p.avg_cost) * p.qty,
                "realised_pnl": p.realised_pnl,
                "sector": sector,
            }
        )
    open_orders = await ledger.open_orders()
    return {
        "nav": nav,
        "cash": books.account.cash,
        "initial_capital": books.account.initial_capital,
        "total_return": nav / books.account.initial_capital - 1 if books.account.initial_capital else None,
        "day_pnl": day_pnl,
        "realised_pnl": sum(p["realised_pnl"] for p in positions),
        "unrealised_pnl": sum(p["unrealised_pnl"] for p in positions),
        "commissions": books.account.commissions,
        "gross_exposure": books.gross_exposure,
        "net_exposure": books.net_exposure,
        "exposure_by_sector": dict(sorted(by_sector.items())),
        "positions": positions,
        "open_orders": len(open_orders),
    }


@click.command()
@click.option("--raw", is_flag=True, help="JSON output")
@click.pass_obj
def portfolio(obj: Obj, raw: bool) -> None:
    """Positions, cash, NAV, P&L and exposures from the ledger."""
    config = obj.config()

    async def go() -> dict[str, Any]:
        ledger = await _open(config)
        try:
            return await portfolio_report(ledger, _sectors(config))
        finally:
            await ledger.close()

    report = run(go())
    if raw:
        echo_json(report)
        return
    ret, day = report["total_return"], report["day_pnl"]
    ret_text = "n/a" if ret is None else f"{ret:+.2%}"
    day_text = "n/a" if day is None else f"{day:+,.2f}"
    click.echo(f"NAV {report['nav']:,.2f}  cash {report['cash']:,.2f}  return {ret_text}  day P&L {day_text}")
    click.echo(
        f"gross {report['gross_exposure']:,.2f}  net {report['net_exposure']:,.2f}  realised "
        f"{report['realised_pnl']:+,.2f}  unrealised {report['unrealised_pnl']:+,.2f}  open orders "
        f"{report['open_orders']}"
    )
    if report["positions"]:
        click.echo(
            f"{'symbol':<8} {'qty':>12} {'avg cost':>10} {'last':>10} {'value':>14} {'weight':>7} "
            f"{'unrealised':>12} sector"
        )
    for p in report["positions"]:
        click.echo(
            f"{p['symbol']:<8} {p['qty']:>12,.0f} {p['avg_cost']:>10.2f} {p['last']:>10.2f} "
            f"{p['market_value']:>14,.2f} {p['weight']:>7.2%} {p['unrealised_pnl']:>+12,.2f} {p['sector']}"
        )
    for sector, value in report["exposure_by_sector"].items():
        click.echo(f"  sector {sector}: {value:,.2f}")


@click.command("trace")
@click.option("--tick", "tick_id", default=None, help="One tick's decisions")
@click.option("--symbol", default=None, help="One symbol's decisions")
@click.option("--date", "session", default=None, help="One session (YYYY-MM-DD)")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--raw", is_flag=True, help="JSON output")
@click.pass_obj
def trace_cmd(obj: Obj, tick_id: str | None, symbol: str | None, session: str | None, limit: int, raw: bool) -> None:
    """The decision trace: directive, votes and weights, consensus, verdicts, order, fill; why (no) trade."""
    config = obj.config()

    async def go() -> list[dict[str, Any]]:
        ledger = await _open(config)
        try:
            return await load_trace(
                ledger, tick_id=tick_id, symbol=symbol.upper() if symbol else None, session=session, limit=limit
            )
        finally:
            await ledger.close()

    records = run(go())
    if raw:
        echo_json(records)
        sys.exit(0)
    if not records:
        fail("no decisions match")
    for r in records:
        click.echo(f"{r['session']} {r['symbol']:<6} {r['outcome']:<18} tick {r['tick_id']}")
        for v in r["votes"]:
            weight = "n/a" if v["weight"] is None else f"{v['weight']:.2f}"
            click.echo(
                f"    vote {v['plugin']:<12} score {v['score']:+.2f} conf {v['confidence']:.2f} "
                f"weight {weight}  {v['rationale']}"
            )
        for leg in r["intents"]:
            click.echo(
                f"    intent {leg['side']} {leg['qty']:,.0f} @ {leg['ref_price']:.2f} consensus "
                f"{leg['consensus']:+.2f} -> risk {_v(leg['risk'])} compliance {_v(leg['compliance'])} "
                f"-> {leg['execution']}"
            )
        for o in r.get("orders", []):
            click.echo(f"    order {o['client_order_id']} {o['status']} filled {o['filled_qty']:,.0f}")
        for f in r.get("fills", []):
            click.echo(f"    fill {f['trade_id']} {f['qty']:,.0f} @ {f['price']:.4f} ({f['venue']})")
        if r["why_no_trade"]:
            click.echo(f"    why no trade: {r['why_no_trade']}")


def _v(verdict: dict[str, Any] | None) -> str:
    if verdict is None:
        return "-"
    return "approved" if verdict["approved"] else "REJECTED (" + "; ".join(verdict["reasons"]) + ")"
