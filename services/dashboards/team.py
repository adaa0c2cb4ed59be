"""Team & sprint pages: one sprint's burndown/burnup and items, and the sprint picker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from etl.metrics import counted_points
from models.db import tenant_session
from models.tenant import Sprint
from services.auth import CurrentUser
from services.dashboards.common import _iso, _Namer, _now, _tables, require_project
from services.dashboards.item_lists import _ITEM_COLUMNS, _get_sprint, _item_rows
from services.dashboards.shapes import BurnPoint, Choice, SprintDetail, SprintPoint
from services.dashboards.sprint_rows import _current_index, _sprint_rows


def _burn(sprint: Sprint, done_rows: list[tuple[datetime, float]], scope: float) -> list[BurnPoint]:
    if not sprint.start_date:
        return []
    start = sprint.start_date.astimezone(UTC).date()
    end_dt = sprint.end_date or sprint.complete_date or (sprint.start_date + timedelta(days=14))
    end = end_dt.astimezone(UTC).date()
    today = _now().date()
    if end < start:
        end = start
    days = (end - start).days
    per_day: dict[Any, float] = {}
    early = 0.0
    for done_at, pts in done_rows:
        d = done_at.astimezone(UTC).date()
        if d < start:
            early += pts
        else:
            per_day[min(d, end)] = per_day.get(min(d, end), 0.0) + pts
    out = []
    cumulative = early
    for i in range(days + 1):
        d = start + timedelta(days=i)
        cumulative += per_day.get(d, 0.0)
        ideal = scope - scope * i / days if days else 0.0
        if d > today:
            # Future days: only the ideal line.
            out.append(BurnPoint(day=d.isoformat(), ideal=round(ideal, 1), scope=round(scope, 1)))
            continue
        out.append(
            BurnPoint(
                day=d.isoformat(),
                remaining=round(scope - cumulative, 1),
                ideal=round(ideal, 1),
                done=round(cumulative, 1),
                scope=round(scope, 1),
            )
        )
    return out


def sprint_burn(session: Session, project_id: int, sprint: Sprint) -> tuple[list[BurnPoint], int]:
    """The sprint's burndown/burnup by day (points of its items, done by `done_at`) and its item count."""
    t = _tables(session)
    params = {"p": project_id, "s": sprint.id}
    total, scope = session.execute(
        sa.text(
            f"SELECT count(*), coalesce(sum({counted_points()}), 0) FROM {t['work_items']} "
            "WHERE project_id = :p AND sprint_id = :s AND NOT is_deleted"
        ),
        params,
    ).one()
    done_rows = session.execute(
        sa.text(
            f"SELECT done_at, coalesce({counted_points()}, 0) FROM {t['work_items']} "
            "WHERE project_id = :p AND sprint_id = :s AND NOT is_deleted "
            "AND status_category = 'done' AND done_at IS NOT NULL"
        ),
        params,
    ).all()
    return _burn(sprint, [(d, float(p)) for d, p in done_rows], float(scope)), int(total)


def sprint_detail(user: CurrentUser, project_id: int, sprint_id: int | None = None, limit: int = 500) -> SprintDetail:
    """One sprint: burndown/burnup by day (from done_at) and its items, with links to the tools."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        points = _sprint_rows(session, project_id)
        if sprint_id is None:
            idx = _current_index(points)
            if idx is None:
                return SprintDetail(
                    project_id=project_id,
                    sprint=SprintPoint(sprint_id=0, sprint_name="", state=""),
                    empty_message="No sprints yet: ask your admin to add a data source and run a sync.",
                )
            sprint_id = points[idx].sprint_id
        sprint = _get_sprint(session, project_id, sprint_id)
        t = _tables(session)
        namer = _Namer(session, user, project_id)
        rows = (
            session.execute(
                sa.text(
                    f"SELECT {_ITEM_COLUMNS.format(flags=t['compliance_flags'], exceptions=t['dmt_exceptions'])} FROM {t['work_items']} w "
                    "WHERE w.project_id = :p AND w.sprint_id = :s AND NOT w.is_deleted "
                    "ORDER BY (w.status_category = 'done') DESC, w.done_at DESC NULLS LAST, w.id LIMIT :lim"
                ),
                {"p": project_id, "s": sprint_id, "lim": limit},
            )
            .mappings()
            .all()
        )
        burn, total = sprint_burn(session, project_id, sprint)
        items = _item_rows(rows, namer)
    point = next((p for p in points if p.sprint_id == sprint_id), None) or SprintPoint(
        sprint_id=sprint_id,
        sprint_name=sprint.name,
        state=sprint.state,
        start=_iso(sprint.start_date),
        end=_iso(sprint.end_date),
    )
    detail = SprintDetail(
        project_id=project_id,
        sprint=point,
        goal=sprint.goal or "",
        burn=burn,
        items=items,
        items_total=int(total),
        sprints=list(reversed(points)),
    )
    if not total:
        detail.empty_message = "This sprint has no items."
    return detail


def sprint_options(user: CurrentUser, project_id: int) -> list[Choice]:
    """The project's sprints, newest first, for pickers."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        rows = session.execute(
            sa.select(Sprint.__table__.c.id, Sprint.__table__.c.name)  # type: ignore[attr-defined]
            .where(Sprint.__table__.c.project_id == project_id)  # type: ignore[attr-defined]
            .order_by(sa.nulls_last(Sprint.__table__.c.start_date.desc()), Sprint.__table__.c.id.desc())  # type: ignore[attr-defined]
        ).all()
    return [Choice(value=str(i), label=n) for i, n in rows]
