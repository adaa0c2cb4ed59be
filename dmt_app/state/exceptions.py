"""DMT exceptions in the company portal: the request dialog (from a flag or a drill-down item) and the
exceptions page (requests waiting for a decision, every exception of the project, approve/reject/revoke).

Roles are checked by `services.exceptions` on the server; the states only decide what to offer.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, TypedDict

import reflex as rx

from core.errors import ServiceError
from dmt_app.state.base import CompanyState, ProjectPageEvents
from etl.rules import EXCUSABLE_RULES, rule_title
from services import exceptions as exc_service
from services.auth import CurrentUser

#: Default length of a requested exception.
DEFAULT_DAYS = 30
STATUS_FILTERS = ["all", *exc_service.STATUSES]


class RuleChoice(TypedDict):
    id: str
    title: str


class ExceptionView(TypedDict):
    id: int
    item: str
    item_title: str
    status: str
    rules: str
    reason: str
    valid_until: str
    requested_by: str
    requested_at: str
    decided: str
    note: str
    can_decide: bool
    can_revoke: bool


RULE_CHOICES = [RuleChoice(id=r, title=rule_title(r)) for r in EXCUSABLE_RULES]


def _view(row: exc_service.ExceptionRow) -> ExceptionView:
    if row.status == "revoked":
        decided, note = f"revoked by {row.revoked_by} on {row.revoked_at[:10]}", row.revoke_note
    elif row.status == "rejected":
        decided, note = f"rejected by {row.rejected_by} on {row.decided_at[:10]}", row.decision_note
    elif row.approved_by:
        decided, note = (
            f"approved by {row.approved_by}" + (f" on {row.decided_at[:10]}" if row.decided_at else ""),
            (row.decision_note),
        )
    else:
        decided, note = "", ""
    return ExceptionView(
        id=row.id,
        item=row.item_key,
        item_title=row.item_title,
        status=row.status,
        rules=", ".join(rule_title(r) for r in row.rules),
        reason=row.reason,
        valid_until=row.valid_until,
        requested_by=row.requested_by,
        requested_at=row.requested_at[:10],
        decided=decided,
        note=note,
        can_decide=row.can_decide,
        can_revoke=row.can_revoke,
    )


def _in_a_while() -> str:
    return (date.today() + timedelta(days=DEFAULT_DAYS)).isoformat()


class ExceptionRequestState(CompanyState):
    """The "Request an exception" dialog, opened from a flag or an item of a drill-down."""

    request_open: bool = False
    request_item_id: int = 0
    request_item_key: str = ""
    request_rules: list[str] = []
    request_reason: str = ""
    request_until: str = ""
    request_error: str = ""
    request_busy: bool = False
    #: The item's exceptions so far (newest first), shown in the dialog.
    request_history: list[ExceptionView] = []
    rule_choices: list[RuleChoice] = RULE_CHOICES

    @rx.var
    def may_request(self) -> bool:
        """Developers and tech leads of the project may ask (the server checks again)."""
        return self.project_role in exc_service.REQUESTER_ROLES

    @rx.event
    async def open_request(self, item_id: int, item_key: str, rule_id: str = ""):
        user = await self.require_user()
        self.request_item_id, self.request_item_key = int(item_id), item_key
        self.request_rules = [rule_id] if rule_id in EXCUSABLE_RULES else list(EXCUSABLE_RULES)
        self.request_reason, self.request_until, self.request_error = "", _in_a_while(), ""
        self.request_history = []
        self.request_open = True
        try:
            history = await self.call(exc_service.item_exceptions, user, [int(item_id)])
        except ServiceError as exc:
            self.request_error = exc.message
            return
        self.request_history = [_view(r) for r in history.get(int(item_id), [])][:5]

    @rx.event
    def set_request_open(self, value: bool):
        self.request_open = value

    @rx.event
    def toggle_rule(self, rule_id: str, checked: bool):
        chosen = [r for r in self.request_rules if r != rule_id]
        if checked:
            chosen.append(rule_id)
        self.request_rules = [r for r in EXCUSABLE_RULES if r in chosen]

    @rx.event
    def set_request_reason(self, value: str):
        self.request_reason = value

    @rx.event
    def set_request_until(self, value: str):
        self.request_until = value

    @rx.event
    async def submit_request(self):
        user = await self.require_user()
        try:
            until = date.fromisoformat(self.request_until)
        except ValueError:
            self.request_error = "choose the last day the exception covers"
            return
        self.request_busy = True
        yield
        try:
            row = await self.call(
                exc_service.request_exception,
                user,
                self.request_item_id,
                rules=self.request_rules,
                reason=self.request_reason,
                expires_at=exc_service.expiry_from_date(until),
            )
        except ServiceError as exc:
            self.request_error = exc.message
            return
        finally:
            self.request_busy = False
        self.request_open = False
        yield rx.toast.success(
            f"Exception requested for {row.item_key}: tech leads and project managers were notified."
        )


class ExceptionsState(ProjectPageEvents, CompanyState):
    """/compliance/exceptions: requests waiting for the caller's decision, and every exception of the project."""

    pending: list[ExceptionView] = []
    rows: list[ExceptionView] = []
    total: int = 0
    f_status: str = "all"
    can_approve: bool = False
    notice: str = ""
    # The decision dialog (approve, reject or revoke, with a note).
    decide_open: bool = False
    decide_action: str = ""
    decide_id: int = 0
    decide_label: str = ""
    decide_note: str = ""
    decide_error: str = ""
    status_filters: list[str] = STATUS_FILTERS

    def _inputs(self) -> dict[str, Any]:
        return {"status": self.f_status}

    def _compute(self, user: CurrentUser, project_id: int, inputs: dict[str, Any]) -> Any:
        pending = exc_service.list_exceptions(
            user, exc_service.ExceptionFilters(project_id=project_id, decidable_only=True, page_size=100)
        )
        listed = exc_service.list_exceptions(
            user, exc_service.ExceptionFilters(project_id=project_id, status=inputs["status"], page_size=100)
        )
        return pending, listed, exc_service.can_approve(user, project_id)

    def _apply(self, data: Any) -> None:
        pending, listed, self.can_approve = data
        self.pending = [_view(r) for r in pending.items]
        self.rows = [_view(r) for r in listed.items]
        self.total = listed.total

    @rx.event
    async def set_status_filter(self, value: str):
        self.f_status = value if value in STATUS_FILTERS else "all"
        await self._refresh()

    @rx.event
    def ask(self, action: str, exception_id: int, label: str):
        self.decide_action, self.decide_id, self.decide_label = action, int(exception_id), label
        self.decide_note, self.decide_error, self.notice = "", "", ""
        self.decide_open = True

    @rx.event
    def set_decide_open(self, value: bool):
        self.decide_open = value

    @rx.event
    def set_decide_note(self, value: str):
        self.decide_note = value

    @rx.event
    async def confirm(self):
        user = await self.require_user()
        step = {
            "approve": exc_service.approve_request,
            "reject": exc_service.reject_request,
            "revoke": exc_service.revoke_exception,
        }.get(self.decide_action)
        if step is None:
            return
        try:
            row = await self.call(step, user, self.decide_id, self.decide_note)
        except ServiceError as exc:
            self.decide_error = exc.message
            return
        self.decide_open = False
        self.notice = f"Exception for {row.item_key} {row.status}: the note is recorded and people were notified."
        await self._refresh()
