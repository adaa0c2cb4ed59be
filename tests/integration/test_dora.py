"""DORA's four keys on a hand-built history: the worked example of docs/metrics.md, figure by figure."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from etl.connectors.base import IncidentRule
from etl.dora import (
    Scope,
    SourceIncidentRule,
    band,
    default_environment,
    deployment_rows,
    environments,
    four_keys,
    incident_filter,
    incident_rows,
    incident_rules,
    shipped_by,
)
from models.db import public_session, tenant_session
from models.public import Project, SourceConfig
from models.tenant import Deployment, DeploymentChange, PullRequest, WorkItem, WorkItemPullRequest

SINCE = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
UNTIL = datetime(2026, 3, 16, tzinfo=UTC)  # two weeks later


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 3, 1, tzinfo=UTC) + timedelta(days=day - 1, hours=hour)


@dataclass
class History:
    slug: str
    project_id: int
    other_project_id: int
    rules: tuple[SourceIncidentRule, ...]
    ids: dict[str, int]

    def scope(self, **changes: Any) -> Scope:
        return Scope(
            **{
                "project_id": self.project_id,
                "environment": "production",
                "since": SINCE,
                "until": UNTIL,
                "rules": self.rules,
                **changes,
            }
        )


@pytest.fixture
def history(make_tenant) -> Iterator[History]:
    """The docs' example: six deployments around a two-week period, seven PRs, four incidents."""
    tenant = make_tenant("dora")
    with public_session() as s:
        project, other = (
            Project(tenant_id=tenant.id, key="WEB", name="Web"),
            Project(tenant_id=tenant.id, key="OPS", name="Ops"),
        )
        s.add_all([project, other])
        s.flush()
        jira = SourceConfig(
            tenant_id=tenant.id, project_id=project.id or 0, name="Jira", source_type="jira", base_url="https://x.atlassian.net",
            field_mappings={"incident": {"field": "label", "values": {"incident": True}}},
        )  # fmt: skip
        s.add(jira)
        s.commit()
        project_id, other_id, jira_id = project.id or 0, other.id or 0, jira.id or 0
    ids: dict[str, int] = {}
    with tenant_session(tenant.slug) as s:

        def deployment(name: str, finished: datetime, *, env: str = "production", status: str = "success",
                       revert: bool = False, prs: tuple[str, ...] = (), project: int = project_id) -> None:  # fmt: skip
            row = Deployment(
                source_id=90, project_id=project, source_type="github_deployments", source_deployment_id=name, name=name,
                repository="acme/web", environment=env, status=status, commit_sha=f"{name}-head", is_revert=revert,
                started_at=finished - timedelta(minutes=10), finished_at=finished, changes_count=len(prs),
            )  # fmt: skip
            s.add(row)
            s.flush()
            ids[name] = row.id or 0
            for pr in prs:
                s.add(DeploymentChange(deployment_id=row.id or 0, sha=f"merge-{pr}", authored_at=finished, message=pr))

        def pull(name: str, first_commit: datetime | None, created: datetime, project: int = project_id) -> None:
            row = PullRequest(
                source_id=91, project_id=project, source_type="github", source_pr_id=f"{name}-{project}", title=name,
                state="merged", merge_commit_sha=f"merge-{name}", first_commit_at=first_commit,
                created_at_source=created, merged_at=created + timedelta(hours=1),
            )  # fmt: skip
            s.add(row)
            s.flush()
            if project == project_id:
                ids[name] = row.id or 0

        def item(
            key: str, opened: datetime, resolved: datetime | None, labels: list[str], source: int = jira_id
        ) -> None:
            row = WorkItem(
                source_id=source, project_id=project_id, source_type="jira", source_item_id=key, item_key=key,
                title=key, item_type="bug", labels=labels, created_at_source=opened, done_at=resolved,
                status_category="done" if resolved else "in_progress",
            )  # fmt: skip
            s.add(row)
            s.flush()
            ids[key] = row.id or 0

        pull("PR0", at(-3, 0), at(-3, 0))
        pull("PR1", at(0, 10), at(0, 12))  # 48 h
        pull("PR2", at(1, 22), at(1, 23))  # 12 h
        pull("PR3", None, at(4, 6))  # first commit unknown: from its creation, 6 h
        pull("PR4", at(5, 8), at(5, 8))  # 1 h
        pull("PR5", at(3, 10), at(3, 12))  # 168 h
        pull("PR6", at(15, 8), at(15, 9))  # 12 h
        pull("PR1", at(2, 0), at(2, 0), project=other_id)  # another project's PR with the same merge commit
        deployment("D0", at(-1, 12), prs=("PR0",))  # before the period
        deployment("D1", at(2, 10), prs=("PR1", "PR2"))
        deployment("S1", at(2, 9), env="staging", prs=("PR1", "PR2", "PR3"))
        deployment("D2", at(4, 12), prs=("PR3",))
        deployment("D3", at(5, 9), revert=True, prs=("PR4",))  # a hotfix 21 h after D2
        deployment("D4", at(10, 10), prs=("PR5",))
        deployment("X1", at(11, 10), status="failure")  # a failed attempt: not a deployment
        deployment("D7", at(15, 20), prs=("PR6",))
        deployment("D8", at(16, 8), revert=True)  # after the period: reverts D7 (12 h later)
        deployment("O1", at(3, 0), project=other_id, prs=("PR1",))
        item("I0", at(1, 3), at(1, 4), ["incident"])  # before the period
        item("I1", at(4, 15), at(4, 17), ["Incident", "checkout"])  # 3 h after D2: restored in 2 h
        item("I2", at(12, 10), at(13, 10), ["incident"])  # 48 h after D4: outside the window; 24 h
        item("I3", at(15, 12), None, ["incident"])  # still open
        item("B1", at(4, 16), at(4, 18), ["bug"])  # a bug, not an incident
        item("X2", at(4, 16), at(4, 18), ["incident"], source=jira_id + 1000)  # another source's rule does not apply
        s.add(WorkItemPullRequest(work_item_id=ids["B1"], pull_request_id=ids["PR3"], link_source="key"))
        s.commit()
    rules = (SourceIncidentRule(jira_id, IncidentRule("label", ("incident",))),)
    yield History(tenant.slug, project_id, other_id, rules, ids)


