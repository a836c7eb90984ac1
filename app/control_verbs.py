"""The read verbs the cockpit asks the runtime (incidents, orders, audit, nav history, trace, backtest runs)
and the ``backtest`` launcher, registered on a :class:`runtime.control.ControlService` by the composition root.

Reads answer from the ledger and the home; a backtest runs in a thread with its own event loop and home,
so the live loop never waits for it, and reports progress on ``events/backtest``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import UTC, date, datetime
from typing import Any

from agents.trace import trace
from app.wiring import AppConfig
from runtime import topics
from runtime.control import ControlService
from runtime.errors import Refused
from runtime.messages import make
from runtime.payloads import BacktestProgress, ControlReply, ControlRequest
from runtime.runtime import Runtime
from storage.artifacts import incident_dir, read_incident
from storage.audit import verify

log = logging.getLogger(__name__)


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime | date) else value


def _row(obj: Any) -> dict[str, Any]:
    return {k: _iso(v) for k, v in dataclasses.asdict(obj).items()}


def _limit(request: ControlRequest, default: int = 100, most: int = 1000) -> int:
    try:
        return max(1, min(most, int(request.args.get("limit", default))))
    except (TypeError, ValueError):
        raise Refused("read", "args.limit must be a number") from None


class ReadVerbs:
    def __init__(self, runtime: Runtime, config: AppConfig) -> None:
        self.rt = runtime
        self.config = config
        self.backtests: dict[str, dict[str, Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def register(self, control: ControlService) -> None:
        for verb, handler in (
            ("incidents", self.incidents),
            ("orders", self.orders),
            ("audit", self.audit),
            ("nav_history", self.nav_history),
            ("trace", self.trace),
            ("backtests", self.list_backtests),
        ):
            control.register(verb, handler, changes_state=False)
        control.register("backtest", self.launch_backtest)

    async def incidents(self, operator: str, verb: str, request: ControlRequest) -> ControlReply:
        wanted = request.args.get("id")
        ledger = self.rt.books
        found = [await ledger.incident(str(wanted))] if wanted else await ledger.incidents(limit=_limit(request))
        out = []
        for incident in found:
            if incident is None:
                continue
            item = _row(incident)
            item["signoffs"] = [_row(s) for s in await ledger.signoffs(incident.id)]
            if wanted and (incident_dir(self.rt.home, incident.id) / "forensics.json").is_file():
                item["snapshot"] = await asyncio.to_thread(read_incident, self.rt.home, incident.id)
            out.append(item)
        if wanted and not out:
            return ControlReply(ok=False, verb=verb, message=f"no incident {wanted}")
        return ControlReply(ok=True, verb=verb, message=f"{len(out)} incident(s)", data={"incidents": out})

    async def orders(self, operator: str, verb: str, request: ControlRequest) -> ControlReply:
        ledger = self.rt.books
        open_orders = [_row(o) for o in await ledger.open_orders()]
        fills = [_row(f) for f in await ledger.fills(limit=_limit(request, 200))]
        return ControlReply(
            ok=True,
            verb=verb,
            message=f"{len(open_orders)} open order(s)",
            data={"open_orders": open_orders, "fills": fills},
        )

    async def audit(self, operator: str, verb: str, request: ControlRequest) -> ControlReply:
        head = await self.rt.books.audit_head()
        path = self.rt.home / "audit" / "runtime_events.jsonl"
        result = await asyncio.to_thread(verify, path, expected_head=head)
        chain = {
            "ok": result.ok,
            "lines": result.lines,
            "first_bad_line": result.first_bad_line,
            "reason": str(result.reason) if result.reason else None,
            "message": result.message,
            "head_seq": result.head.seq if result.head else None,
        }
        return ControlReply(
            ok=True, verb=verb, message="chain ok" if result.ok else result.message, data={"chain": chain}
        )

    async def nav_history(self, operator: str, verb: str, request: ControlRequest) -> ControlReply:
        points = await self.rt.books.nav_history(limit=_limit(request, 2000, 20000))
        rows = [
            {
                "ts": p.ts.isoformat(),
                "session": p.session,
                "nav": p.nav,
                "cash": p.cash,
                "gross_exposure": p.gross_exposure,
            }
            for p in points
        ]
        return ControlReply(ok=True, verb=verb, message=f"{len(rows)} point(s)", data={"points": rows})

    async def trace(self, operator: str, verb: str, request: ControlRequest) -> ControlReply:
        args = request.args
        symbol = args.get("symbol")
        records = await trace(
            self.rt.books,
            tick_id=args.get("tick_id") or args.get("tick"),
            symbol=str(symbol).upper() if symbol else None,
            session=args.get("session") or args.get("date"),
            limit=_limit(request, 50, 500),
        )
        return ControlReply(ok=True, verb=verb, message=f"{len(records)} record(s)", data={"records": records})

    async def list_backtests(self, operator: str, verb: str, request: ControlRequest) -> ControlReply:
        from ops.backtest.render import run_rows

        rows = await asyncio.to_thread(run_rows, self.rt.home)
        runs = [
            {
                **r,
                "status": "completed",
                "progress": 1.0,
                "metrics": {k: r[k] for k in ("final_equity", "total_return", "max_drawdown", "trades")},
            }
            for r in rows
        ]
        done = {r["run_id"] for r in runs}
        runs += [r for run_id, r in self.backtests.items() if run_id not in done]
        return ControlReply(ok=True, verb=verb, message=f"{len(runs)} run(s)", data={"runs": runs})

    async def launch_backtest(self, operator: str, verb: str, request: ControlRequest) -> ControlReply:
        from app.cli_backtest import launch_backtest
        from ops.backtest import new_run_id
        from ops.backtest.spec import BacktestSpec

        args = request.args
        try:
            spec = BacktestSpec(
                symbols=tuple(str(s).upper() for s in args.get("symbols") or ()),
                start=date.fromisoformat(args["start"]),
                end=date.fromisoformat(args["end"]),
                capital=float(args.get("capital", 1_000_000)),
                strategy=str(args.get("strategy", "council")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise Refused(verb, f"a backtest needs symbols, start and end (YYYY-MM-DD) and a capital: {exc}") from None
        if spec.end < spec.start or spec.capital <= 0:
            raise Refused(verb, "end must not be before start and the capital must be positive")
        run_id = new_run_id(datetime.now(UTC))
        loop = asyncio.get_running_loop()
        state = self.backtests[run_id] = {
            "run_id": run_id,
            "status": "running",
            "progress": 0.0,
            "symbols": list(spec.symbols),
            "start": args["start"],
            "end": args["end"],
            "capital": spec.capital,
            "operator": operator,
        }

        def progress(done: int, total: int) -> None:  # called on the backtest's thread
            loop.call_soon_threadsafe(self._progress, run_id, done / total if total else 0.0, "running", None, "")

        async def work() -> None:
            try:
                outcome = await asyncio.to_thread(
                    asyncio.run, launch_backtest(self.config, spec, on_progress=progress, run_id=run_id)
                )
                metrics = dict(outcome.result.get("metrics") or {})
                self._progress(run_id, 1.0, "completed", metrics, "")
            except Exception as exc:
                log.exception("backtest %s failed", run_id)
                self._progress(run_id, state["progress"], "failed", None, str(exc))
            await self.rt.audit("backtest.finished", {"run_id": run_id, "status": state["status"]}, operator)

        task = asyncio.create_task(work(), name=f"backtest-{run_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        await self.rt.audit("backtest.launched", {"run_id": run_id, "spec": state}, operator)
        return ControlReply(
            ok=True, verb=verb, message=f"backtest {run_id} started", data={"run_id": run_id, "spec": state}
        )

    def _progress(
        self, run_id: str, progress: float, status: str, metrics: dict[str, Any] | None, message: str
    ) -> None:
        state = self.backtests.setdefault(run_id, {"run_id": run_id})
        state.update(progress=progress, status=status, **({"metrics": metrics} if metrics else {}))
        payload = BacktestProgress(
            run_id=run_id, progress=round(progress, 4), status=status, message=message, metrics=metrics or {}
        )
        task = asyncio.ensure_future(
            self.rt.bus.publish(
                topics.EVENT_BACKTEST,
                make("backtest.progress", payload, source="backtest", run_id=self.rt.run_id, env=self.rt.env),
            )
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
