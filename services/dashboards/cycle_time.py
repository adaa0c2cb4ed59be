"""Cycle-time scatter: every item done in a period (done date, cycle days), with the 50th/85th percentiles.

Cycle time is the metrics' definition (`docs/metrics.md`): `done_at -
started_at` in days, for done items that have a start. The percentiles are
over every such item of the period (`percentile_cont`), also when the chart
shows only the most recent `MAX_POINTS` of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field

from models.db import tenant_session
from services.auth import CurrentUser
from services.dashboards.common import _Namer, _now, _round, _tables, _type_bucket, require_project

#: Points drawn at most (the most recent); the percentiles still cover every item.
MAX_POINTS = 3000
PERIODS = (30, 90, 180, 365)


class CyclePoint(BaseModel):
    item_id: int
    key: str
    title: str
    item_type: str  # story, bug, task, other
    done_at: str  # ISO instant
    done_day: str  # YYYY-MM-DD
    cycle_days: float  # one decimal
    points: float | None = None
    assignee: str = ""
    url: str = ""


class CycleTimeScatter(BaseModel):
    project_id: int
    days: int = 90
    since: str = ""  # YYYY-MM-DD
    points: list[CyclePoint] = Field(default_factory=list)
    total: int = 0  # done items with a cycle time in the period
    without_start: int = 0  # done items in the period without a start (left out)
    p50: float | None = None
    p85: float | None = None
    empty_message: str = ""


def _point(r: Mapping[str, Any], namer: _Namer) -> CyclePoint:
    done_at = r["done_at"].astimezone(UTC)
    return CyclePoint(
        item_id=int(r["id"]),
        key=r["key"] or "",
        title=r["title"] or "",
        item_type=_type_bucket(r["item_type"]),
        done_at=done_at.isoformat(),
        done_day=done_at.date().isoformat(),
        cycle_days=_round(r["cycle_days"]) or 0.0,
        points=r["story_points"],
        assignee=namer.name(r["assignee_identity_id"], r["assignee_name"]),
        url=r["url"] or "",
    )


def cycle_time_scatter(user: CurrentUser, project_id: int, days: int = 90) -> CycleTimeScatter:
    """Every item done in the last `days` days with its cycle time, and the 50th/85th percentile lines."""
    require_project(user, project_id)
    days = days if days in PERIODS else 90
    since = _now() - timedelta(days=days)
    result = CycleTimeScatter(project_id=project_id, days=days, since=since.date().isoformat())
    with tenant_session(user.tenant_slug or "") as session:
        t = _tables(session)
        params = {"p": project_id, "since": since, "lim": MAX_POINTS}
        done = "project_id = :p AND NOT is_deleted AND status_category = 'done' AND done_at >= :since"
        summary = session.execute(
            sa.text(
                f"""
                SELECT count(*) FILTER (WHERE started_at IS NOT NULL AND done_at >= started_at) AS total,
                       count(*) FILTER (WHERE started_at IS NULL) AS without_start,
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM done_at - started_at))
                           FILTER (WHERE started_at IS NOT NULL AND done_at >= started_at) / 86400.0 AS p50,
                       percentile_cont(0.85) WITHIN GROUP (ORDER BY extract(epoch FROM done_at - started_at))
                           FILTER (WHERE started_at IS NOT NULL AND done_at >= started_at) / 86400.0 AS p85
                FROM {t["work_items"]} WHERE {done}
                """
            ),
            params,
        ).mappings().one()
        rows = session.execute(
            sa.text(
                f"""
                SELECT id, coalesce(item_key, source_item_id) AS key, title, item_type, done_at, story_points,
                       assignee_identity_id, assignee_name, url,
                       extract(epoch FROM done_at - started_at) / 86400.0 AS cycle_days
                FROM {t["work_items"]}
                WHERE {done} AND started_at IS NOT NULL AND done_at >= started_at
                ORDER BY done_at DESC, id DESC LIMIT :lim
                """
            ),
            params,
        ).mappings().all()
        namer = _Namer(session, user, project_id)
        namer.prefetch(r["assignee_identity_id"] for r in rows)
        points = [_point(r, namer) for r in rows]
    result.points = list(reversed(points))  # oldest first
    result.total, result.without_start = int(summary["total"]), int(summary["without_start"])
    result.p50, result.p85 = _round(summary["p50"]), _round(summary["p85"])
    if not result.total:
        result.empty_message = f"No item with a start time was finished in the last {days} days."
    return result
