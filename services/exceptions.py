"""DMT exceptions as a workflow: request, approve or reject, revoke, expire.

A developer or tech lead requests an exception for a work item: the rules it
covers (a subset of `etl.rules.EXCUSABLE_RULES`), a reason and an expiry. A
tech lead or project manager other than the requester approves or rejects it
with a note; an approved exception can be revoked. While approved and
unexpired it satisfies the rules it covers; `exception_expiring` (a rule)
warns `Project.exception_warning_days` before it lapses, and the worker's
`expire_and_warn` notifies people `EXPIRY_NOTICE_DAYS` before and marks it
expired at its expiry (the next evaluation reopens the flags it covered).
Every step is audited in the control plane and notified; every change to an
approved exception re-evaluates the item at once. Exceptions recorded in the
tool (the item's exception_* fields) are honoured by the evaluation as well.

Every function taking a `CurrentUser` scopes to the user's tenant (from the
session, never from the browser) and to items of the user's projects: any
other id is `NotFound`, the same answer as for an id that does not exist.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.realtime import publish_event
from etl.rules import EXCUSABLE_RULES, RULES_BY_ID
from models.base import utcnow
from models.db import get_tenant_by_slug, public_session, tenant_session
from models.enums import ProjectRole
from models.public import Project
from models.tenant import DmtException, WorkItem
from services import audit, notifications
from services.alerts import evaluate_and_alert
from services.audit import Actor
from services.auth import CurrentUser

REQUESTED, APPROVED, REJECTED, REVOKED, EXPIRED = "requested", "approved", "rejected", "revoked", "expired"
STATUSES = (REQUESTED, APPROVED, REJECTED, REVOKED, EXPIRED)
#: Who may ask for an exception, and who may decide on (or revoke) one.
REQUESTER_ROLES = frozenset({ProjectRole.DEVELOPER.value, ProjectRole.TECH_LEAD.value})
APPROVER_ROLES = frozenset({ProjectRole.TECH_LEAD.value, ProjectRole.PROJECT_MANAGER.value})
#: The `exception_expiring` notification goes out this many days before an approved exception lapses.
EXPIRY_NOTICE_DAYS = 3
#: An exception is temporary: at most this long from the request.
MAX_EXCEPTION_DAYS = 366
MAX_TEXT = 2000
PAGE_LINK = "/compliance/exceptions"


class ExceptionRow(BaseModel):
    """One exception as a company user sees it."""

    id: int
    work_item_id: int
    item_key: str = ""
    item_title: str = ""
    project_id: int
    status: str
    rules: list[str]
    reason: str
    expires_at: str
    #: The last day the exception covers (expiry is the start of the next day, UTC, for a date given).
    valid_until: str
    requested_by: str = ""
    requested_at: str = ""
    approved_by: str = ""
    rejected_by: str = ""
    decided_at: str = ""
    decision_note: str = ""
    revoked_by: str = ""
    revoked_at: str = ""
    revoke_note: str = ""
    #: The caller may approve or reject it (a pending request, an approver role, not their own).
    can_decide: bool = False
    #: The caller may revoke it (an approved exception and an approver role).
    can_revoke: bool = False


class ExceptionPage(BaseModel):
    items: list[ExceptionRow] = Field(default_factory=list)
    total: int = 0
    page: int = 1
    page_size: int = 25
    pages: int = 1


@dataclass(frozen=True)
class ExceptionFilters:
    project_id: int | None = None
    work_item_id: int | None = None
    status: str | None = None
    #: Only requests the caller may decide on (pending, an approver role, not their own).
    decidable_only: bool = False
    page: int = 1
    page_size: int = 25


@dataclass
class ExpiryReport:
    """What one `expire_and_warn` pass did in one tenant."""

    expired: list[int] = field(default_factory=list)
    lapsed_requests: list[int] = field(default_factory=list)
    warned: list[int] = field(default_factory=list)


# =========================================================================== helpers
def expiry_from_date(last_day: date) -> datetime:
    """An exception "until D" covers D entirely: it lapses at the start of the next day (UTC)."""
    return datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=UTC)


def _valid_until(expires_at: datetime) -> str:
    return (expires_at.astimezone(UTC) - timedelta(microseconds=1)).date().isoformat()


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def can_request(user: CurrentUser, project_id: int) -> bool:
    """May the user request exceptions for items of this project?"""
    return user.role_in(project_id) in REQUESTER_ROLES


def can_approve(user: CurrentUser, project_id: int) -> bool:
    """May the user approve, reject or revoke exceptions of this project (never their own request)?"""
    return user.role_in(project_id) in APPROVER_ROLES


def _tenant_slug(user: CurrentUser) -> str:
    if not user.tenant_slug or user.tenant_id is None or user.is_platform_admin:
        raise NotFound("no company data for this account")
    return user.tenant_slug


def _check_project(user: CurrentUser, project_id: int, what: str) -> None:
    """NotFound unless the project is one of the user's, in their tenant."""
    if project_id not in user.project_roles:
        raise NotFound(f"{what} not found")
    with public_session() as ps:
        project = ps.get(Project, project_id)
    if project is None or project.tenant_id != user.tenant_id:
        raise NotFound(f"{what} not found")


