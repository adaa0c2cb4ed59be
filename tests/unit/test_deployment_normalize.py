"""Deployment normalisers (GitHub deployments and workflow runs, Azure Pipelines runs and records), the chain that
finds what each deployment shipped, the deployment options and the incident rule of a field mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from etl.connectors.azure_pipelines import normalize_azure_deployment, result_state
from etl.connectors.base import FieldMapping, FieldMappingError, SourceConfigError
from etl.connectors.deployment_chain import DeploymentChain, DeploymentOptions
from etl.connectors.github_deployments import deployment_state, normalize_github_deployment, run_state

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def ts(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def status(state: str, minutes: int, status_id: int = 0) -> dict[str, Any]:
    return {
        "id": status_id or minutes + 1,
        "state": state,
        "created_at": ts(minutes),
        "log_url": f"https://ci/{minutes}",
    }


def commit(sha: str, message: str, minutes: int, login: str = "ana") -> dict[str, Any]:
    return {
        "sha": sha,
        "commit": {"message": message, "author": {"name": "Ana", "email": "ana@x.io", "date": ts(minutes)}},
        "author": {"login": login},
    }


# --------------------------------------------------------------------------- states
@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([status("queued", 0), status("in_progress", 1), status("success", 9)], ("success", 1, 9)),
        ([status("success", 9), status("in_progress", 1), status("queued", 0)], ("success", 1, 9)),  # any order
        ([status("in_progress", 1), status("failure", 5)], ("failure", 1, 5)),
        ([status("in_progress", 1), status("error", 4)], ("failure", 1, 4)),
        ([status("in_progress", 1), status("success", 9), status("inactive", 90)], ("success", 1, 9)),
        ([status("queued", 0), status("inactive", 3)], ("cancelled", None, 3)),
        ([status("queued", 0), status("in_progress", 1)], ("in_progress", 1, None)),
        ([], ("in_progress", None, None)),
    ],
)
def test_a_deployment_state_is_its_newest_status(statuses: list[dict[str, Any]], expected: tuple[Any, ...]) -> None:
    state, started, finished = deployment_state(statuses)
    at = [None if m is None else T0 + timedelta(minutes=m) for m in expected[1:]]
    assert (state, started, finished) == (expected[0], *at)


@pytest.mark.parametrize(
    ("status_", "conclusion", "expected"),
    [
        ("completed", "success", "success"),
        ("completed", "failure", "failure"),
        ("completed", "timed_out", "failure"),
        ("completed", "cancelled", "cancelled"),
        ("completed", "skipped", "cancelled"),
        ("in_progress", None, "in_progress"),
    ],
)
def test_workflow_run_states(status_: str, conclusion: str | None, expected: str) -> None:
    assert run_state({"status": status_, "conclusion": conclusion}) == expected


@pytest.mark.parametrize(
    ("result", "finish", "expected"),
    [
        ("succeeded", "x", "success"),
        ("partiallySucceeded", "x", "success"),
        ("failed", "x", "failure"),
        ("canceled", "x", "cancelled"),
        (None, None, "in_progress"),
        ("none", None, "in_progress"),
    ],
)
def test_azure_result_states(result: str | None, finish: str | None, expected: str) -> None:
    assert result_state(result, finish) == expected


# --------------------------------------------------------------------------- GitHub
def github_deployment(**extras: Any) -> dict[str, Any]:
    return {
        "id": 42,
        "sha": "b" * 40,
        "ref": "main",
        "task": "deploy",
        "environment": "production",
        "creator": {"login": "bo"},
        "created_at": ts(0),
        "updated_at": ts(0),
        "url": "https://api.github.com/repos/acme/shop/deployments/42",
        "_dmt": {
            "mode": "deployments",
            "repository": "acme/shop",
            "statuses": [status("success", 9), status("in_progress", 1), status("queued", 0)],
            "previous": {"id": 41, "sha": "a" * 40},
            "commits": [commit("c1", "Fix the cart (#12)", -300), commit("c2", "Merge pull request #12 from x", -60)],
            **extras,
        },
    }


def test_a_github_deployment_normalises_with_its_commits() -> None:
    record = normalize_github_deployment(github_deployment())
    assert record["source_deployment_id"] == "42"
    assert (record["kind"], record["environment"], record["status"]) == ("deployment", "production", "success")
    assert record["repository"] == "acme/shop" and record["commit_sha"] == "b" * 40 and record["ref"] == "main"
    assert record["started_at"] == T0 + timedelta(minutes=1)
    assert record["finished_at"] == record["updated_at_source"] == T0 + timedelta(minutes=9)
    assert record["previous_sha"] == "a" * 40 and record["creator_login"] == "bo"
    assert record["url"] == "https://ci/9"
    assert record["changes_count"] == 2 and not record["is_revert"]
    assert [c["sha"] for c in record["changes"]] == ["c1", "c2"]
    assert record["changes"][0] == {
        "sha": "c1",
        "authored_at": T0 - timedelta(minutes=300),
        "author_login": "ana",
        "message": "Fix the cart (#12)",
    }


def test_unknown_commits_stay_unknown_and_a_running_deployment_has_no_finish() -> None:
    raw = github_deployment(commits=None, statuses=[status("queued", 0), status("in_progress", 1)])
    record = normalize_github_deployment(raw)
    assert record["changes"] is None and record["changes_count"] == 0
    assert record["status"] == "in_progress" and record["finished_at"] is None


@pytest.mark.parametrize(
    ("message", "ref", "revert"),
    [
        ('Revert "Add the cart"', "main", True),
        ("Hotfix: checkout crashes", "main", True),
        ("hot-fix the login", "main", True),
        ("Add hotfixes page", "main", True),
        ("Merge pull request #3 from acme/hotfix/login", "main", True),  # a PR from a hotfix branch
        ("Add the cart", "hotfix/cart", True),
        ("Reverting nothing: add feature", "main", False),
        ("Add the cart", "main", False),
    ],
)
def test_reverts_and_hotfixes_are_recognised(message: str, ref: str, revert: bool) -> None:
    raw = github_deployment(commits=[commit("c1", message, -5)])
    raw["ref"] = ref
    assert normalize_github_deployment(raw)["is_revert"] is revert


def test_a_custom_revert_pattern() -> None:
    options = DeploymentOptions.of({"revert_pattern": r"^rollback"})
    raw = github_deployment(commits=[commit("c1", "Rollback the cart", -5)])
    assert normalize_github_deployment(raw, options)["is_revert"]
    assert not normalize_github_deployment(github_deployment(commits=[commit("c", 'Revert "x"', -5)]), options)[
        "is_revert"
    ]


def test_a_workflow_run_normalises_as_a_deployment_to_its_environment() -> None:
    run = {
        "id": 7,
        "name": "Deploy",
        "path": ".github/workflows/deploy.yml",
        "workflow_id": 3,
        "head_sha": "d" * 40,
        "head_branch": "main",
        "status": "completed",
        "conclusion": "failure",
        "created_at": ts(0),
        "run_started_at": ts(1),
        "updated_at": ts(12),
        "html_url": "https://github.com/acme/shop/actions/runs/7",
        "actor": {"login": "cy"},
        "_dmt": {"mode": "workflow_runs", "repository": "acme/shop", "environment": "prod", "previous": None},
    }
    record = normalize_github_deployment(run)
    assert record["source_deployment_id"] == "run:7" and record["kind"] == "workflow_run"
    assert (record["name"], record["environment"], record["status"]) == ("Deploy", "prod", "failure")
    assert record["started_at"] == T0 + timedelta(minutes=1) and record["finished_at"] == T0 + timedelta(minutes=12)
    assert record["commit_sha"] == "d" * 40 and record["creator_login"] == "cy"
    assert not record["is_revert"]  # only a successful deployment can ship a revert


# --------------------------------------------------------------------------- Azure
def azure_build(**extras: Any) -> dict[str, Any]:
    return {
        "id": 20_005,
        "status": "completed",
        "result": "succeeded",
        "queueTime": "2026-03-02T10:00:00.000Z",
        "startTime": "2026-03-02T10:00:20.000Z",
        "finishTime": "2026-03-02T10:09:00.000Z",
        "sourceBranch": "refs/heads/main",
        "sourceVersion": "e" * 40,
        "definition": {"id": 12, "name": "web-deploy"},
        "repository": {"id": "r1", "name": "mobile-app", "type": "TfsGit"},
        "requestedFor": {"displayName": "Ana", "uniqueName": "ana@x.io"},
        "_links": {"web": {"href": "https://dev.azure.com/acme/Mobile/_build/results?buildId=20005"}},
        "_dmt": {
            "mode": "runs",
            "environment": "production",
            "previous": {"id": 20_001, "sha": "f" * 40, "ref": "20001"},
            "commits": [
                {
                    "id": "c2",
                    "message": "Merged PR 7: cart",
                    "timestamp": "2026-03-02T09:00:00.000Z",
                    "author": {"displayName": "Ana", "uniqueName": "ana@x.io"},
                },
            ],
            **extras,
        },
    }


def test_an_azure_pipeline_run_normalises_with_its_changes() -> None:
    record = normalize_azure_deployment(azure_build())
    assert record["source_deployment_id"] == "build:20005" and record["kind"] == "pipeline_run"
    assert (record["name"], record["environment"], record["status"]) == ("web-deploy", "production", "success")
    assert record["repository"] == "mobile-app" and record["commit_sha"] == "e" * 40
    assert record["finished_at"] == datetime(2026, 3, 2, 10, 9, tzinfo=UTC)
    assert record["previous_sha"] == "f" * 40 and record["creator_login"] == "ana@x.io"
    assert record["changes"] == [
        {"sha": "c2", "authored_at": datetime(2026, 3, 2, 9, tzinfo=UTC), "author_login": "ana@x.io",
         "message": "Merged PR 7: cart"},
    ]  # fmt: skip
    assert record["url"].endswith("buildId=20005")


def test_an_azure_deployment_record_takes_its_commit_from_the_run() -> None:
    build = azure_build()
    build.pop("_dmt")
    record = {
        "id": 5_003,
        "environmentId": 2,
        "stageName": "Production",
        "definition": {"id": 12, "name": "web-deploy"},
        "owner": {"id": 20_005, "name": "20260302.5"},
        "result": "failed",
        "queueTime": "2026-03-02T10:03:00.000Z",
        "startTime": "2026-03-02T10:03:10.000Z",
        "finishTime": "2026-03-02T10:06:00.000Z",
        "_dmt": {
            "mode": "environments",
            "environment": "production",
            "build": build,
            "previous": None,
            "commits": None,
        },
    }
    normal = normalize_azure_deployment(record)
    assert normal["source_deployment_id"] == "record:5003" and normal["kind"] == "record"
    assert normal["name"] == "web-deploy / Production" and normal["status"] == "failure"
    assert normal["commit_sha"] == "e" * 40 and normal["ref"] == "refs/heads/main"
    assert normal["changes"] is None and normal["url"].endswith("buildId=20005")


# --------------------------------------------------------------------------- the chain
def test_the_chain_gives_each_deployment_its_previous_success_and_the_commits_in_between() -> None:
    asked: list[tuple[str, str]] = []

    def between(base: str, head: str) -> list[dict[str, Any]]:
        asked.append((base, head))
        return [{"sha": f"{base}..{head}"}]

    chain = DeploymentChain(between)
    newest_first = [("F1", "failure", "s5"), ("S1", "success", "s4"), ("F2", "failure", "s3"), ("F3", "failure", "s3"),
                    ("S2", "success", "s2"), ("S3", "success", "s1")]  # fmt: skip
    done: list[dict[str, Any]] = []
    for name, state, sha in newest_first:
        done += chain.feed({"id": name}, "production", state, sha, in_window=name != "S3")
    done += chain.flush()
    by_name = {d["id"]: d["_dmt"] for d in done}
    assert set(by_name) == {"F1", "S1", "F2", "F3", "S2"}  # S3 is older than the window: only a predecessor
    assert by_name["F1"]["previous"]["id"] == "S1" and by_name["F1"]["commits"] is None
    assert by_name["S1"]["previous"]["id"] == "S2" and by_name["S1"]["commits"] == [{"sha": "s2..s4"}]
    assert by_name["F2"]["previous"]["id"] == by_name["F3"]["previous"]["id"] == "S2"
    assert by_name["S2"]["previous"] == {"id": "S3", "sha": "s1", "ref": "s1"}
    assert asked == [("s2", "s4"), ("s1", "s2")]


def test_a_redeploy_of_the_same_commit_ships_nothing_and_the_oldest_has_no_predecessor() -> None:
    chain = DeploymentChain(lambda base, head: pytest.fail("no comparison needed"))
    done = chain.feed({"id": 2}, "prod", "success", "abc", True) + chain.feed({"id": 1}, "prod", "success", "abc", True)
    rest = chain.flush()
    assert done[0]["_dmt"]["commits"] == [] and done[0]["_dmt"]["previous"]["id"] == 1
    assert rest[0]["id"] == 1 and rest[0]["_dmt"]["previous"] is None and rest[0]["_dmt"]["commits"] is None


def test_environments_chain_separately() -> None:
    chain = DeploymentChain(lambda base, head: [{"sha": head}])
    chain.feed({"id": "p2"}, "production", "success", "p2", True)
    done = chain.feed({"id": "s1"}, "staging", "success", "s1", True)
    assert done == [] and chain.waits_for("production") and chain.waits_for("staging")
    done = chain.feed({"id": "p1"}, "production", "success", "p1", True)
    assert [d["id"] for d in done] == ["p2"]


def test_deployment_options_validate_their_values() -> None:
    options = DeploymentOptions.of({"environments": "production, Staging", "lookback_hours": 2, "max_commits": 5})
    assert options.environments == ("production", "Staging") and options.keeps("staging") and not options.keeps("qa")
    assert options.floor(T0) == T0 - timedelta(hours=2) and options.floor(None) is None
    for bad in ({"lookback_hours": "soon"}, {"lookback_hours": -1}, {"max_commits": 0}, {"revert_pattern": "("},
                {"environments": 3}):  # fmt: skip
        with pytest.raises(SourceConfigError):
            DeploymentOptions.of(bad)


# --------------------------------------------------------------------------- incident rule
def test_the_incident_rule_of_a_field_mapping() -> None:
    mapping = FieldMapping.parse(
        {"incident": {"field": "Label", "values": {"Incident": "true", "outage": True, "x": False}}}
    )
    rule = mapping.incident_rule()
    assert rule is not None and rule.criterion == "label" and rule.names == ("Incident", "outage")
    assert rule.matches("story", ["backend", "INCIDENT"], None) and not rule.matches("bug", ["x"], None)
    assert FieldMapping.parse(mapping.to_json()).incident_rule() == rule  # stored form reads back
    by_type = FieldMapping.parse({"incident": {"field": "type", "values": ["Production Incident"]}}).incident_rule()
    assert by_type is not None and by_type.matches("production_incident", [], None)
    by_priority = FieldMapping.parse({"incident": {"field": "priority", "values": {"Highest": True}}}).incident_rule()
    assert (
        by_priority is not None
        and by_priority.matches("task", [], "highest")
        and not by_priority.matches("t", [], None)
    )
    assert FieldMapping.parse({}).incident_rule() is None


@pytest.mark.parametrize(
    "spec",
    [
        "label",
        {"field": "status", "values": {"Down": True}},
        {"field": "label"},
        {"field": "label", "values": {}},
        {"field": "label", "values": {"": True}},
    ],
)
def test_a_bad_incident_rule_is_refused_naming_it(spec: Any) -> None:
    with pytest.raises(FieldMappingError) as refused:
        FieldMapping.parse({"incident": spec})
    assert refused.value.key == "incident"
