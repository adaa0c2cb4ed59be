"""Per-sprint figures of a project, shared by the KPI, velocity, throughput, quality, PR and team pages.

Figures come from the `sprint_metrics` read model when the metrics job has
filled it; sprints it has not reached yet (a fresh tenant, a sprint that just
started) are computed live by `etl.metrics.sprint_figures`, the same SQL the
job runs, so a sprint shows the same numbers before and after the job.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from etl.metrics import sprint_figures
from models.db import tenant_schema_of
from models.tenant import Sprint, SprintMetrics
from services.dashboards.common import _as_percent, _iso, _now, _round
from services.dashboards.shapes import SprintPoint

_ROWS_MEMO: ContextVar[dict[tuple[str, int, bool], list[SprintPoint]] | None] = ContextVar(
    "dashboards_rows_memo", default=None
)


@contextmanager
def one_page_load() -> Iterator[None]:
    """Inside this block the per-sprint figures are read once and shared by every call.

    For a page that shows several views of the same sprints (the dashboard: KPIs and
    velocity). The memo lives only for the block, so nothing is ever served stale.
    """
    token = _ROWS_MEMO.set({})
    try:
        yield
    finally:
        _ROWS_MEMO.reset(token)


def _sprint_rows(session: Session, project_id: int, include_future: bool = False) -> list[SprintPoint]:
    """Per-sprint figures, oldest first: the read model when filled, else the same figures computed live."""
    memo = _ROWS_MEMO.get()
    key = (tenant_schema_of(session), project_id, include_future)
    if memo is not None and key in memo:
        return list(memo[key])
    rows = _read_sprint_rows(session, project_id, include_future)
    if memo is not None:
        memo[key] = rows
    return list(rows)


def _project_sprints(session: Session, project_id: int, include_future: bool) -> list[Sprint]:
    sprints = session.exec(
        select(Sprint)
        .where(Sprint.project_id == project_id)
        .order_by(sa.nulls_last(col(Sprint.start_date).asc()), col(Sprint.id))
    ).all()
    return [s for s in sprints if include_future or s.state != "future"]


def _stored_sprint_ids(session: Session, project_id: int) -> set[int]:
    """Sprints of the project the metrics job has reached (they have a `sprint_metrics` row)."""
    table = SprintMetrics.__table__  # type: ignore[attr-defined]
    return {int(r[0]) for r in session.execute(sa.select(table.c.sprint_id).where(table.c.project_id == project_id))}


def _read_sprint_rows(session: Session, project_id: int, include_future: bool) -> list[SprintPoint]:
    sprints = _project_sprints(session, project_id, include_future)
    if not sprints:
        return []
    # Core rows, not ORM objects: building SQLModel instances costs more than the query.
    table = SprintMetrics.__table__  # type: ignore[attr-defined]
    figures: dict[int, Mapping[str, Any]] = {
        int(m["sprint_id"]): m
        for m in session.execute(sa.select(*table.c).where(table.c.project_id == project_id)).mappings()
    }
    # Sprints the metrics job has not reached yet are computed live, and only those.
    missing = [s.id or 0 for s in sprints if s.state != "future" and s.id not in figures]
    figures.update(sprint_figures(session, missing))
    out: list[SprintPoint] = []
    for s in sprints:
        point = SprintPoint(
            sprint_id=s.id or 0, sprint_name=s.name, state=s.state, start=_iso(s.start_date), end=_iso(s.end_date)
        )
        f = figures.get(s.id or 0)
        out.append(point.model_copy(update=_point_figures(f)) if f is not None else point)
    return out


def _point_figures(f: Mapping[str, Any]) -> dict[str, Any]:
    """A `sprint_metrics` row (stored or computed live) as SprintPoint fields: percent, rounded."""
    return dict(
        committed_points=float(f["committed_points"] or 0),
        completed_points=float(f["completed_points"] or 0),
        committed_items=int(f["committed_items"] or 0),
        completed_items=int(f["completed_items"] or 0),
        avg_cycle_time_days=_round(f["avg_cycle_time_days"]),
        blocked_items=int(f["blocked_items"] or 0),
        defects=int(f["defects_count"] or 0),
        defect_density=_round(f["defect_density"]),
        compliance_rate=_round(_as_percent(f["compliance_rate"])),
        open_flags=int(f["open_flags"] or 0),
        open_critical_flags=int(f["open_critical_flags"] or 0),
        prs_merged=int(f["prs_merged"] or 0),
        avg_time_to_first_review_hours=_round(f["avg_time_to_first_review_hours"]),
        pr_review_rate=_round(_as_percent(f["pr_review_rate"])),
        avg_merge_time_hours=_round(f["avg_merge_time_hours"]),
        throughput_by_type={str(k): int(v or 0) for k, v in (f["throughput_by_type"] or {}).items()},
    )


def _current_index(points: list[SprintPoint]) -> int | None:
    """The active sprint, else the most recent one that has started."""
    if not points:
        return None
    for i in range(len(points) - 1, -1, -1):
        if points[i].state == "active":
            return i
    now = _now().isoformat()
    started = [i for i, p in enumerate(points) if not p.start or p.start <= now]
    return started[-1] if started else len(points) - 1
