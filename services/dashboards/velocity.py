"""Velocity (committed vs completed points, forecasts) and throughput (completed items by type) per sprint."""

from __future__ import annotations

import math
import statistics

from sqlmodel import Session, col, select

from models.db import tenant_session
from models.tenant import AIPrediction
from services.auth import CurrentUser
from services.dashboards.common import HISTORY_SPRINTS, _round, _type_bucket, require_project
from services.dashboards.shapes import Forecast, ThroughputRow, ThroughputSeries, VelocitySeries
from services.dashboards.sprint_rows import _sprint_rows


def _latest_prediction(session: Session, project_id: int, kind: str) -> AIPrediction | None:
    return session.exec(
        select(AIPrediction)
        .where(AIPrediction.project_id == project_id, AIPrediction.kind == kind)
        .order_by(col(AIPrediction.created_at).desc(), col(AIPrediction.id).desc())
        .limit(1)
    ).first()


def _forecast_of(pred: AIPrediction | None, label: str) -> Forecast:
    """Read a stored forecast: velocity outputs {"velocity": {"p50", "p85"}}, backlog {"p50_date", ...}."""
    if pred is None:
        return Forecast(label=label)
    out = pred.outputs or {}
    nested = out.get("velocity") if isinstance(out.get("velocity"), dict) else None
    values = nested or out
    fc = Forecast(
        label=str(out.get("label") or label),
        p50=_round(values.get("p50")),
        p85=_round(values.get("p85")),
        source="prediction",
        note=pred.summary or pred.title or "",
    )
    if "velocity" in out and nested is None:
        fc.source = "none"  # the forecast job ran but had too little history
    fc.p50_text = str(out.get("p50_date") or "")[:10]
    fc.p85_text = str(out.get("p85_date") or "")[:10]
    return fc


def _local_estimate(values: list[float]) -> Forecast:
    """Order statistics of recent velocities, used until the forecast job has run."""
    vals = sorted(v for v in values if v is not None)[-8:]
    if len(vals) < 2:
        return Forecast(note="a forecast needs at least two finished sprints")
    p50 = statistics.median(vals)
    # 85% confidence: the level reached in 85% of recent sprints (lower tail).
    p85 = sorted(vals)[max(0, math.floor(0.15 * (len(vals) - 1)))]
    return Forecast(
        p50=round(p50, 1),
        p85=round(p85, 1),
        source="estimate",
        note="estimate from recent sprints (the forecast job has not run yet)",
    )


def velocity_series(user: CurrentUser, project_id: int) -> VelocitySeries:
    """Committed vs completed points per sprint, plus the P50/P85 forecast for the next sprint."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        points = _sprint_rows(session, project_id)[-HISTORY_SPRINTS:]
        fc = _forecast_of(_latest_prediction(session, project_id, "forecast_velocity"), "next sprint")
        backlog = _forecast_of(_latest_prediction(session, project_id, "forecast_backlog"), "backlog")
    result = VelocitySeries(project_id=project_id, points=points, backlog_forecast=backlog)
    closed = [p.completed_points for p in points if p.state == "closed"]
    result.forecast = fc if fc.source != "none" else _local_estimate(closed)
    result.average_velocity = round(sum(closed) / len(closed), 1) if closed else None
    if not points:
        result.empty_message = "No sprints yet: ask your admin to connect Jira, ClickUp or Azure Boards and sync."
    return result


def throughput_series(user: CurrentUser, project_id: int) -> ThroughputSeries:
    """Completed items per sprint, split by item type (story, bug, task, other)."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        points = _sprint_rows(session, project_id)[-HISTORY_SPRINTS:]
    rows: list[ThroughputRow] = []
    seen: set[str] = set()
    for p in points:
        row = ThroughputRow(sprint_id=p.sprint_id, sprint_name=p.sprint_name)
        for item_type, n in p.throughput_by_type.items():
            bucket = _type_bucket(item_type)
            setattr(row, bucket, getattr(row, bucket) + int(n))
            seen.add(bucket)
        row.total = row.story + row.bug + row.task + row.other
        if not p.throughput_by_type:
            row.total = p.completed_items
            row.other = p.completed_items
            if p.completed_items:
                seen.add("other")
        rows.append(row)
    result = ThroughputSeries(
        project_id=project_id, rows=rows, types=[t for t in ("story", "bug", "task", "other") if t in seen]
    )
    if rows:
        result.average = round(sum(r.total for r in rows) / len(rows), 1)
    else:
        result.empty_message = "No completed work yet: items appear here once sprints have done items."
    return result
