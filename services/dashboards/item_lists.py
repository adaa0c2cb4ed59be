"""Drill-down: the work items behind one chart point (a sprint and a metric), as table rows."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from core.errors import NotFound, ValidationFailed
from etl.metrics import sprint_item_ids
from models.db import tenant_session
from models.tenant import Sprint
from services.auth import CurrentUser
from services.dashboards.common import TYPE_BUCKETS, _iso, _Namer, _tables, require_project
from services.dashboards.shapes import DrillDown, ItemRow

_ITEM_COLUMNS = """
    w.id, coalesce(w.item_key, w.source_item_id) AS key, w.title, w.item_type, w.status, w.status_category,
    w.story_points, w.assignee_identity_id, w.assignee_name, w.url, w.done_at, w.dmt_compliant,
    (w.is_blocked OR w.blocked_hours > 0) AS blocked,
    (SELECT count(*) FROM {flags} f WHERE f.work_item_id = w.id AND f.status = 'open') AS open_flags,
    (SELECT e.status || ' ' || to_char((e.expires_at - interval '1 microsecond') AT TIME ZONE 'UTC', 'YYYY-MM-DD')
     FROM {exceptions} e WHERE e.work_item_id = w.id AND e.expires_at > now() AND e.status IN ('approved', 'requested')
     ORDER BY (e.status = 'approved') DESC, e.created_at DESC LIMIT 1) AS exception
"""


def _item_rows(rows: Any, namer: _Namer) -> list[ItemRow]:
    namer.prefetch(r["assignee_identity_id"] for r in rows)
    out = []
    for r in rows:
        out.append(
            ItemRow(
                id=int(r["id"]),
                key=r["key"] or "",
                title=r["title"] or "",
                item_type=r["item_type"] or "",
                status=r["status"] or r["status_category"] or "",
                status_category=r["status_category"] or "",
                story_points=r["story_points"],
                assignee=namer.name(r["assignee_identity_id"], r["assignee_name"]),
                url=r["url"] or "",
                done_at=_iso(r["done_at"]),
                compliant="" if r["dmt_compliant"] is None else ("yes" if r["dmt_compliant"] else "no"),
                blocked=bool(r["blocked"]),
                open_flags=int(r["open_flags"] or 0),
                exception_status=(r["exception"] or " ").split(" ")[0],
                exception_until=(r["exception"] or " ").split(" ")[1],
            )
        )
    return out


def _get_sprint(session: Session, project_id: int, sprint_id: int) -> Sprint:
    sprint = session.get(Sprint, sprint_id)
    if sprint is None or sprint.project_id != project_id:
        raise NotFound(f"sprint {sprint_id} not found")
    return sprint



#: Titles of the drill-down lists; which items each lists is `etl.metrics.SPRINT_ITEM_SETS` (the figures' definitions).
_DRILL_TITLES = {
    "committed": "Items committed",
    "completed": "Items completed",
    "throughput": "Items completed",
    "defects": "Defects found in the sprint",
    "blocked": "Items blocked during the sprint",
    "noncompliant": "Done items failing DMT",
    "flags": "Items with open flags",
    "carried_over": "Items committed, not finished",
}


def drill_down(
    user: CurrentUser, project_id: int, sprint_id: int, metric: str, item_type: str | None = None, limit: int = 500
) -> DrillDown:
    """The items behind one chart point: a sprint and a metric (optionally one item type).

    The items are the ones the sprint's figure counts (`etl.metrics.sprint_item_ids`), so a
    drill-down's total is the number that was clicked.
    """
    require_project(user, project_id)
    if metric not in _DRILL_TITLES:
        raise ValidationFailed(f"unknown metric {metric!r}; use one of: {', '.join(_DRILL_TITLES)}", field="metric")
    title = _DRILL_TITLES[metric]
    with tenant_session(user.tenant_slug or "") as session:
        sprint = _get_sprint(session, project_id, sprint_id)
        t = _tables(session)
        params: dict[str, Any] = {"p": project_id, "ids": sprint_item_ids(session, sprint_id, metric), "lim": limit}
        type_sql = ""
        if item_type:
            if item_type == "other":
                type_sql = " AND lower(w.item_type) <> ALL(:known)"
                params["known"] = [x for v in TYPE_BUCKETS.values() for x in v]
            else:
                type_sql = " AND lower(w.item_type) = ANY(:types)"
                params["types"] = list(TYPE_BUCKETS.get(item_type, (item_type,)))
            title = f"{title} ({item_type})"
        base = f"FROM {t['work_items']} w WHERE w.id = ANY(:ids) AND w.project_id = :p{type_sql}"
        rows = (
            session.execute(
                sa.text(
                    f"SELECT {_ITEM_COLUMNS.format(flags=t['compliance_flags'], exceptions=t['dmt_exceptions'])} {base} "
                    "ORDER BY w.done_at DESC NULLS LAST, w.id LIMIT :lim"
                ),
                params,
            )
            .mappings()
            .all()
        )
        total = session.execute(sa.text(f"SELECT count(*) {base}"), params).scalar_one()
        items = _item_rows(rows, _Namer(session, user, project_id))
    return DrillDown(
        project_id=project_id,
        sprint_id=sprint_id,
        sprint_name=sprint.name,
        metric=metric,
        title=f"{title} — {sprint.name}",
        items=items,
        total=int(total),
    )


def item_drill(user: CurrentUser, project_id: int, item_id: int) -> DrillDown:
    """One work item of the project as a drill-down (a chart point that is an item, e.g. the cycle-time scatter)."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        t = _tables(session)
        rows = (
            session.execute(
                sa.text(
                    f"SELECT {_ITEM_COLUMNS.format(flags=t['compliance_flags'], exceptions=t['dmt_exceptions'])} FROM {t['work_items']} w "
                    "WHERE w.id = :id AND w.project_id = :p AND NOT w.is_deleted"
                ),
                {"id": item_id, "p": project_id},
            )
            .mappings()
            .all()
        )
        if not rows:
            raise NotFound(f"work item {item_id} not found")
        items = _item_rows(rows, _Namer(session, user, project_id))
    item = items[0]
    return DrillDown(project_id=project_id, sprint_id=0, sprint_name="", metric="item",
                     title=f"{item.key} — {item.title}" if item.title else item.key, items=items, total=1)  # fmt: skip
