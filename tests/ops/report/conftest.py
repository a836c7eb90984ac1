"""The report tests reuse the alert tests' real receivers."""

from __future__ import annotations

from tests.ops.alerts.conftest import smtp, webhook

__all__ = ["smtp", "webhook"]
