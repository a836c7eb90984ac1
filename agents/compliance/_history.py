"""What compliance remembers between ticks: the last fill per symbol and the recent vetoes.

- :class:`LastFills` reads the ledger's fills once per tick, incrementally (only what is newer than the last
  fill it saw), and keeps the last fill of each symbol for the wash-trade rule.
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
    """The last fill per symbol, refreshed from the ledger with as few rows as it takes."""

    def __init__(self, batch: int = 64) -> None:
        self.batch = batch
        self.last: dict[str, LastFill] = {}
        self.watermark: datetime | None = None

    async def refresh(self, ledger: Ledger, since: datetime) -> Mapping[str, LastFill]:
        """Read fills newer than the last one seen (on the first call: back to ``since``)."""
        floor = self.watermark or since
        limit = self.batch
        while True:
            fills = await ledger.fills(limit=limit)
            if len(fills) < limit or fills[0].ts <= floor:
                break
            limit *= 4  # more new fills than one batch since the last tick: read further back
        for fill in fills:  # oldest first: the last one of a symbol wins
            seen = self.last.get(fill.symbol)
            if seen is None or fill.ts >= seen.ts:
                self.last[fill.symbol] = LastFill(fill.side, fill.ts, fill.qty, fill.price)
        if fills:
            self.watermark = max(self.watermark or fills[-1].ts, fills[-1].ts)
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
