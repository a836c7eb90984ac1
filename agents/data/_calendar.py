"""Business-day arithmetic (Monday to Friday; exchange holidays are not modelled here)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import numpy as np


def is_business_day(d: date) -> bool:
    return d.weekday() < 5


def business_days(start: date, end: date) -> Iterator[date]:
    """Every Monday-to-Friday date in ``[start, end]``."""
    d = start
    one = timedelta(days=1)
    while d <= end:
        if d.weekday() < 5:
            yield d
        d += one


def business_days_between(earlier: date, later: date) -> int:
    """Business days in ``(earlier, later]``: 0 when ``later <= earlier``; Fri -> Mon is 1."""
    if later <= earlier:
        return 0
    return int(np.busday_count(earlier + timedelta(days=1), later + timedelta(days=1)))


def previous_business_day(d: date) -> date:
    """``d`` itself if it is a business day, else the Friday before."""
    while d.weekday() >= 5:
        d -= timedelta(days=1)
    return d
