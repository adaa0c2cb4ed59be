"""The deployment connectors (github_deployments, azure_pipelines) against the fake GitHub and Azure Pipelines:
connection, discovery, backfill and incremental windows, what each deployment shipped, paging and errors."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from etl.connectors.azure_pipelines import AzurePipelinesConnector
from etl.connectors.base import SourceAuthError, SourceConfigError, SourceNotFound, SourceRateLimited, SourceSettings
from etl.connectors.github_deployments import GitHubDeploymentsConnector
from etl.connectors.registry import get_connector
from tests.fakes import azure_devops_git, azure_pipelines, github
from tests.fakes import github_deployments as gd
from tests.fakes.server import FaultControls, serve

REPOS = ["acme/shop", "acme/api"]


# --------------------------------------------------------------------------- GitHub
@pytest.fixture
def gh() -> Iterator[tuple[str, dict[str, Any], FaultControls]]:
    dataset = github.generate_dataset(seed=5, size=70, repositories=REPOS)
    gd.add_deployments(dataset, seed=5)
    controls = FaultControls()
    with serve(gd.create_app(dataset, controls)) as url:
        yield url, dataset, controls


def gh_connector(url: str, token: str = github.DEFAULT_TOKEN, **config: Any) -> GitHubDeploymentsConnector:
    settings = SourceSettings(
        source_type="github_deployments", base_url=url, token=token, config_json={"repositories": REPOS, **config}
    )
    return GitHubDeploymentsConnector(settings, sleep=lambda _s: None, max_retries=2)


def normalised(conn: Any, start: datetime | None = None) -> list[dict[str, Any]]:
    return [conn.normalize_deployment(raw) for page in conn.extract_deployments(start, None) for raw in page]


def history_between(store: dict[str, Any], base: str, head: str) -> list[str]:
    positions = store["positions"]
    return [c["sha"] for c in store["history"][positions[base] + 1 : positions[head] + 1]]


def test_registry_builds_both_deployment_connectors() -> None:
    gh_settings = SourceSettings("github_deployments", "", token="x", config_json={"repositories": ["a/b"]})
    az_settings = SourceSettings("azure_pipelines", "https://dev.azure.com/a", token="x", config_json={"project": "P"})
    assert isinstance(get_connector("github_deployments", gh_settings), GitHubDeploymentsConnector)
    assert isinstance(get_connector("azure_pipelines", az_settings), AzurePipelinesConnector)


def test_github_connection_and_discovery(gh) -> None:
    url, _dataset, _ = gh
    conn = gh_connector(url)
    result = conn.test_connection()
    assert result.ok and set(result.details["repositories"]) == set(REPOS)
    assert all(r["deployments_visible"] for r in result.details["repositories"].values())
    found = {f.id: f for f in conn.discover_fields()}
    assert {"environment:staging", "environment:production"} <= set(found)
    assert found["workflow:.github/workflows/deploy.yml"].name == "Deploy"
    assert found["environment:production"].field_type == "environment"


def test_github_backfill_reads_every_deployment_with_what_it_shipped(gh) -> None:
    url, dataset, controls = gh
    conn = gh_connector(url, per_page=7)  # several pages of deployments and of compared commits
    records = normalised(conn)
    expected = sum(len(dataset["repos"][r]["deployments"]) for r in REPOS)
    assert len(records) == expected
    assert len({r["source_deployment_id"] for r in records}) == expected
    for repo in REPOS:
        store = dataset["repos"][repo]
        for env in ("staging", "production"):
            mine = sorted(
                (r for r in records if r["repository"] == repo and r["environment"] == env),
                key=lambda r: r["created_at_source"],
            )
            successes = [r for r in mine if r["status"] == "success"]
            assert successes, f"{repo} {env} has deployments"
            assert successes[0]["changes"] is None  # the first one: no predecessor, its changes are unknown
            for previous, current in itertools.pairwise(successes):
                assert current["previous_sha"] == previous["commit_sha"]
                shipped = [c["sha"] for c in current["changes"]]
                assert shipped == history_between(store, previous["commit_sha"], current["commit_sha"])
            merged = {p["merge_commit_sha"] for p in store["pulls"].values() if p.get("merge_commit_sha")}
            shipped_all = {c["sha"] for r in successes for c in r["changes"] or []}
            if env == "production":  # every merged PR deployed so far reached production through a merge commit
                deployed_head = store["positions"][successes[-1]["commit_sha"]]
                reachable = {
                    c["sha"]
                    for c in store["history"][store["positions"][successes[0]["commit_sha"]] + 1 : deployed_head + 1]
                }
                assert merged & reachable <= shipped_all
    compared = [r for r in records if r["changes"]]
    compare_requests = sum("/compare/" in path for path in controls.paths_seen)
    assert compare_requests > len(compared)  # long comparisons took several pages of 7 commits
    assert any(r["changes_count"] > 7 for r in compared)
    assert Counter(r["status"] for r in records)["failure"] >= 1
    failures = [r for r in records if r["status"] == "failure"]
    assert all(r["changes"] is None and r["finished_at"] is not None for r in failures)


def test_github_incremental_run_reads_new_deployments_and_looks_back_for_their_predecessor(gh) -> None:
    url, dataset, controls = gh
    store = dataset["repos"]["acme/shop"]
    start = datetime.now(UTC).replace(microsecond=0)
    hotfix = gd.push_commit(dataset, "acme/shop", "Hotfix: totals are rounded twice", when=start + timedelta(minutes=1))
    gd.deploy(dataset, "acme/shop", "production", when=start + timedelta(minutes=2))
    before = controls.requests_seen
    records = normalised(gh_connector(url, lookback_hours=0), start=start)
    assert [r["environment"] for r in records] == ["production"]
    new = records[0]
    assert new["status"] == "success" and new["commit_sha"] == hotfix and new["is_revert"]
    previous = max(
        (d for d in store["deployments"][:-1] if d["environment"] == "production" and store["statuses"][d["id"]][-1]["state"] != "failure"
         and any(s["state"] == "success" for s in store["statuses"][d["id"]])),
        key=lambda d: (d["created_at"], d["id"]),
    )  # fmt: skip
    assert new["previous_sha"] == previous["sha"]
    assert [c["sha"] for c in new["changes"]] == history_between(store, previous["sha"], hotfix)
    # Reading back past the window costs a few requests, not the whole history.
    assert controls.requests_seen - before < 20


def test_github_environment_filter_and_running_deployments(gh) -> None:
    url, dataset, _ = gh
    running = gd.deploy(dataset, "acme/api", "staging", state="in_progress")
    records = normalised(gh_connector(url, environments=["staging"]))
    assert {r["environment"] for r in records} == {"staging"}
    current = next(r for r in records if r["source_deployment_id"] == str(running["id"]))
    assert current["status"] == "in_progress" and current["finished_at"] is None
    gd.set_deployment_state(dataset, "acme/api", running["id"], "success")
    again = {r["source_deployment_id"]: r for r in normalised(gh_connector(url, environments=["staging"]))}
    assert again[str(running["id"])]["status"] == "success" and again[str(running["id"])]["changes"] is not None


def test_github_workflow_runs_mode(gh) -> None:
    url, dataset, _ = gh
    records = normalised(gh_connector(url, mode="workflow_runs", workflows=["deploy.yml"], environments=["prod"]))
    runs = [r for repo in REPOS for r in dataset["repos"][repo]["workflow_runs"] if r["name"] == "Deploy"]
    assert len(records) == len(runs)
    assert {r["environment"] for r in records} == {"prod"} and {r["kind"] for r in records} == {"workflow_run"}
    assert Counter(r["status"] for r in records)["failure"] == sum(r["conclusion"] == "failure" for r in runs)
    shipped = [r for r in records if r["changes"]]
    assert shipped and all(r["previous_sha"] for r in shipped)
    by_name = normalised(gh_connector(url, mode="workflow_runs", workflows=["CI"]))
    assert {r["name"] for r in by_name} == {"CI"}


def test_github_force_pushed_commit_leaves_changes_unknown(gh) -> None:
    url, dataset, _ = gh
    gd.deploy(dataset, "acme/shop", "production", sha="f" * 40)  # a commit the repository no longer has
    records = normalised(gh_connector(url, environments=["production"]), start=datetime.now(UTC) - timedelta(minutes=5))
    gone = next(r for r in records if r["commit_sha"] == "f" * 40)
    assert gone["status"] == "success" and gone["changes"] is None and gone["previous_sha"]


def test_github_errors(gh) -> None:
    url, _dataset, controls = gh
    with pytest.raises(SourceAuthError):
        gh_connector(url, token="wrong").test_connection()
    with pytest.raises(SourceNotFound):
        normalised(gh_connector(url, repositories=["acme/missing"]))
    controls.fail_next(2, status=503)  # retried (max_retries=2: three attempts)
    assert normalised(gh_connector(url, environments=["production"]))
    controls.rate_limit_next(3, retry_after=0)
    with pytest.raises(SourceRateLimited):
        normalised(gh_connector(url))
    with pytest.raises(SourceConfigError):
        gh_connector(url, mode="releases")
    with pytest.raises(SourceConfigError):
        gh_connector(url, mode="workflow_runs", environments=["a", "b"])


# --------------------------------------------------------------------------- Azure Pipelines
@pytest.fixture
def az() -> Iterator[tuple[str, dict[str, Any], FaultControls]]:
    git = azure_devops_git.generate_dataset(
        seed=6, size=70, organization="acme", project="Mobile", repositories=["mobile-app"]
    )
    dataset = azure_pipelines.generate_dataset(git, seed=6, page_size=6)  # several pages of runs and records
    controls = FaultControls()
    with serve(azure_pipelines.create_app(dataset, controls)) as url:
        yield url + "/acme", dataset, controls


def az_connector(url: str, token: str = azure_devops_git.DEFAULT_TOKEN, **config: Any) -> AzurePipelinesConnector:
    settings = SourceSettings(
        source_type="azure_pipelines", base_url=url, token=token, config_json={"project": "Mobile", **config}
    )
    return AzurePipelinesConnector(settings, sleep=lambda _s: None, max_retries=2)


def changes_between(dataset: dict[str, Any], base: str, head: str) -> list[str]:
    repo, a = dataset["positions"][base]
    _, b = dataset["positions"][head]
    return [c["id"] for c in reversed(dataset["history"][repo][a + 1 : b + 1])]


def test_azure_connection_and_discovery(az) -> None:
    url, _dataset, _ = az
    conn = az_connector(url, mode="environments")
    result = conn.test_connection()
    assert result.ok and result.details["pipelines"] == ["web-deploy"]
    assert result.details["environments"] == ["staging", "production"]
    assert {f.id for f in conn.discover_fields()} == {"pipeline:12", "environment:staging", "environment:production"}


def test_azure_runs_mode_reads_every_run_with_its_changes(az) -> None:
    url, dataset, _ = az
    records = normalised(az_connector(url, pipelines=["web-deploy"]))
    assert len(records) == len(dataset["builds"])
    ordered = sorted(records, key=lambda r: r["finished_at"])
    successes = [r for r in ordered if r["status"] == "success"]
    assert successes[0]["changes"] is None
    for previous, current in itertools.pairwise(successes):
        assert current["previous_sha"] == previous["commit_sha"]
        assert [c["sha"] for c in current["changes"]] == changes_between(
            dataset, previous["commit_sha"], current["commit_sha"]
        )
    assert any(r["status"] == "failure" for r in records)


def test_azure_environments_mode_counts_each_run_once_per_environment(az) -> None:
    url, dataset, _ = az
    build = azure_pipelines.run_pipeline(dataset, "mobile-app")
    dataset["records"].append({**dataset["records"][-1], "id": 99_999, "jobName": "SmokeTests"})  # a second job
    records = normalised(az_connector(url, mode="environments", environments=["production"]))
    runs = [r for r in records if r["raw_data"]["owner"]["id"] == build["id"]]
    assert len(runs) == 1 and runs[0]["environment"] == "production" and runs[0]["commit_sha"] == build["sourceVersion"]
    production = [r for r in dataset["records"] if r["environmentId"] == 2 and r["id"] != 99_999]
    assert len(records) == len(production)


def test_azure_incremental_window_and_errors(az) -> None:
    url, dataset, controls = az
    start = datetime.now(UTC).replace(microsecond=0)
    sha = azure_pipelines.push_commit(
        dataset, "mobile-app", 'Revert "Merged PR 101"', when=start + timedelta(seconds=30)
    )
    azure_pipelines.run_pipeline(dataset, "mobile-app", when=start + timedelta(minutes=1))
    records = normalised(az_connector(url, lookback_hours=0), start=start)
    assert len(records) == 1 and records[0]["commit_sha"] == sha and records[0]["is_revert"]
    assert records[0]["changes"][0]["sha"] == sha
    with pytest.raises(SourceAuthError):
        az_connector(url, token="wrong").test_connection()
    with pytest.raises(SourceConfigError):
        normalised(az_connector(url, pipelines=["no-such-pipeline"]))
    controls.fail_next(1, status=503)
    assert normalised(az_connector(url), start=start)
