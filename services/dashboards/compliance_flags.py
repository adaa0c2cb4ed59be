"""Compliance flags of the user's projects: filtered, sorted pages, one flag, and resolving one by hand."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from core.errors import NotFound, PermissionDenied, ValidationFailed
from models.db import tenant_session
from models.tenant import ComplianceFlag
from services import flags as flag_service
from services.auth import CurrentUser
from services.dashboards.common import _iso, _Namer, _require_company, _tables, require_project, user_projects
from services.dashboards.shapes import FlagFilters, FlagPage, FlagRow

_FLAG_SORTS = {
    "severity": "CASE f.severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 "
    "WHEN 'low' THEN 3 ELSE 4 END",
    "opened_at": "f.opened_at",
    "rule_id": "f.rule_id",
    "item_key": "w.item_key",
    "status": "f.status",
    "resolved_at": "f.resolved_at",
}


def list_flags(user: CurrentUser, filters: FlagFilters | None = None) -> FlagPage:
    """Compliance flags of the user's projects, filtered, sorted and one page at a time."""
    filters = filters or FlagFilters()
    projects = {p.id: p for p in user_projects(user)}
    if filters.project_id is not None:
        require_project(user, filters.project_id)
        project_ids = [filters.project_id]
    else:
        project_ids = list(projects)
    if filters.sort not in _FLAG_SORTS:
        raise ValidationFailed(f"unknown sort {filters.sort!r}; use one of: {', '.join(_FLAG_SORTS)}", field="sort")
    page_size = max(1, min(filters.page_size, 200))
    page = max(1, filters.page)
    if not project_ids:
        return FlagPage(page=page, page_size=page_size)
    with tenant_session(_require_company(user)) as session:
        t = _tables(session)
        where = ["f.project_id IN :projects"]
        params: dict[str, Any] = {"projects": tuple(project_ids)}
        for name, column in (
            ("rule_id", "f.rule_id"),
            ("severity", "f.severity"),
            ("status", "f.status"),
            ("sprint_id", "w.sprint_id"),
            ("assignee_identity_id", "w.assignee_identity_id"),
        ):
            value = getattr(filters, name)
            if value not in (None, "", "all"):
                where.append(f"{column} = :{name}")
                params[name] = value
        # Join the items only when a filter or the sort needs them; the page is cut from the flags
        # first and its 25 rows joined afterwards, so 100,000 items are never scanned for one page.
        needs_items = any(c.startswith("w.") for c in where) or filters.sort == "item_key"
        flags_from = f"FROM {t['compliance_flags']} f" + (
            f" JOIN {t['work_items']} w ON w.id = f.work_item_id" if needs_items else ""
        )
        base = f"{flags_from} WHERE " + " AND ".join(where)
        direction = "DESC" if filters.descending else "ASC"
        order = f"{_FLAG_SORTS[filters.sort]} {direction} NULLS LAST, f.opened_at DESC, f.id DESC"
        count_stmt = sa.text(f"SELECT count(*) {base}").bindparams(sa.bindparam("projects", expanding=True))
        total = int(session.execute(count_stmt, params).scalar_one())
        pages = max(1, math.ceil(total / page_size))
        page_order = order.replace("w.item_key", "coalesce(w.item_key, w.source_item_id)")
        stmt = sa.text(
            "WITH page AS ("
            f"SELECT f.id, row_number() OVER (ORDER BY {page_order}) AS n {base} "
            f"ORDER BY {page_order} LIMIT :lim OFFSET :off) "
            "SELECT f.id, f.project_id, f.rule_id, f.severity, f.message, f.status, f.work_item_id, "
            "coalesce(w.item_key, w.source_item_id) AS item_key, w.title, w.url, w.sprint_id, s.name AS sprint_name, "
            "w.assignee_identity_id, w.assignee_name, f.opened_at, f.resolved_at, f.resolved_by, f.resolution, "
            "x.id AS exception_id, x.status AS exception_status, x.expires_at AS exception_expires, "
            "coalesce(x.rules ? f.rule_id, false) AS exception_covers "
            f"FROM page JOIN {t['compliance_flags']} f ON f.id = page.id "
            f"JOIN {t['work_items']} w ON w.id = f.work_item_id LEFT JOIN {t['sprints']} s ON s.id = w.sprint_id "
            # The exception that matters now: an approved, unexpired one first, else a waiting request.
            f"LEFT JOIN LATERAL (SELECT e.id, e.status, e.expires_at, e.rules FROM {t['dmt_exceptions']} e "
            "WHERE e.work_item_id = f.work_item_id AND e.expires_at > now() "
            "AND e.status IN ('approved', 'requested') "
            "ORDER BY (e.status = 'approved') DESC, e.created_at DESC LIMIT 1) x ON true "
            "ORDER BY page.n"
        ).bindparams(sa.bindparam("projects", expanding=True))
        rows = session.execute(stmt, {**params, "lim": page_size, "off": (page - 1) * page_size}).mappings().all()
        namers: dict[int, _Namer] = {}
        items = []
        for r in rows:
            pid = int(r["project_id"])
            if pid not in namers:
                namers[pid] = _Namer(session, user, pid)
                namers[pid].prefetch(x["assignee_identity_id"] for x in rows if int(x["project_id"]) == pid)
            namer = namers[pid]
            items.append(
                FlagRow(
                    id=int(r["id"]),
                    project_id=pid,
                    project_key=projects[pid].key if pid in projects else "",
                    rule_id=r["rule_id"],
                    severity=r["severity"],
                    message=r["message"],
                    status=r["status"],
                    item_id=int(r["work_item_id"]),
                    item_key=r["item_key"] or "",
                    item_title=r["title"] or "",
                    item_url=r["url"] or "",
                    sprint_id=r["sprint_id"],
                    sprint_name=r["sprint_name"] or "",
                    assignee=namer.name(r["assignee_identity_id"], r["assignee_name"]),
                    opened_at=_iso(r["opened_at"]),
                    resolved_at=_iso(r["resolved_at"]),
                    resolved_by=r["resolved_by"] or "",
                    resolution=r["resolution"] or "",
                    exception_id=r["exception_id"],
                    exception_status=r["exception_status"] or "",
                    exception_until=_last_day(r["exception_expires"]),
                    exception_covers=bool(r["exception_covers"]),
                )
            )
    return FlagPage(items=items, total=total, page=page, page_size=page_size, pages=pages)


