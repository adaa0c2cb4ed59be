"""Developers and "me": per-developer totals and per-sprint trends next to the team average, named per role."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from core.errors import NotFound
from etl.metrics import developer_figures
from models.db import tenant_schema_of, tenant_session
from models.tenant import DeveloperIdentity, DeveloperMetrics
from services.auth import CurrentUser
from services.dashboards.common import (
    HISTORY_SPRINTS,
    _as_percent,
    _my_identity_ids,
    _Namer,
    _round,
    _tables,
    require_project,
)
from services.dashboards.shapes import Choice, DeveloperDetail, DeveloperList, DeveloperRow, DeveloperSprintPoint
from services.dashboards.sprint_rows import _project_sprints, _stored_sprint_ids


def _developer_sprint_figures(session: Session, project_id: int) -> list[dict[str, Any]]:
    """(identity, sprint) rows: the read model for sprints the metrics job reached, the same figures live for the rest."""
    stored = _stored_sprint_ids(session, project_id)
    missing = [s.id or 0 for s in _project_sprints(session, project_id, False) if s.id not in stored]
    table = DeveloperMetrics.__table__  # type: ignore[attr-defined]
    # Core rows, not ORM objects (a big project has thousands of developer-sprint rows).
    rows: list[Mapping[str, Any]] = [
        m
        for m in session.execute(sa.select(*table.c).where(table.c.project_id == project_id)).mappings()
        if m["sprint_id"] not in missing
    ]
    rows += developer_figures(session, missing)
    return [
        dict(
            identity_id=int(m["identity_id"]),
            sprint_id=int(m["sprint_id"]),
            items=int(m["items_completed"] or 0),
            points=float(m["points_completed"] or 0),
            cycle=m["avg_cycle_time_days"],
            compliance=_as_percent(m["compliance_rate"]),
            defects=int(m["defects_completed"] or 0),
            prs_merged=int(m["prs_merged"] or 0),
            reviews=int(m["reviews_given"] or 0),
        )
        for m in rows
    ]


def _totals(identity_id: int, name: str, rows: list[dict[str, Any]], is_me: bool) -> DeveloperRow:
    cycles = [(r["cycle"], r["items"]) for r in rows if r["cycle"] is not None and r["items"]]
    comp = [r["compliance"] for r in rows if r["compliance"] is not None]
    return DeveloperRow(
        identity_id=identity_id,
        name=name,
        is_me=is_me,
        sprints_active=len({r["sprint_id"] for r in rows if r["items"]}),  # sprints with finished work
        items_completed=sum(r["items"] for r in rows),
        points_completed=round(sum(r["points"] for r in rows), 1),
        avg_cycle_time_days=_round(sum(c * n for c, n in cycles) / sum(n for _, n in cycles)) if cycles else None,
        compliance_rate=_round(sum(comp) / len(comp)) if comp else None,
        defects_completed=sum(r["defects"] for r in rows),
        prs_merged=sum(r["prs_merged"] for r in rows),
        reviews_given=sum(r["reviews"] for r in rows),
    )


def developers(user: CurrentUser, project_id: int) -> DeveloperList:
    """Developers of the project with their totals; names only for roles allowed to see them."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        figures = _developer_sprint_figures(session, project_id)
        namer = _Namer(session, user, project_id)
        by_dev: dict[int, list[dict[str, Any]]] = {}
        for f in figures:
            by_dev.setdefault(f["identity_id"], []).append(f)
        if namer.named:
            namer.load(set(by_dev))
        devs = [_totals(i, namer.name(i), rows, i in namer.mine) for i, rows in by_dev.items()]
    devs.sort(key=lambda d: (not d.is_me, -d.points_completed, d.identity_id))
    result = DeveloperList(project_id=project_id, names_visible=namer.named, developers=devs)
    if not devs:
        result.empty_message = (
            "No completed work linked to developers yet: items need an assignee, and identities are "
            "linked on sync (ask your admin if people are missing)."
        )
    return result


