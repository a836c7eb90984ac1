"""The demo provider: a seeded, regime-switching factor model of a small equity universe."""

from agents.data._demo._provider import DemoProvider
from agents.data._demo._universe import DEFAULT_UNIVERSE, DemoSecurity

__all__ = ["DEFAULT_UNIVERSE", "DemoProvider", "DemoSecurity"]