def test_the_worked_example_of_the_four_keys(history: History) -> None:
    assert incident_rules(history.project_id) == list(history.rules)
    with tenant_session(history.slug) as s:
        keys = four_keys(s, history.scope(), bucket="week")
    total = keys.total
    # Deployment frequency: D1, D2, D3, D4 and D7 in 14 days.
    assert total.deployments == 5
    assert total.deployments_per_day == pytest.approx(5 / 14)
    # Lead time: PR1 48, PR2 12, PR3 6, PR4 1, PR5 168, PR6 12 hours.
    assert total.changes == 6
    assert total.lead_time_median_hours == pytest.approx(12.0)
    assert total.lead_time_p85_hours == pytest.approx(78.0)
    # Change failure rate: D2 (incident I1 3 h later, and D3's hotfix 21 h later) and D7 (D8's revert).
    assert total.failed_deployments == 2 and total.change_failure_rate == pytest.approx(40.0)
    # Time to restore: I1 2 h, I2 24 h; I3 still open.
    assert (total.incidents, total.resolved_incidents) == (3, 2)
    assert total.restore_median_hours == pytest.approx(13.0)
    assert total.restore_p85_hours == pytest.approx(20.7)
    assert total.bands() == {
        "deployment_frequency": "high",
        "lead_time": "elite",
        "change_failure_rate": "low",
        "time_to_restore": "high",
    }
    # The trend, week by week.
    week1, week2 = keys.series
    assert (week1.start, week2.start) == (SINCE, SINCE + timedelta(days=7))
    assert (week1.deployments, week1.failed_deployments, week2.deployments, week2.failed_deployments) == (3, 1, 2, 1)
    assert week1.lead_time_median_hours == pytest.approx(9.0) and week2.lead_time_median_hours == pytest.approx(90.0)
    assert (week1.incidents, week1.restore_median_hours) == (1, pytest.approx(2.0))
    assert (week2.incidents, week2.resolved_incidents, week2.restore_median_hours) == (2, 1, pytest.approx(24.0))


