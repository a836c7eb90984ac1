"""Fixtures of the storage tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.ledger import Ledger
from tests.storage._ledger_helpers import T0


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Ledger]:
    """A non-durable ledger funded with 1,000,000 at ``T0``."""
    opened = await Ledger.open(tmp_path / "ledger.sqlite", durable=False)
    await opened.fund(1_000_000.0, ts=T0)
    try:
        yield opened
    finally:
        await opened.close()
