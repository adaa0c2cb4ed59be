"""Items blocked now: since when, why, for how long, longest-blocked first (`/api/dashboard/blocked-items`)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field

from models.db import tenant_session
from services.auth import CurrentUser
from services.dashboards.common import _iso, _Namer, _now, _round, _tables, require_project
from services.dashboards.item_lists import _get_sprint


class BlockedItem(BaseModel):
    id: int
    key: str
    title: str
    item_type: str
    status: str
    story_points: float | None = None
    assignee: str
    url: str = ""
    sprint_id: int | None = None
    sprint_name: str = ""
    blocked_since: str = Field(default="", description="when the item became blocked (ISO 8601), if the tool says")
    blocked_hours: float | None = Field(default=None, description="hours blocked so far, from blocked_since to now")
    reason: str = Field(default="", description="why, as the tool records it (flag comment, blocking link...)")


class BlockedItems(BaseModel):
    project_id: int
    sprint_id: int | None = None
    items: list[BlockedItem] = Field(default_factory=list)
    total: int = 0
    page: int = 1
    page_size: int = 50
    empty_message: str = ""


def blocked_items(
    user: CurrentUser, project_id: int, sprint_id: int | None = None, page: int = 1, page_size: int = 50
) -> BlockedItems:
    """The project's unfinished items that are blocked now (optionally in one sprint), longest-blocked first."""
    require_project(user, project_id)
    page, page_size = max(page, 1), min(max(page_size, 1), 500)
    with tenant_session(user.tenant_slug or "") as session:
        if sprint_id is not None:
            _get_sprint(session, project_id, sprint_id)
        t = _tables(session)
        params: dict[str, Any] = {"p": project_id, "lim": page_size, "off": (page - 1) * page_size}
        where = (
            "w.project_id = :p AND w.is_blocked AND NOT w.is_deleted AND w.status_category <> 'done'"
        )
        if sprint_id is not None:
            where += " AND w.sprint_id = :s"
            params["s"] = sprint_id
        rows = session.execute(
            sa.text(
                f"""
                SELECT w.id, coalesce(w.item_key, w.source_item_id) AS key, w.title, w.item_type, w.status,
                       w.status_category, w.story_points, w.assignee_identity_id, w.assignee_name, w.url,
                       w.sprint_id, coalesce(s.name, w.sprint_name) AS sprint_name, w.blocked_since, w.blocked_reason
                FROM {t["work_items"]} w LEFT JOIN {t["sprints"]} s ON s.id = w.sprint_id
                WHERE {where}
                ORDER BY w.blocked_since ASC NULLS LAST, w.id
                LIMIT :lim OFFSET :off
                """
            ),
            params,
        ).mappings().all()
        total = session.execute(
            sa.text(f"SELECT count(*) FROM {t['work_items']} w WHERE {where}"),
            {k: v for k, v in params.items() if k not in ("lim", "off")},
        ).scalar_one()
        namer = _Namer(session, user, project_id)
        namer.prefetch(r["assignee_identity_id"] for r in rows)
        now = _now()
        items = [
            BlockedItem(
                id=int(r["id"]),
                key=r["key"] or "",
                title=r["title"] or "",
                item_type=r["item_type"] or "",
                status=r["status"] or r["status_category"] or "",
                story_points=r["story_points"],
                assignee=namer.name(r["assignee_identity_id"], r["assignee_name"]),
                url=r["url"] or "",
                sprint_id=r["sprint_id"],
                sprint_name=r["sprint_name"] or "",
                blocked_since=_iso(r["blocked_since"]),
                blocked_hours=_round((now - r["blocked_since"]).total_seconds() / 3600) if r["blocked_since"] else None,
                reason=r["blocked_reason"] or "",
            )
            for r in rows
        ]
    result = BlockedItems(
        project_id=project_id, sprint_id=sprint_id, items=items, total=int(total), page=page, page_size=page_size
    )
    if not total:
        result.empty_message = "Nothing is blocked right now."
    return result
