"""The operator's views of runs: the one-screen summary, the list of runs (rows and table). Pure text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ops.backtest.artifacts import list_runs, read_json


def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{x:.2%}"


def _num(x: Any, fmt: str = ".2f") -> str:
    return "n/a" if x is None else format(x, fmt)


def summary(result: dict[str, Any], run_info: dict[str, Any], where: Path) -> str:
    """One screen: what ran, performance, risk, trading, breaches and rejects, where the artifacts are."""
    spec, m = result["spec"], result["metrics"]
    params = ", ".join(f"{k}={v}" for k, v in spec.get("params", {}).items())
    strategy = f"{spec['strategy']}({params})" if params else spec["strategy"]
    rate = run_info.get("bars_per_second")
    lines = [
        f"backtest {run_info.get('run_id')}  {', '.join(spec['symbols'])}  {spec['start']} .. {spec['end']}  "
        f"{strategy}  costs {spec.get('costs') or 'settings'}",
        f"  sessions {result['sessions']}  bars {run_info.get('bars')}  in {run_info.get('loop_seconds')} s"
        f" ({_num(rate, ',.0f')} bars/s)  final state {result['final_state']}",
        f"  final equity {m['final_equity']:,.2f}  total return {_pct(m['total_return'])}  CAGR {_pct(m['cagr'])}",
        f"  volatility {_pct(m['volatility'])}  Sharpe {_num(m['sharpe'])}  Sortino {_num(m['sortino'])}"
        f"  Calmar {_num(m['calmar'])}",
        f"  max drawdown {_pct(m['max_drawdown'])} ({m['max_drawdown_days']} days)  avg exposure"
        f" {_pct(m['avg_exposure'])}  turnover {_num(m['turnover'])}/yr  VaR usage {_pct(m['var_usage'])}",
        f"  trades {m['trades']}  hit rate {_pct(m['hit_rate'])}  profit factor {_num(m['profit_factor'])}"
        f"  fills {result['totals']['fills']}",
        "  breaches: " + (", ".join(f"{k} {v}" for k, v in m["breaches"].items()) or "none"),
        "  rejects: " + (", ".join(f"{k} {v}" for k, v in m["rejects"].items()) or "none"),
        f"  artifacts: {where}",
    ]
    return "\n".join(lines)


def run_rows(home: Path) -> list[dict[str, Any]]:
    """One row per finished run under ``<home>/backtests``, oldest first, with its promotion status."""
    rows = []
    for paths in list_runs(home):
        result = read_json(paths.result)
        info = read_json(paths.run) if paths.run.is_file() else {}
        promo = read_json(paths.promotion_json) if paths.promotion_json.is_file() else None
        spec, m = result["spec"], result["metrics"]
        rows.append(
            {
                "run_id": paths.run_id,
                "started_at": info.get("started_at"),
                "symbols": spec["symbols"],
                "start": spec["start"],
                "end": spec["end"],
                "strategy": spec["strategy"],
                "final_equity": m["final_equity"],
                "total_return": m["total_return"],
                "max_drawdown": m["max_drawdown"],
                "trades": m["trades"],
                "promotion": None if promo is None else ("installed" if promo.get("installed") else "refused"),
            }
        )
    return rows


def runs_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no backtests yet"
    lines = [
        f"{'run':<27} {'symbols':<18} {'period':<23} {'strategy':<10} {'equity':>15} {'return':>8} "
        f"{'max dd':>7} {'trades':>6}  promotion"
    ]
    for r in rows:
        syms = ",".join(r["symbols"])
        lines.append(
            f"{r['run_id']:<27} {syms[:18]:<18} {r['start']}..{r['end']} {r['strategy']:<10} "
            f"{r['final_equity']:>15,.2f} {_pct(r['total_return']):>8} {_pct(r['max_drawdown']):>7} "
            f"{r['trades']:>6}  {r['promotion'] or '-'}"
        )
    return "\n".join(lines)
