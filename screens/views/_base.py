"""What every top-level view shares: the store, the clock, a sync from the store, and a filterable table.

Views only render. They react to typed messages with ``@on`` while visible and re-render from the store
when shown again. A control action a view offers (acknowledge) is a :class:`ControlRequested` message to
the app: no widget ever talks to the bus.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from rich.style import Style
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from runtime.clock import Clock
from runtime.payloads import ControlRequest
from screens.store import Store
from screens.widgets.vtable import Cell, Column, VirtualTable

T = TypeVar("T")


class ControlRequested(Message):
    """A view asks the app to send a control request (the app checks it may, sends it, logs it)."""

    def __init__(self, verb: str, request: ControlRequest) -> None:
        super().__init__()
        self.verb = verb
        self.request = request


class Newest(Sequence[T], Generic[T]):
    """A live, newest-first view of a list that only grows at its end (no copy)."""

    def __init__(self, items: Sequence[T]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[T]:
        return reversed(self.items)  # the list's own reverse iterator: a filter scans it at C speed

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self.items)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(index)
        return self.items[n - 1 - index]


class View(Vertical):
    """A top-level view. Subclasses set ``VIEW_ID``, ``KEY`` and ``LABEL`` and implement :meth:`sync`."""

    VIEW_ID: ClassVar[str] = ""
    KEY: ClassVar[str] = ""
    LABEL: ClassVar[str] = ""
    HELP: ClassVar[str] = ""

    REFRESH = 0.2  # seconds: in a burst (an alert storm) a part repaints at most this often

    def __init__(self, store: Store, clock: Clock) -> None:
        super().__init__(id=f"view-{self.VIEW_ID}", classes="view")
        self.store = store
        self.clock = clock
        self._soon: set[str] = set()

    @property
    def pending(self) -> bool:
        """A deferred repaint is due (tests wait for it before they look)."""
        return bool(self._soon)

    def soon(self, part: Callable[[], None]) -> None:
        """Run ``part`` within :attr:`REFRESH` seconds, once however many messages ask meanwhile: repainting
        for every message of a storm would leave no time to read the bus."""
        name = part.__name__
        if name not in self._soon:
            self._soon.add(name)

            def run() -> None:
                self._soon.discard(name)
                part()

            self.set_timer(self.REFRESH, run)

    def on_mount(self) -> None:
        self.sync()

    def sync(self) -> None:
        """Render everything from the store."""

    def focus_default(self) -> None:
        """Give focus to the view's main widget."""
        found = self.query(VirtualTable)
        if found:
            found.first().focus()

    def theme_style(self, variable: str, *, bold: bool = False) -> Style:
        """A Rich style in the colour of a theme variable (``error``, ``warning``, ``success``...)."""
        value = self.app.theme_variables.get(variable)
        return Style(color=value, bold=bold) if value else Style(bold=bold)

    def controllable(self) -> bool | None:
        """For ``check_action`` of a control action: True, or None (shown dimmed) when controls are off."""
        return True if self.store.controllable and self.store.busy is None else None


class TableView(View):
    """A view around one :class:`VirtualTable`, with ``/`` to filter its rows."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id="view.filter", tooltip="Filter the rows (esc clears)"),
    ]
    COLUMNS: ClassVar[Sequence[Column]] = ()
    EMPTY: ClassVar[str] = "nothing yet"

    def __init__(self, store: Store, clock: Clock) -> None:
        super().__init__(store, clock)
        self.needle = ""
        self.shown: Sequence[Any] = ()
        self._filtered: tuple[str, list[Any], int] = ("", [], 0)
        self._narrow = False

    def compose_header(self) -> ComposeResult:
        """Widgets above the table (a summary line, a chain status...)."""
        yield from ()

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        filt = Input(placeholder="filter: words to match, esc clears", id="filter", classes="filter")
        filt.display = False
        yield filt
        yield VirtualTable(self.COLUMNS, self.render_row, empty=self.EMPTY, id=f"{self.VIEW_ID}-table")
        yield Static(id=f"{self.VIEW_ID}-note", classes="note", markup=False)

    def on_mount(self) -> None:
        self.query_one("#filter", Input).cursor_blink = bool(getattr(self.app, "blink", True))

    @property
    def table(self) -> VirtualTable:
        return self.query_one(VirtualTable)

    # subclasses -------------------------------------------------------------------------------------
    def rows(self) -> Sequence[Any]:
        """Every row object, in display order."""
        return ()

    def haystack(self, row: Any) -> str:
        """Lower-case text a filter matches against."""
        return str(row).lower()

    def render_row(self, row: Any) -> Sequence[Cell]:
        return ()

    def note(self) -> str:
        """A line under the table (what is missing and why); empty hides it."""
        return ""

    # behaviour --------------------------------------------------------------------------------------
    def visible_rows(self, narrow: bool = False) -> Sequence[Any]:
        """The rows the needle keeps. ``narrow``: the needle only grew since the last call and the data did
        not change, so filtering what the shorter needle kept is enough (typing over 100,000 rows)."""
        words = self.needle.lower().split()
        if not words:
            self._filtered = ("", [], 0)
            return self.rows()
        rows = self.rows()
        before, found, seen = self._filtered
        same_data = len(rows) == seen  # big tables only grow: the same length is the same data
        pool = found if narrow and same_data and before and self.needle.startswith(before) else rows
        haystack = self.haystack
        first, *more = words  # a pass per word: an all() generator per row costs four times the matching
        kept = [row for row in pool if first in haystack(row)]
        for word in more:
            kept = [row for row in kept if word in haystack(row)]
        self._filtered = (self.needle, kept, len(rows))
        return kept

    def sync(self) -> None:
        table = self.table
        self.shown = self.visible_rows(narrow=self._narrow)
        self._narrow = False
        table.set_rows(self.shown)
        if self.needle:
            table.set_empty(f"no row matches {self.needle!r}")
        else:
            table.set_empty(self.EMPTY)
        note = self.query_one(f"#{self.VIEW_ID}-note", Static)
        text = self.note()
        note.update(text)
        note.display = bool(text)

    def sync_soon(self) -> None:
        self.soon(self.sync)

    def action_filter(self) -> None:
        filt = self.query_one("#filter", Input)
        filt.display = True
        filt.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        needle = event.value.strip()
        self._narrow = needle.startswith(self.needle)
        self.needle = needle
        self.sync()  # at once, every key: a scan of 100,000 rows costs a few tens of milliseconds

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        self.table.focus()

    def close_filter(self) -> bool:
        """Esc: clear and hide the filter; False when there was none (the app then goes back)."""
        filt = self.query_one("#filter", Input)
        if not filt.display:
            return False
        filt.value = ""
        filt.display = False
        self.needle = ""
        self.sync()
        self.table.focus()
        return True
