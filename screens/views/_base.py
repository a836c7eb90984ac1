"""What every top-level view shares: the store, the clock, a sync from the store, and a filterable table.

Views only render. They react to typed messages with ``@on`` while visible and re-render from the store
when shown again. A control action a view offers (acknowledge) is a :class:`ControlRequested` message to
the app: no widget ever talks to the bus.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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

    def __init__(self, store: Store, clock: Clock) -> None:
        super().__init__(id=f"view-{self.VIEW_ID}", classes="view")
        self.store = store
        self.clock = clock

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
    def visible_rows(self) -> Sequence[Any]:
        rows = self.rows()
        words = self.needle.lower().split()
        if not words:
            return rows
        match: Callable[[Any], bool] = lambda row: all(w in self.haystack(row) for w in words)  # noqa: E731
        return [row for row in rows if match(row)]

    def sync(self) -> None:
        table = self.table
        self.shown = self.visible_rows()
        table.set_rows(self.shown)
        if self.needle:
            table.set_empty(f"no row matches {self.needle!r}")
        else:
            table.set_empty(self.EMPTY)
        note = self.query_one(f"#{self.VIEW_ID}-note", Static)
        text = self.note()
        note.update(text)
        note.display = bool(text)

    def action_filter(self) -> None:
        filt = self.query_one("#filter", Input)
        filt.display = True
        filt.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.needle = event.value.strip()
        self.sync()

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
