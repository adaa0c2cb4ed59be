"""forecast_project: reads closed sprints' metrics and the open backlog, stores both predictions with a backtest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from etl.forecast import forecast_project, forecast_tenant
from etl.insights import collect_statistics
from etl.metrics import rebuild_metrics
from models.db import tenant_session
from models.tenant import AIPrediction
from tests.integration.test_compliance_support import add_item, add_sprint, make_project

START = datetime(2025, 1, 6, 9, tzinfo=UTC)


def _sprint_with_velocity(slug: str, project_id: int, n: int, points: float, **sprint: object) -> int:
    s0 = START + timedelta(days=14 * n)
    sid = add_sprint(slug, project_id, f"S{n}", s0, s0 + timedelta(days=14), **sprint)
    if points:
        add_item(slug, project_id, sprint_id=sid, story_points=points, created_at_source=s0 - timedelta(days=1),
                 done_at=s0 + timedelta(days=2))  # fmt: skip
    return sid


def _predictions(slug: str) -> list[AIPrediction]:
    with tenant_session(slug) as s:
        return list(s.exec(select(AIPrediction).order_by(AIPrediction.id)).all())


def test_forecast_project_stores_velocity_and_backlog_predictions(make_tenant) -> None:
    t = make_tenant("fc")
    p = make_project(t)
    for n, points in enumerate([10, 12, 14, 16]):
        _sprint_with_velocity(t.slug, p.id, n, points)
    for _ in range(3):
        add_item(t.slug, p.id, status_category="todo", story_points=13)
    rebuild_metrics(t.slug)
    now = datetime(2025, 3, 3, 15, 30, tzinfo=UTC)
    out = forecast_project(t.slug, p.id, now=now, simulations=2000)
    assert out["inputs"]["velocity_history"] == [10.0, 12.0, 14.0, 16.0]
    assert out["velocity"]["velocity_trend"]["direction"] == "up"
    assert out["velocity"]["velocity_trend"]["r2"] == 1.0
    v = out["velocity"]["velocity"]
    assert 10 <= v["p85"] <= v["p50"] <= 16
    b = out["backlog"]
    assert b["unit"] == "points" and b["remaining"] == 39.0 and b["sprint_days"] == 14.0
    assert 3 <= b["p50_sprints"] <= b["p85_sprints"] <= 4
    today = datetime(2025, 3, 3, tzinfo=UTC)  # dates count from the start of the day
    assert b["p50_date"] == (today + timedelta(days=14 * b["p50_sprints"])).isoformat()
    # The backtest forecast S3 from S0..S2 (the first three sprints only train).
    calibration = out["velocity"]["calibration"]
    assert calibration["sprints_tested"] == 1 and calibration["points"][0]["sprint"] == "S3"
    assert calibration["p85_hits"] == 1  # 16 >= the P85 drawn from 10, 12, 14
    assert sorted(r.kind for r in _predictions(t.slug)) == ["forecast_backlog", "forecast_velocity"]
    assert out["stored"] is True


def test_active_and_future_sprints_never_enter_forecasts_or_insights(make_tenant) -> None:
    t = make_tenant("fc")
    p = make_project(t)
    for n, points in enumerate([30, 34, 38, 32, 36]):
        _sprint_with_velocity(t.slug, p.id, n, points)
    _sprint_with_velocity(t.slug, p.id, 5, 0, state="active")  # nothing done yet
    _sprint_with_velocity(t.slug, p.id, 6, 0, state="future")
    add_item(t.slug, p.id, status_category="todo", story_points=100)
    rebuild_metrics(t.slug)
    out = forecast_project(t.slug, p.id)
    assert out["inputs"]["sprints"] == ["S0", "S1", "S2", "S3", "S4"]
    assert out["inputs"]["velocity_history"] == [30.0, 34.0, 38.0, 32.0, 36.0]
    velocity = out["velocity"]["velocity"]
    assert velocity["p85"] >= 30
    # The insights draw from the same closed sprints with the same Monte Carlo: the very same numbers.
    statistics = collect_statistics(t.slug, p.id)
    assert len(statistics["sprints"]) == 5
    assert all(s["completed_points"] >= 30 for s in statistics["sprints"])
    insight_forecast = statistics["velocity_forecast"]
    assert (insight_forecast["p50"], insight_forecast["p85"]) == (velocity["p50"], velocity["p85"])


def test_an_unchanged_forecast_is_not_stored_twice_and_every_active_project_is_forecast(make_tenant) -> None:
    t = make_tenant("fc")
    p, q = make_project(t), make_project(t)
    make_project(t, is_active=False)
    for n, points in enumerate([8, 9, 10]):
        _sprint_with_velocity(t.slug, p.id, n, points)
    rebuild_metrics(t.slug)
    now = datetime(2025, 3, 3, 8, tzinfo=UTC)
    first = forecast_tenant(t.slug, now=now, simulations=1000)
    assert sorted(first) == sorted([p.id, q.id])
    assert len(_predictions(t.slug)) == 4
    again = forecast_tenant(t.slug, now=now + timedelta(hours=5), simulations=1000)
    assert again[p.id]["stored"] is False and again[p.id]["prediction_ids"] == first[p.id]["prediction_ids"]
    assert len(_predictions(t.slug)) == 4
    # A new closed sprint changes the inputs: new rows.
    _sprint_with_velocity(t.slug, p.id, 3, 11)
    rebuild_metrics(t.slug)
    third = forecast_project(t.slug, p.id, now=now, simulations=1000)
    assert third["stored"] is True and third["inputs"]["velocity_history"] == [8.0, 9.0, 10.0, 11.0]
    assert len(_predictions(t.slug)) == 6
