"""``agenthedge backtest``: run the live pipeline over history, list and show runs, promote one to live.

``agenthedge backtest --symbol SPY ...`` (as the runbook writes it) and ``agenthedge backtest run --symbol ...``
are the same command. The run lives under ``<home>/backtests/<run_id>/`` with its own home (ledger, audit log,
paper broker) beside the artifacts; the live ledger and audit log are only touched by ``promote``.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from pydantic import SecretStr, ValidationError

from app.cli_common import Obj, echo_json, fail, run
from app.wiring import AppConfig, Market, Replay, build_market, build_registry, build_replay, parse_day
from runtime.clock import SimClock
from runtime.replay import session_time
from runtime.runtime import Runtime
from runtime.settings import ConfigError, load

if TYPE_CHECKING:
    from ops.backtest import BacktestOutcome, BacktestSettings, BacktestSpec

F = TypeVar("F", bound=Callable[..., Any])
STRATEGIES = ("council", "sma-cross")


def _run_options(f: F) -> F:
    options = [
        click.option("--symbol", "symbols", multiple=True, help="Symbol to trade (repeat); default: DATA_SYMBOLS"),
        click.option("--start", default=None, help="First session, YYYY-MM-DD"),
        click.option("--end", default=None, help="Last session, YYYY-MM-DD"),
        click.option("--capital", type=float, default=1_000_000.0, show_default=True, help="Starting cash"),
        click.option("--data", "data_path", type=click.Path(exists=True, path_type=Path), help="CSV file or dir"),
        click.option("--provider", default=None, help="Data provider instead of DATA_PROVIDER (demo, csv, ...)"),
        click.option(
            "--config",
            "config_file",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="Settings for this run: KEY=VALUE lines, a JSON object, or a run's config.json",
        ),
        click.option("--strategy", type=click.Choice(STRATEGIES), default="council", show_default=True),
        click.option("--fast", type=int, default=None, help="sma-cross: fast SMA sessions [10]"),
        click.option("--slow", type=int, default=None, help="sma-cross: slow SMA sessions [30]"),
        click.option("--lot", type=int, default=None, help="sma-cross: shares held while long [100]"),
        click.option("--costs", type=click.Choice(["model", "none"]), default=None, help="[EXECUTION_COSTS]"),
        click.option("--raw-prices", is_flag=True, help="Do not back-adjust CSV bars (Adj Close); use them as given"),
        click.option(
            "--data-checks",
            type=click.Choice(["on", "off"]),
            default=None,
            help="The data layer's quality checks and quarantine [BACKTEST_DATA_CHECKS]",
        ),
        click.option("--json", "as_json", is_flag=True, help="Print the result's metrics as JSON"),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@click.group(invoke_without_command=True)
@_run_options
@click.pass_context
def backtest(ctx: click.Context, /, **options: Any) -> None:
    """Backtest the live pipeline over history (runbook "Backtesting & Promotion").

    Without a subcommand it runs one: agenthedge backtest --symbol AAPL --start 2012-01-03 --end 2012-12-31
    --data tests/data/stocks.csv.gz
    """
    if ctx.invoked_subcommand is None:
        _backtest(ctx.obj, **options)


@backtest.command("run")
@_run_options
@click.pass_obj
def run_cmd(obj: Obj, /, **options: Any) -> None:
    """Run a backtest (the same as ``agenthedge backtest`` with options)."""
    _backtest(obj, **options)


def restore_settings(config: AppConfig, saved: dict[str, Any]) -> AppConfig:
    """Every section but ``core`` (home, bus and environment are the run's own) as a run's ``config.json``
    recorded it; secrets, which it never records, come from the current environment."""
    sections: dict[str, Any] = {}
    for name, model in config.sections().items():
        recorded = saved["settings"].get(name)
        if name == "core" or not isinstance(recorded, dict):
            continue
        values = {k: v for k, v in recorded.items() if k in type(model).model_fields}
        for key in values:
            if isinstance(getattr(model, key), SecretStr):
                values[key] = getattr(model, key)
        try:
            sections[name] = type(model).model_validate(values)
        except ValidationError as exc:
            raise ConfigError(f"--config: section {name!r} of the run's config.json: {exc}") from None
    return dataclasses.replace(config, **sections)


class _Progress:
    """A progress bar on a terminal (nothing otherwise)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None
        self.shown = 0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            self.bar = click.progressbar(length=max(total, 1), label="sessions", show_pos=True, show_eta=True)
            self.bar.__enter__()
        self.bar.update(done - self.shown)
        self.shown = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _day(value: str | None, option: str) -> date:
    if not value:
        raise click.UsageError(f"{option} is required (YYYY-MM-DD)")
    try:
        return parse_day(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option) from None


def _strategy_params(strategy: str, fast: int | None, slow: int | None, lot: int | None) -> dict[str, int]:
    if strategy != "sma-cross":
        if fast is not None or slow is not None or lot is not None:
            raise click.UsageError("--fast, --slow and --lot go with --strategy sma-cross")
        return {}
    params = {"fast": fast or 10, "slow": slow or 30, "lot": lot or 100}
    if not 0 < params["fast"] < params["slow"]:
        raise click.BadParameter("need 0 < --fast < --slow", param_hint="--fast/--slow")
    if params["lot"] <= 0:
        raise click.BadParameter("must be positive", param_hint="--lot")
    return params


def backtest_config(config: AppConfig, home: Path, spec: BacktestSpec, env: str) -> AppConfig:
    """The deployment's settings, on the run's own throw-away home, with the run's overrides."""
    execution = config.execution.model_copy(update={"initial_capital": spec.capital})
    if spec.costs:
        execution = execution.model_copy(update={"costs": spec.costs})
    data = config.data
    if spec.provider:
        data = data.model_copy(update={"data_provider": spec.provider})
    return dataclasses.replace(
        config,
        core=config.core.model_copy(update={"home": home, "env": env, "bus": "memory://"}),
        runtime=config.runtime.model_copy(update={"durable": False}),
        # a throw-away ledger is recomputed, never restarted from: the tracker is saved once, at the end
        council=config.council.model_copy(update={"persist_every": 0}),
        execution=execution,
        data=data,
    )


def build_backtest_replay(config: AppConfig, spec: BacktestSpec) -> Replay:
    """The live pipeline over the spec's sessions. With data checks off, the provider stack's primary serves
    the bars unchecked (no quality gate, no quarantine); otherwise exactly ``build_replay``."""
    from agents.data.agent import DataAgent
    from agents.director import sma_cross_agents

    strategy = None
    if spec.strategy == "sma-cross":
        p = spec.params
        strategy = sma_cross_agents(
            p["fast"],
            p["slow"],
            p["lot"],
            quant=config.quant,
            director=config.director,
            persist_every=config.council.persist_every,
        )
    data_path = Path(spec.data_path) if spec.data_path else None
    symbols = list(spec.symbols) or None
    if spec.data_checks == "on":
        return build_replay(
            config,
            start=spec.start,
            end=spec.end,
            data_path=data_path,
            symbols=symbols,
            strategy=strategy,
            capital=spec.capital,
            adjust=spec.adjust,
        )
    if spec.end < spec.start:
        raise ConfigError(f"--end {spec.end} is before --start {spec.start}")
    clock = SimClock(session_time(date.fromordinal(spec.start.toordinal() - 1)))
    checked = build_market(config, clock, data_path=data_path, symbols=symbols, adjust=spec.adjust)
    market = Market(getattr(checked.provider, "primary", checked.provider), checked.symbols, checked.sectors)
    registry = build_registry(
        config, clock=clock, market=market, preload=(spec.start, spec.end), strategy=strategy, capital=spec.capital
    )
    data_agent = registry.get("data")
    assert isinstance(data_agent, DataAgent)
    runtime = Runtime(config.core, config.runtime, registry, clock=clock)
    return Replay(runtime, clock, data_agent, spec.start, spec.end)


async def launch_backtest(
    config: AppConfig,
    spec: BacktestSpec,
    *,
    backtest: BacktestSettings | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    argv: list[str] | None = None,
    run_id: str | None = None,
    one_shot: bool = False,
) -> BacktestOutcome:
    """``agenthedge backtest`` after its options are read: a new run under ``<config home>/backtests``, the
    live pipeline built on the run's own home, ticked over every session, its artifacts written. Also what a
    ``backtest`` control verb (daemon, cockpit) calls. ``one_shot``: the process ends with the run (the CLI), so
    what the run loads may be frozen out of garbage collection.

    Raises:
        runtime.settings.ConfigError: the spec or the settings cannot make a run (bad symbols, dates, data).
    """
    from ops.backtest import BacktestSettings, RunPaths, new_run_id, run_backtest

    bt = backtest or load(BacktestSettings)
    now = datetime.now(UTC)
    paths = RunPaths.of(config.core.home, run_id or new_run_id(now))
    run_config = backtest_config(config, paths.home, spec, bt.env)
    replay = build_backtest_replay(run_config, spec)
    if not spec.symbols:  # none asked for: the market's universe (DATA_SYMBOLS, the demo's, or every CSV symbol)
        spec = dataclasses.replace(spec, symbols=tuple(replay.data.symbols))
    return await run_backtest(
        paths,
        spec,
        replay,
        settings=run_config.sections(),
        backtest=bt,
        on_progress=on_progress,
        argv=argv,
        started_at=now,
        freeze_gc=one_shot,
    )


def _backtest(
    obj: Obj,
    *,
    symbols: tuple[str, ...],
    start: str | None,
    end: str | None,
    capital: float,
    data_path: Path | None,
    provider: str | None,
    config_file: Path | None,
    strategy: str,
    fast: int | None,
    slow: int | None,
    lot: int | None,
    costs: str | None,
    raw_prices: bool,
    data_checks: str | None,
    as_json: bool,
) -> None:
    from ops.backtest import BacktestError, BacktestSettings, BacktestSpec
    from ops.backtest.render import summary
    from ops.backtest.settings_file import apply_settings_file

    if data_path is not None and provider is not None:
        raise click.UsageError("--data and --provider are exclusive")
    if capital <= 0:
        raise click.BadParameter("must be positive", param_hint="--capital")
    params = _strategy_params(strategy, fast, slow, lot)
    first, last = _day(start, "--start"), _day(end, "--end")
    saved = apply_settings_file(config_file) if config_file is not None else None
    config = obj.config()
    bt = load(BacktestSettings)
    if saved is not None:
        config = restore_settings(config, saved)
        if isinstance(saved.get("backtest"), dict):
            bt = BacktestSettings.model_validate(saved["backtest"])
    spec = BacktestSpec(
        symbols=tuple(dict.fromkeys(s.upper() for s in symbols)) or tuple(config.data.data_symbols),
        start=first,
        end=last,
        capital=capital,
        strategy=strategy,
        params=params,
        costs=costs,
        data_path=str(data_path) if data_path else None,
        provider=provider,
        adjust=not raw_prices if (data_path or config.data.data_provider == "csv") else None,
        data_checks="off" if (data_checks or bt.data_checks) == "off" else "on",
    )
    progress = _Progress(sys.stdout.isatty() and not as_json)
    try:
        outcome = run(launch_backtest(config, spec, backtest=bt, on_progress=progress, argv=sys.argv, one_shot=True))
    except BacktestError as exc:
        progress.close()
        fail(f"backtest refused: {exc}")
    finally:
        progress.close()
    paths = outcome.paths
    if as_json:
        echo_json({"run_id": paths.run_id, "dir": str(paths.dir), "metrics": outcome.result["metrics"]})
    else:
        click.echo(summary(outcome.result, outcome.run, paths.dir))


@backtest.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON output")
@click.pass_obj
def list_cmd(obj: Obj, as_json: bool) -> None:
    """The finished runs under <home>/backtests, oldest first."""
    from ops.backtest.render import run_rows, runs_table

    rows = run_rows(obj.config().core.home)
    if as_json:
        echo_json(rows)
    else:
        click.echo(runs_table(rows))


@backtest.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="JSON: the metrics, the run record and the artifact paths")
@click.pass_obj
def show_cmd(obj: Obj, run_id: str, as_json: bool) -> None:
    """One run's summary and where its artifacts are."""
    from ops.backtest import RunNotFound, RunPaths, read_json
    from ops.backtest.render import summary

    try:
        paths = RunPaths.existing(obj.config().core.home, run_id)
    except RunNotFound as exc:
        fail(str(exc))
    result = read_json(paths.result)
    info = read_json(paths.run) if paths.run.is_file() else {"run_id": run_id}
    if as_json:
        files = sorted(p.name for p in paths.dir.iterdir() if p.is_file())
        echo_json({"run": info, "spec": result["spec"], "metrics": result["metrics"], "dir": str(paths.dir),
                   "files": files})  # fmt: skip
        return
    click.echo(summary(result, info, paths.dir))
    if paths.promotion_md.is_file():
        click.echo(f"  promotion report: {paths.promotion_md}")


