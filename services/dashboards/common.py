"""Shared read-model helpers: project access, naming per role, rounding and the tenant's table names.

Every read takes the authenticated `CurrentUser` (the tenant comes from it,
never from the browser) and a project id that must be one of the user's
projects; anything else is `NotFound`, the same answer as for an id that does
not exist, so ids of other tenants leak nothing. Developers are shown by name
to tech leads and project managers (`CurrentUser.can_see_names`); everyone
else sees "Developer N" (N is the identity's stable id) except themselves.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.errors import NotFound
from models.db import public_session, tenant_schema_of
from models.public import Project
from models.tenant import DeveloperIdentity
from services.auth import CurrentUser
from services.dashboards.shapes import ProjectOption

HISTORY_SPRINTS = 12  # sprints shown on charts
TREND_WINDOW = 3  # previous sprints a KPI is compared with
SEVERITY_ORDER = ["critical", "high", "medium", "low", "info"]
FORECAST_KINDS = ("forecast_velocity", "forecast_backlog")
DRILL_METRICS = ("committed", "completed", "throughput", "defects", "blocked", "noncompliant", "flags", "carried_over")
#: Item types grouped into the buckets the throughput chart and its drill-down show (anything else: "other").
TYPE_BUCKETS = {
    "story": ("story", "user story", "user_story", "feature"),
    "bug": ("bug", "defect"),
    "task": ("task", "subtask", "sub-task"),
}


# =========================================================================== access
def _now() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def _require_company(user: CurrentUser) -> str:
    if not user.tenant_slug or user.tenant_id is None:
        raise NotFound("no company data for this account")
    return user.tenant_slug


def user_projects(user: CurrentUser) -> list[ProjectOption]:
    """The projects the user holds a role on, in their own tenant, by name."""
    if not user.project_roles or user.tenant_id is None:
        return []
    with public_session() as session:
        rows = session.exec(
            select(Project)
            .where(col(Project.id).in_(list(user.project_roles)), Project.tenant_id == user.tenant_id)
            .order_by(Project.name)
        ).all()
    return [ProjectOption(id=p.id or 0, key=p.key, name=p.name, role=user.project_roles[p.id or 0]) for p in rows]


def require_project(user: CurrentUser, project_id: int) -> Project:
    """The project if the user has a role on it in their tenant; else NotFound."""
    _require_company(user)
    if project_id not in user.project_roles:
        raise NotFound(f"project {project_id} not found")
    with public_session() as session:
        project = session.get(Project, project_id)
    if project is None or project.tenant_id != user.tenant_id:
        raise NotFound(f"project {project_id} not found")
    return project


def view_of(user: CurrentUser, project_id: int) -> tuple[str, ...]:
    """What decides a project read's answer for this user besides the project and the request: the view they get.

    Their role on the project (it decides what they may do and whether names are
    shown) and, where names are anonymised, the user themselves (they still see
    their own name). Users with the same view of a project get the same answers,
    so a cache keyed on it may share them (the portals' page cache); raises
    NotFound without a role on the project. The project reads whose answers
    depend on the user only through this are the ones a page may share.
    """
    role = user.role_in(project_id)
    if role is None:
        raise NotFound(f"project {project_id} not found")
    return (role,) if user.can_see_names(project_id) else (role, f"user {user.id}")


def _tables(session: Session) -> dict[str, str]:
    schema = tenant_schema_of(session)
    names = ("work_items", "sprints", "pull_requests", "compliance_flags", "developer_identities", "dmt_exceptions")
    return {n: f'"{schema}".{n}' for n in names}



# =========================================================================== naming
def _my_identity_ids(session: Session, user: CurrentUser) -> set[int]:
    rows = session.exec(
        select(DeveloperIdentity.id).where(
            sa.or_(
                DeveloperIdentity.user_id == user.id,
                sa.func.lower(DeveloperIdentity.primary_email) == user.email.lower(),
            )
        )
    ).all()
    return {int(r) for r in rows if r is not None}


class _Namer:
    """Turns identity ids into what this user may see."""

    def __init__(self, session: Session, user: CurrentUser, project_id: int) -> None:
        self.named = user.can_see_names(project_id)
        self.mine = _my_identity_ids(session, user)
        self.user = user
        self._names: dict[int, str] = {}
        self._session = session

    def load(self, ids: set[int]) -> None:
        missing = [i for i in ids if i not in self._names]
        if missing:
            for ident in self._session.exec(select(DeveloperIdentity).where(col(DeveloperIdentity.id).in_(missing))):
                self._names[ident.id or 0] = ident.display_name

    def prefetch(self, ids: Iterable[int | None]) -> None:
        """Load at once the names among `ids` this user is shown (else `name` reads them one query each)."""
        self.load({i for i in ids if i is not None and (self.named or i in self.mine)})

    def name(self, identity_id: int | None, fallback: str | None = None) -> str:
        if identity_id is None:
            if not fallback:
                return "Unassigned"
            return fallback if self.named else "Developer (not linked)"
        if self.named or identity_id in self.mine:
            self.load({identity_id})
            return self._names.get(identity_id) or fallback or f"Developer {identity_id}"
        return f"Developer {identity_id}"



# =========================================================================== numbers
def _round(value: Any, digits: int = 1) -> float | None:
    if value is None:
        return None
    value = float(value)
    if math.isnan(value):
        return None
    return round(value, digits) + 0.0  # + 0.0 turns -0.0 into 0.0: no "-0" on a page


def _pct(part: float | None, whole: float | None) -> float | None:
    if not whole:
        return None
    return round(100.0 * float(part or 0) / float(whole), 1)


def _as_percent(rate: float | None) -> float | None:
    """Read models store rates as 0..1 fractions; pages show percent."""
    if rate is None:
        return None
    return rate * 100.0


def _type_bucket(item_type: str) -> str:
    t = (item_type or "").lower()
    return next((bucket for bucket, names in TYPE_BUCKETS.items() if t in names), "other")
