"""The runtime state machine: which states exist and which moves between them are allowed."""

from __future__ import annotations

from enum import StrEnum


class RuntimeState(StrEnum):
    RUNNING = "RUNNING"  # ticks run, orders flow
    PAUSED = "PAUSED"  # operator pause or daily-loss stop: no new ticks
    REDUCING = "REDUCING"  # drawdown breaker: only exposure-reducing orders
    HALTED = "HALTED"  # kill switch: no new orders, cancels allowed; resume needs a sign-off
    DEGRADED = "DEGRADED"  # health failed after retries: trading skipped for the day

    @property
    def trades(self) -> bool:
        """True where a tick may run (REDUCING runs ticks that can only reduce exposure)."""
        return self in (RuntimeState.RUNNING, RuntimeState.REDUCING)

    @property
    def glyph(self) -> str:
        """A shape per state so that no screen tells state by colour alone."""
        return _GLYPHS[self]


_GLYPHS = {
    RuntimeState.RUNNING: "●",
    RuntimeState.PAUSED: "‖",
    RuntimeState.REDUCING: "▼",
    RuntimeState.HALTED: "■",
    RuntimeState.DEGRADED: "▲",
}

# Allowed moves. HALTED leaves only through a sign-off (see runtime.signoff); nothing else gets out of it.
_ALLOWED: dict[RuntimeState, frozenset[RuntimeState]] = {
    RuntimeState.RUNNING: frozenset(
        {RuntimeState.PAUSED, RuntimeState.REDUCING, RuntimeState.HALTED, RuntimeState.DEGRADED}
    ),
    RuntimeState.PAUSED: frozenset(
        {RuntimeState.RUNNING, RuntimeState.REDUCING, RuntimeState.HALTED, RuntimeState.DEGRADED}
    ),
    RuntimeState.REDUCING: frozenset(
        {RuntimeState.RUNNING, RuntimeState.PAUSED, RuntimeState.HALTED, RuntimeState.DEGRADED}
    ),
    RuntimeState.DEGRADED: frozenset({RuntimeState.RUNNING, RuntimeState.PAUSED, RuntimeState.HALTED}),
    RuntimeState.HALTED: frozenset({RuntimeState.RUNNING}),
}


def allowed(from_state: RuntimeState, to_state: RuntimeState) -> bool:
    return to_state in _ALLOWED[from_state]
