"""Running a backtest: the live pipeline replayed over historical sessions on its own home, then its artifacts.

The app builds the replay (``app.wiring.build_replay``: the very agents of live, a simulated clock, the data
preloaded) on the run's home, ``<home>/backtests/<run_id>/home``, so the run's ledger, paper broker and audit
log are its own and never touch live. :func:`run_backtest` starts it, ticks once per session, collects the
books, the fills, the risk agent's VaR and the audit log, and writes the artifacts (see
:mod:`ops.backtest.artifacts`). Nothing in ``result.json`` depends on the run id or the wall clock: the same
inputs give the same bytes.
"""

from __future__ import annotations

import asyncio
import platform
import shutil
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

import numpy as np
from pydantic_settings import BaseSettings

from agents.data.agent import DataAgent
from agents.director import CouncilSettings, FeedbackAgent
from agents.risk import RiskAgent
from ops.backtest.artifacts import RunPaths, bars_hash, code_version, write_json, write_text
from ops.backtest.chart import equity_drawdown_svg
from ops.backtest.events import scan_audit
from ops.backtest.metrics import MetricInputs, Metrics, compute_metrics
from ops.backtest.record import (
    build_result,
    collect,
    data_source,
    portfolio_json,
    settings_environment,
    settings_json,
    trade_book,
)
from ops.backtest.settings import BacktestSettings
from ops.backtest.spec import BacktestSpec
from ops.report import read_audit_lines
from runtime.gc_tuning import batch_thresholds, freeze_loaded
from runtime.pipeline import TickOutcome
from runtime.runtime import Runtime
from storage.audit import AUDIT_FILE

Progress = Callable[[int, int], None]


class BacktestError(Exception):
    """The run cannot give a meaningful result (no data for a requested symbol, no session); nothing is written."""


def check_data(spec: BacktestSpec, agent: DataAgent | None, sessions: Sequence[date]) -> None:
    """Refuse a run that would quietly trade less than asked: every requested symbol needs bars in the window.

    Raises:
        BacktestError: naming the symbols without bars, and any the data checks quarantined.
    """
    if agent is None or agent.data is None or not sessions:
        raise BacktestError(f"no session with data between {spec.start} and {spec.end} for {', '.join(spec.symbols)}")
    data = agent.data
    lo, hi = data.row_of(date.fromordinal(spec.start.toordinal() - 1)) + 1, data.row_of(spec.end) + 1
    closes = data.panel["close"][lo:hi]
    missing = [s for s in spec.symbols if s not in data.col or bool(np.isnan(closes[:, data.col[s]]).all())]
    if missing:
        quarantined = sorted(str(k) for k in getattr(agent.provider, "quarantined", ()))
        why = f"; quarantined by the data checks: {', '.join(quarantined)} (see --data-checks)" if quarantined else ""
        raise BacktestError(f"no bars between {spec.start} and {spec.end} for {', '.join(missing)}{why}")


class Replayable(Protocol):
    """What the runner drives: ``app.wiring.Replay`` (a runtime over historical sessions on a simulated clock)."""

    runtime: Runtime

    def sessions(self) -> list[date]: ...

    async def run(
        self,
        *,
        speed: float | None = None,
        stop: asyncio.Event | None = None,
        on_tick: Callable[[TickOutcome], Awaitable[None] | None] | None = None,
    ) -> int: ...


@dataclass
class BacktestOutcome:
    paths: RunPaths
    result: dict[str, Any]
    run: dict[str, Any]
    metrics: Metrics
    result_sha256: str


@dataclass
class _Capture:
    """What is read while the run ticks: progress and the risk agent's VaR per session."""

    total: int
    risk: RiskAgent | None
    on_progress: Progress | None
    done: int = 0
    var_nav: dict[str, float] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)

    def __call__(self, outcome: TickOutcome) -> None:
        self.done += 1
        self.statuses[outcome.status] = self.statuses.get(outcome.status, 0) + 1
        risk = self.risk
        if risk is not None and risk.last_tick_id == outcome.tick.id:
            value = risk.var_nav
            if value is not None:
                self.var_nav[outcome.tick.ts.astimezone(UTC).date().isoformat()] = float(value)
        if self.on_progress is not None:
            self.on_progress(self.done, self.total)


