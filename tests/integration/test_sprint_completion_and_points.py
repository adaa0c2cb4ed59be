"""Jira sprint completion dates end the sprint's window; absurd story points stay raw but count as 0.

One project, one Jira sprint planned for [03-03 09:00, 03-17 09:00) and completed
early, at 03-14 09:00. Issues, all done and in that sprint:

P-1 3 points, done 03-10            counted
P-2 5 points, done 03-15            after the completion (before the planned end): not counted
P-3 -1 points, done 03-11           counted as an item, its points as 0
P-4 10^6 points, done 03-12         counted as an item, its points as 0
P-5 100 points, done 03-12          the ceiling itself still counts
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import select

from etl.connectors.jira import normalize_jira_issue
from etl.loader import load_batch
from etl.metrics import STORY_POINTS_CEILING, rebuild_metrics
from models.db import tenant_session
from models.tenant import Sprint, SprintMetrics, WorkItem
from services.dashboards.team import sprint_burn
from services.data_quality import story_point_outliers
from tests.integration.test_compliance_support import make_project

MAPPING = {"sprint": {"field": "customfield_10020"}, "story_points": {"field": "customfield_10016"}}
SPRINT = {
    "id": 7,
    "name": "P Sprint 1",
    "state": "closed",
    "boardId": 1,
    "startDate": "2025-03-03T09:00:00.000Z",
    "endDate": "2025-03-17T09:00:00.000Z",
    "completeDate": "2025-03-14T09:00:00.000Z",
}


def issue(number: int, points: float, done: str) -> dict[str, Any]:
    return {
        "id": str(10_000 + number),
        "key": f"P-{number}",
        "fields": {
            "summary": f"Issue {number}",
            "status": {"id": "10003", "name": "Done", "statusCategory": {"key": "done"}},
            "issuetype": {"id": "10001", "name": "Story", "hierarchyLevel": 0},
            "created": "2025-03-01T09:00:00.000+0000",
            "updated": done,
            "resolutiondate": done,
            "customfield_10020": [SPRINT],
            "customfield_10016": points,
        },
        "changelog": {
            "histories": [
                {
                    "created": "2025-03-04T09:00:00.000+0000",
                    "items": [{"field": "status", "fieldId": "status", "from": "10000", "to": "3"}],
                },
                {
                    "created": done,
                    "items": [{"field": "status", "fieldId": "status", "from": "3", "to": "10003"}],
                },
            ]
        },
    }


def test_the_completion_date_ends_the_window_and_absurd_points_count_as_zero(make_tenant) -> None:
    tenant = make_tenant("cmp")
    project = make_project(tenant)
    categories = {"10000": "new", "3": "indeterminate", "10003": "done"}
    raws = [
        issue(1, 3, "2025-03-10T09:00:00.000+0000"),
        issue(2, 5, "2025-03-15T09:00:00.000+0000"),
        issue(3, -1, "2025-03-11T09:00:00.000+0000"),
        issue(4, 1_000_000, "2025-03-12T09:00:00.000+0000"),
        issue(5, STORY_POINTS_CEILING, "2025-03-12T09:00:00.000+0000"),
    ]
    records = [
        normalize_jira_issue(raw, MAPPING, "https://acme.atlassian.net", status_categories=categories) for raw in raws
    ]
    assert {r["sprint_complete"] for r in records} == {datetime(2025, 3, 14, 9, tzinfo=UTC)}
    with tenant_session(tenant.slug) as session:
        load_batch(session, "work_items", records, source_id=1, project_id=project.id, source_type="jira")
        session.commit()
    with tenant_session(tenant.slug) as session:
        sprint = session.exec(select(Sprint).where(Sprint.project_id == project.id)).one()
        assert sprint.complete_date == datetime(2025, 3, 14, 9, tzinfo=UTC)
        assert sprint.end_date == datetime(2025, 3, 17, 9, tzinfo=UTC)
        stored = {w.item_key: w.story_points for w in session.exec(select(WorkItem)).all()}
        assert stored["P-3"] == -1 and stored["P-4"] == 1_000_000  # raw values are kept
        sprint_id = sprint.id

    rebuild_metrics(tenant.slug)
    with tenant_session(tenant.slug) as session:
        m = session.exec(select(SprintMetrics).where(SprintMetrics.sprint_id == sprint_id)).one()
    assert m.completed_items == 4  # P-2 finished after the sprint was completed
    assert m.completed_points == 3 + STORY_POINTS_CEILING  # -1 and 10^6 count as 0
    with tenant_session(tenant.slug) as session:  # the burndown counts points by the same rule
        burn, total = sprint_burn(session, project.id, session.get(Sprint, sprint_id))
    assert total == 5 and {b.scope for b in burn} == {3 + 5 + STORY_POINTS_CEILING}
    assert burn[-1].done == 3 + 5 + STORY_POINTS_CEILING

    outliers = story_point_outliers(project.id)
    assert outliers.ceiling == STORY_POINTS_CEILING and outliers.total == 2
    assert [(o.key, o.story_points) for o in outliers.items] == [("P-4", 1_000_000.0), ("P-3", -1.0)]
    assert outliers.items[0].url == "https://acme.atlassian.net/browse/P-4"
