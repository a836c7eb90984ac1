"""``--config`` files are applied to the process environment (the CLI exits after one run); tests that apply
one in-process must not leak its values (relaxed limits!) into every later test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _restore_environment() -> Iterator[None]:
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
