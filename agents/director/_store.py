"""The tracker's home in the ledger: one JSON document, namespace ``council``, key ``tracker``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from agents.director._tracker import PerformanceTracker
from storage.ledger import Ledger

NAMESPACE = "council"
KEY = "tracker"


async def load_tracker(ledger: Ledger, tracker: PerformanceTracker) -> bool:
    """Fill ``tracker`` from the ledger once (later calls do nothing). True if a saved state was found."""
    if tracker.loaded:
        return False
    doc: Any = await ledger.get_json(NAMESPACE, KEY)
    if doc is None:
        tracker.loaded = True
        return False
    tracker.restore(doc)
    return True


async def save_tracker(ledger: Ledger, tracker: PerformanceTracker, *, ts: datetime) -> None:
    """Written every tick by default (tens of kB at 100 symbols): pydantic's encoder is about 6x faster than
    ``json.dumps`` on it, and the document reads back the same (floats as ``repr`` has them)."""
    await ledger.put_json_text(NAMESPACE, KEY, tracker.to_json_text(), ts=ts)


async def install_weights(
    ledger: Ledger, doc: dict[str, Any], *, source: str, ts: datetime, tracker: PerformanceTracker | None = None
) -> dict[str, float]:
    """Promotion: install a backtest's exported weights into the ledger's tracker (and persist at once).

    Raises:
        ValueError: a malformed weights document; nothing is changed.
    """
    tracker = tracker or PerformanceTracker()
    await load_tracker(ledger, tracker)
    weights = tracker.install_weights(doc, source=source)
    await save_tracker(ledger, tracker, ts=ts)
    return weights
