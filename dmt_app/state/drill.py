"""The drill-down dialog: the items behind one chart point (a sprint and a metric)."""

from __future__ import annotations

import reflex as rx

from core.errors import ServiceError
from dmt_app.state.base import CompanyState
from services import dashboards as dash


class DrillState(CompanyState):
    drill_open: bool = False
    drill_loading: bool = False
    drill_title: str = ""
    drill_error: str = ""
    drill_total: int = 0
    drill_items: list[dash.ItemRow] = []
    #: The event socket the dialog was opened on. A reload (F5) or a new tab connects a new socket, so the
    #: page shows without the dialog although `drill_open` is still set in the stored state.
    _drill_sid: str = ""

    @rx.var(cache=False)
    def drill_shown(self) -> bool:
        """The dialog is open, on the page view that opened it."""
        return self.drill_open and self._drill_sid == self.router.session.session_id

    def _opening(self) -> None:
        self.drill_open, self.drill_loading, self.drill_error = True, True, ""
        self.drill_items, self.drill_title = [], "Loading…"
        self._drill_sid = self.router.session.session_id

    @rx.event
    async def show(self, sprint_id: int, metric: str, item_type: str = ""):
        """Open the dialog and load the items behind the point."""
        if not sprint_id or not metric:
            return  # a figure with no sprint behind it (no sprints yet)
        self._opening()
        yield
        user = await self.require_user()
        try:
            result = await self.call(dash.drill_down, user, self.pid, int(sprint_id), metric, item_type or None)
            self.drill_title = result.title
            self.drill_items = result.items
            self.drill_total = result.total
        except ServiceError as exc:
            self.drill_error = exc.message
            self.drill_title = "Cannot show these items"
        finally:
            self.drill_loading = False

    @rx.event
    async def show_item(self, item_id: int):
        """Open the dialog on one work item (a chart point that is an item)."""
        self._opening()
        yield
        user = await self.require_user()
        try:
            result = await self.call(dash.item_drill, user, self.pid, int(item_id))
            self.drill_title, self.drill_items, self.drill_total = result.title, result.items, result.total
        except ServiceError as exc:
            self.drill_error = exc.message
            self.drill_title = "Cannot show this item"
        finally:
            self.drill_loading = False

    @rx.event
    def set_drill_open(self, value: bool):
        self.drill_open = value