def _last_day(expires_at: datetime | None) -> str:
    """The last day an exception lapsing at `expires_at` covers (UTC)."""
    if expires_at is None:
        return ""
    return (expires_at.astimezone(UTC) - timedelta(microseconds=1)).date().isoformat()


def get_flag(user: CurrentUser, flag_id: int) -> ComplianceFlag:
    """A flag of one of the user's projects, else NotFound."""
    with tenant_session(_require_company(user)) as session:
        flag = session.get(ComplianceFlag, flag_id)
    if flag is None or flag.project_id not in user.project_roles:
        raise NotFound(f"flag {flag_id} not found")
    require_project(user, flag.project_id)
    return flag


RESOLVER_ROLES = {"tech_lead", "project_manager"}


def can_resolve(user: CurrentUser, project_id: int) -> bool:
    """May this user resolve flags of the project by hand?"""
    return user.role_in(project_id) in RESOLVER_ROLES


def resolve_flag(user: CurrentUser, flag_id: int, note: str) -> FlagRow:
    """Resolve a flag of the user's projects by hand (tech leads and project managers only)."""
    flag = get_flag(user, flag_id)
    if not can_resolve(user, flag.project_id):
        raise PermissionDenied("only tech leads and project managers can resolve compliance flags")
    flag_service.resolve_flag(user.tenant_slug or "", flag_id, user.actor(), note)
    with tenant_session(user.tenant_slug or "") as session:
        row = session.get(ComplianceFlag, flag_id)
    assert row is not None
    return FlagRow(
        id=flag_id,
        project_id=row.project_id,
        rule_id=row.rule_id,
        severity=row.severity,
        message=row.message,
        status=row.status,
        item_id=row.work_item_id,
        opened_at=_iso(row.opened_at),
        resolved_at=_iso(row.resolved_at),
        resolved_by=row.resolved_by or "",
        resolution=row.resolution or "",
    )
