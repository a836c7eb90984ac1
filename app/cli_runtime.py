"""``agenthedge runtime ...``: the runbook's runtime verbs."""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from app.cli_common import Obj, default_operator, echo_json, fail, finish, run, target
from app.wiring import build_replay, build_runtime, parse_day
from runtime.bus import BusError, RequestTimeout
from runtime.lock import HomeLocked
from runtime.payloads import ControlRequest
from runtime.pipeline import TickOutcome

operator_option = click.option(
    "--operator", default=default_operator, show_default="$USER", help="Who is acting (checked against the roster)"
)


@click.group()
def runtime() -> None:
    """Health, status, ticks and the state machine (pause, resume, kill)."""


def _send(obj: Obj, operator: str, verb: str, request: ControlRequest | None = None, *, raw: bool = False) -> None:
    async def go() -> None:
        try:
            async with target(obj, operator) as t:
                reply = await t.send(verb, request)
        except RequestTimeout as exc:
            fail(f"{verb}: the daemon did not answer ({exc})")
        except BusError as exc:
            fail(f"cannot reach the bus: {exc}")
        finish(reply, raw=raw)

    run(go())


@runtime.command()
@click.option("--raw", is_flag=True, help="JSON: agents, bus, storage, state, kill switch")
@click.pass_obj
def health(obj: Obj, raw: bool) -> None:
    """Health snapshot; exit 1 when unhealthy (e.g. the broker is unreachable)."""

    async def go() -> None:
        try:
            async with target(obj, default_operator() or "health", connect_timeout=3.0) as t:
                reply = await t.send("health")
        except (BusError, RequestTimeout) as exc:
            report: dict[str, Any] = {"healthy": False, "problems": [f"bus: {exc}"]}
            echo_json(report) if raw else click.echo(f"UNHEALTHY: bus: {exc}")
            sys.exit(1)
        if raw:
            echo_json(reply.data)
        else:
            _print_health(reply.data)
        sys.exit(0 if reply.ok else 1)

    run(go())


def _print_health(data: dict[str, Any]) -> None:
    verdict = "HEALTHY" if data.get("healthy") else "UNHEALTHY"
    state = data.get("state", {})
    kill = data.get("kill_switch", {})
    bus = data.get("bus", {})
    click.echo(f"{verdict}  state {state.get('state')}  env {data.get('env')}  run {data.get('run_id')}")
    if kill.get("active"):
        click.echo(
            f"  kill switch: ACTIVE  incident {kill.get('incident_id')}  ({kill.get('source')}: {kill.get('reason')})"
        )
    click.echo(f"  bus: {bus.get('url')} {bus.get('status')}  depth {bus.get('depth')}  rejected {bus.get('rejected')}")
    click.echo(f"  storage: {data.get('storage', {}).get('integrity')}  {data.get('storage', {}).get('ledger')}")
    for name, agent in sorted(data.get("agents", {}).items()):
        mark = "ok " if agent.get("ok") else "ERR"
        click.echo(
            f"  [{mark}] {name:<14} {agent.get('stage'):<14} errors {agent.get('errors')}  {agent.get('detail', '')}"
        )
    for problem in data.get("problems", []):
        click.echo(f"  problem: {problem}")


@runtime.command()
@click.option("--raw", is_flag=True, help="JSON output")
@click.pass_obj
def status(obj: Obj, raw: bool) -> None:
    """The runtime's state, open incident, books summary."""

    async def go() -> None:
        try:
            async with target(obj, default_operator() or "status") as t:
                reply = await t.send("status")
        except (BusError, RequestTimeout) as exc:
            fail(f"status: {exc}")
        if raw:
            echo_json(reply.data)
        else:
            d = reply.data
            click.echo(f"{d['state']}  since {d['since']}  by {d['actor']}: {d['reason']}")
            if d.get("incident"):
                i = d["incident"]
                click.echo(f"open incident {i['id']} ({i['source']}): {i['reason']}")
            click.echo(
                f"NAV {d['nav']:,.2f}  cash {d['cash']:,.2f}  "
                f"positions {d['positions']}  open orders {d['open_orders']}"
            )
        sys.exit(0 if reply.ok else 1)

    run(go())


@runtime.command("run-once")
@operator_option
@click.pass_obj
def run_once(obj: Obj, operator: str) -> None:
    """Run one tick through the whole pipeline (the shakedown tick)."""
    _send(obj, operator, "run_once")


@runtime.command()
@operator_option
@click.option("--reason", default="", help="Why")
@click.pass_obj
def pause(obj: Obj, operator: str, reason: str) -> None:
    """PAUSED: no new ticks until resumed."""
    _send(obj, operator, "pause", ControlRequest(reason=reason))


