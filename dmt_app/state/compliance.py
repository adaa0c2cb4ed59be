"""Compliance pages: the overview, and the flags table (filters, sort, pages) with resolving by note."""

from __future__ import annotations

from typing import Any, ClassVar, TypedDict

import reflex as rx

from core.errors import ServiceError
from dmt_app.state.base import CompanyState, ProjectPageEvents, rule_totals
from etl.rules import RULES, rule_title
from services import dashboards as dash
from services.auth import CurrentUser

ALL = "all"


class Option(TypedDict):
    value: str
    label: str


#: The flag filters a link may set (`/compliance/flags?severity=critical&rule=low_coverage`).
FILTER_PARAMS = {"rule": "f_rule", "severity": "f_severity", "status": "f_status", "sprint": "f_sprint"}


class ComplianceState(ProjectPageEvents, CompanyState):
    """Compliance overview: the DMT rate, open flags by severity and by rule (each linking to the flags)."""

    SHARED_DATA: ClassVar[bool] = True  # no names on it

    overview: dash.ComplianceOverview = dash.ComplianceOverview(project_id=0)
    rules_chart: list[dict[str, Any]] = []

    def _compute(self, user: CurrentUser, project_id: int, inputs: dict[str, Any]) -> Any:
        return dash.compliance_overview(user, project_id)

    def _apply(self, data: Any) -> None:
        self.overview = data
        self.rules_chart = rule_totals(data.by_rule)


class FlagsState(ProjectPageEvents, CompanyState):
    """The flags table: filters (also from the URL), sort, pages, and resolving with a note."""

    SHARED_DATA: ClassVar[bool] = True  # assignees named per `view_of`; whether the user may resolve follows their role

    flags: dash.FlagPage = dash.FlagPage()
    flag_rows: list[dash.FlagRow] = []
    can_resolve: bool = False
    sprint_options: list[Option] = []
    assignee_options: list[Option] = []
    rule_options: list[Option] = [Option(value=r.id, label=rule_title(r.id)) for r in RULES]
    # Filters and paging ("all" = no filter).
    f_rule: str = ALL
    f_severity: str = ALL
    f_status: str = "open"
    f_sprint: str = ALL
    f_assignee: str = ALL
    sort: str = "severity"
    descending: bool = False
    page_no: int = 1
    # Resolve dialog.
    resolve_open: bool = False
    resolve_flag_id: int = 0
    resolve_label: str = ""
    resolve_note: str = ""
    resolve_error: str = ""
    notice: str = ""

    def _page_opened(self) -> None:
        """A link may name filters; without any, the page keeps the ones chosen last."""
        params = self.router.url.query_parameters
        if not any(name in params for name in FILTER_PARAMS):
            return
        for name, var in FILTER_PARAMS.items():
            setattr(self, var, params.get(name) or (ALL if name != "status" else "open"))
        self.f_assignee = ALL
        self.page_no = 1
        self.notice = ""

    def _project_picked(self) -> None:
        self.f_sprint = ALL
        self.f_assignee = ALL
        self.page_no = 1

    def _inputs(self) -> dict[str, Any]:
        return {
            "rule": self.f_rule,
            "severity": self.f_severity,
            "status": self.f_status,
            "sprint": self.f_sprint,
            "assignee": self.f_assignee,
            "sort": self.sort,
            "descending": self.descending,
            "page": self.page_no,
        }

    def _compute(self, user: CurrentUser, project_id: int, inputs: dict[str, Any]) -> Any:
        def opt(name: str) -> str | None:
            value = inputs[name]
            return None if value in (ALL, "", None) else value

        def number(name: str) -> int | None:
            value = opt(name)
            return int(value) if value and value.isdigit() else None

        filters = dash.FlagFilters(
            project_id=project_id,
            rule_id=opt("rule"),
            severity=opt("severity"),
            status=opt("status"),
            sprint_id=number("sprint"),
            assignee_identity_id=number("assignee"),
            sort=inputs["sort"],
            descending=inputs["descending"],
            page=inputs["page"],
            page_size=25,
        )
        sprints = dash.sprint_options(user, project_id)
        devs = dash.developer_options(user, project_id)
        return dash.list_flags(user, filters), sprints, devs, dash.can_resolve(user, project_id)

    def _apply(self, data: Any) -> None:
        self.flags, sprints, devs, self.can_resolve = data
        self.flag_rows = self.flags.items
        self.sprint_options = [Option(value=c.value, label=c.label) for c in sprints]
        self.assignee_options = [Option(value=c.value, label=c.label) for c in devs]
        if self.page_no > self.flags.pages:
            self.page_no = self.flags.pages

    @rx.event
    async def set_filter(self, name: str, value: str):
        if name in ("f_rule", "f_severity", "f_status", "f_sprint", "f_assignee"):
            setattr(self, name, value)
        self.page_no = 1
        await self._refresh()

    @rx.event
    async def sort_by(self, column: str):
        if self.sort == column:
            self.descending = not self.descending
        else:
            self.sort, self.descending = column, column in ("opened_at", "resolved_at")
        await self._refresh()

    @rx.event
    async def go_page(self, delta: int):
        self.page_no = max(1, min(self.flags.pages, self.page_no + delta))
        await self._refresh()

    @rx.event
    def ask_resolve(self, flag_id: int, label: str):
        self.resolve_flag_id = flag_id
        self.resolve_label = label
        self.resolve_note = ""
        self.resolve_error = ""
        self.resolve_open = True

    @rx.event
    def set_resolve_note(self, value: str):
        self.resolve_note = value

    @rx.event
    def set_resolve_open(self, value: bool):
        self.resolve_open = value

    @rx.event
    async def confirm_resolve(self):
        user = await self.require_user()
        try:
            row = await self.call(dash.resolve_flag, user, self.resolve_flag_id, self.resolve_note)
        except ServiceError as exc:
            self.resolve_error = exc.message
            return
        self.resolve_open = False
        self.notice = f"Flag {row.rule_id} resolved; the note is recorded in the audit log."
        await self._refresh()
