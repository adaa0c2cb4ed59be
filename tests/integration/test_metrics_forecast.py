"""forecast_project: reads sprint metrics and the open backlog, stores both predictions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from etl.forecast import forecast_project
from etl.metrics import rebuild_metrics
from models.db import tenant_session
from models.tenant import AIPrediction
from tests.integration.test_compliance_support import add_item, add_sprint, make_project


def test_forecast_project_stores_velocity_and_backlog_predictions(make_tenant) -> None:
    t = make_tenant("fc")
    p = make_project(t)
    start = datetime(2025, 1, 6, 9, tzinfo=UTC)
    for n, points in enumerate([10, 12, 14, 16]):
        s0 = start + timedelta(days=14 * n)
        sid = add_sprint(t.slug, p.id, f"S{n}", s0, s0 + timedelta(days=14))
        add_item(
            t.slug,
            p.id,
            sprint_id=sid,
            story_points=points,
            created_at_source=s0 - timedelta(days=1),
            done_at=s0 + timedelta(days=2),
        )
    for _ in range(3):
        add_item(t.slug, p.id, status_category="todo", story_points=13)
    rebuild_metrics(t.slug)
    now = datetime(2025, 3, 3, tzinfo=UTC)
    out = forecast_project(t.slug, p.id, now=now, simulations=2000)
    assert out["inputs"]["velocity_history"] == [10.0, 12.0, 14.0, 16.0]
    assert out["velocity"]["velocity_trend"]["direction"] == "up"
    assert out["velocity"]["velocity_trend"]["r2"] == 1.0
    v = out["velocity"]["velocity"]
    assert 10 <= v["p85"] <= v["p50"] <= 16
    b = out["backlog"]
    assert b["unit"] == "points" and b["remaining"] == 39.0 and b["sprint_days"] == 14.0
    assert 3 <= b["p50_sprints"] <= b["p85_sprints"] <= 4
    assert b["p50_date"] == (now + timedelta(days=14 * b["p50_sprints"])).isoformat()
    with tenant_session(t.slug) as s:
        kinds = sorted(r.kind for r in s.exec(select(AIPrediction)).all())
    assert kinds == ["forecast_backlog", "forecast_velocity"]
