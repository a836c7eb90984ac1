"""SVG snapshots (pytest-textual-snapshot) of every view in the five states and of every modal and pushed
screen, at 80x24 and 120x40. Fed fixed data through the app's real reader on a ``memory://`` bus, with an
injected clock, so a snapshot is the same on every run. Update with ``pytest --snapshot-update``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Input

from runtime.messages import new_id
from runtime.payloads import ControlReply
from screens import CockpitBase
from screens.messages import CommandAnswered
from tests.screens.harness import make_app, quiet, refused_form, settle, start_world, until
from tests.screens.scenarios import RUN, STATES, replies_for_log

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}
VIEWS = {"overview": "1", "agents": "2", "portfolio": "3", "alerts": "4", "audit": "5", "backtests": "6",
         "incidents": "7", "commands": "l"}  # fmt: skip

Compare = Callable[..., bool]


def snapshot_app(
    state: str,
    keys: str = "",
    then: Callable[[Pilot[Any]], Awaitable[None]] | None = None,
    replies: dict[str, ControlReply] | None = None,
) -> tuple[CockpitBase, Callable[[Pilot[Any]], Awaitable[None]]]:
    """An app attached to a world in ``state``; ``run_before`` settles it, presses ``keys``, runs ``then``."""
    url = f"memory://snap-{new_id()[:8]}"
    app = make_app(url)

    async def run_before(pilot: Pilot[Any]) -> None:
        world = await start_world(url, state, {**REPLIES, **(replies or {})})
        await settle(pilot, world)
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        await quiet(pilot)
        if then is not None:
            await then(pilot)
            await quiet(pilot)
        await pilot.pause()

    return app, run_before


BACKTEST = {
    "run_id": "bt-20240501-01",
    "status": "completed",
    "progress": 1.0,
    "symbols": ["AAPL", "MSFT"],
    "start": "2023-01-02",
    "end": "2023-12-29",
    "capital": 1_000_000,
    "metrics": {"total_return": 0.081, "sharpe": 1.42, "max_drawdown": -0.052, "trades": 118},
    "equity": [[f"2023-{m:02d}-28", 1_000_000 * (1 + 0.007 * m - (0.02 if m == 7 else 0))] for m in range(1, 13)],
}
RUNNING = {"run_id": "bt-20240502-02", "status": "running", "progress": 0.4, "symbols": ["IBM"],
           "start": "2022-01-03", "end": "2022-12-30", "capital": 250_000, "metrics": {}}  # fmt: skip
TRACE = [
    {
        "tick_id": f"{RUN}:60",
        "session": "2024-05-01",
        "symbol": "AAPL",
        "outcome": "sent",
        "why_no_trade": None,
        "votes": [
            {"plugin": "technical", "score": 0.62, "confidence": 0.8, "weight": 0.38, "rationale": "20/50 cross"},
            {"plugin": "sentiment", "score": 0.1, "confidence": 0.4, "weight": 0.2, "rationale": "mixed headlines"},
        ],
        "intents": [
            {
                "side": "buy",
                "qty": 60,
                "ref_price": 250.0,
                "consensus": 0.41,
                "risk": {"approved": True, "reasons": []},
                "compliance": {"approved": True, "reasons": []},
                "execution": "sent AH-20240502-0001",
            }
        ],
        "orders": [{"client_order_id": "AH-20240502-0001", "status": "filled", "filled_qty": 60}],
        "fills": [{"trade_id": "T00001", "qty": 60, "price": 250.0}],
    }
]
REPLIES = {
    "backtests": ControlReply(ok=True, verb="backtests", message="2", data={"runs": [BACKTEST, RUNNING]}),
    "trace": ControlReply(ok=True, verb="trace", message="1", data={"records": TRACE}),
    "audit": ControlReply(ok=True, verb="audit", message="ok", data={"chain": {"ok": True, "head_seq": 1208}}),
}


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("view", list(VIEWS))
def test_view(snap_compare: Compare, view: str, state: str, size: str) -> None:
    async def log_some(pilot: Pilot[Any]) -> None:
        if view == "commands" and state != "nominal":  # the empty log is the nominal snapshot
            for entry in replies_for_log():
                pilot.app.post_message(CommandAnswered(entry))
            app = pilot.app
            assert isinstance(app, CockpitBase)
            await until(pilot, lambda: len(app.store.commands) >= len(replies_for_log()), "the log")

    app, run_before = snapshot_app(state, VIEWS[view], log_some)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)


async def _type(pilot: Pilot[Any], selector: str, text: str) -> None:
    field = pilot.app.screen.query_one(selector, Input)
    field.value = text
    await pilot.pause()


async def _kill_typed(pilot: Pilot[Any]) -> None:
    await _type(pilot, "#reason", "runaway orders on XOM")
    await _type(pilot, "#typed", "paper")


REFUSAL = "operator 'alice' is not on the roster (RUNTIME_OPERATORS)"


async def _resume_refused(pilot: Pilot[Any]) -> None:
    await _type(pilot, "#reason", "checked")
    pilot.app.screen.query_one("#confirm", Button).press()
    app = pilot.app
    await until(pilot, lambda: refused_form(app.screen), "the form again, composed")


async def _bad_backtest(pilot: Pilot[Any]) -> None:
    await _type(pilot, "#symbols", "aapl, 12x")
    await _type(pilot, "#end", "2031-01-01")
    await _type(pilot, "#capital", "lots")


async def _open_row(pilot: Pilot[Any]) -> None:
    await pilot.press("down", "enter")
    app = pilot.app
    await until(pilot, lambda: app.screen is not getattr(app, "main", None), "the pushed screen")
    await pilot.pause()


async def _palette(pilot: Pilot[Any]) -> None:
    from textual.command import CommandList, CommandPalette

    await pilot.press(*"kill")
    palette = pilot.app.screen
    assert isinstance(palette, CommandPalette)
    hits = palette.query_one(CommandList)
    await until(pilot, lambda: hits.option_count == 1 and not palette._show_busy, "the palette's one hit")


MODALS: dict[str, tuple[str, str, Callable[[Pilot[Any]], Awaitable[None]] | None]] = {
    # name: (state, keys, then); the palette key is ctrl+p, a filter starts with "/"
    "run_once_confirm": ("nominal", "o", None),
    "kill_empty": ("nominal", "K", None),
    "kill_typed": ("nominal", "K", _kill_typed),
    "resume_halted": ("halted", "R", None),
    "resume_refused": ("halted", "R", _resume_refused),
    "resume_paused": ("paused", "R", None),
    "resume_degraded": ("degraded", "R", None),
    "backtest_form": ("nominal", "b", None),
    "backtest_invalid": ("nominal", "b", _bad_backtest),
    "help": ("nominal", "?", None),
    "palette": ("nominal", "\x10", _palette),
    "trace": ("nominal", "5", _open_row),
    "incident": ("halted", "7", _open_row),
    "backtest_result": ("nominal", "6", _open_row),
    "alerts_filtered": ("halted", "4/", None),
}


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("name", list(MODALS))
def test_modal(snap_compare: Compare, name: str, size: str) -> None:
    state, keys, then = MODALS[name]
    if keys == "\x10":
        keys = ""

        async def open_palette(pilot: Pilot[Any]) -> None:
            await pilot.press("ctrl+p")
            assert then is not None
            await then(pilot)

        app, run_before = snapshot_app(state, "", open_palette)
    elif keys.endswith("/"):

        async def filter_tsla(pilot: Pilot[Any]) -> None:
            await pilot.press(*"tsla")

        app, run_before = snapshot_app(state, keys, filter_tsla)
    else:
        refused = {"resume": ControlReply(ok=False, verb="resume", message=REFUSAL)}
        replies = refused if name == "resume_refused" else None
        app, run_before = snapshot_app(state, keys, then, replies)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)


def test_every_state_has_a_snapshot_world() -> None:
    assert set(STATES) == {"nominal", "degraded", "disconnected", "halted", "paused"}
