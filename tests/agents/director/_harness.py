"""Stand-ins for the agents around the council, and a hand-built context, for agent-level tests.

``FeedAgent`` plays the data agent (one session of a :class:`MarketData` per tick), ``VerdictAgent`` plays
risk or compliance (rejects chosen symbols), ``FillAgent`` plays execution (fills every approved intent at
its reference price through the real ledger) and ``NavAgent`` plays reconciliation (records NAV). They are
small on purpose: the agents under test are the real ones, on a real bus and a real SQLite ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from agents.market import MarketData
from agents.types import (
    COMPLIANCE_VERDICTS,
    EXECUTION_REPORT,
    MARKET,
    MARKET_SNAPSHOT,
    RISK_VERDICTS,
    TRADE_PACK,
    ExecutionReport,
    FillReport,
    MarketSnapshot,
    TradePack,
    Verdict,
    Verdicts,
)
from runtime.agent import Agent, Stage, Tick
from runtime.bus import MemoryBus
from runtime.clock import SimClock
from runtime.context import AgentContext
from runtime.metrics import RuntimeMetrics
from runtime.payloads import Severity
from runtime.state import RuntimeState
from storage.ledger import Ledger
from storage.records import Fill, NavPoint, Order

CAPITAL = 1_000_000.0


def at_close(day: date) -> datetime:
    return datetime.combine(day, time(21, 0), tzinfo=UTC)


@dataclass
class Recorder:
    """What agents audited and alerted through a hand-built context."""

    audit: list[tuple[str, dict[str, Any], str, str | None]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)

    def events(self, name: str) -> list[dict[str, Any]]:
        return [data for event, data, _, _ in self.audit if event == name]


async def make_context(
    name: str, ledger: Ledger, bus: MemoryBus, *, clock: SimClock | None = None, home: Path | None = None
) -> tuple[AgentContext, Recorder]:
    rec = Recorder()

    async def audit(event: str, data: dict[str, Any], actor: str, tick_id: str | None) -> None:
        rec.audit.append((event, data, actor, tick_id))

    async def alert(action: str, severity: Severity, message: str, **kw: Any) -> None:
        rec.alerts.append({"action": action, "severity": severity, "message": message, **kw})

    async def change_state(*_: Any, **__: Any) -> None:
        raise AssertionError("the council never changes the runtime's state")

    ctx = AgentContext(
        source=name,
        bus=bus,
        ledger=ledger,
        clock=clock or SimClock(datetime(2021, 1, 1, tzinfo=UTC)),
        metrics=RuntimeMetrics(),
        home=home or ledger.path.parent,
        run_id="run-test",
        env=bus.env,
        state=lambda: RuntimeState.RUNNING,
        audit=audit,
        raise_alert=alert,
        change_state=change_state,
    )
    return ctx, rec


def tick_for(day: date, seq: int = 1, *, reducing_only: bool = False) -> Tick:
    return Tick(id=f"t{seq}", seq=seq, ts=at_close(day), reducing_only=reducing_only)


class FeedAgent(Agent):
    """Data stage: the next session of ``data`` each tick."""

    name = "feed"
    stage = Stage.DATA

    def __init__(
        self, data: MarketData, days: Sequence[date], *, impacted: Sequence[str] = (), quarantined: Sequence[str] = ()
    ) -> None:
        super().__init__()
        self.data = data
        self.days = list(days)
        self.i = 0
        self.impacted = list(impacted)
        self.quarantined = list(quarantined)

    async def on_tick(self, tick: Tick) -> None:
        day = self.days[min(self.i, len(self.days) - 1)]
        self.i += 1
        view = self.data.view(day)
        tick.put(MARKET, view)
        tick.put(
            MARKET_SNAPSHOT,
            MarketSnapshot(
                as_of=day,
                prices=view.prices(),
                provider="test",
                quarantined=self.quarantined,
                impacted_signals=self.impacted,
            ),
        )


class VerdictAgent(Agent):
    """Risk or compliance stand-in: rejects every intent on ``reject`` symbols, approves the rest."""

    def __init__(self, kind: str, reject: Sequence[str] = ()) -> None:
        super().__init__()
        self.kind = kind
        self.name = f"test-{kind}"
        self.stage = Stage.RISK if kind == "risk" else Stage.COMPLIANCE
        self.reject = set(reject)

    async def on_tick(self, tick: Tick) -> None:
        pack = tick.get(TRADE_PACK, TradePack)
        items = [
            Verdict(
                intent_id=i.id,
                symbol=i.symbol,
                approved=i.symbol not in self.reject,
                qty=0.0 if i.symbol in self.reject else i.qty,
                reasons=[f"test_{self.kind}: {i.symbol} is blocked"] if i.symbol in self.reject else [],
            )
            for i in (pack.intents if pack else [])
        ]
        tick.put(RISK_VERDICTS if self.kind == "risk" else COMPLIANCE_VERDICTS, Verdicts(agent=self.kind, items=items))


class FillAgent(Agent):
    """Execution stand-in: fills each approved intent in full at its reference price, commission 1.0."""

    name = "test-execution"
    stage = Stage.EXECUTION

    async def start(self, ctx: AgentContext) -> None:
        await super().start(ctx)
        await ctx.ledger.fund(CAPITAL, ts=at_close(date(2000, 1, 1)))

    async def on_tick(self, tick: Tick) -> None:
        ledger = self.context.ledger
        pack = tick.get(TRADE_PACK, TradePack)
        rejected: set[str] = set()
        for key in (RISK_VERDICTS, COMPLIANCE_VERDICTS):
            v = tick.get(key, Verdicts)
            rejected |= {x.intent_id for x in v.items if not x.approved} if v else set()
        fills = []
        for intent in sorted(pack.intents if pack else [], key=lambda i: i.priority):
            if intent.id in rejected:
                continue
            coid = f"c{await ledger.next_order_number()}"
            await ledger.insert_order(
                Order(coid, intent.symbol, intent.side, intent.qty, "test", tick.ts, tick_id=tick.id)
            )
            fill = Fill(
                "test", f"x-{coid}", coid, tick.ts, intent.symbol, intent.side, intent.qty, intent.ref_price, 1.0
            )
            await ledger.apply_fill(fill)
            fills.append(
                FillReport(
                    client_order_id=coid,
                    intent_id=intent.id,
                    venue="test",
                    trade_id=fill.trade_id,
                    symbol=intent.symbol,
                    side=intent.side,
                    qty=intent.qty,
                    price=intent.ref_price,
                    commission=1.0,
                    ts=tick.ts,
                )
            )
        tick.put(EXECUTION_REPORT, ExecutionReport(submitted=[f.client_order_id for f in fills], fills=fills))


class NavAgent(Agent):
    """Reconciliation stand-in: marks positions at the view's prices and records the NAV."""

    name = "test-nav"
    stage = Stage.RECONCILIATION

    async def on_tick(self, tick: Tick) -> None:
        from agents.market import MarketView

        ledger = self.context.ledger
        view = tick.get(MARKET, MarketView)
        assert view is not None
        await ledger.mark_prices(view.prices(), ts=tick.ts)
        books = await ledger.books()
        await ledger.record_nav(
            NavPoint(
                tick.ts,
                view.as_of.isoformat(),
                books.nav,
                books.account.cash,
                books.gross_exposure,
                books.net_exposure,
                tick.id,
            )
        )
