"""The spec's charts' read models: compliance gauge, prediction card, burndown, cycle-time scatter, heatmaps."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from core.errors import NotFound
from etl.forecast import forecast_project
from etl.metrics import rebuild_metrics
from models.enums import ProjectRole
from services import dashboards as dash
from services.auth import authenticate
from tests.integration.test_compliance_support import add_item, add_sprint, make_project
from tests.integration.test_dashboards_seed import NOW, PASSWORD, Seeded, _user, seed_tenant


@pytest.fixture(scope="module")
def world(database_url: str) -> tuple[Seeded, Seeded]:
    from services.audit import Actor
    from services.tenants import TenantCreate, create_tenant

    tenants = [
        create_tenant(TenantCreate(name=f"Charts {p}", slug=f"chart{p}_{uuid.uuid4().hex[:6]}"), Actor.system("test"))
        for p in ("a", "b")
    ]
    return seed_tenant(tenants[0]), seed_tenant(tenants[1])


def test_gauge_shows_the_compliance_cards_figure_against_the_target(world) -> None:
    a, _ = world
    charts = dash.dashboard_charts(a.user("viewer"), a.project_id)
    card = next(c for c in dash.kpis(a.user("viewer"), a.project_id).cards if c.key == "compliance_rate")
    gauge = charts.gauge
    assert gauge.sprint_name == "S3" and gauge.value == card.value == 50.0
    assert gauge.previous == card.previous == 87.5 and gauge.delta == card.delta == -37.5
    assert (gauge.target, gauge.warning, gauge.status) == (dash.COMPLIANCE_TARGET, 75.0, "red")  # a new project's
    assert gauge.label == "40 pp below the 90% target"  # rounded as the figure: one decimal, none when whole
    assert [dash.compliance_status(v) for v in (95.0, 90.0, 80.0, 74.9, None)] == [
        "green", "green", "yellow", "red", "none"
    ]  # fmt: skip


def test_gauge_bands_follow_the_projects_own_target(world) -> None:
    from services.audit import Actor
    from services.projects import ProjectSettingsUpdate, update_project_settings

    a, _ = world
    viewer, system = a.user("viewer"), Actor.system("test")
    seen = {}
    try:
        for target in (50, 60, 70, 62.5):  # the sprint's rate is 50 %
            update_project_settings(a.project_id, ProjectSettingsUpdate(compliance_target=target), system)
            g = dash.dashboard_charts(viewer, a.project_id).gauge
            seen[target] = (g.target, g.warning, g.status, g.label)
    finally:
        update_project_settings(a.project_id, ProjectSettingsUpdate(compliance_target=90), system)
    assert seen == {
        50: (50.0, 35.0, "green", "On target"),
        60: (60.0, 45.0, "yellow", "10 pp below the 60% target"),
        70: (70.0, 55.0, "red", "20 pp below the 70% target"),
        62.5: (62.5, 47.5, "yellow", "12.5 pp below the 62.5% target"),
    }
    # The yellow band is 15 points wide and never reaches below 0.
    assert [dash.compliance_warning(t) for t in (100, 90, 15, 10)] == [85.0, 75.0, 0.0, 0.0]
    assert [dash.compliance_status(v, 10) for v in (10.0, 0.0)] == ["green", "yellow"]


def test_dashboard_burndown_is_the_active_sprints(world) -> None:
    a, _ = world
    burndown = dash.dashboard_charts(a.user("viewer"), a.project_id).burndown
    assert (burndown.sprint_name, burndown.state, burndown.item_count, burndown.scope) == ("S3", "active", 3, 15.0)
    assert len(burndown.burn) == 15  # 14 days, both ends
    past = [p for p in burndown.burn if p.remaining is not None]
    assert past[0].remaining == 15.0 and past[-1].remaining == 5.0  # 8 + 2 points done
    assert burndown.burn[-1].remaining is None and burndown.burn[-1].ideal == 0.0  # days to come: ideal only
    detail = dash.sprint_detail(a.user("viewer"), a.project_id, a.sprints["S3"], limit=0)
    assert detail.burn == burndown.burn  # the sprint page's own burndown


def test_prediction_card_reads_the_stored_forecast(world) -> None:
    a, _ = world
    card = dash.dashboard_charts(a.user("viewer"), a.project_id).forecast
    assert (card.next_p50, card.next_p85, card.source, card.unit) == (12.0, 9.0, "prediction", "points")
    assert card.calibration_text == "" and card.finish_p50 == ""


def test_prediction_card_and_velocity_page_quote_one_forecast_with_its_backtest(make_tenant) -> None:
    t = make_tenant("pc")
    p = make_project(t)
    user = authenticate(_user(t.id, p.id, ProjectRole.VIEWER, "Pia"), PASSWORD)
    start = datetime(2025, 1, 6, 9, tzinfo=UTC)
    for n, points in enumerate([20, 24, 22, 26, 21, 25, 23]):
        s0 = start + timedelta(days=14 * n)
        sid = add_sprint(t.slug, p.id, f"S{n}", s0, s0 + timedelta(days=14))
        add_item(t.slug, p.id, sprint_id=sid, story_points=points, created_at_source=s0 - timedelta(days=1),
                 started_at=s0, done_at=s0 + timedelta(days=2))  # fmt: skip
    add_item(t.slug, p.id, status_category="todo", story_points=60)
    rebuild_metrics(t.slug)
    live = dash.forecast_card(user, p.id)  # before the worker stored one: the same Monte Carlo, live
    assert live.source == "live"
    forecast_project(t.slug, p.id)
    card = dash.forecast_card(user, p.id)
    velocity = dash.velocity_series(user, p.id)
    assert card.source == "prediction" and (card.next_p50, card.next_p85) == (live.next_p50, live.next_p85)
    assert (velocity.forecast.p50, velocity.forecast.p85) == (card.next_p50, card.next_p85)
    assert card.history == ["S1", "S2", "S3", "S4", "S5", "S6"]
    assert card.calibration_tested == 4 and card.calibration_text.endswith("past sprints reached their P85 forecast")
    assert velocity.calibration_text == card.calibration_text
    assert card.remaining == 60.0 and card.finish_p50 and card.finish_p85 >= card.finish_p50


def test_cycle_time_scatter_has_every_done_item_with_percentiles(world) -> None:
    a, _ = world
    scatter = dash.cycle_time_scatter(a.user("viewer"), a.project_id, days=90)
    assert scatter.total == len(scatter.points) == 8  # every done item of the seed has a start
    assert {p.cycle_days for p in scatter.points} == {2.0} and (scatter.p50, scatter.p85) == (2.0, 2.0)
    assert [p.done_at for p in scatter.points] == sorted(p.done_at for p in scatter.points)
    by_id = {p.item_id: p for p in scatter.points}
    assert by_id[a.items["s1_bug"]].item_type == "bug" and by_id[a.items["s3_task"]].item_type == "task"
    assert by_id[a.items["s1_a"]].assignee.startswith("Developer ")  # a viewer sees no names
    recent = dash.cycle_time_scatter(a.user("viewer"), a.project_id, days=30)
    assert {p.item_id for p in recent.points} == {a.items[k] for k in ("s2_a", "s2_c", "s3_b", "s3_task")}
    # A point opens its item.
    drill = dash.item_drill(a.user("viewer"), a.project_id, a.items["s3_b"])
    assert drill.total == 1 and drill.items[0].id == a.items["s3_b"] and drill.title.endswith("s3_b title")


def test_review_wait_heatmap_by_weekday_and_hour(world) -> None:
    a, _ = world
    heatmap = dash.review_wait_heatmap(a.user("viewer"), a.project_id)
    assert len(heatmap.y_labels) == 7 and len(heatmap.x_labels) == 24
    opened = NOW - timedelta(days=5)  # every seeded PR; two of them got a review (after 2 h and 30 h)
    row, column = opened.isoweekday() - 1, opened.hour
    assert heatmap.counts[row][column] == 2 and heatmap.values[row][column] == 16.0
    assert heatmap.total == 2
    assert sum(v is not None for line in heatmap.values for v in line) == 1


def test_compliance_heatmap_names_developers_only_for_leads(world) -> None:
    a, _ = world
    lead = dash.compliance_heatmap(a.user("tech_lead"), a.project_id)
    assert lead.x_labels == ["S1", "S2", "S3"]
    assert lead.y_labels == ["Ann Example", "Bob Example", "Cid Example"]
    ann = lead.values[0]
    assert ann == [50.0, 100.0, 100.0]  # S1: one of two compliant; S2 and S3 all
    assert lead.counts[2] == [0, 1, 0]  # Cid finished one item, in S2
    viewer = dash.compliance_heatmap(a.user("viewer"), a.project_id)
    assert viewer.y_labels == [] and "tech leads" in viewer.empty_message


def test_chart_read_models_refuse_other_tenants_projects_and_items(world) -> None:
    a, b = world
    for read in (dash.dashboard_charts, dash.forecast_card, dash.cycle_time_scatter, dash.review_wait_heatmap,
                 dash.compliance_heatmap):  # fmt: skip
        with pytest.raises(NotFound):
            read(a.user("tech_lead"), b.project_id)
    with pytest.raises(NotFound):
        dash.item_drill(a.user("tech_lead"), b.project_id, b.items["s1_a"])
    with pytest.raises(NotFound):
        dash.item_drill(a.user("tech_lead"), a.project_id, 10**9)


def test_kpi_changes_are_rounded_like_their_figure(world) -> None:
    a, _ = world
    cards = {c.key: c for c in dash.kpis(a.user("viewer"), a.project_id).cards}
    # A change of a percentage is in percentage points; a change of a count is a whole number.
    assert cards["compliance_rate"].display == "50%"
    assert cards["compliance_rate"].delta_display == "\u221237.5 pp vs the average of the previous 2 sprints"
    assert cards["throughput"].delta_display == "\u22121 item vs the average of the previous 2 sprints"
    assert cards["velocity"].delta_display == "\u22123.5 pts vs the average of the previous 2 sprints"
    for card in cards.values():
        assert "-0" not in card.display + card.delta_display and "\u22120 " not in card.delta_display
