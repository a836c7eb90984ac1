"""Errors the runtime reports to operators."""

from __future__ import annotations


class Refused(Exception):
    """A command the runtime will not carry out; the message says why (shown to the operator, audited)."""

    def __init__(self, verb: str, reason: str) -> None:
        super().__init__(reason)
        self.verb = verb
        self.reason = reason