@backtest.command("promote")
@click.argument("run_id")
@click.option("--operator", required=True, help="Operator from the roster (RUNTIME_OPERATORS)")
@click.option("--reason", required=True, help="Why this run's weights go live")
@click.option("--json", "as_json", is_flag=True, help="JSON: the promotion report")
@click.pass_obj
def promote_cmd(obj: Obj, run_id: str, operator: str, reason: str, as_json: bool) -> None:
    """Check a run against the mandate (MANDATE_*); on a pass install its tracker weights for live.

    The report (promotion.json, promotion.md) is written beside the run either way; exit 1 when refused.
    """
    from ops.backtest import MandateSettings, PromotionBlocked, RunNotFound, promote

    config = obj.config()
    try:
        report, digest = run(
            promote(
                config.core.home,
                run_id,
                operator=operator,
                reason=reason,
                roster=list(config.runtime.operators),
                mandate=load(MandateSettings),
                env=config.core.env,
                now=datetime.now(UTC),
            )
        )
    except (RunNotFound, PromotionBlocked) as exc:
        fail(str(exc))
    if as_json:
        echo_json({**report.to_json(), "report_sha256": digest})
    elif report.passed:
        weights = ", ".join(f"{p} {w:.3f}" for p, w in sorted(report.weights.items()))
        click.echo(f"promoted {run_id} by {report.operator}: weights installed for live ({weights})")
        click.echo(f"  report {digest[:16]}: {config.core.home / 'backtests' / run_id / 'promotion.md'}")
    if not report.passed:
        reasons = "; ".join(report.failures)
        fail(f"promotion of {run_id} refused: {reasons}")