def _developer_detail(session: Session, user: CurrentUser, project_id: int, identity_id: int) -> DeveloperDetail:
    figures = _developer_sprint_figures(session, project_id)
    mine = [f for f in figures if f["identity_id"] == identity_id]
    namer = _Namer(session, user, project_id)
    if not mine:
        if session.get(DeveloperIdentity, identity_id) is None:
            raise NotFound(f"developer {identity_id} not found")
    name = namer.name(identity_id)
    is_me = identity_id in namer.mine
    names = {sp.id or 0: sp.name for sp in _project_sprints(session, project_id, False)}  # oldest first
    order = list(names)
    team: dict[int, list[dict[str, Any]]] = {}
    for f in figures:
        team.setdefault(f["sprint_id"], []).append(f)

    def avg(rows: list[dict[str, Any]], key: str) -> float | None:
        vals = [r[key] for r in rows if r[key] is not None]
        return _round(sum(vals) / len(vals)) if vals else None

    series = []
    by_sprint = {f["sprint_id"]: f for f in mine}
    for sid in order[-HISTORY_SPRINTS:]:
        if sid not in team:
            continue
        f = by_sprint.get(sid)
        series.append(
            DeveloperSprintPoint(
                sprint_id=sid,
                sprint_name=names[sid],
                items=f["items"] if f else 0,
                points=round(f["points"], 1) if f else 0.0,
                avg_cycle_time_days=_round(f["cycle"]) if f else None,
                compliance_rate=_round(f["compliance"]) if f else None,
                team_avg_items=avg(team[sid], "items"),
                team_avg_points=avg(team[sid], "points"),
                team_avg_cycle_time_days=avg(team[sid], "cycle"),
                team_avg_compliance_rate=avg(team[sid], "compliance"),
            )
        )
    detail = DeveloperDetail(
        project_id=project_id,
        identity_id=identity_id,
        name=name,
        is_me=is_me,
        totals=_totals(identity_id, name, mine, is_me) if mine else None,
        series=series,
    )
    if not mine:
        detail.empty_message = "No completed work for this developer in this project yet."
    return detail


def developer_detail(user: CurrentUser, project_id: int, identity_id: int) -> DeveloperDetail:
    """One developer's metrics per sprint next to the team average (anonymised per role)."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        return _developer_detail(session, user, project_id, identity_id)


def me(user: CurrentUser, project_id: int) -> DeveloperDetail:
    """The signed-in user's own metrics (identity linked by user id or primary email)."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        ids = sorted(_my_identity_ids(session, user))
        if not ids:
            return DeveloperDetail(
                project_id=project_id,
                name=user.display_name,
                is_me=True,
                empty_message=(
                    f"Your account ({user.email}) is not linked to a developer identity yet: ask your admin to "
                    "link it, or use the same email address in your tools."
                ),
            )
        # Prefer the identity with work in this project.
        best = None
        for ident in ids:
            d = _developer_detail(session, user, project_id, ident)
            if best is None or (
                d.totals and (not best.totals or d.totals.items_completed > best.totals.items_completed)
            ):
                best = d
        assert best is not None
        best.name = user.display_name
        return best


def developer_options(user: CurrentUser, project_id: int) -> list[Choice]:
    """Assignees of the project's items for pickers (same naming rules as everywhere)."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        t = _tables(session)
        schema = tenant_schema_of(session)
        from_read_model = f'SELECT DISTINCT identity_id FROM "{schema}".developer_metrics WHERE project_id = :p'
        ids = [int(r[0]) for r in session.execute(sa.text(from_read_model), {"p": project_id})]
        if not ids:
            ids = [
                int(r[0])
                for r in session.execute(
                    sa.text(
                        f"SELECT DISTINCT assignee_identity_id FROM {t['work_items']} "
                        "WHERE project_id = :p AND assignee_identity_id IS NOT NULL"
                    ),
                    {"p": project_id},
                )
            ]
        namer = _Namer(session, user, project_id)
        if namer.named:
            namer.load(set(ids))
        out = [Choice(value=str(i), label=namer.name(i)) for i in ids]
    out.sort(key=lambda c: (not c.label.startswith("Developer "), c.label) if not namer.named else (c.label,))
    return out