def _clean_rules(rules: Iterable[str]) -> list[str]:
    chosen = {str(r).strip() for r in rules if str(r).strip()}
    if not chosen:
        raise ValidationFailed("choose at least one rule the exception covers", field="rules")
    unknown = sorted(chosen - set(EXCUSABLE_RULES))
    if unknown:
        raise ValidationFailed(
            f"an exception cannot cover {', '.join(unknown)}; it covers only: {', '.join(EXCUSABLE_RULES)}",
            field="rules",
        )
    return [r for r in EXCUSABLE_RULES if r in chosen]


def _clean_text(value: str | None, what: str, name: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationFailed(f"{what} is required", field=name)
    if len(text) > MAX_TEXT:
        raise ValidationFailed(f"{what} is longer than {MAX_TEXT} characters", field=name)
    return text


def _check_expiry(expires_at: datetime, now: datetime) -> datetime:
    if expires_at.tzinfo is None:
        raise ValidationFailed("expiry must carry a time zone", field="expires_at")
    if expires_at <= now:
        raise ValidationFailed("expiry must be in the future", field="expires_at")
    if expires_at > now + timedelta(days=MAX_EXCEPTION_DAYS):
        raise ValidationFailed(f"an exception lasts at most {MAX_EXCEPTION_DAYS} days", field="expires_at")
    return expires_at


def _row(
    user: CurrentUser | None, x: DmtException, item: WorkItem | None, *, project_id: int | None = None
) -> ExceptionRow:
    pid = item.project_id if item is not None else (project_id or 0)
    own = user is not None and x.requested_by_user_id == user.id
    names_visible = user is None or own or user.can_see_names(pid)
    approver = user is not None and can_approve(user, pid)
    requester = x.requested_by or ""
    if requester and not names_visible:
        requester = "a project member"
    return ExceptionRow(
        id=x.id or 0,
        work_item_id=x.work_item_id,
        item_key=(item.item_key or item.source_item_id or f"#{item.id}") if item is not None else "",
        item_title=item.title if item is not None else "",
        project_id=pid,
        status=x.status,
        rules=list(x.rules or []),
        reason=x.reason,
        expires_at=_iso(x.expires_at),
        valid_until=_valid_until(x.expires_at),
        requested_by=requester,
        requested_at=_iso(x.created_at),
        approved_by=x.approved_by or "",
        rejected_by=x.rejected_by or "",
        decided_at=_iso(x.decided_at),
        decision_note=x.decision_note or "",
        revoked_by=x.revoked_by or "",
        revoked_at=_iso(x.revoked_at),
        revoke_note=x.revoke_note or "",
        can_decide=x.status == REQUESTED and approver and not own,
        can_revoke=x.status == APPROVED and approver,
    )


def _people(
    tenant_id: int,
    project_id: int,
    *,
    roles: Iterable[str] = APPROVER_ROLES,
    extra: Iterable[int | None] = (),
    exclude: int | None = None,
) -> set[int]:
    with public_session() as ps:
        holders = notifications.users_with_project_roles(ps, tenant_id, [project_id], roles).get(project_id, set())
    people = holders | {u for u in extra if u is not None}
    people.discard(exclude)  # type: ignore[arg-type]
    return people


def _rule_words(rules: Sequence[str]) -> str:
    return ", ".join(r.replace("_", " ") for r in rules if r in RULES_BY_ID)


# =========================================================================== direct record (demo, CLI)
def approve_exception(
    tenant_slug: str,
    work_item_id: int,
    *,
    approved_by: str,
    reason: str,
    expires_at: datetime,
    actor: Actor,
    rules: Sequence[str] = EXCUSABLE_RULES,
    evaluate: bool = True,
) -> DmtException:
    """Record an exception already approved by a named person (outside the workflow: the demo, the CLI).

    Notifies the project's leads (`exception_approved`) and re-evaluates the item.
    """
    approved_by = (approved_by or "").strip()
    if not approved_by:
        raise ValidationFailed("an exception needs the name of the person approving it", field="approved_by")
    reason = _clean_text(reason, "a reason", "reason")
    covered = _clean_rules(rules)
    now = utcnow()
    _check_expiry(expires_at, now)
    with public_session() as ps:
        tenant = get_tenant_by_slug(ps, tenant_slug)
        with tenant_session(tenant_slug) as session:
            item = session.get(WorkItem, work_item_id)
            if item is None or item.is_deleted:
                raise NotFound(f"work item {work_item_id} not found")
            row = DmtException(
                work_item_id=work_item_id, status=APPROVED, rules=covered, reason=reason, expires_at=expires_at,
                approved_by=approved_by, approved_by_user_id=actor.user_id, decided_at=now,
            )  # fmt: skip
            session.add(row)
            session.flush()
            audit.record(
                ps, actor, "dmt_exception.approve", "dmt_exception", row.id,
                new=audit.snapshot(row), tenant_id=tenant.id,
            )  # fmt: skip
            ps.commit()
            session.commit()
            project_id, key = item.project_id, item.item_key or f"#{item.id}"
    notifications.create_for_project_roles(
        tenant.id or 0,
        project_id,
        kind="exception_approved",
        title=f"DMT exception approved for {key}",
        body=f"{approved_by} approved an exception until {_valid_until(expires_at)}: {reason}",
        data={"work_item_id": work_item_id, "exception_id": row.id, "expires_at": expires_at.isoformat()},
        link=PAGE_LINK,
        tenant_slug=tenant_slug,
    )
    if evaluate:
        evaluate_and_alert(tenant_slug, [work_item_id])
    return row


# =========================================================================== workflow
def request_exception(
    user: CurrentUser,
    work_item_id: int,
    *,
    rules: Sequence[str],
    reason: str,
    expires_at: datetime,
    ip_address: str | None = None,
) -> ExceptionRow:
    """A developer or tech lead asks for an exception for an item of their project; approvers are told."""
    slug = _tenant_slug(user)
    covered = _clean_rules(rules)
    reason = _clean_text(reason, "a reason", "reason")
    _check_expiry(expires_at, utcnow())
    with public_session() as ps:
        tenant = get_tenant_by_slug(ps, slug)
        with tenant_session(slug) as session:
            item = session.get(WorkItem, work_item_id)
            if item is None or item.is_deleted:
                raise NotFound(f"work item {work_item_id} not found")
            _check_project(user, item.project_id, f"work item {work_item_id}")
            if not can_request(user, item.project_id):
                raise PermissionDenied("only developers and tech leads of the project can request an exception")
            # One waiting request per item: lock the item so two requests cannot both pass the check.
            session.exec(select(WorkItem.id).where(WorkItem.id == work_item_id).with_for_update())
            waiting = session.exec(
                select(DmtException.id).where(
                    DmtException.work_item_id == work_item_id, DmtException.status == REQUESTED
                )
            ).first()
            if waiting is not None:
                raise Conflict(f"exception request {waiting} for this item is still waiting for a decision")
            row = DmtException(
                work_item_id=work_item_id, status=REQUESTED, rules=covered, reason=reason, expires_at=expires_at,
                requested_by=user.display_name, requested_by_user_id=user.id,
            )  # fmt: skip
            session.add(row)
            session.flush()
            audit.record(
                ps, user.actor(ip_address), "dmt_exception.request", "dmt_exception", row.id,
                new=audit.snapshot(row), tenant_id=tenant.id,
            )  # fmt: skip
            ps.commit()
            session.commit()
            result = _row(user, row, item)
    key = result.item_key
    notifications.create_for_users(
        tenant.id or 0,
        _people(tenant.id or 0, result.project_id, exclude=user.id),
        kind="exception_requested",
        title=f"DMT exception requested for {key}",
        body=f"{user.display_name} asks for an exception ({_rule_words(covered)}) until {result.valid_until}: {reason}",
        project_id=result.project_id,
        link=PAGE_LINK,
        data={"work_item_id": work_item_id, "exception_id": result.id},
        tenant_slug=slug,
    )
    publish_event("exception.requested", slug, exception_id=result.id, work_item_id=work_item_id)
    return result


def _transition(
    user: CurrentUser,
    exception_id: int,
    *,
    note: str,
    from_status: str,
    to_status: str,
    ip_address: str | None,
) -> tuple[ExceptionRow, DmtException, int]:
    """Move an exception of the user's projects from one status to the next, audited.

    Checks: the exception exists in one of the user's projects (else NotFound),
    the user is a tech lead or project manager there, nobody decides on their
    own request, and the exception is in `from_status` (else Conflict).
    Returns the caller's view of the row, the row, and the tenant id.
    """
    slug = _tenant_slug(user)
    verb = {APPROVED: "approve", REJECTED: "reject", REVOKED: "revoke"}[to_status]
    note = _clean_text(note, "a note", "note")
    now = utcnow()
    with public_session() as ps:
        tenant = get_tenant_by_slug(ps, slug)
        with tenant_session(slug) as session:
            row = session.get(DmtException, exception_id, with_for_update=True)
            item = session.get(WorkItem, row.work_item_id) if row is not None else None
            if row is None or item is None:
                raise NotFound(f"exception {exception_id} not found")
            _check_project(user, item.project_id, f"exception {exception_id}")
            if not can_approve(user, item.project_id):
                raise PermissionDenied(f"only tech leads and project managers of the project can {verb} exceptions")
            if to_status != REVOKED and row.requested_by_user_id == user.id:
                raise PermissionDenied("nobody approves or rejects their own exception request")
            if row.status != from_status:
                raise Conflict(f"exception {exception_id} is {row.status}: only a {from_status} one can be {to_status}")
            if to_status == APPROVED and row.expires_at <= now:
                raise Conflict(f"exception {exception_id} asked for an expiry that has passed: reject it instead")
            old = audit.snapshot(row)
            row.status = to_status
            if to_status == APPROVED:
                row.approved_by, row.approved_by_user_id = user.display_name, user.id
            if to_status == REJECTED:
                row.rejected_by, row.rejected_by_user_id = user.display_name, user.id
            if to_status in (APPROVED, REJECTED):
                row.decided_at, row.decision_note = now, note
            if to_status == REVOKED:
                row.revoked_at, row.revoked_by, row.revoked_by_user_id, row.revoke_note = (
                    now, user.display_name, user.id, note,
                )  # fmt: skip
            session.add(row)
            session.flush()
            audit.record(
                ps, user.actor(ip_address), f"dmt_exception.{verb}", "dmt_exception", exception_id,
                old=old, new=audit.snapshot(row), tenant_id=tenant.id,
            )  # fmt: skip
            # The audit row must exist before the change is visible.
            ps.commit()
            session.commit()
            return _row(user, row, item), row, tenant.id or 0


def approve_request(user: CurrentUser, exception_id: int, note: str, ip_address: str | None = None) -> ExceptionRow:
    """A tech lead or project manager (not the requester) approves a request; the item is re-evaluated at once."""
    view, row, tenant_id = _transition(
        user, exception_id, note=note, from_status=REQUESTED, to_status=APPROVED, ip_address=ip_address
    )
    slug = user.tenant_slug or ""
    evaluate_and_alert(slug, [row.work_item_id])
    notifications.create_for_users(
        tenant_id,
        _people(tenant_id, view.project_id, extra=[row.requested_by_user_id], exclude=user.id),
        kind="exception_approved",
        title=f"DMT exception approved for {view.item_key}",
        body=f"{user.display_name} approved the exception ({_rule_words(view.rules)}) until "
        f"{view.valid_until}: {note.strip()}",
        project_id=view.project_id,
        link=PAGE_LINK,
        data={"work_item_id": row.work_item_id, "exception_id": exception_id, "expires_at": view.expires_at},
        tenant_slug=slug,
    )
    return view


def reject_request(user: CurrentUser, exception_id: int, note: str, ip_address: str | None = None) -> ExceptionRow:
    """A tech lead or project manager (not the requester) rejects a request with a note; the requester is told."""
    view, row, tenant_id = _transition(
        user, exception_id, note=note, from_status=REQUESTED, to_status=REJECTED, ip_address=ip_address
    )
    slug = user.tenant_slug or ""
    notifications.create_for_users(
        tenant_id,
        {u for u in [row.requested_by_user_id] if u is not None and u != user.id},
        kind="exception_rejected",
        title=f"DMT exception rejected for {view.item_key}",
        body=f"{user.display_name} rejected the exception request: {note.strip()}",
        project_id=view.project_id,
        link=PAGE_LINK,
        data={"work_item_id": row.work_item_id, "exception_id": exception_id},
        tenant_slug=slug,
    )
    publish_event("exception.rejected", slug, exception_id=exception_id, work_item_id=row.work_item_id)
    return view


def revoke_exception(user: CurrentUser, exception_id: int, note: str, ip_address: str | None = None) -> ExceptionRow:
    """A tech lead or project manager revokes an approved exception; the item is re-evaluated at once."""
    view, row, tenant_id = _transition(
        user, exception_id, note=note, from_status=APPROVED, to_status=REVOKED, ip_address=ip_address
    )
    slug = user.tenant_slug or ""
    evaluate_and_alert(slug, [row.work_item_id])
    notifications.create_for_users(
        tenant_id,
        _people(tenant_id, view.project_id, extra=[row.requested_by_user_id], exclude=user.id),
        kind="exception_revoked",
        title=f"DMT exception revoked for {view.item_key}",
        body=f"{user.display_name} revoked the exception: {note.strip()}",
        severity="medium",
        project_id=view.project_id,
        link=PAGE_LINK,
        data={"work_item_id": row.work_item_id, "exception_id": exception_id},
        tenant_slug=slug,
    )
    return view


# =========================================================================== reads
def _visible_project_ids(user: CurrentUser, project_id: int | None) -> list[int]:
    if project_id is not None:
        _check_project(user, project_id, f"project {project_id}")
        return [project_id]
    if not user.project_roles:
        return []
    with public_session() as ps:
        rows = ps.exec(
            select(Project.id).where(col(Project.id).in_(list(user.project_roles)), Project.tenant_id == user.tenant_id)
        ).all()
    return [int(r) for r in rows if r is not None]


def list_exceptions(user: CurrentUser, filters: ExceptionFilters | None = None) -> ExceptionPage:
    """Exceptions of the user's projects (or one project or item), newest first, one page at a time."""
    filters = filters or ExceptionFilters()
    slug = _tenant_slug(user)
    if filters.status not in (None, "", "all", *STATUSES):
        raise ValidationFailed(f"unknown status {filters.status!r}; use one of: {', '.join(STATUSES)}", field="status")
    page_size = max(1, min(filters.page_size, 200))
    page = max(1, filters.page)
    project_ids = _visible_project_ids(user, filters.project_id)
    if filters.decidable_only:
        project_ids = [p for p in project_ids if can_approve(user, p)]
    if not project_ids:
        return ExceptionPage(page=page, page_size=page_size)
    where = [col(WorkItem.project_id).in_(project_ids)]
    if filters.work_item_id is not None:
        where.append(DmtException.work_item_id == filters.work_item_id)
    status = REQUESTED if filters.decidable_only else filters.status
    if status not in (None, "", "all"):
        where.append(DmtException.status == status)
    if filters.decidable_only:
        where.append(
            sa.or_(col(DmtException.requested_by_user_id).is_(None), DmtException.requested_by_user_id != user.id)
        )
    with tenant_session(slug) as session:
        base = select(DmtException, WorkItem).join(WorkItem, col(WorkItem.id) == DmtException.work_item_id)
        total = int(
            session.exec(
                select(sa.func.count()).select_from(DmtException)
                .join(WorkItem, col(WorkItem.id) == DmtException.work_item_id).where(*where)
            ).one()
        )  # fmt: skip
        rows = session.exec(
            base.where(*where)
            .order_by(col(DmtException.created_at).desc(), col(DmtException.id).desc())
            .offset((page - 1) * page_size)
            .limit(page_size)
        ).all()
        items = [_row(user, x, item) for x, item in rows]
    return ExceptionPage(
        items=items, total=total, page=page, page_size=page_size, pages=max(1, math.ceil(total / page_size))
    )


def get_exception(user: CurrentUser, exception_id: int) -> ExceptionRow:
    """One exception of the user's projects, else NotFound."""
    slug = _tenant_slug(user)
    with tenant_session(slug) as session:
        row = session.get(DmtException, exception_id)
        item = session.get(WorkItem, row.work_item_id) if row is not None else None
        if row is None or item is None:
            raise NotFound(f"exception {exception_id} not found")
        _check_project(user, item.project_id, f"exception {exception_id}")
        return _row(user, row, item)


def item_exceptions(user: CurrentUser, work_item_ids: Iterable[int]) -> dict[int, list[ExceptionRow]]:
    """The exceptions of some items of the user's projects, newest first, by item (for flags and drill-downs)."""
    slug = _tenant_slug(user)
    ids = sorted({int(i) for i in work_item_ids})
    allowed = set(_visible_project_ids(user, None))
    if not ids or not allowed:
        return {}
    result: dict[int, list[ExceptionRow]] = {}
    with tenant_session(slug) as session:
        rows = session.exec(
            select(DmtException, WorkItem)
            .join(WorkItem, col(WorkItem.id) == DmtException.work_item_id)
            .where(col(DmtException.work_item_id).in_(ids), col(WorkItem.project_id).in_(list(allowed)))
            .order_by(col(DmtException.created_at).desc(), col(DmtException.id).desc())
        ).all()
        for x, item in rows:
            result.setdefault(x.work_item_id, []).append(_row(user, x, item))
    return result


# =========================================================================== expiry (worker)
def _due(session: Session, *conditions: sa.ColumnElement[bool]) -> list[tuple[DmtException, WorkItem]]:
    return list(
        session.exec(
            select(DmtException, WorkItem)
            .join(WorkItem, col(WorkItem.id) == DmtException.work_item_id)
            .where(*conditions)
            .order_by(col(DmtException.id))
            .with_for_update(of=DmtException, skip_locked=True)
        ).all()
    )


def expire_and_warn(tenant_slug: str, now: datetime | None = None) -> ExpiryReport:
    """The worker's pass over one tenant's exceptions.

    * approved exceptions past their expiry become `expired`, and their items
      are re-evaluated at once (the flags they covered reopen);
    * requests whose expiry passed before anyone decided become `expired`;
    * approved exceptions lapsing within `EXPIRY_NOTICE_DAYS` send one
      `exception_expiring` notification to the requester and the project's leads.

    Each step is audited (by the system) and done once: a second pass finds nothing.
    """
    now = now or utcnow()
    report = ExpiryReport()
    actor = Actor.system("worker: exception expiry")
    notices: list[tuple[str, str, DmtException, WorkItem]] = []
    with public_session() as ps:
        tenant = get_tenant_by_slug(ps, tenant_slug)
        with tenant_session(tenant_slug) as session:
            for x, item in _due(session, col(DmtException.status).in_([APPROVED, REQUESTED]),
                                DmtException.expires_at <= now):  # fmt: skip
                was = x.status
                x.status, x.expired_at = EXPIRED, now
                session.add(x)
                (report.expired if was == APPROVED else report.lapsed_requests).append(x.id or 0)
                audit.record(
                    ps, actor, "dmt_exception.expire", "dmt_exception", x.id,
                    old={"status": was}, new={"status": EXPIRED, "expired_at": now}, tenant_id=tenant.id,
                )  # fmt: skip
                notices.append(("exception_expired" if was == APPROVED else "exception_lapsed", was, x, item))
            for x, item in _due(
                session,
                DmtException.status == APPROVED,
                col(DmtException.expiring_notified_at).is_(None),
                DmtException.expires_at > now,
                DmtException.expires_at <= now + timedelta(days=EXPIRY_NOTICE_DAYS),
            ):
                x.expiring_notified_at = now
                session.add(x)
                report.warned.append(x.id or 0)
                audit.record(
                    ps, actor, "dmt_exception.expiry_notice", "dmt_exception", x.id,
                    new={"expires_at": x.expires_at, "notified_at": now}, tenant_id=tenant.id,
                )  # fmt: skip
                notices.append(("exception_expiring", APPROVED, x, item))
            session.flush()
            ps.commit()
            session.commit()
    if report.expired:
        ids = sorted({item.id or 0 for kind, _, _, item in notices if kind == "exception_expired"})
        evaluate_and_alert(tenant_slug, ids)
    for kind, _, x, item in notices:
        _notify_expiry(tenant.id or 0, tenant_slug, kind, x, item)
    if report.expired or report.lapsed_requests:
        publish_event("exception.expired", tenant_slug, exception_ids=report.expired + report.lapsed_requests)
    return report


def _notify_expiry(tenant_id: int, tenant_slug: str, kind: str, x: DmtException, item: WorkItem) -> None:
    key = item.item_key or item.source_item_id or f"#{item.id}"
    until = _valid_until(x.expires_at)
    if kind == "exception_lapsed":
        people = {u for u in [x.requested_by_user_id] if u is not None}
        title, body, severity = (
            f"DMT exception request for {key} lapsed",
            f"Nobody decided on the request before its expiry ({until}); request a new one if it is still needed.",
            "low",
        )
    else:
        people = _people(tenant_id, item.project_id, extra=[x.requested_by_user_id, x.approved_by_user_id])
        if kind == "exception_expiring":
            title, body, severity = (
                f"DMT exception for {key} expires on {until}",
                f"The exception ({_rule_words(x.rules)}) ends in {EXPIRY_NOTICE_DAYS} days or less: "
                "finish the tests or request a new one.",
                "medium",
            )
        else:
            title, body, severity = (
                f"DMT exception for {key} expired",
                f"The exception ({_rule_words(x.rules)}) ended on {until}; the rules it covered apply again.",
                "high",
            )
    notifications.create_for_users(
        tenant_id, people, kind=kind, title=title, body=body, severity=severity, project_id=item.project_id,
        link=PAGE_LINK, data={"work_item_id": item.id, "exception_id": x.id, "expires_at": _iso(x.expires_at)},
        tenant_slug=tenant_slug,
    )  # fmt: skip
