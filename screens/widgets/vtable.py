"""A virtual table: renders only the rows on screen, so 100,000 alerts cost what 40 do.

Textual's DataTable builds a row object per row and measures every cell (adding 100,000 rows takes about
14 s and each cursor move about 75 ms here); this widget keeps a reference to the caller's sequence and
formats a row only when it is drawn (Line API). Rows are any objects; ``render_row`` turns one into cells.
The cursor row carries a ``▶`` marker as well as the highlight, so selection is not told by colour alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

Cell = str | Text
MARKER = "▶"


@dataclass(frozen=True)
class Column:
    """``width`` 0 makes the column share the space left (flex). When the table is too narrow, columns
    shrink towards ``min`` (fixed: their width, unless given; flex: 12), the widest first."""

    label: str
    width: int = 0
    align: Literal["left", "right"] = "left"
    min: int = 0

    @property
    def floor(self) -> int:
        return self.min or (self.width if self.width else 12)


class VirtualTable(ScrollView, can_focus=True):
    """A focusable table over a sequence, with a row cursor.

    Args:
        columns: The columns, left to right.
        render_row: Cells of one row object (one per column).
        rows: The row objects (any sequence; kept by reference).
        empty: What to show when there are no rows.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"vtable--header", "vtable--cursor", "vtable--empty"}

    DEFAULT_CSS = """
    VirtualTable {
        height: 1fr;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
        background: $surface;
        & > .vtable--header { text-style: bold; background: $panel; }
        & > .vtable--cursor { background: $panel-lighten-2; text-style: bold; }
        &:focus > .vtable--cursor { background: $accent 60%; text-style: bold; }
        & > .vtable--empty { color: $text-muted; text-style: italic; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", "Up", show=False, id="table.up", tooltip="Cursor up one row"),
        Binding("down,j", "move(1)", "Down", show=False, id="table.down", tooltip="Cursor down one row"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="table.page_up", tooltip="Up one screen"),
        Binding("pagedown,space", "page(1)", "Page down", show=False, id="table.page_down", tooltip="Down one screen"),
        Binding("home,g", "jump(0)", "First", show=False, id="table.first", tooltip="The first (newest) row"),
        Binding("end,G", "jump(-1)", "Last", show=False, id="table.last", tooltip="The last (oldest) row"),
        Binding("enter", "select", "Open", show=False, id="table.open", tooltip="Open the row under the cursor"),
    ]

    class Highlighted(Message):
        """The cursor moved to ``index``."""

        def __init__(self, table: VirtualTable, index: int) -> None:
            super().__init__()
            self.table = table
            self.index = index

        @property
        def control(self) -> VirtualTable:
            return self.table

    class Selected(Highlighted):
        """Enter on the row at ``index``."""

    def __init__(
        self,
        columns: Sequence[Column],
        render_row: Callable[[Any], Sequence[Cell]],
        *,
        rows: Sequence[Any] = (),
        empty: str = "nothing to show",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.columns = list(columns)
        self.render_row = render_row
        self.rows: Sequence[Any] = rows
        self.empty = empty
        self.cursor = 0
        self._widths: tuple[int, list[int]] = (-1, [])

    # -- data ---------------------------------------------------------------------------------------
    def set_rows(self, rows: Sequence[Any], *, cursor: int | None = None) -> None:
        """Show ``rows``; the cursor stays where it was (clamped) unless ``cursor`` is given."""
        self.rows = rows
        self.cursor = self._clamp(self.cursor if cursor is None else cursor)
        self._update_virtual_size()
        self._scroll_to_cursor()
        self.refresh()

    def set_empty(self, text: str) -> None:
        if text != self.empty:
            self.empty = text
            self.refresh()

    @property
    def current(self) -> Any | None:
        """The row object under the cursor, or None."""
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def _clamp(self, index: int) -> int:
        return max(0, min(index, len(self.rows) - 1)) if self.rows else 0

    def _update_virtual_size(self) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, len(self.rows) + 1)

    def on_resize(self, event: events.Resize) -> None:
        self._update_virtual_size()
        self._scroll_to_cursor()

    # -- cursor -------------------------------------------------------------------------------------
    @property
    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def move_to(self, index: int) -> None:
        new = self._clamp(index)
        changed = new != self.cursor
        self.cursor = new
        self._scroll_to_cursor()
        self.refresh()
        if changed and self.rows:
            self.post_message(self.Highlighted(self, new))

    def action_move(self, delta: int) -> None:
        self.move_to(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self.move_to(self.cursor + direction * self._page)

    def action_jump(self, index: int) -> None:
        self.move_to(index if index >= 0 else len(self.rows) - 1)

    def action_select(self) -> None:
        if self.rows:
            self.post_message(self.Selected(self, self.cursor))

    def _scroll_to_cursor(self) -> None:
        top = round(self.scroll_offset.y)
        visible = self._page
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False, immediate=True)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None and offset.y > 0:
            self.move_to(round(self.scroll_offset.y) + offset.y - 1)

    # -- drawing ------------------------------------------------------------------------------------
    def _column_widths(self, width: int) -> list[int]:
        if self._widths[0] == width:
            return self._widths[1]
        room = width - 2 - (len(self.columns) - 1)  # 2: the marker and its space; 1 between columns
        widths = [c.width for c in self.columns]
        flex = [i for i, c in enumerate(self.columns) if not c.width]
        need = sum(widths) + sum(self.columns[i].floor for i in flex)
        while need > room:  # too narrow: shrink the widest fixed column that can still give
            give = [i for i, c in enumerate(self.columns) if c.width and widths[i] > c.floor]
            if not give:
                break
            widest = max(give, key=lambda i: widths[i] - self.columns[i].floor)
            widths[widest] -= 1
            need -= 1
        spare = max(0, room - sum(widths))
        if flex and spare < sum(self.columns[i].floor for i in flex):
            for i in flex:  # no room even at the floors: keep them, the line is cut at the edge
                widths[i] = self.columns[i].floor
        elif flex:
            share = spare // len(flex)
            for i in flex:
                widths[i] = share
            widths[flex[-1]] += spare - share * len(flex)  # the last flex column takes the remainder
        self._widths = (width, widths)
        return widths

    def _cells(self, cells: Sequence[Cell], widths: list[int]) -> Text:
        line = Text(no_wrap=True, overflow="ellipsis")
        for i, (cell, column, width) in enumerate(zip(cells, self.columns, widths, strict=False)):
            if i:
                line.append(" ")
            text = cell.copy() if isinstance(cell, Text) else Text(str(cell))
            text.no_wrap = True
            text.truncate(width, overflow="ellipsis")
            pad = width - text.cell_len
            if pad > 0:
                text = Text(" " * pad) + text if column.align == "right" else text + Text(" " * pad)
            line.append_text(text)
        return line

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        widths = self._column_widths(width)
        console = self.app.console
        base = self.rich_style
        if y == 0:
            header = self._cells([c.label for c in self.columns], widths)
            style = self.get_component_rich_style("vtable--header")
            return self._strip(Text("  ") + header, width, base + style, console)
        index = round(self.scroll_offset.y) + y - 1
        if not self.rows:
            if y == 1:
                style = self.get_component_rich_style("vtable--empty")
                return self._strip(Text("  " + self.empty), width, base + style, console)
            return Strip.blank(width, base)
        if index >= len(self.rows):
            return Strip.blank(width, base)
        line = self._cells(self.render_row(self.rows[index]), widths)
        if index == self.cursor:
            style = self.get_component_rich_style("vtable--cursor")
            return self._strip(Text(MARKER + " ") + line, width, base, console, post=style)
        return self._strip(Text("  ") + line, width, base, console)

    @staticmethod
    def _strip(text: Text, width: int, style: Style, console: Any, post: Style | None = None) -> Strip:
        text.truncate(width, overflow="ellipsis", pad=True)
        segments = list(Segment.apply_style(text.render(console), style, post))
        return Strip(segments, width)