async def run_backtest(
    paths: RunPaths,
    spec: BacktestSpec,
    replay: Replayable,
    *,
    settings: Mapping[str, BaseSettings],
    backtest: BacktestSettings | None = None,
    on_progress: Progress | None = None,
    argv: Sequence[str] | None = None,
    started_at: datetime | None = None,
    freeze_gc: bool = False,
) -> BacktestOutcome:
    """Run ``replay`` (built on ``paths.home``) to its last session and write every artifact.

    ``freeze_gc`` (a one-run process: ``agenthedge backtest``) moves every object alive once the data is loaded
    into the collector's permanent generation (:func:`gc.freeze`), so the run's collections do not walk them, and
    collects the young generation less often (:func:`runtime.gc_tuning.batch_thresholds`).

    ``settings`` are every package's settings as the run used them (``AppConfig.sections()``); the ``council``
    and ``risk`` sections are read for the tracker and the VaR limit when present.

    Raises:
        runtime.lock.HomeLocked: the run's home is taken (a run id reused while it runs).
    """
    bt = backtest or BacktestSettings()
    started_at = started_at or datetime.now(UTC)
    council = settings.get("council")
    council = council if isinstance(council, CouncilSettings) else CouncilSettings()
    risk_settings = settings.get("risk")
    var_limit = float(getattr(risk_settings, "max_var_nav", 0.04))
    runtime = replay.runtime
    wall0 = time.perf_counter()
    await runtime.start(role="backtest")
    try:
        data_agent = next((a for a in runtime.registry if isinstance(a, DataAgent)), None)
        risk = next((a for a in runtime.registry if isinstance(a, RiskAgent)), None)
        sessions = replay.sessions()
        check_data(spec, data_agent, sessions)
        capture = _Capture(len(sessions), risk, on_progress)
        if freeze_gc:  # what lives now (the data panel, the agents) lives to the end: keep it out of collections
            freeze_loaded()
            batch_thresholds()
        loop0 = time.perf_counter()
        await replay.run(on_tick=capture)
        loop_seconds = time.perf_counter() - loop0
        for agent in runtime.registry:  # a backtest saves the tracker at its end only (COUNCIL_PERSIST_EVERY=0)
            if isinstance(agent, FeedbackAgent):
                await agent.flush()
        collected = await collect(runtime, council)
    finally:
        await runtime.stop()
    if data_agent is not None and data_agent.data is not None:
        data_sha256, bars_seen = bars_hash(data_agent.data, spec.end)
        sessions_bars = _bars_in_window(data_agent, spec)
    else:
        data_sha256, bars_seen, sessions_bars = "", 0, 0
    audit_src = runtime.home / AUDIT_FILE
    records, _ = read_audit_lines(audit_src.read_text("utf-8").splitlines() if audit_src.exists() else [])
    events = scan_audit(records)
    trades = trade_book(collected)
    var_source = "risk_agent" if capture.var_nav else "historical"
    nav_sessions = [p.session for p in collected.navs]
    metrics = compute_metrics(
        MetricInputs(
            initial_capital=spec.capital,
            dates=[date.fromisoformat(s) for s in nav_sessions],
            nav=[p.nav for p in collected.navs],
            gross_exposure=[p.gross_exposure for p in collected.navs],
            traded_notional=trades.traded_notional,
            closed_pnls=trades.closed_pnls,
            round_trips=len(trades.trips),
            var_nav=[capture.var_nav.get(s) for s in nav_sessions] if capture.var_nav else None,
            var_limit=var_limit,
            breaches=events.breaches,
            rejects=events.rejects,
        ),
        risk_free=bt.risk_free_rate,
        periods=bt.periods_per_year,
        var_confidence=bt.var_confidence,
        var_window=bt.var_window,
    )
    result = build_result(
        spec,
        collected,
        trades,
        events,
        metrics,
        var_limit=var_limit,
        var_source=var_source,
        var_nav=capture.var_nav,
        statuses=capture.statuses,
        data_sha256=data_sha256,
    )
    paths.dir.mkdir(parents=True, exist_ok=True)
    result_sha = write_json(paths.result, result)
    write_json(paths.portfolio, portfolio_json(collected.books))
    write_json(paths.performance, {**collected.weights, "run_result_sha256": result_sha})
    if audit_src.exists():
        shutil.copyfile(audit_src, paths.audit)
    else:
        write_text(paths.audit, "")
    title = f"{', '.join(spec.symbols)}  {spec.strategy}  {spec.start.isoformat()} .. {spec.end.isoformat()}"
    write_text(
        paths.chart,
        equity_drawdown_svg(
            [date.fromisoformat(p["date"]) for p in result["nav"]],
            [p["nav"] for p in result["nav"]],
            [p["drawdown"] for p in result["nav"]],
            initial=spec.capital,
            title=title,
        ),
    )
    version = code_version()
    source = data_source(spec)
    write_json(
        paths.config,
        {
            "spec": spec.to_json(),
            "command": ["agenthedge", *spec.command()],
            "settings": settings_json(settings),
            "environment": settings_environment(settings),
            "backtest": bt.model_dump(mode="json"),
            "data": {
                **source,
                "bars_sha256": data_sha256,
                "bars_loaded": bars_seen,
                "symbols": list(spec.symbols),
            },
            "code_version": version,
            "python": sys.version.split()[0],
        },
    )
    finished_at = datetime.now(UTC)
    elapsed = time.perf_counter() - wall0
    run = {
        "run_id": paths.run_id,
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": finished_at.isoformat(timespec="seconds"),
        "elapsed_seconds": round(elapsed, 3),
        "loop_seconds": round(loop_seconds, 3),
        "sessions": capture.done,
        "bars": sessions_bars,
        "bars_per_second": round(sessions_bars / loop_seconds, 1) if loop_seconds > 0 else None,
        "runtime_run_id": runtime.run_id,
        "code_version": version,
        "host": platform.node(),
        "argv": list(argv) if argv is not None else None,
        "result_sha256": result_sha,
    }
    write_json(paths.run, run)
    return BacktestOutcome(paths, result, run, metrics, result_sha)


def _bars_in_window(agent: DataAgent, spec: BacktestSpec) -> int:
    """Bars traded over: (session, symbol) pairs with a bar between start and end."""
    data = agent.data
    if data is None:
        return 0
    lo = data.row_of(date.fromordinal(spec.start.toordinal() - 1)) + 1
    hi = data.row_of(spec.end) + 1
    return int((~np.isnan(data.panel["close"][lo:hi])).sum())
