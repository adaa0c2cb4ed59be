"""services.dashboards against a real tenant schema: numbers, anonymisation per role, isolation."""

from __future__ import annotations

import pytest
from sqlmodel import select

from core.errors import NotFound, PermissionDenied, ValidationFailed
from models.db import tenant_session
from models.tenant import ComplianceFlag, SprintMetrics
from services import dashboards as dash
from tests.integration.test_dashboards_seed import Seeded, seed_tenant


@pytest.fixture(scope="module")
def world(database_url: str) -> tuple[Seeded, Seeded]:
    import uuid

    from services.audit import Actor
    from services.tenants import TenantCreate, create_tenant

    tenants = [
        create_tenant(TenantCreate(name=f"Dash {p}", slug=f"dash{p}_{uuid.uuid4().hex[:6]}"), Actor.system("test"))
        for p in ("a", "b")
    ]
    return seed_tenant(tenants[0]), seed_tenant(tenants[1])


@pytest.fixture(scope="module")
def a(world: tuple[Seeded, Seeded]) -> Seeded:
    return world[0]


@pytest.fixture(scope="module")
def b(world: tuple[Seeded, Seeded]) -> Seeded:
    return world[1]


def test_user_projects_lists_only_own_projects(a: Seeded) -> None:
    projects = dash.user_projects(a.user("viewer"))
    assert [p.id for p in projects] == [a.project_id]
    assert projects[0].role == "viewer"


def test_velocity_counts_committed_and_completed_points_per_sprint(a: Seeded) -> None:
    v = dash.velocity_series(a.user("viewer"), a.project_id)
    by = {p.sprint_name: p for p in v.points}
    assert [p.sprint_name for p in v.points] == ["S1", "S2", "S3"]
    assert (by["S1"].committed_points, by["S1"].completed_points) == (19, 17)
    assert (by["S1"].committed_items, by["S1"].completed_items) == (5, 4)
    assert (by["S2"].committed_points, by["S2"].completed_points) == (10, 10)
    assert (by["S3"].committed_points, by["S3"].completed_points) == (15, 10)
    assert v.forecast.source == "prediction" and (v.forecast.p50, v.forecast.p85) == (12.0, 9.0)
    assert v.average_velocity == 13.5  # closed sprints only


def test_kpis_compare_current_sprint_with_previous_ones(a: Seeded) -> None:
    k = dash.kpis(a.user("viewer"), a.project_id)
    assert k.sprint_name == "S3" and k.has_data
    cards = {c.key: c for c in k.cards}
    assert cards["velocity"].value == 10 and cards["velocity"].previous == 13.5
    assert cards["velocity"].delta == -3.5 and cards["velocity"].direction == "down" and cards["velocity"].good is False
    assert cards["throughput"].value == 2 and cards["throughput"].previous == 3.0
    assert cards["compliance_rate"].value == 50.0  # S3: 1 of 2 done items compliant
    assert cards["compliance_rate"].previous == 87.5  # avg of 75% (S1) and 100% (S2)
    assert cards["cycle_time"].value == 2.0
    assert cards["blocked_items"].value == 1 and cards["blocked_items"].good is False
    assert cards["open_critical_flags"].value == 0  # S3's items have a high flag, the critical one is S1's
    assert "1 open in the whole project" in cards["open_critical_flags"].hint


def test_kpis_prefer_the_sprint_metrics_read_model_when_filled(database_url: str, make_tenant) -> None:
    s = seed_tenant(make_tenant("dashrm"))
    with tenant_session(s.slug) as db:
        for name, vel in (("S1", 20.0), ("S2", 30.0), ("S3", 40.0)):
            db.add(
                SprintMetrics(
                    project_id=s.project_id,
                    sprint_id=s.sprints[name],
                    committed_points=50,
                    completed_points=vel,
                    compliance_rate=0.5,
                )
            )
        db.commit()
    cards = {c.key: c for c in dash.kpis(s.user("viewer"), s.project_id).cards}
    assert cards["velocity"].value == 40 and cards["velocity"].previous == 25.0
    assert cards["compliance_rate"].value == 50.0


def test_throughput_splits_completed_items_by_type(a: Seeded) -> None:
    t = dash.throughput_series(a.user("viewer"), a.project_id)
    s1 = t.rows[0]
    assert (s1.story, s1.bug, s1.task, s1.total) == (3, 1, 0, 4)
    assert t.rows[2].task == 1 and t.rows[2].total == 2
    assert set(t.types) == {"story", "bug", "task"}


