"""Velocity (committed vs completed points, forecasts) and throughput (completed items by type) per sprint."""

from __future__ import annotations

from models.db import tenant_session
from services.auth import CurrentUser
from services.dashboards.common import HISTORY_SPRINTS, _type_bucket, require_project
from services.dashboards.forecasts import backlog_forecast, calibration_text, latest_prediction, velocity_forecast
from services.dashboards.shapes import ThroughputRow, ThroughputSeries, VelocitySeries
from services.dashboards.sprint_rows import _sprint_rows


def velocity_series(user: CurrentUser, project_id: int) -> VelocitySeries:
    """Committed vs completed points per sprint, plus the P50/P85 forecast for the next sprint."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        points = _sprint_rows(session, project_id)[-HISTORY_SPRINTS:]
        forecast = velocity_forecast(session, project_id)
        backlog = backlog_forecast(session, project_id)
        stored = latest_prediction(session, project_id, "forecast_velocity")
    result = VelocitySeries(project_id=project_id, points=points, forecast=forecast, backlog_forecast=backlog)
    calibration = (stored.outputs or {}).get("calibration") if stored is not None else None
    if isinstance(calibration, dict):
        result.calibration_text = calibration_text(
            int(calibration.get("sprints_tested") or 0), int(calibration.get("p85_hits") or 0)
        )
    closed = [p.completed_points for p in points if p.state == "closed"]
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
