"""AI insights as use cases: write them and tell the project leads; users rate them.

The insights themselves (statistics, providers, storage) are written by
etl.insights; this module adds who hears about them and who may rate them.
"""

from __future__ import annotations

from itertools import groupby

from sqlmodel import select

from core.errors import NotFound, PermissionDenied
from etl import insights as insight_writer
from etl.insights import DEFAULT_TIMEOUT_SECONDS
from models.base import utcnow
from models.db import get_tenant_by_slug, public_session, tenant_session
from models.public import Project, User
from models.tenant import AIPrediction
from services import notifications


def generate_insights(
    tenant_slug: str, project_id: int | None = None, *, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> list[AIPrediction]:
    """Write the insights of one project (or every active project) and notify each project's leads."""
    rows = insight_writer.generate_insights(tenant_slug, project_id, timeout=timeout)
    if not rows:
        return rows
    with public_session() as ps:
        tenant = get_tenant_by_slug(ps, tenant_slug)
        names = {
            p.id: p.name
            for p in ps.exec(
                select(Project).where(Project.tenant_id == tenant.id, Project.id.in_(sorted({r.project_id for r in rows})))  # type: ignore[union-attr]
            ).all()
        }
    for project, group in groupby(rows, key=lambda r: r.project_id):
        written = list(group)
        notifications.create_for_project_roles(
            tenant.id or 0,
            project,
            kind="new_insight",
            title=f"New insights for {names.get(project, 'your project')}",
            body=" ".join(f"{r.title}." for r in written[:2]),
            data={"insight_ids": [r.id for r in written], "provider": written[0].provider},
            link=f"/ai-insights?project={project}",
            tenant_slug=tenant_slug,
        )
    return rows


def rate_insight(tenant_slug: str, insight_id: int, user_id: int, helpful: bool, note: str | None = None) -> AIPrediction:
    """Thumbs up (+1) or down (-1) from a user of the same tenant, with an optional note."""
    with public_session() as ps:
        tenant = get_tenant_by_slug(ps, tenant_slug)
        user = ps.get(User, user_id)
        if user is None or user.tenant_id != tenant.id:
            raise PermissionDenied("only users of this company can rate its insights")
    with tenant_session(tenant_slug) as session:
        row = session.get(AIPrediction, insight_id)
        if row is None:
            raise NotFound(f"insight {insight_id} not found")
        row.rating = 1 if helpful else -1
        row.rating_note = (note or "").strip() or None
        row.rated_by = user_id
        row.rated_at = utcnow()
        session.add(row)
        session.commit()
        return row
