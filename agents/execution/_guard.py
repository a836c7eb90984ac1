"""Runbook SOP 5 as state: consecutive send failures, and the halt execution asked for.

A failure is any send attempt that did not get an acknowledgement: a rejection, an unreachable venue or a
timeout (an ``unknown`` order is not "failed", but a venue that stops answering is an execution failure).
An acknowledgement resets the count. At ``limit`` consecutive failures execution pulls the kill switch and
remembers the runtime state sequence number at that moment (``tripped_seq``): it sends nothing more until it
has seen the runtime go HALTED after that point and come back to a trading state (a signed-off resume).
The guard is persisted in the ledger, so a restart neither forgets a pending halt nor the count.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

RECENT = 10


@dataclass(frozen=True, slots=True)
class FailureGuard:
    limit: int
    consecutive: int = 0
    tripped_seq: int | None = None
    recent: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @property
    def tripped(self) -> bool:
        return self.tripped_seq is not None

    def failed(self, event: dict[str, Any]) -> FailureGuard:
        return replace(self, consecutive=self.consecutive + 1, recent=(*self.recent, event)[-RECENT:])

    def succeeded(self) -> FailureGuard:
        return replace(self, consecutive=0)

    @property
    def must_halt(self) -> bool:
        """True when the count reached the limit and no halt was asked for yet."""
        return self.consecutive >= self.limit and not self.tripped

    def trip(self, state_seq: int) -> FailureGuard:
        return replace(self, tripped_seq=state_seq)

    def cleared(self) -> FailureGuard:
        """After a signed-off resume: start again from zero."""
        return replace(self, consecutive=0, tripped_seq=None)

    def to_json(self) -> dict[str, Any]:
        return {"consecutive": self.consecutive, "tripped_seq": self.tripped_seq, "recent": list(self.recent)}

    @classmethod
    def from_json(cls, limit: int, value: Any) -> FailureGuard:
        if not isinstance(value, dict):
            return cls(limit)
        seq = value.get("tripped_seq")
        return cls(
            limit,
            consecutive=int(value.get("consecutive", 0)),
            tripped_seq=int(seq) if seq is not None else None,
            recent=tuple(value.get("recent", ()))[-RECENT:],
        )


def halted_since(transitions: list[tuple[int, str]], seq: int) -> bool:
    """True if the runtime went HALTED after state sequence number ``seq`` (``(seq, to_state)`` pairs)."""
    return any(s > seq and to == "HALTED" for s, to in transitions)