def test_quality_has_defect_density_compliance_and_flags_by_rule(a: Seeded) -> None:
    q = dash.quality(a.user("viewer"), a.project_id)
    s1 = q.series[0]
    assert s1.defects == 1 and s1.defect_density == round(100 / 17, 1)
    assert s1.compliance_rate == 75.0
    assert q.open_flags == 2 and q.flags_by_severity == {"critical": 1, "high": 1, "medium": 0}
    assert q.flags_by_rule[0].rule_id == "missing_pr_link"  # critical first
    assert (q.done_items, q.compliant_items) == (8, 6)
    assert q.compliance_rate == 75.0


def test_pr_health_distribution_share_reviewed_and_repositories(a: Seeded) -> None:
    h = dash.pr_health(a.user("viewer"), a.project_id)
    assert (h.total, h.merged, h.open) == (4, 3, 1)
    assert h.reviewed_share == 66.7
    buckets = {b.bucket: b.count for b in h.buckets}
    assert buckets["1-4 h"] == 1 and buckets["1-3 days"] == 1 and buckets["not reviewed"] == 2
    assert h.avg_merge_hours == round((10 + 4 + 48) / 3, 1)
    repos = {r.repository: r for r in h.repositories}
    assert repos["org/api"].prs == 3 and repos["org/api"].reviewed_share == 50.0
    assert repos["org/web"].avg_first_review_hours == 30.0


def test_sprint_detail_burns_down_from_done_dates_and_links_items(a: Seeded) -> None:
    d = dash.sprint_detail(a.user("tech_lead"), a.project_id, a.sprints["S3"])
    assert d.items_total == 3 and len(d.items) == 3
    assert all(i.url.startswith("https://jira.example.com/browse/") for i in d.items)
    past = [p for p in d.burn if p.remaining is not None]
    assert past[0].scope == 15 and past[0].remaining == 15
    assert past[-1].remaining == 5 and past[-1].done == 10  # 8 done two days ago, 2 yesterday
    assert d.burn[-1].remaining is None and d.burn[-1].ideal == 0
    default = dash.sprint_detail(a.user("viewer"), a.project_id)
    assert default.sprint.sprint_name == "S3"


def test_drill_down_returns_the_items_behind_a_chart_point(a: Seeded) -> None:
    user = a.user("viewer")
    done = dash.drill_down(user, a.project_id, a.sprints["S1"], "completed")
    assert done.total == 4 and {i.key for i in done.items} == {
        i.key for i in dash.sprint_detail(user, a.project_id, a.sprints["S1"]).items if i.status_category == "done"
    }
    assert dash.drill_down(user, a.project_id, a.sprints["S1"], "defects").total == 1
    assert dash.drill_down(user, a.project_id, a.sprints["S1"], "throughput", item_type="story").total == 3
    assert dash.drill_down(user, a.project_id, a.sprints["S1"], "noncompliant").total == 1
    assert dash.drill_down(user, a.project_id, a.sprints["S1"], "flags").total == 1
    assert dash.drill_down(user, a.project_id, a.sprints["S3"], "blocked").total == 1
    with pytest.raises(ValidationFailed):
        dash.drill_down(user, a.project_id, a.sprints["S1"], "nonsense")


def test_viewer_sees_developers_anonymised_with_stable_numbers(a: Seeded) -> None:
    devs = dash.developers(a.user("viewer"), a.project_id)
    assert not devs.names_visible
    names = {d.identity_id: d.name for d in devs.developers}
    assert names == {i: f"Developer {i}" for i in a.identities.values()}
    assert names == {d.identity_id: d.name for d in dash.developers(a.user("viewer"), a.project_id).developers}
    items = dash.sprint_detail(a.user("viewer"), a.project_id, a.sprints["S1"]).items
    assert all(i.assignee.startswith("Developer ") for i in items)


def test_developer_sees_self_by_name_and_others_anonymised(a: Seeded) -> None:
    devs = dash.developers(a.user("developer"), a.project_id).developers
    me = [d for d in devs if d.is_me]
    assert len(me) == 1 and me[0].name == "Ann Example" and devs[0].is_me
    assert {d.name for d in devs if not d.is_me} == {
        f"Developer {a.identities['Bob']}",
        f"Developer {a.identities['Cid']}",
    }


@pytest.mark.parametrize("role", ["tech_lead", "project_manager"])
def test_leads_see_names(a: Seeded, role: str) -> None:
    devs = dash.developers(a.user(role), a.project_id)
    assert devs.names_visible
    assert {d.name for d in devs.developers} == {"Ann Example", "Bob Example", "Cid Example"}
    ann = next(d for d in devs.developers if d.name == "Ann Example")
    assert (ann.items_completed, ann.points_completed, ann.prs_merged) == (4, 18.0, 3)


