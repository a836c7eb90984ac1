from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.agents.data.vendor_server import VendorServer, serve


@pytest.fixture
def vendor() -> Iterator[VendorServer]:
    """A local HTTP server that plays a data vendor (127.0.0.1, ephemeral port)."""
    yield from serve()
