"""CompositeProvider routes each dataset to its own source."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from agents.data import CompositeProvider, Dataset, DatasetUnavailable, DemoProvider, ManualClock
from tests.agents.data.fakes import FakeProvider, make_bars

NOW = datetime(2024, 3, 1, 22, tzinfo=UTC)


async def test_routes_health_and_close() -> None:
    bars_source = FakeProvider("bars-vendor", bars={"AAA": make_bars("AAA", date(2024, 1, 2), date(2024, 2, 29))})
    demo = DemoProvider(seed=1, clock=ManualClock(NOW))
    composite = CompositeProvider(
        {Dataset.BARS: bars_source, Dataset.HEADLINES: demo, Dataset.MACRO: demo},
        name="mix",
        clock=ManualClock(NOW),
    )
    assert composite.capabilities == {Dataset.BARS, Dataset.HEADLINES, Dataset.MACRO}
    assert len((await composite.bars(["AAA"], date(2024, 1, 1), date(2024, 2, 29)))["AAA"]) == 43
    news = await composite.headlines(["AAPL"], datetime(2024, 2, 1, tzinfo=UTC), NOW)
    assert news["AAPL"]
    assert (await composite.macro(["rates"], date(2023, 1, 1), date(2023, 12, 31)))["rates"]
    with pytest.raises(DatasetUnavailable, match="no provider configured"):
        await composite.fundamentals(["AAA"], date(2024, 2, 1))
    health = await composite.health()
    assert health.ok
    assert health.name == "mix"
    assert health.checked_at == NOW
    assert "bars=bars-vendor" in health.detail
    await composite.aclose()
    assert bars_source.closed


def test_a_route_must_be_served_by_its_provider() -> None:
    csv_like = FakeProvider("csv", capabilities=frozenset({Dataset.BARS}))
    with pytest.raises(ValueError, match="does not serve macro"):
        CompositeProvider({Dataset.MACRO: csv_like})