@runtime.command()
@click.option("--operator", default="", help="Operator from the roster (RUNTIME_OPERATORS)")
@click.option("--reason", default="", help="Documented reason for resuming")
@click.option("--incident", "incident_id", default=None, help="Id of the open incident (resume from HALTED)")
@click.option("--approver", default=None, help="Second approver when RUNTIME_RESUME_APPROVERS=2")
@click.pass_obj
def resume(obj: Obj, operator: str, reason: str, incident_id: str | None, approver: str | None) -> None:
    """Back to RUNNING; from HALTED only with a sign-off."""
    _send(
        obj,
        operator or "anonymous",
        "resume",
        ControlRequest(reason=reason, incident_id=incident_id, approver=approver),
    )


@runtime.command()
@operator_option
@click.option("--reason", required=True, help="Why the kill switch is pulled")
@click.pass_obj
def kill(obj: Obj, operator: str, reason: str) -> None:
    """Kill switch: HALTED, every open order cancelled, an incident opened."""
    _send(obj, operator, "kill", ControlRequest(reason=reason))


def _speed(value: str) -> float | None:
    if value == "max":
        return None
    try:
        speed = float(value)
    except ValueError:
        raise click.BadParameter("a number of sessions per second, or 'max'") from None
    if speed <= 0:
        raise click.BadParameter("must be positive")
    return speed


@runtime.command("run-loop")
@click.option("--interval", type=float, default=None, help="Seconds between ticks [RUNTIME_TICK_INTERVAL]")
@click.option("--max-ticks", type=int, default=None, help="Stop after this many ticks")
@click.option("--replay", is_flag=True, help="Drive the pipeline over historical sessions on a replay clock")
@click.option("--data", "data_path", type=click.Path(exists=True, path_type=Path), help="CSV file or directory")
@click.option("--start", "start", default=None, help="First session (YYYY-MM-DD), with --replay")
@click.option("--end", "end", default=None, help="Last session (YYYY-MM-DD), with --replay")
@click.option("--symbol", "symbols", multiple=True, help="Only these symbols (repeat); default: all in the data")
@click.option("--speed", default="max", show_default=True, help="Replay sessions per second, or 'max'")
@click.option("--raw-prices", is_flag=True, help="Do not back-adjust CSV bars for splits and dividends (Adj Close)")
@click.pass_obj
def run_loop(
    obj: Obj,
    interval: float | None,
    max_ticks: int | None,
    replay: bool,
    data_path: Path | None,
    start: str | None,
    end: str | None,
    symbols: tuple[str, ...],
    speed: str,
    raw_prices: bool,
) -> None:
    """Tick in the foreground, printing each tick, until Ctrl-C or SIGTERM (or the replay's last session)."""
    config = obj.config()
    if not replay and (data_path or start or end or symbols):
        raise click.UsageError("--data, --start, --end and --symbol go with --replay")
    if replay and not (start and end):
        raise click.UsageError("--replay needs --start and --end")
    pace = _speed(speed)

    async def go() -> None:
        stop = asyncio.Event()
        if replay:
            assert start is not None
            assert end is not None
            session = build_replay(
                config,
                start=_day(start, "--start"),
                end=_day(end, "--end"),
                data_path=data_path,
                symbols=list(symbols) or None,
                adjust=not raw_prices,
            )
            rt = session.runtime
        else:
            rt = build_runtime(config)
        try:
            await rt.start()
        except HomeLocked as exc:
            fail(str(exc))
        except BusError as exc:
            fail(f"cannot reach the bus: {exc}")
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        click.echo(f"run {rt.run_id}  env {rt.env}  bus {config.core.bus_display}  state {rt.state}  (Ctrl-C stops)")
        try:
            if replay:
                count = await session.run(speed=pace, stop=stop, on_tick=_print_tick)
                books = await rt.books.books()
                click.echo(f"replayed {count} sessions; NAV {books.nav:,.2f}  positions {len(books.positions)}")
            else:
                await rt.run_loop(stop=stop, interval=interval, max_ticks=max_ticks, on_tick=_print_tick)
        finally:
            await rt.stop()

    run(go())


def _day(value: str, option: str) -> date:
    try:
        return parse_day(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option) from None


def _print_tick(outcome: TickOutcome) -> None:
    stages = " ".join(f"{k}={v:.1f}" for k, v in outcome.stages.items())
    reason = f"  ({outcome.reason})" if outcome.reason else ""
    click.echo(
        f"{outcome.tick.ts:%Y-%m-%d %H:%M:%S} tick {outcome.tick.seq:>5} {outcome.status:<9} "
        f"{outcome.duration_ms:7.1f} ms  {stages}{reason}"
    )
