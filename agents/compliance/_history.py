"""What compliance remembers between ticks: the last fill per symbol and the recent vetoes.

- :class:`LastFills` reads the ledger's fills once per tick, incrementally (only the fills stored since its last
  read), and keeps the last fill of each symbol for the wash-trade rule.
- :class:`VetoLog` counts vetoes in a rolling window, persisted in the ledger's kv (``compliance/vetoes``) so
  that a restart does not reset the count that trips ``compliance.kill_switch``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from agents.compliance._rules import LastFill
from storage.ledger import Ledger

NAMESPACE = "compliance"
VETOES_KEY = "vetoes"


class LastFills:
    """The last fill per symbol (latest time; the later stored on a tie), following the ledger's fills.

    The first refresh reads every stored fill once; each later one reads only the fills stored since (one indexed
    query, usually empty), so a long run costs O(new fills) a tick rather than a scan of all of them.
    """

    def __init__(self) -> None:
        self.last: dict[str, LastFill] = {}
        self.rowid = 0

    async def refresh(self, ledger: Ledger) -> Mapping[str, LastFill]:
        """Fold in the fills stored since the last call (the wash-trade rule judges each fill's date itself)."""
        self.rowid, fills = await ledger.fills_after(self.rowid)
        for fill in fills:  # in storage order: a later-stored fill wins a tie on time
            seen = self.last.get(fill.symbol)
            if seen is None or fill.ts >= seen.ts:
                self.last[fill.symbol] = LastFill(fill.side, fill.ts, fill.qty, fill.price)
        return self.last


class VetoLog:
    """Times of recent vetoes; :meth:`add` returns how many fall in the window."""

    def __init__(self, window_seconds: float) -> None:
        self.window = timedelta(seconds=window_seconds)
        self.times: list[datetime] = []

    async def load(self, ledger: Ledger) -> None:
        raw = await ledger.get_json(NAMESPACE, VETOES_KEY) or []
        self.times = sorted(datetime.fromisoformat(t) for t in raw)

    def count(self, now: datetime) -> int:
        self.times = [t for t in self.times if t > now - self.window]
        return len(self.times)

    async def add(self, ledger: Ledger, now: datetime, n: int) -> int:
        self.times.extend([now] * n)
        count = self.count(now)
        await ledger.put_json(NAMESPACE, VETOES_KEY, [t.isoformat() for t in self.times], ts=now)
        return count

    async def reset(self, ledger: Ledger, now: datetime) -> None:
        """Start counting afresh (after the kill switch: the incident holds the evidence)."""
        self.times = []
        await ledger.put_json(NAMESPACE, VETOES_KEY, [], ts=now)
