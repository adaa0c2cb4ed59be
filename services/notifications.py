"""Notifications: create (to users or to project roles), list, count, mark read; delivery preferences.

Kinds: see NOTIFICATION_KINDS. Every created notification is published as a
`notification.created` live event. Reads and writes are always scoped to one
user AND one tenant: a user can never read or mark another user's rows.

In-app first: a notification is a row here, written whatever happens next. The
worker then decides where else it goes (services.delivery: email at once or in
the daily digest, per the user's preference for its kind; the project's or
tenant's Slack and Teams channels), so a failing channel or broker can delay
or lose an email, never the notification itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import Session, col, select

from core.errors import ValidationFailed
from core.realtime import publish_event
from models.base import utcnow
from models.db import public_session
from models.enums import ProjectRole
from models.public import Notification, NotificationPreference, Project, UserProjectRole

#: Roles told about compliance problems, sprint ends and new insights by default.
LEAD_ROLES = (ProjectRole.TECH_LEAD.value, ProjectRole.PROJECT_MANAGER.value)

#: Every kind of notification the platform writes, with the name people choose it by.
NOTIFICATION_KINDS: dict[str, str] = {
    "critical_flags": "New critical DMT flags",
    "etl_failure": "Syncs paused after failures",
    "sprint_ending": "Sprints ending soon",
    "new_insight": "New AI insights",
    "exception_requested": "DMT exception requests",
    "exception_approved": "DMT exceptions approved",
    "exception_rejected": "DMT exceptions rejected",
    "exception_revoked": "DMT exceptions revoked",
    "exception_expiring": "DMT exceptions about to expire",
    "exception_expired": "DMT exceptions expired",
    "exception_lapsed": "DMT exception requests lapsed",
}

#: How a person hears about a kind beyond the app: not at all, by email at once, or in the daily digest.
DELIVERY_MODES: dict[str, str] = {
    "in_app": "In the app only",
    "immediate": "Email at once",
    "digest": "Daily digest email",
}
#: A kind nobody chose a mode for stays in the app.
DEFAULT_DELIVERY_MODE = "in_app"


class NotificationPublic(BaseModel):
    id: int
    kind: str
    severity: str
    title: str
    body: str
    link: str | None
    project_id: int | None
    data: dict[str, Any]
    is_read: bool
    created_at: str

    @classmethod
    def of(cls, n: Notification) -> NotificationPublic:
        return cls(
            id=n.id or 0,
            kind=n.kind,
            severity=n.severity,
            title=n.title,
            body=n.body,
            link=n.link,
            project_id=n.project_id,
            data=n.data or {},
            is_read=n.is_read,
            created_at=n.created_at.isoformat(),
        )


@dataclass(frozen=True)
class NotificationPage:
    items: list[NotificationPublic]
    total: int
    page: int
    page_size: int


def users_with_project_roles(
    session: Session, tenant_id: int, project_ids: Iterable[int], roles: Iterable[str] = LEAD_ROLES
) -> dict[int, set[int]]:
    """{project_id: {user_id}} for users holding one of `roles` on the tenant's projects."""
    ids = list(set(project_ids))
    if not ids:
        return {}
    rows = session.exec(
        select(UserProjectRole.project_id, UserProjectRole.user_id)
        .join(Project, col(Project.id) == UserProjectRole.project_id)
        .where(Project.tenant_id == tenant_id)
        .where(col(UserProjectRole.project_id).in_(ids))
        .where(col(UserProjectRole.role).in_(list(roles)))
    ).all()
    result: dict[int, set[int]] = {}
    for project_id, user_id in rows:
        result.setdefault(project_id, set()).add(user_id)
    return result


def create_for_users(
    tenant_id: int,
    user_ids: Iterable[int],
    *,
    kind: str,
    title: str,
    body: str = "",
    severity: str = "info",
    project_id: int | None = None,
    link: str | None = None,
    data: dict[str, Any] | None = None,
    tenant_slug: str | None = None,
    session: Session | None = None,
) -> list[Notification]:
    """Create one notification per user (duplicates removed) and publish each."""
    unique = sorted(set(user_ids))
    if not unique:
        return []
    rows = [
        Notification(
            tenant_id=tenant_id,
            user_id=user_id,
            project_id=project_id,
            kind=kind,
            severity=severity,
            title=title[:300],
            body=body,
            link=link,
            data=data or {},
        )
        for user_id in unique
    ]
    if session is None:
        with public_session() as own:
            own.add_all(rows)
            own.commit()
    else:
        session.add_all(rows)
        session.flush()
    for row in rows:
        publish_event(
            "notification.created",
            tenant_slug,
            tenant_id=tenant_id,
            user_id=row.user_id,
            notification_id=row.id,
            kind=kind,
            severity=severity,
            title=row.title,
        )
    return rows