def test_developer_detail_compares_with_team_average(a: Seeded) -> None:
    d = dash.developer_detail(a.user("tech_lead"), a.project_id, a.identities["Bob"])
    s1 = next(p for p in d.series if p.sprint_name == "S1")
    assert (s1.items, s1.points) == (2, 6.0)
    assert s1.team_avg_points == 5.7  # Ann 11, Bob 6, Cid 0 (his S1 item is unfinished): 17 / 3
    viewer = dash.developer_detail(a.user("viewer"), a.project_id, a.identities["Bob"])
    assert viewer.name == f"Developer {a.identities['Bob']}"


def test_me_finds_the_identity_linked_by_email(a: Seeded) -> None:
    mine = dash.me(a.user("developer"), a.project_id)
    assert mine.is_me and mine.identity_id == a.identities["Ann"]
    assert mine.totals is not None and mine.totals.items_completed == 4
    unlinked = dash.me(a.user("viewer"), a.project_id)
    assert unlinked.totals is None and "not linked" in unlinked.empty_message


def test_flags_filter_sort_and_page(a: Seeded) -> None:
    user = a.user("tech_lead")
    open_flags = dash.list_flags(user, dash.FlagFilters())
    assert open_flags.total == 2 and [f.severity for f in open_flags.items] == ["critical", "high"]
    assert open_flags.items[0].item_url.startswith("https://jira.example.com/")
    every = dash.list_flags(user, dash.FlagFilters(status=None, sort="rule_id", page_size=2, page=2))
    assert every.total == 3 and every.pages == 2 and [f.rule_id for f in every.items] == ["missing_pr_link"]
    assert dash.list_flags(user, dash.FlagFilters(severity="high")).total == 1
    assert dash.list_flags(user, dash.FlagFilters(sprint_id=a.sprints["S1"])).total == 1
    assert dash.list_flags(user, dash.FlagFilters(rule_id="low_coverage", project_id=a.project_id)).total == 1
    bob = dash.list_flags(user, dash.FlagFilters(assignee_identity_id=a.identities["Bob"]))
    assert bob.total == 1 and bob.items[0].assignee == "Bob Example"
    viewer_rows = dash.list_flags(a.user("viewer"), dash.FlagFilters()).items
    assert all(f.assignee.startswith("Developer ") for f in viewer_rows)


def test_compliance_overview_counts(a: Seeded) -> None:
    o = dash.compliance_overview(a.user("viewer"), a.project_id)
    assert o.open_flags == 2 and o.compliance_rate == 75.0 and o.judged_items == 8


def test_insights_exclude_forecasts(a: Seeded) -> None:
    rows = dash.insights(a.user("viewer"), a.project_id)
    assert [r.id for r in rows] == [a.insight_id]
    assert rows[0].actions == ["Rotate reviewers", "Pair on reviews"]


def test_only_leads_resolve_flags(database_url: str, make_tenant) -> None:
    s = seed_tenant(make_tenant("dashres"))
    with pytest.raises(PermissionDenied):
        dash.resolve_flag(s.user("viewer"), s.flags["high"], "covered by integration tests")
    row = dash.resolve_flag(s.user("tech_lead"), s.flags["high"], "covered by integration tests")
    assert row.status == "resolved" and row.resolution == "manual"
    with tenant_session(s.slug) as db:
        flag = db.get(ComplianceFlag, s.flags["high"])
        assert flag is not None and flag.resolved_by == s.users["tech_lead"]


def test_empty_project_gives_clear_empty_states(database_url: str, make_tenant) -> None:
    from models.enums import ProjectRole
    from services.projects import ProjectCreate, create_project
    from services.users import set_project_role

    s = seed_tenant(make_tenant("dashempty"))
    p = create_project(ProjectCreate(tenant_id=s.tenant_id, key="EMPTY", name="Empty"), dash_actor())
    lead = s.user("tech_lead")
    set_project_role(lead.id, p.id or 0, ProjectRole.TECH_LEAD, dash_actor())
    lead = s.user("tech_lead")
    assert "ask your admin" in dash.kpis(lead, p.id or 0).empty_message
    assert dash.velocity_series(lead, p.id or 0).empty_message
    assert dash.throughput_series(lead, p.id or 0).empty_message
    assert dash.quality(lead, p.id or 0).empty_message
    assert "ask your admin" in dash.pr_health(lead, p.id or 0).empty_message
    assert dash.sprint_detail(lead, p.id or 0).empty_message
    assert dash.developers(lead, p.id or 0).empty_message
    assert dash.list_flags(lead, dash.FlagFilters(project_id=p.id)).total == 0


def dash_actor():
    from services.audit import Actor

    return Actor.system("test")


