"""The main screen: status line, state banner, view tabs, the views (one shown at a time), the footer.

It delivers each message the app received to what is on screen (status line, banner, tabs, the current
view); a hidden view renders from the store when it is shown again.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import ContentSwitcher

from runtime.clock import Clock
from screens.messages import BusMessage
from screens.store import Store
from screens.views._base import TableView, View
from screens.views.agents import AgentsView
from screens.views.alerts import AlertsView
from screens.views.audit import AuditView
from screens.views.backtests import BacktestsView
from screens.views.commands import CommandLogView
from screens.views.incidents import IncidentsView
from screens.views.overview import OverviewView
from screens.views.portfolio import PortfolioView
from screens.widgets.footer import Footer
from screens.widgets.status import Banner, NavBar, StatusBar

VIEWS: tuple[type[View], ...] = (
    OverviewView,
    AgentsView,
    PortfolioView,
    AlertsView,
    AuditView,
    BacktestsView,
    IncidentsView,
    CommandLogView,
)
VIEW_IDS = tuple(v.VIEW_ID for v in VIEWS)


class MainScreen(Screen[None]):
    AUTO_FOCUS = ""  # the shown view decides (its table), never a hidden filter field
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]

    def __init__(self, store: Store, clock: Clock, *, stale_after: float = 30.0) -> None:
        super().__init__(id="main")
        self.store = store
        self.clock = clock
        self.stale_after = stale_after
        self.current = VIEWS[0].VIEW_ID
        self.history: list[str] = []
        self.views: dict[str, View] = {}
        self.always: tuple[StatusBar, Banner, NavBar] | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar(self.store, self.clock, stale_after=self.stale_after)
        yield Banner(self.store, self.clock)
        yield NavBar(self.store, [(v.KEY, v.VIEW_ID, v.LABEL) for v in VIEWS if v.KEY.isdigit()])
        with ContentSwitcher(initial=f"view-{self.current}", id="views"):
            for view in VIEWS:
                yield view(self.store, self.clock)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        if self._targets():
            self.view.focus_default()

    def _targets(self) -> bool:
        """Find the widgets messages go to, once they exist (composed; the screen's own Mount may come later)."""
        if self.always is None:
            try:
                views = {view.VIEW_ID: view for view in self.query(View)}
                always = (self.query_one(StatusBar), self.query_one(Banner), self.query_one(NavBar))
            except NoMatches:
                return False
            if len(views) != len(VIEWS):
                return False
            self.views, self.always = views, always
        return True

    @property
    def view(self) -> View:
        self._targets()
        return self.views[self.current]

    def deliver(self, message: BusMessage) -> None:
        """Hand ``message`` to what is on screen (a closing widget just declines it)."""
        if not self._targets() or self.always is None:
            return
        for widget in (*self.always, self.views[self.current]):
            widget.post_message(message)

    def show(self, view_id: str, *, remember: bool = True) -> View:
        if view_id == self.current:
            return self.view
        if remember:
            self.history.append(self.current)
            del self.history[:-20]
        self.current = view_id
        self.query_one(ContentSwitcher).current = f"view-{view_id}"
        self.query_one(NavBar).select(view_id)
        view = self.view
        view.sync()
        view.focus_default()
        return view

    def back(self) -> bool:
        """Esc: close the view's filter, else go to the previous view; False when there is nowhere to go."""
        view = self.view
        if isinstance(view, TableView) and view.close_filter():
            return True
        if self.history:
            self.show(self.history.pop(), remember=False)
            return True
        return False

    def tick(self) -> None:
        """Once a second: ages move on even when nothing arrives."""
        if not self._targets() or self.always is None:
            return
        status, banner, _ = self.always
        status.sync()
        banner.sync()
        if self.current == "agents":
            self.view.sync()
