"""Sprint and developer metrics checked against values worked out by hand.

The dataset (times in UTC unless written with an offset):

Sprint S1 [2025-03-03 09:00, complete 2025-03-17 10:00) (end_date 03-17 09:00)
Sprint S2 [2025-03-17 09:00, 2025-03-31 09:00)

I1 story 5p  A  S1        created 02-20 09:00, started 03-04 09:00, done 03-06 09:00  compliant
I2 story 3p  B  S1 -> S2  created 02-25 09:00, started 03-10 09:00, done 03-20 09:00  not compliant
I3 bug  (no points) A S1  created 03-05 12:00 (after start), started 03-05 12:00, done 03-06 00:00  compliant
I4 story 8p  B  S1        reopened: in progress now (stale done_at 03-08), blocked 48 h
I5 story 2p  A  S1        done 2025-03-03T10:30+02:00 = 08:30 UTC, before the start
I6 task 1p   B  S1        created 03-01, started 03-16 00:00, done 2025-03-17T11:30+02:00 = 09:30 UTC
                          (after end_date, before complete_date)  not compliant
I7 story 5p  A  S1        deleted
I8 bug       -  no sprint created 03-18 (a defect raised during S2), to do

S1: committed I1 I2 I4 I6 = 4 items, 17 points; completed I1 I3 I6 = 3 items, 6 points.
    cycle 2.0, 0.5, 1.395833 -> avg 1.298611, median 1.395833;
    lead 14.0, 0.5, 16.395833 -> avg 10.298611, median 14.0.
    blocked: I4, 2.0 days. defects: I3 -> 1; density 100/6. compliance 2/3.
S2: committed I2 (3 p); completed I2; cycle 10; lead 23; defects I8 -> 1; density 100/3; compliance 0/1.

PR1 A opened 03-04 10:00, first review 03-04 14:00 (4 h) by B, merged 03-05 10:00 (24 h)
PR2 B opened 03-10 08:00, never reviewed, merged 03-11 08:00 (24 h)
PR3 B opened 03-16 20:00, first review 03-17 08:00 (12 h) by "alice" (alias of A),
    self-review by B, merged 03-18 20:00 (48 h, in S2)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlmodel import select

from etl.metrics import (
    DEVELOPER_FIGURES,
    SPRINT_FIGURES,
    developer_figures,
    rebuild_metrics,
    sprint_figures,
)
from models.db import tenant_session
from models.tenant import DeveloperMetrics, IdentityAlias, SprintMetrics
from tests.integration.test_compliance_support import (
    add_item,
    add_pr,
    add_sprint,
    make_identity,
    make_project,
)

PLUS2 = timezone(timedelta(hours=2))


def utc(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def dataset(make_tenant):
    t = make_tenant("met")
    slug = t.slug
    p = make_project(t)
    s1 = add_sprint(slug, p.id, "S1", utc(3, 3, 9), utc(3, 17, 9), complete_date=utc(3, 17, 10))
    s2 = add_sprint(slug, p.id, "S2", utc(3, 17, 9), utc(3, 31, 9))
    a = make_identity(slug, "A")
    b = make_identity(slug, "B")
    with tenant_session(slug) as s:
        s.add(IdentityAlias(identity_id=a, alias_type="github_login", alias_value="alice"))
        s.commit()
    common = {"project_id": p.id}
    add_item(slug, item_type="story", story_points=5, assignee_identity_id=a, sprint_id=s1, sprint_history=["S1"],
             created_at_source=utc(2, 20, 9), started_at=utc(3, 4, 9), done_at=utc(3, 6, 9), dmt_compliant=True,
             **common)
    add_item(slug, item_type="story", story_points=3, assignee_identity_id=b, sprint_id=s2,
             sprint_history=["S1", "S2"], created_at_source=utc(2, 25, 9), started_at=utc(3, 10, 9),
             done_at=utc(3, 20, 9), dmt_compliant=False, **common)
    add_item(slug, item_type="bug", story_points=None, assignee_identity_id=a, sprint_id=s1, sprint_history=["S1"],
             created_at_source=utc(3, 5, 12), started_at=utc(3, 5, 12), done_at=utc(3, 6), dmt_compliant=True,
             **common)
    add_item(slug, item_type="story", story_points=8, assignee_identity_id=b, sprint_id=s1, sprint_history=["S1"],
             created_at_source=utc(2, 1), started_at=utc(3, 4), done_at=utc(3, 8), status_category="in_progress",
             reopened_count=1, blocked_hours=48.0, **common)
    add_item(slug, item_type="story", story_points=2, assignee_identity_id=a, sprint_id=s1, sprint_history=["S1"],
             created_at_source=utc(2, 10), started_at=utc(2, 20),
             done_at=datetime(2025, 3, 3, 10, 30, tzinfo=PLUS2), dmt_compliant=True, **common)
    add_item(slug, item_type="task", story_points=1, assignee_identity_id=b, sprint_id=s1, sprint_history=["S1"],
             created_at_source=utc(3, 1), started_at=utc(3, 16),
             done_at=datetime(2025, 3, 17, 11, 30, tzinfo=PLUS2), dmt_compliant=False, **common)
    add_item(slug, item_type="story", story_points=5, assignee_identity_id=a, sprint_id=s1, sprint_history=["S1"],
             created_at_source=utc(2, 1), done_at=utc(3, 5), is_deleted=True, **common)
    add_item(slug, item_type="bug", status_category="todo", created_at_source=utc(3, 18), **common)
    add_pr(slug, p.id, author_identity_id=a, created_at_source=utc(3, 4, 10), first_review_at=utc(3, 4, 14),
           merged_at=utc(3, 5, 10), state="merged", review_count=1,
           reviewers=[{"login": "bob", "identity_id": b, "state": "APPROVED", "submitted_at": "2025-03-04T14:00:00Z"}])
    add_pr(slug, p.id, author_identity_id=b, created_at_source=utc(3, 10, 8), merged_at=utc(3, 11, 8),
           state="merged")
    add_pr(slug, p.id, author_identity_id=b, created_at_source=utc(3, 16, 20), first_review_at=utc(3, 17, 8),
           merged_at=utc(3, 18, 20), state="merged", review_count=2,
           reviewers=[{"login": "alice", "state": "APPROVED", "submitted_at": "2025-03-17T08:00:00+00:00"},
                      {"login": "bob", "identity_id": b, "state": "COMMENTED",
                       "submitted_at": "2025-03-17T08:30:00Z"}])
    return {"tenant": t, "project": p, "s1": s1, "s2": s2, "a": a, "b": b}


def sprint_row(slug: str, sprint_id: int) -> SprintMetrics:
    with tenant_session(slug) as s:
        return s.exec(select(SprintMetrics).where(SprintMetrics.sprint_id == sprint_id)).one()


def dev_rows(slug: str, sprint_id: int) -> dict[int, DeveloperMetrics]:
    with tenant_session(slug) as s:
        rows = s.exec(select(DeveloperMetrics).where(DeveloperMetrics.sprint_id == sprint_id)).all()
        return {r.identity_id: r for r in rows}


def test_sprint_metrics_match_the_hand_worked_values(dataset) -> None:
    slug = dataset["tenant"].slug
    result = rebuild_metrics(slug)
    assert result.sprints == 2
    m = sprint_row(slug, dataset["s1"])
    assert (m.committed_items, m.committed_points) == (4, 17.0)
    assert (m.completed_items, m.completed_points) == (3, 6.0)  # throughput 3, velocity 6
    assert m.throughput_by_type == {"story": 1, "bug": 1, "task": 1}
    assert m.avg_cycle_time_days == pytest.approx((2.0 + 0.5 + 33.5 / 24) / 3)
    assert m.median_cycle_time_days == pytest.approx(33.5 / 24)
    assert m.avg_lead_time_days == pytest.approx((14.0 + 0.5 + 16 + 9.5 / 24) / 3)
    assert m.median_lead_time_days == pytest.approx(14.0)
    assert (m.blocked_items, m.blocked_days) == (1, 2.0)
    assert m.defects_count == 1 and m.defect_density == pytest.approx(100 / 6)
    assert (m.prs_opened, m.prs_merged) == (3, 2)
    assert m.avg_time_to_first_review_hours == pytest.approx(8.0)
    assert m.pr_review_rate == pytest.approx(0.5)
    assert m.avg_merge_time_hours == pytest.approx(24.0)
    assert m.compliant_items == 2 and m.compliance_rate == pytest.approx(2 / 3)

    m2 = sprint_row(slug, dataset["s2"])
    assert (m2.committed_items, m2.committed_points, m2.completed_items, m2.completed_points) == (1, 3.0, 1, 3.0)
    assert m2.avg_cycle_time_days == pytest.approx(10.0) and m2.avg_lead_time_days == pytest.approx(23.0)
    assert m2.defects_count == 1 and m2.defect_density == pytest.approx(100 / 3)
    assert (m2.prs_opened, m2.prs_merged) == (0, 1)
    assert m2.avg_time_to_first_review_hours is None
    assert m2.pr_review_rate == pytest.approx(1.0) and m2.avg_merge_time_hours == pytest.approx(48.0)
    assert m2.compliance_rate == pytest.approx(0.0) and m2.blocked_days == 0.0


def test_developer_metrics_match_the_hand_worked_values(dataset) -> None:
    slug, a, b = dataset["tenant"].slug, dataset["a"], dataset["b"]
    rebuild_metrics(slug)
    s1 = dev_rows(slug, dataset["s1"])
    assert set(s1) == {a, b}
    da, db_ = s1[a], s1[b]
    assert (da.items_completed, da.points_completed, da.defects_completed) == (2, 5.0, 1)
    assert da.avg_cycle_time_days == pytest.approx(1.25)
    assert (da.prs_opened, da.prs_merged, da.reviews_given) == (1, 1, 1)
    assert da.avg_time_to_first_review_hours == pytest.approx(4.0) and da.compliance_rate == pytest.approx(1.0)
    assert (db_.items_completed, db_.points_completed, db_.blocked_days) == (1, 1.0, 2.0)
    assert db_.avg_cycle_time_days == pytest.approx(33.5 / 24)
    assert (db_.prs_opened, db_.prs_merged, db_.reviews_given) == (2, 1, 1)
    assert db_.avg_time_to_first_review_hours == pytest.approx(12.0) and db_.compliance_rate == 0.0
    s2 = dev_rows(slug, dataset["s2"])
    assert set(s2) == {b}  # the self-review on PR3 is not a review given
    assert (s2[b].items_completed, s2[b].points_completed, s2[b].prs_merged, s2[b].reviews_given) == (1, 3.0, 1, 0)


def test_live_figures_equal_the_nightly_ones(dataset) -> None:
    """The dashboards' live fallback and the nightly rebuild give a sprint the same figures."""
    slug, sprint_ids = dataset["tenant"].slug, [dataset["s1"], dataset["s2"]]
    with tenant_session(slug) as s:
        live = sprint_figures(s, sprint_ids)
        live_devs = {(d["sprint_id"], d["identity_id"]): d for d in developer_figures(s, sprint_ids)}
        assert s.exec(select(SprintMetrics)).all() == []  # computing live stores nothing
    rebuild_metrics(slug)
    assert set(live) == set(sprint_ids)
    for sprint_id in sprint_ids:
        stored = sprint_row(slug, sprint_id)
        for column in SPRINT_FIGURES:
            assert live[sprint_id][column] == pytest.approx(getattr(stored, column)), (sprint_id, column)
    stored_devs = {(d.sprint_id, d.identity_id): d for sid in sprint_ids for d in dev_rows(slug, sid).values()}
    assert set(live_devs) == set(stored_devs) and len(stored_devs) == 3
    for key, row in stored_devs.items():
        for column in DEVELOPER_FIGURES:
            assert live_devs[key][column] == pytest.approx(getattr(row, column)), (key, column)