def test_the_failure_window_and_the_environment_change_the_figures(history: History) -> None:
    with tenant_session(history.slug) as s:
        wide = four_keys(s, history.scope(failure_window=timedelta(hours=72)), bucket="month").total
        staging = four_keys(s, history.scope(environment="staging"), bucket="day")
        no_rules = four_keys(s, history.scope(rules=()), bucket="week").total
    assert wide.failed_deployments == 3  # I2 is now within 72 h of D4
    assert staging.total.deployments == 1 and staging.total.changes == 3
    assert len(staging.series) == 14 and sum(d.deployments for d in staging.series) == 1
    assert no_rules.incidents == 0 and no_rules.failed_deployments == 2  # the reverts still count


def test_drill_down_lists_the_deployments_and_incidents_behind_the_figures(history: History) -> None:
    with tenant_session(history.slug) as s:
        rows, total = deployment_rows(s, history.scope())
        failed, failed_total = deployment_rows(s, history.scope(), failed_only=True)
        page, _ = deployment_rows(s, history.scope(), limit=2, offset=4)
        past_end, past_total = deployment_rows(s, history.scope(), limit=2, offset=10)
        incidents, incidents_total = incident_rows(s, history.scope())
        detail = shipped_by(s, history.project_id, history.ids["D2"])
        other = shipped_by(s, history.other_project_id, history.ids["D2"])
    assert total == 5 and [r["name"] for r in rows] == ["D7", "D4", "D3", "D2", "D1"]
    by_name = {r["name"]: r for r in rows}
    assert by_name["D2"]["failed"] and by_name["D2"]["reverted"] and by_name["D2"]["incident_key"] == "I1"
    assert by_name["D7"]["failed"] and by_name["D7"]["reverted"] and by_name["D7"]["incident_key"] is None
    assert not by_name["D4"]["failed"] and by_name["D1"]["prs"] == 2
    assert by_name["D1"]["lead_median"] == pytest.approx(30.0)
    assert failed_total == 2 and [r["name"] for r in failed] == ["D7", "D2"]
    assert [r["name"] for r in page] == ["D1"] and past_end == [] and past_total == 5
    assert incidents_total == 3 and [r["item_key"] for r in incidents] == ["I3", "I2", "I1"]
    by_key = {r["item_key"]: r for r in incidents}
    assert by_key["I1"]["restore_hours"] == pytest.approx(2.0) and by_key["I1"]["deployment_name"] == "D2"
    assert by_key["I1"]["within_window"] and not by_key["I2"]["within_window"]
    assert by_key["I3"]["resolved_at"] is None and by_key["I3"]["restore_hours"] is None
    assert detail is not None and [p["title"] for p in detail["pull_requests"]] == ["PR3"]
    assert detail["pull_requests"][0]["lead_hours"] == pytest.approx(6.0)
    assert detail["pull_requests"][0]["work_items"] == [{"key": "B1", "title": "B1", "url": None}]
    assert other is None  # another project's id: nothing


def test_environments_bands_and_the_incident_filter(history: History) -> None:
    with tenant_session(history.slug) as s:
        known = environments(s, history.project_id)
    assert known == [("production", 7), ("staging", 1)]
    assert default_environment(known) == "production"
    assert default_environment([("qa", 3), ("Live", 1)]) == "Live" and default_environment([("qa", 3)]) == "qa"
    assert default_environment([]) is None
    assert [band("deployment_frequency", v) for v in (3, 1, 0.2, 0.05, 0.01)] == [
        "elite",
        "elite",
        "high",
        "medium",
        "low",
    ]
    assert [band("lead_time", v) for v in (2, 30, 200, 1000)] == ["elite", "high", "medium", "low"]
    assert [band("change_failure_rate", v) for v in (0, 5, 8, 15, 40)] == ["elite", "elite", "high", "medium", "low"]
    assert [band("time_to_restore", v) for v in (0.5, 3, 48, 400)] == ["elite", "high", "medium", "low"]
    assert band("lead_time", None) is None
    sql, params = incident_filter(
        [
            SourceIncidentRule(1, IncidentRule("type", ("Production Incident",))),
            SourceIncidentRule(2, IncidentRule("priority", ("P1",))),
        ]
    )
    assert "w.item_type" in sql and "w.priority" in sql
    assert params["inc_names_0"] == ["production incident", "production_incident"] and params["inc_names_1"] == ["p1"]
    assert incident_filter([]) == ("false", {})
