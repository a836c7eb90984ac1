"""What a channel sends (:class:`Notification`) and the folding of repeated alerts (:class:`Folder`).

Folding: the first alert of an ``action + message`` goes out at once (a critical alert is never held
back). Repeats within the window are counted, not sent; when the window ends with repeats, one notification
goes out carrying their number and opens the next window. A condition that repeats every tick thus costs one
notification per window, and one that stops is reported with its final count.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from runtime.payloads import Alert, Severity

Kind = Literal["new", "repeat", "escalation"]


def fingerprint(action: str, message: str) -> str:
    """What makes two alerts "the same": their action and message."""
    return hashlib.sha256(f"{action}\x00{message}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Notification:
    """One message to the channels about ``alert``.

    ``severity`` is the severity sent (an escalation raises it above ``alert.severity``); ``count`` the
    occurrences it stands for (repeats folded into it); ``escalation`` the escalation step (0: none).
    """

    alert: Alert
    severity: Severity
    kind: Kind = "new"
    count: int = 1
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    escalation: int = 0
    env: str = ""
    run_id: str = ""

    @classmethod
    def of(cls, alert: Alert, *, env: str = "", run_id: str = "") -> Notification:
        return cls(alert, alert.severity, first_seen=alert.ts, last_seen=alert.ts, env=env, run_id=run_id)

    @property
    def action(self) -> str:
        return self.alert.action

    @property
    def headline(self) -> str:
        """One line: severity, action, message and what folding or escalation added."""
        text = f"[{self.severity.upper()}] {self.alert.action}: {self.alert.message}"
        return text + self.suffix

    @property
    def suffix(self) -> str:
        if self.kind == "repeat":
            since = f" since {self.first_seen:%H:%M:%S} UTC" if self.first_seen else ""
            return f" (repeated {self.count} times{since})"
        if self.kind == "escalation":
            return f" (ESCALATED x{self.escalation}: not acknowledged)"
        return ""


@dataclass
class _Group:
    latest: Notification
    window_end: datetime
    first_seen: datetime
    suppressed: int = 0


class Folder:
    """Folds repeats of the same action+message within ``window``. Pure: the caller passes the time."""

    def __init__(self, window: timedelta) -> None:
        self.window = window
        self._groups: dict[str, _Group] = {}

    def offer(self, note: Notification, now: datetime) -> Notification | None:
        """The notification to send now for ``note``, or None: it is a repeat, folded into a later one."""
        key = fingerprint(note.alert.action, note.alert.message)
        group = self._groups.get(key)
        if group is None or now >= group.window_end or self.window <= timedelta(0):
            if group is not None and group.suppressed:
                # a window that ended unflushed: this notification carries its repeats along
                note = replace(note, kind="repeat", count=group.suppressed + 1, first_seen=group.first_seen)
            self._groups[key] = _Group(note, now + self.window, now)
            return note
        group.suppressed += 1
        group.latest = note
        return None

    def due(self, now: datetime) -> list[Notification]:
        """Notifications owed for windows that ended with repeats (each opens a new window)."""
        out: list[Notification] = []
        for key, group in list(self._groups.items()):
            if now < group.window_end:
                continue
            if group.suppressed == 0:
                del self._groups[key]
                continue
            note = replace(
                group.latest,
                kind="repeat",
                count=group.suppressed,
                first_seen=group.first_seen,
                last_seen=group.latest.alert.ts,
            )
            out.append(note)
            self._groups[key] = _Group(note, now + self.window, now)
        return out

    def __len__(self) -> int:
        return len(self._groups)