# --------------------------------------------------------------------------- isolation
def test_every_read_refuses_another_tenants_ids(a: Seeded, b: Seeded) -> None:
    user = a.user("tech_lead")
    other = b.project_id
    calls = [
        lambda: dash.kpis(user, other),
        lambda: dash.velocity_series(user, other),
        lambda: dash.throughput_series(user, other),
        lambda: dash.quality(user, other),
        lambda: dash.compliance_overview(user, other),
        lambda: dash.pr_health(user, other),
        lambda: dash.sprint_detail(user, other),
        lambda: dash.drill_down(user, other, b.sprints["S1"], "completed"),
        lambda: dash.developers(user, other),
        lambda: dash.developer_detail(user, other, b.identities["Ann"]),
        lambda: dash.me(user, other),
        lambda: dash.insights(user, other),
        lambda: dash.list_flags(user, dash.FlagFilters(project_id=other)),
        # Own project, other tenant's sprint / flag / insight ids (which may not even exist in A).
        lambda: dash.sprint_detail(user, a.project_id, b.sprints["S1"] + 1000),
        lambda: dash.drill_down(user, a.project_id, b.sprints["S1"] + 1000, "completed"),
        lambda: dash.get_flag(user, b.flags["critical"] + 1000),
        lambda: dash.get_insight(user, b.insight_id + 1000),
        lambda: dash.developer_detail(user, a.project_id, 999_999),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            call()


def test_same_numeric_ids_in_another_tenant_never_show_its_rows(a: Seeded, b: Seeded) -> None:
    """Tenant schemas number rows independently: the same sprint id reads the caller's own sprint."""
    user = a.user("viewer")
    page = dash.list_flags(user, dash.FlagFilters(status=None))
    assert {f.project_id for f in page.items} == {a.project_id}
    if b.sprints["S1"] in a.sprints.values():
        d = dash.sprint_detail(user, a.project_id, b.sprints["S1"])
        assert all(i.url for i in d.items) and d.project_id == a.project_id


def test_rating_an_insight_records_thumbs_and_note(a: Seeded) -> None:
    rated = dash.rate_insight(a.user("viewer"), a.insight_id, -1, "not actionable")
    assert rated.rating == -1 and rated.rating_note == "not actionable"
    with pytest.raises(ValidationFailed):
        dash.rate_insight(a.user("viewer"), a.insight_id, 5)


def test_sprints_missing_from_the_read_model_are_aggregated_live(database_url: str, make_tenant) -> None:
    s = seed_tenant(make_tenant("dashpart"))
    with tenant_session(s.slug) as db:
        for name, vel in (("S1", 20.0), ("S2", 30.0)):
            db.add(
                SprintMetrics(
                    project_id=s.project_id,
                    sprint_id=s.sprints[name],
                    committed_points=50,
                    completed_points=vel,
                )
            )
        db.commit()
    by = {p.sprint_name: p for p in dash.velocity_series(s.user("viewer"), s.project_id).points}
    assert by["S1"].completed_points == 20 and by["S2"].completed_points == 30
    assert by["S3"].completed_points == 10 and by["S3"].committed_points == 15  # not yet in the read model


def test_one_page_load_shares_the_sprint_figures_and_gives_the_same_numbers(a: Seeded) -> None:
    user = a.user("viewer")
    alone = (dash.kpis(user, a.project_id), dash.velocity_series(user, a.project_id))
    with dash.one_page_load():
        shared = (dash.kpis(user, a.project_id), dash.velocity_series(user, a.project_id))
    assert shared == alone


def test_pages_show_the_same_numbers_before_and_after_the_metrics_job(database_url: str, make_tenant) -> None:
    """Live figures (no read model yet) and the read model the job stores are one definition."""
    from etl.metrics import rebuild_metrics

    s = seed_tenant(make_tenant("dashsame"))
    lead = s.user("tech_lead")

    def pages() -> tuple:
        return (
            dash.kpis(lead, s.project_id),
            dash.velocity_series(lead, s.project_id),
            dash.throughput_series(lead, s.project_id),
            dash.quality(lead, s.project_id),
            dash.pr_health(lead, s.project_id).series,
            dash.developers(lead, s.project_id),
            dash.developer_detail(lead, s.project_id, s.identities["Bob"]),
            dash.sprint_detail(lead, s.project_id, s.sprints["S1"]).sprint,
        )

    live = pages()
    with tenant_session(s.slug) as db:
        assert db.exec(select(SprintMetrics)).all() == []
    rebuild_metrics(s.slug)
    with tenant_session(s.slug) as db:
        assert len(db.exec(select(SprintMetrics)).all()) == 3
    assert pages() == live
