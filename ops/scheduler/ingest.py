"""The 08:15 ingestion refresh: fetch recent daily bars through the provider stack and check their quality.

Fetching through the same provider stack the data agent uses warms its cache before the 09:30 tick; the
quality checks of :mod:`agents.data` run on what came back, so a bad feed is flagged (runbook SOP 2, data
quality alert) 75 minutes before it could reach a trade, not during it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from agents.data import DataProvider, Dataset, check_bars, previous_business_day
from ops.scheduler.jobs import Ingest


def provider_ingest(provider: DataProvider, symbols: Sequence[str], *, lookback_days: int = 14) -> Ingest:
    """An ingestion hook for :func:`ops.scheduler.attach_scheduler`: bars up to the previous business day."""

    async def ingest(day: date) -> dict[str, Any]:
        if not provider.supports(Dataset.BARS):
            return {"ok": True, "summary": f"{provider.name} serves no bars: nothing to refresh"}
        end = previous_business_day(day - timedelta(days=1))
        start = end - timedelta(days=lookback_days)
        bars = await provider.bars(list(symbols), start, end)
        reports = [check_bars(s, bars.get(s, []), asof=end, expect_data=True) for s in symbols]
        failures = [r.summary() for r in reports if not r.ok]
        count = sum(len(v) for v in bars.values())
        summary = f"{count} bar(s) for {len(symbols)} symbol(s) {start}..{end}" + (
            f"; {len(failures)} quality failure(s): {'; '.join(failures[:3])}" if failures else "; quality ok"
        )
        return {"ok": not failures, "summary": summary, "bars": count, "symbols": len(symbols), "failures": failures}

    return ingest
