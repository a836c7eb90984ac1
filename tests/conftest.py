"""Shared fixtures. Keep this file small: fixtures of one area live in their own module, imported here."""

from __future__ import annotations

import re

import pytest

from runtime.messages import new_id
from tests.mqtt_broker import mosquitto

__all__ = ["bus_env", "mosquitto"]


@pytest.fixture
def bus_env(request: pytest.FixtureRequest) -> str:
    """A bus environment of this test alone, so no test sees another's (retained) messages."""
    stem = re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:20]
    return f"t_{stem}_{new_id()[:8]}"
