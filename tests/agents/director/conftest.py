from __future__ import annotations

import pytest

from agents.market import MarketData
from tests.agents.quant._market import demo_data as _demo_data


@pytest.fixture(scope="session")
def demo_data() -> MarketData:
    return _demo_data()
