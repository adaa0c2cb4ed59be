"""Drill-down: the work items behind one chart point (a sprint and a metric), as table rows."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from core.errors import NotFound, ValidationFailed
from models.db import tenant_session
from models.tenant import Sprint
from services.auth import CurrentUser
from services.dashboards.common import TYPE_BUCKETS, _iso, _Namer, _tables, require_project
from services.dashboards.shapes import DrillDown, ItemRow

_ITEM_COLUMNS = """
    w.id, coalesce(w.item_key, w.source_item_id) AS key, w.title, w.item_type, w.status, w.status_category,
    w.story_points, w.assignee_identity_id, w.assignee_name, w.url, w.done_at, w.dmt_compliant,
    (w.is_blocked OR w.blocked_hours > 0) AS blocked,
    (SELECT count(*) FROM {flags} f WHERE f.work_item_id = w.id AND f.status = 'open') AS open_flags
"""


def _item_rows(rows: Any, namer: _Namer) -> list[ItemRow]:
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
            )
        )
    return out


def _get_sprint(session: Session, project_id: int, sprint_id: int) -> Sprint:
    sprint = session.get(Sprint, sprint_id)
    if sprint is None or sprint.project_id != project_id:
        raise NotFound(f"sprint {sprint_id} not found")
    return sprint



_DRILL_WHERE = {
    "committed": ("Items committed", "TRUE"),
    "completed": ("Items completed", "w.status_category = 'done'"),
    "throughput": ("Items completed", "w.status_category = 'done'"),
    "defects": ("Defects completed", "w.status_category = 'done' AND w.item_type = 'bug'"),
    "blocked": ("Items blocked during the sprint", "(w.is_blocked OR w.blocked_hours > 0)"),
    "noncompliant": ("Done items failing DMT", "w.status_category = 'done' AND w.dmt_compliant = false"),
    "flags": (
        "Items with open flags",
        "EXISTS (SELECT 1 FROM {flags} f WHERE f.work_item_id = w.id AND f.status = 'open')",
    ),
    "carried_over": ("Items not finished", "w.status_category <> 'done'"),
}


def drill_down(
    user: CurrentUser, project_id: int, sprint_id: int, metric: str, item_type: str | None = None, limit: int = 500
) -> DrillDown:
    """The items behind one chart point: a sprint and a metric (optionally one item type)."""
    require_project(user, project_id)
    if metric not in _DRILL_WHERE:
        raise ValidationFailed(f"unknown metric {metric!r}; use one of: {', '.join(_DRILL_WHERE)}", field="metric")
    title, where = _DRILL_WHERE[metric]
    with tenant_session(user.tenant_slug or "") as session:
        sprint = _get_sprint(session, project_id, sprint_id)
        t = _tables(session)
        where = where.format(flags=t["compliance_flags"])
        params: dict[str, Any] = {"p": project_id, "s": sprint_id, "lim": limit}
        type_sql = ""
        if item_type:
            if item_type == "other":
                type_sql = " AND lower(w.item_type) NOT IN :known"
                params["known"] = tuple(x for v in TYPE_BUCKETS.values() for x in v)
            else:
                type_sql = " AND lower(w.item_type) IN :types"
                params["types"] = tuple(TYPE_BUCKETS.get(item_type, (item_type,)))
            title = f"{title} ({item_type})"
        base = f"FROM {t['work_items']} w WHERE w.project_id = :p AND w.sprint_id = :s AND NOT w.is_deleted AND {where}{type_sql}"
        stmt = sa.text(
            f"SELECT {_ITEM_COLUMNS.format(flags=t['compliance_flags'])} {base} ORDER BY w.done_at DESC NULLS LAST, w.id LIMIT :lim"
        )
        count_stmt = sa.text(f"SELECT count(*) {base}")
        if "known" in params:
            stmt = stmt.bindparams(sa.bindparam("known", expanding=True))
            count_stmt = count_stmt.bindparams(sa.bindparam("known", expanding=True))
        if "types" in params:
            stmt = stmt.bindparams(sa.bindparam("types", expanding=True))
            count_stmt = count_stmt.bindparams(sa.bindparam("types", expanding=True))
        rows = session.execute(stmt, params).mappings().all()
        total = session.execute(count_stmt, {k: v for k, v in params.items() if k != "lim"}).scalar_one()
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
