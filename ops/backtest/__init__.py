"""Backtests on the live pipeline: the run, its artifacts and metrics, the reference check, promotion.

The app builds the replay (the live agents on a simulated clock, on the run's own home) and hands it to
:func:`run_backtest`, which ticks it over every session and writes ``<home>/backtests/<run_id>/``::

    paths = RunPaths.of(home, new_run_id(now))
    replay = build_replay(config_for(paths.home), ...)           # app.wiring
    outcome = await run_backtest(paths, spec, replay, settings=config.sections())
    report, digest = await promote(home, paths.run_id, operator=..., reason=..., roster=..., mandate=...)

Pure pieces: :func:`compute_metrics` (and each metric), :func:`build_trades` (round trips, per-symbol P&L),
:func:`scan_audit` (breaches and rejects by reason), :func:`sma_cross_reference` (the plain SMA cross the
pipeline is checked against), :func:`equity_drawdown_svg`, :func:`evaluate_mandate`.
Settings: :class:`BacktestSettings` (``BACKTEST_*``), :class:`MandateSettings` (``MANDATE_*``).
"""

from ops.backtest.artifacts import (
    BACKTESTS,
    RunNotFound,
    RunPaths,
    bars_hash,
    canonical_json,
    code_version,
    list_runs,
    new_run_id,
    read_json,
    write_json,
)
from ops.backtest.chart import equity_drawdown_svg
from ops.backtest.events import RunEvents, scan_audit
from ops.backtest.metrics import METRIC_KEYS, MetricInputs, Metrics, compute_metrics
from ops.backtest.promotion import (
    PROMOTED,
    REFUSED,
    MandateCheck,
    PromotionBlocked,
    PromotionReport,
    evaluate_mandate,
    promote,
    render_markdown,
)
from ops.backtest.record import settings_environment
from ops.backtest.reference import RefBar, ReferenceResult, RefFill, read_csv_bars, sma_cross_reference
from ops.backtest.runner import BacktestError, BacktestOutcome, Replayable, run_backtest
from ops.backtest.settings import BacktestSettings, DataChecks, MandateSettings
from ops.backtest.spec import BacktestSpec
from ops.backtest.trades import RoundTrip, SymbolPnl, TradeBook, TradeFill, build_trades

__all__ = [
    "BACKTESTS",
    "METRIC_KEYS",
    "PROMOTED",
    "REFUSED",
    "BacktestError",
    "BacktestOutcome",
    "BacktestSettings",
    "BacktestSpec",
    "DataChecks",
    "MandateCheck",
    "MandateSettings",
    "MetricInputs",
    "Metrics",
    "PromotionBlocked",
    "PromotionReport",
    "RefBar",
    "RefFill",
    "ReferenceResult",
    "Replayable",
    "RoundTrip",
    "RunEvents",
    "RunNotFound",
    "RunPaths",
    "SymbolPnl",
    "TradeBook",
    "TradeFill",
    "bars_hash",
    "build_trades",
    "canonical_json",
    "code_version",
    "compute_metrics",
    "equity_drawdown_svg",
    "evaluate_mandate",
    "list_runs",
    "new_run_id",
    "promote",
    "read_csv_bars",
    "read_json",
    "render_markdown",
    "run_backtest",
    "scan_audit",
    "settings_environment",
    "sma_cross_reference",
    "write_json",
]
