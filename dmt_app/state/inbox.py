"""AI insights (with ratings), the notification centre and exports."""

from __future__ import annotations

from typing import Any

import reflex as rx

from core.errors import ServiceError
from dmt_app.state.base import CompanyState, ProjectPageEvents, _unread
from services import dashboards as dash
from services import exports, notifications
from services.auth import CurrentUser


class InsightsState(ProjectPageEvents, CompanyState):
    items: list[dash.Insight] = []
    rate_open: bool = False
    rate_id: int = 0
    rate_value: int = 1
    rate_note: str = ""
    rate_error: str = ""

    def _compute(self, user: CurrentUser, project_id: int, inputs: dict[str, Any]) -> Any:
        return dash.insights(user, project_id)

    def _apply(self, data: Any) -> None:
        self.items = data

    @rx.event
    def ask_rating(self, insight_id: int, value: int):
        self.rate_id, self.rate_value, self.rate_note, self.rate_error = insight_id, value, "", ""
        self.rate_open = True

    @rx.event
    def set_rate_note(self, value: str):
        self.rate_note = value

    @rx.event
    def set_rate_open(self, value: bool):
        self.rate_open = value

    @rx.event
    async def confirm_rating(self):
        user = await self.require_user()
        try:
            await self.call(dash.rate_insight, user, self.rate_id, self.rate_value, self.rate_note)
        except ServiceError as exc:
            self.rate_error = exc.message
            return
        self.rate_open = False
        await self._refresh()


def _notifications(user: CurrentUser, page: int, unread_only: bool) -> notifications.NotificationPage:
    return notifications.list_for_user(user.id, user.tenant_id or 0, page=page, page_size=20, unread_only=unread_only)


def _mark(user: CurrentUser, notification_id: int | None) -> None:
    if notification_id is None:
        notifications.mark_all_read(user.id, user.tenant_id or 0)
    else:
        notifications.mark_read(user.id, user.tenant_id or 0, notification_id)


class NotificationsState(ProjectPageEvents, CompanyState):
    items: list[notifications.NotificationPublic] = []
    total: int = 0
    page_no: int = 1
    pages: int = 1
    unread_only: bool = False

    def _inputs(self) -> dict[str, Any]:
        return {"page": self.page_no, "unread_only": self.unread_only}

    def _compute(self, user: CurrentUser, project_id: int, inputs: dict[str, Any]) -> Any:
        return _notifications(user, inputs["page"], inputs["unread_only"])

    def _apply(self, data: Any) -> None:
        self.items = data.items
        self.total = data.total
        self.pages = max(1, -(-data.total // data.page_size))

    async def _live(self, events: list[dict[str, Any]]) -> None:
        """Only a notification for this user changes this page."""
        user = self._user
        _data, bell = self.relevant(events, user.id if user else None)
        if bell:
            await self._refresh()

    @rx.event
    async def mark_read(self, notification_id: int):
        user = await self.require_user()
        await self.call(_mark, user, notification_id)
        await self._refresh()

    @rx.event
    async def mark_all_read(self):
        user = await self.require_user()
        await self.call(_mark, user, None)
        self.unread = await self.call(_unread, user)
        await self._refresh()

    @rx.event
    async def toggle_unread(self, value: bool):
        self.unread_only = value
        self.page_no = 1
        await self._refresh()

    @rx.event
    async def go_page(self, delta: int):
        self.page_no = max(1, min(self.pages, self.page_no + delta))
        await self._refresh()


class ExportsState(ProjectPageEvents, CompanyState):
    jobs: list[exports.ExportJobPublic] = []
    report: str = "sprint"
    file_format: str = "xlsx"
    sprint_choice: str = "none"
    sprint_options: list[dict[str, str]] = []
    start_error: str = ""

    def _compute(self, user: CurrentUser, project_id: int, inputs: dict[str, Any]) -> Any:
        return exports.list_exports(user), dash.sprint_options(user, project_id)

    def _apply(self, data: Any) -> None:
        self.jobs, sprints = data
        self.sprint_options = [{"value": c.value, "label": c.label} for c in sprints]

    def _project_picked(self) -> None:
        self.sprint_choice = "none"

    async def _live(self, events: list[dict[str, Any]]) -> None:
        """Progress of this user's exports updates the list; other data changes re-read the page."""
        user = self._user
        mine = [
            e for e in events if str(e.get("type", "")).startswith("export.") and user and e.get("user_id") == user.id
        ]
        if mine:
            self.jobs = await self.call(exports.list_exports, user)
        else:
            await CompanyState._live(self, events)

    @rx.event
    def set_report(self, value: str):
        self.report = value

    @rx.event
    def set_file_format(self, value: str):
        self.file_format = value

    @rx.event
    def set_sprint_choice(self, value: str):
        self.sprint_choice = value

    @rx.event
    async def start(self):
        user = await self.require_user()
        self.start_error = ""
        sprint = int(self.sprint_choice) if self.report == "sprint" and self.sprint_choice.isdigit() else None
        try:
            await self.call(
                exports.start_export,
                user,
                exports.ExportRequest(
                    project_id=self.pid, report=self.report, file_format=self.file_format, sprint_id=sprint
                ),
            )
        except ServiceError as exc:
            self.start_error = exc.message
            return
        self.jobs = await self.call(exports.list_exports, user)

    @rx.event
    async def refresh_jobs(self):
        user = await self.require_user()
        self.jobs = await self.call(exports.list_exports, user)