def test_drill_downs_list_the_items_each_figure_counts(dataset) -> None:
    """A figure's drill-down lists exactly the items the figure counts (moved, reopened, late bugs included)."""
    from models.enums import ProjectRole
    from services import dashboards as dash
    from services.auth import authenticate
    from tests.integration.test_dashboards_seed import PASSWORD, _user

    t, p = dataset["tenant"], dataset["project"]
    lead = authenticate(_user(t.id, p.id, ProjectRole.TECH_LEAD, "Lee"), PASSWORD)
    rebuild_metrics(t.slug)
    for sprint_id in (dataset["s1"], dataset["s2"]):
        m = sprint_row(t.slug, sprint_id)

        def total(metric: str, sprint_id: int = sprint_id) -> int:
            return dash.drill_down(lead, p.id, sprint_id, metric).total

        assert (total("committed"), total("completed"), total("throughput")) == (
            m.committed_items, m.completed_items, m.completed_items
        )
        assert (total("defects"), total("blocked")) == (m.defects_count, m.blocked_items)
        assert total("noncompliant") == m.completed_items - m.compliant_items  # every completed item was judged
    # S1: I2 (moved on to S2) and I4 (reopened) were committed and are not finished in S1.
    assert total("carried_over", dataset["s1"]) == 2
    s2_defects = dash.drill_down(lead, p.id, dataset["s2"], "defects").items
    assert [i.item_type for i in s2_defects] == ["bug"] and s2_defects[0].status_category == "todo"  # I8


def test_rebuild_is_idempotent_and_can_target_one_sprint(dataset) -> None:
    slug = dataset["tenant"].slug
    rebuild_metrics(slug)
    first = sprint_row(slug, dataset["s1"]).model_dump(exclude={"computed_at"})
    assert rebuild_metrics(slug, [dataset["s2"]]).sprints == 1
    rebuild_metrics(slug)
    assert sprint_row(slug, dataset["s1"]).model_dump(exclude={"computed_at"}) == first
    with tenant_session(slug) as s:
        assert len(s.exec(select(SprintMetrics)).all()) == 2