def create_for_project_roles(
    tenant_id: int,
    project_id: int,
    *,
    kind: str,
    title: str,
    body: str = "",
    severity: str = "info",
    roles: Iterable[str] = LEAD_ROLES,
    extra_user_ids: Iterable[int] = (),
    link: str | None = None,
    data: dict[str, Any] | None = None,
    tenant_slug: str | None = None,
) -> list[Notification]:
    """Address a notification to everyone holding `roles` on the project (plus extra users)."""
    with public_session() as session:
        holders = users_with_project_roles(session, tenant_id, [project_id], roles).get(project_id, set())
    return create_for_users(
        tenant_id,
        holders | set(extra_user_ids),
        kind=kind,
        title=title,
        body=body,
        severity=severity,
        project_id=project_id,
        link=link,
        data=data,
        tenant_slug=tenant_slug,
    )


def _own(user_id: int, tenant_id: int) -> Any:
    return sa.and_(Notification.user_id == user_id, Notification.tenant_id == tenant_id)


def list_for_user(
    user_id: int,
    tenant_id: int,
    *,
    page: int = 1,
    page_size: int = 20,
    unread_only: bool = False,
) -> NotificationPage:
    """The user's notifications in this tenant, newest first, one page at a time."""
    page = max(1, page)
    page_size = max(1, min(page_size, 100))
    where = [_own(user_id, tenant_id)]
    if unread_only:
        where.append(Notification.is_read == sa.false())
    with public_session() as session:
        total = session.exec(select(sa.func.count()).select_from(Notification).where(*where)).one()
        rows = session.exec(
            select(Notification)
            .where(*where)
            .order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
            .offset((page - 1) * page_size)
            .limit(page_size)
        ).all()
        return NotificationPage([NotificationPublic.of(n) for n in rows], int(total), page, page_size)


def unread_count(user_id: int, tenant_id: int) -> int:
    """How many of the user's notifications in this tenant are unread."""
    with public_session() as session:
        return int(
            session.exec(
                select(sa.func.count())
                .select_from(Notification)
                .where(_own(user_id, tenant_id), Notification.is_read == sa.false())
            ).one()
        )


def mark_read(user_id: int, tenant_id: int, notification_id: int) -> bool:
    """Mark one of the user's own notifications read; False if it is not theirs (or unknown)."""
    with public_session() as session:
        result = session.execute(
            sa.update(Notification)
            .where(_own(user_id, tenant_id), Notification.id == notification_id, Notification.is_read == sa.false())
            .values(is_read=True, read_at=utcnow())
        )
        session.commit()
        if result.rowcount:
            return True
        return session.exec(
            select(Notification.id).where(_own(user_id, tenant_id), Notification.id == notification_id)
        ).first() is not None


def mark_all_read(user_id: int, tenant_id: int) -> int:
    """Mark all the user's unread notifications in this tenant read; return how many."""
    with public_session() as session:
        result = session.execute(
            sa.update(Notification)
            .where(_own(user_id, tenant_id), Notification.is_read == sa.false())
            .values(is_read=True, read_at=utcnow())
        )
        session.commit()
        return int(result.rowcount or 0)


# --------------------------------------------------------------------------- delivery preferences
class DeliveryPreference(BaseModel):
    kind: str
    label: str
    mode: str


def list_preferences(user_id: int, tenant_id: int) -> list[DeliveryPreference]:
    """The user's delivery mode for every notification kind (the default where none was chosen)."""
    with public_session() as session:
        chosen = dict(
            session.exec(
                select(NotificationPreference.kind, NotificationPreference.mode).where(
                    NotificationPreference.user_id == user_id, NotificationPreference.tenant_id == tenant_id
                )
            ).all()
        )
    return [
        DeliveryPreference(kind=kind, label=label, mode=chosen.get(kind, DEFAULT_DELIVERY_MODE))
        for kind, label in NOTIFICATION_KINDS.items()
    ]


def set_preference(user_id: int, tenant_id: int, kind: str, mode: str) -> DeliveryPreference:
    """Choose how the user hears about one kind (in_app, immediate or digest); commits."""
    if kind not in NOTIFICATION_KINDS:
        raise ValidationFailed(f"unknown notification kind {kind!r}", field="kind")
    if mode not in DELIVERY_MODES:
        raise ValidationFailed(f"the mode must be one of {', '.join(DELIVERY_MODES)}, not {mode!r}", field="mode")
    statement = pg_insert(NotificationPreference).values(
        tenant_id=tenant_id, user_id=user_id, kind=kind, mode=mode, updated_at=utcnow()
    )
    with public_session() as session:
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["user_id", "kind"],
                set_={"mode": statement.excluded.mode, "updated_at": statement.excluded.updated_at},
                where=NotificationPreference.tenant_id == tenant_id,
            )
        )
        session.commit()
    return DeliveryPreference(kind=kind, label=NOTIFICATION_KINDS[kind], mode=mode)
