"""Data-quality lists for the platform admin: values the tools sent that the figures leave out.

Story points outside 0..`etl.metrics.STORY_POINTS_CEILING` (a -1, a 10^6) are
stored as sent and count as 0 in every sprint figure; `story_point_outliers`
lists those items of a project so someone can correct them in the tool.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from etl.metrics import STORY_POINTS_CEILING
from models.db import get_tenant, public_session, tenant_session
from models.tenant import WorkItem
from services.projects import get_project

#: Rows listed at most (the count says how many there are).
OUTLIER_LIMIT = 200


@dataclass(frozen=True)
class PointsOutlier:
    """A work item whose story points the figures ignore."""

    item_id: int
    key: str
    title: str
    story_points: float
    status: str
    url: str


@dataclass(frozen=True)
class PointsOutliers:
    """A project's items with story points outside 0..ceiling: the first `OUTLIER_LIMIT` and how many in all."""

    ceiling: int
    total: int
    items: list[PointsOutlier]


def story_point_outliers(project_id: int, limit: int = OUTLIER_LIMIT) -> PointsOutliers:
    """The project's live items whose story points are below 0 or above the ceiling, largest deviation first.

    For platform admins (the caller checks the role); the tenant comes from the
    project's own record.
    """
    project = get_project(project_id)
    with public_session() as session:
        tenant = get_tenant(session, project.tenant_id)
    outside = sa.or_(WorkItem.story_points < 0, WorkItem.story_points > STORY_POINTS_CEILING)
    where = sa.and_(WorkItem.project_id == project_id, sa.not_(WorkItem.is_deleted), outside)
    with tenant_session(tenant) as session:
        total = session.execute(sa.select(sa.func.count()).select_from(WorkItem).where(where)).scalar_one()
        rows = session.execute(
            sa.select(
                WorkItem.id,
                sa.func.coalesce(WorkItem.item_key, WorkItem.source_item_id),
                WorkItem.title,
                WorkItem.story_points,
                WorkItem.status,
                WorkItem.url,
            )
            .where(where)
            .order_by(sa.func.abs(WorkItem.story_points).desc(), WorkItem.id)
            .limit(max(1, limit))
        ).all()
    return PointsOutliers(
        ceiling=STORY_POINTS_CEILING,
        total=int(total),
        items=[
            PointsOutlier(
                item_id=int(r[0]),
                key=str(r[1] or ""),
                title=str(r[2] or ""),
                story_points=float(r[3]),
                status=str(r[4] or ""),
                url=str(r[5] or ""),
            )
            for r in rows
        ],
    )
