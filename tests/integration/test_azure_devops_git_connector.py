"""The Azure DevOps Git connector end to end against the fake Azure DevOps Git API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from etl.connectors.azure_devops_git import AzureDevOpsGitConnector
from etl.connectors.base import SourceAuthError, SourceDataError, SourceNotFound, SourceSettings
from etl.connectors.registry import get_connector
from tests.fakes.azure_devops_git import (
    DEFAULT_TOKEN,
    add_comment,
    add_vote,
    complete_pull,
    create_app,
    generate_dataset,
)
from tests.fakes.server import FaultControls, serve

KEYS = ["AB#1", "AB#2", "ACME-3", "AB#4"]


@pytest.fixture
def fake() -> Iterator[tuple[str, dict[str, Any], FaultControls]]:
    dataset = generate_dataset(seed=11, size=23, repositories=["shop", "api"], work_item_keys=KEYS)
    controls = FaultControls()
    with serve(create_app(dataset, controls)) as url:
        yield f"{url}/{dataset['organization']}", dataset, controls


def connector(base_url: str, token: str = DEFAULT_TOKEN, **config: Any) -> AzureDevOpsGitConnector:
    settings = SourceSettings(
        source_type="azure_devops_git",
        base_url=base_url,
        token=token,
        config_json={"project": "Fabrikam", "page_size": 4, "project_keys": ["ACME"], **config},
    )
    return AzureDevOpsGitConnector(settings, sleep=lambda _s: None, max_retries=3)


def pulls(conn: AzureDevOpsGitConnector, start: datetime | None = None) -> list[dict[str, Any]]:
    return [p for page in conn.extract_pull_requests(start, None) for p in page]


def test_registry_builds_the_connector() -> None:
    settings = SourceSettings(
        source_type="azure_devops_git", base_url="https://dev.azure.com/x", token="t", config_json={"project": "P"}
    )
    conn = get_connector("azure_devops_git", settings)
    assert isinstance(conn, AzureDevOpsGitConnector) and conn.discover_fields() == []


def test_connection_names_user_and_repositories(fake) -> None:
    url, dataset, _ = fake
    result = connector(url).test_connection()
    assert result.identity == f"{dataset['user']['name']} <{dataset['user']['email']}>"
    assert sorted(result.details["repositories"]) == ["api", "shop"]


def test_unknown_repository_is_not_found(fake) -> None:
    url, _, _ = fake
    with pytest.raises(SourceNotFound, match="nope"):
        connector(url, repositories=["nope"]).test_connection()


def test_full_extract_pages_with_top_and_skip_and_normalises(fake) -> None:
    url, dataset, _ = fake
    conn = connector(url)
    raw = pulls(conn)
    assert sorted(p["pullRequestId"] for p in raw) == sorted(dataset["pulls"])  # 23 PRs at 4 per page
    normalised = [conn.normalize_pull_request(p) for p in raw]
    assert {n["state"] for n in normalised} <= {"open", "merged", "closed"}
    keyed = [n for n in normalised if n["linked_keys"]]
    assert len(keyed) >= 18
    assert any("AB#1" in n["linked_keys"] for n in normalised) and any("ACME-3" in n["linked_keys"] for n in normalised)
    merged = [n for n in normalised if n["state"] == "merged"]
    assert merged and all(n["approvals_count"] >= 1 and n["approved_at"] and n["first_review_at"] for n in merged)
    assert any(n["dmt_signoff"] for n in normalised)
    assert all(n["ci_status"] in {"success", "failure", "pending"} and n["ci_url"] for n in normalised)
    assert all(n["url"].startswith(url) and "/_git/" in n["url"] for n in normalised)
    ids = {i for page in conn.list_pull_request_ids() for i in page}
    assert ids == {str(i) for i in dataset["pulls"]}


def test_incremental_extract_gets_new_recently_closed_and_touched_active_ones(fake) -> None:
    url, dataset, controls = fake
    conn = connector(url)
    cursor = datetime.now(UTC)
    active = sorted(i for i, p in dataset["pulls"].items() if p["status"] == "active")
    closed_id, touched_id, *untouched = active
    complete_pull(dataset, closed_id, when=cursor + timedelta(seconds=2))
    add_comment(dataset, touched_id, dataset["people"][3], "One more question.", when=cursor + timedelta(seconds=3))
    old_completed = {i for i, p in dataset["pulls"].items() if p["status"] != "active" and i != closed_id}
    controls.paths_seen.clear()
    got = {p["pullRequestId"] for p in pulls(conn, start=cursor)}
    assert got == {closed_id, touched_id} and not (got & old_completed)
    # An untouched active PR costs its threads alone: no statuses, work items or commits.
    for pr_id in untouched:
        asked = {p.rsplit("/", 1)[1] for p in controls.paths_seen if f"/pullRequests/{pr_id}/" in p}
        assert asked == {"threads"}


def test_new_vote_and_signoff_show_up_on_the_next_sync(fake) -> None:
    url, dataset, _ = fake
    pr_id = next(
        i
        for i, p in dataset["pulls"].items()
        if p["status"] == "active" and "DMT-OK" not in str(dataset["extras"][i]["threads"])
    )
    reviewer = next(p for p in dataset["people"] if p["email"] != dataset["pulls"][pr_id]["createdBy"]["uniqueName"])
    add_vote(dataset, pr_id, reviewer, 10)
    add_comment(dataset, pr_id, reviewer, "All tests green. DMT-OK")
    conn = connector(url)
    raw = next(p for p in pulls(conn, start=datetime.now(UTC) - timedelta(hours=1)) if p["pullRequestId"] == pr_id)
    pr = conn.normalize_pull_request(raw)
    assert pr["dmt_signoff_by"] == reviewer["name"] and pr["approvals_count"] >= 1


def test_wrong_token_raises_auth_error(fake) -> None:
    url, _, _ = fake
    with pytest.raises(SourceAuthError, match="TF400813"):
        connector(url, token="bad").test_connection()


def test_server_errors_and_rate_limits_are_retried(fake) -> None:
    url, dataset, controls = fake
    controls.rate_limit_next(1, retry_after=0)
    controls.fail_next(2, status=503)
    assert len(pulls(connector(url))) == len(dataset["pulls"])


def test_malformed_payload_raises_data_error(fake) -> None:
    url, dataset, _ = fake
    dataset["malformed_next"] = 1
    with pytest.raises(SourceDataError):
        connector(url).test_connection()


def test_works_mounted_under_a_prefix() -> None:
    dataset = generate_dataset(seed=4, size=3)
    parent = FastAPI()
    parent.mount("/ado", create_app(dataset))
    with serve(parent) as url:
        conn = connector(f"{url}/ado/{dataset['organization']}")
        assert len(pulls(conn)) == 3


# --------------------------------------------------------------------------- bulk work items, votes, throttling
def by_id(conn: AzureDevOpsGitConnector, start: datetime | None = None) -> dict[str, dict[str, Any]]:
    return {n["source_pr_id"]: n for n in (conn.normalize_pull_request(p) for p in pulls(conn, start))}


def test_linked_work_items_come_in_bulk_and_equal_the_per_pr_answer(fake) -> None:
    url, dataset, controls = fake
    controls.paths_seen.clear()
    bulk = by_id(connector(url))
    bulk_paths = list(controls.paths_seen)
    dataset["work_item_scope"] = False  # a PAT with the Code scope alone: the bulk query is refused
    controls.paths_seen.clear()
    conn = connector(url)
    per_pr = by_id(conn)
    assert not conn.bulk_work_items
    assert bulk == per_pr and any("AB#1" in n["linked_keys"] for n in bulk.values())
    assert sum(p.endswith("/workitems") for p in bulk_paths) == 0
    assert sum(p.endswith("/artifacturiquery") for p in bulk_paths) == 2  # one per repository here (< 500 PRs each)
    assert sum(p.endswith("/workitems") for p in controls.paths_seen) == len(dataset["pulls"])


def test_commits_only_for_pull_requests_that_name_no_work_item(fake) -> None:
    url, dataset, controls = fake
    controls.paths_seen.clear()
    raw = pulls(connector(url))
    with_commits = {p["pullRequestId"] for p in raw if p["_dmt"]["commits"] is not None}
    keyless = {i for i, p in dataset["pulls"].items() if p["title"].startswith("Chore:")}
    assert keyless and with_commits == keyless
    assert sum(p.endswith("/commits") for p in controls.paths_seen) == len(keyless)
    assert all(p["_dmt"]["commits"] is not None for p in pulls(connector(url, fetch_commits=True)))
    assert all(p["_dmt"]["commits"] is None for p in pulls(connector(url, fetch_commits=False)))
    assert all(p["_dmt"]["commits"] is None for p in pulls(connector(url, fetch_commits="false")))  # from a form


def test_votes_named_by_identity_or_by_tf_id_both_give_review_and_approval_times(fake) -> None:
    url, dataset, _ = fake
    shapes: dict[str, set[str]] = {"identity": set(), "tfid": set()}
    for pr_id, extras in dataset["extras"].items():
        for thread in extras["threads"]:
            props = thread.get("properties") or {}
            if "CodeReviewVotedByIdentity" in props:
                shapes["identity"].add(str(pr_id))
            elif "CodeReviewVotedByTfId" in props:
                shapes["tfid"].add(str(pr_id))
    assert shapes["identity"] and shapes["tfid"]
    normalised = by_id(connector(url))
    for shape, ids in shapes.items():
        voted = [normalised[i] for i in ids]
        assert all(n["first_review_at"] for n in voted), shape
        approved = [n for n in voted if n["approvals_count"]]
        assert approved and all(n["approved_at"] for n in approved), shape
        timed = [r for n in voted for r in n["reviewers"] if r["vote"] != 0]
        assert timed and all(r["submitted_at"] for r in timed), shape


def test_pull_requests_are_enriched_concurrently(fake) -> None:
    url, dataset, _ = fake
    dataset["sub_resource_seconds"] = 0.05
    assert len(pulls(connector(url, workers=4))) == len(dataset["pulls"])
    assert 1 < dataset["max_in_flight"] <= 4


def test_azure_rate_limit_headers_pause_and_serialise_requests(fake) -> None:
    url, dataset, controls = fake
    slept: list[float] = []
    settings = SourceSettings(
        source_type="azure_devops_git",
        base_url=url,
        token=DEFAULT_TOKEN,
        config_json={"project": "Fabrikam", "page_size": 4, "workers": 4},
    )
    conn = AzureDevOpsGitConnector(settings, sleep=slept.append, max_retries=3)
    # The repository list answers with a delay and a Retry-After, then the allowance runs low.
    dataset["answer_headers"] = [
        {"X-RateLimit-Resource": "ATCP", "X-RateLimit-Delay": "0.75", "Retry-After": "2",
         "X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "12", "X-RateLimit-Reset": "1999999999"},
    ]  # fmt: skip
    dataset["sub_resource_seconds"] = 0.02
    controls.rate_limit_next(1, retry_after=3)  # and one 429 with Retry-After
    assert len(pulls(conn)) == len(dataset["pulls"])
    assert 3.0 in slept  # the 429's Retry-After, through the shared HTTP layer
    # The 200's Retry-After (longer than its delay) pauses the next request once, whichever thread sends it.
    assert conn.throttle.paused_seconds == 2.0 and len([s for s in slept if 1.5 < s <= 2.0]) == 1
    assert conn.throttle.slowed and dataset["max_in_flight"] == 1  # one request at a time while slowed


def test_ci_evidence_from_builds_in_bulk_equals_the_per_pr_statuses(fake) -> None:
    url, dataset, controls = fake
    external = sorted(dataset["pulls"])[:3]  # CI outside Azure Pipelines: a PR status, no build
    for pr_id in external:
        dataset["extras"][pr_id]["statuses"][0]["createdBy"] = {"displayName": "Jenkins"}
    dataset["builds_page_size"] = 5  # several pages, continued by x-ms-continuationtoken
    per_pr = by_id(connector(url, ci="statuses"))
    controls.paths_seen.clear()
    bulk = by_id(connector(url))
    ci = {i: (n["ci_status"], n["ci_url"]) for i, n in bulk.items()}
    assert ci == {i: (n["ci_status"], n["ci_url"]) for i, n in per_pr.items()}
    assert all(state in {"success", "failure", "pending"} and link for state, link in ci.values())
    statuses_asked = {
        int(p.split("/pullRequests/")[1].split("/")[0]) for p in controls.paths_seen if p.endswith("/statuses")
    }
    assert statuses_asked == set(external)  # only the PRs no build answers for
    assert sum(p.endswith("/_apis/build/builds") for p in controls.paths_seen) >= 4  # 20 builds, 5 a page, 2 repos
    only_builds = by_id(connector(url, ci="builds"))
    assert all(only_builds[str(i)]["ci_status"] is None for i in external)


def test_without_the_build_scope_ci_comes_from_each_pr_statuses(fake) -> None:
    url, dataset, controls = fake
    dataset["build_scope"] = False
    controls.paths_seen.clear()
    normalised = by_id(connector(url))
    assert all(n["ci_status"] and n["ci_url"] for n in normalised.values())
    assert sum(p.endswith("/statuses") for p in controls.paths_seen) == len(dataset["pulls"])


# --------------------------------------------------------------------------- where the requests go
def kinds(paths: list[str]) -> dict[str, int]:
    """Requests by endpoint: the last path segment, pull request sub-resources by name."""
    counted: dict[str, int] = {}
    for path in paths:
        kind = path.rsplit("/", 1)[1].lower()
        counted[kind] = counted.get(kind, 0) + 1
    return counted


def test_a_full_sync_reads_threads_per_pr_and_everything_else_in_bulk(fake) -> None:
    url, dataset, controls = fake
    controls.paths_seen.clear()
    raw = pulls(connector(url, page_size=None))  # the default page: 1,000 PRs
    keyless = sum(1 for p in dataset["pulls"].values() if p["title"].startswith("Chore:"))
    assert len(raw) == 23
    # Per repository: one list page (12 and 11 PRs, under 100: the end), one builds page, one work item query.
    assert kinds(controls.paths_seen) == {
        "repositories": 1,
        "builds": 2,
        "pullrequests": 2,
        "artifacturiquery": 2,
        "threads": 23,
        "commits": keyless,
    }


def test_a_short_page_is_the_end_only_when_the_service_honoured_top() -> None:
    dataset = generate_dataset(seed=5, size=250, repositories=["shop"])
    controls = FaultControls()
    with serve(create_app(dataset, controls)) as served:
        base = f"{served}/{dataset['organization']}"
        controls.paths_seen.clear()
        assert len(pulls(connector(base, page_size=None, fetch_commits=False))) == 250
        # 250 < 1,000 asked but >= 100: maybe capped, so one more (empty) page says it is the end.
        assert kinds(controls.paths_seen)["pullrequests"] == 2
        dataset["pulls_top_cap"] = 100  # the service answers 100 however many are asked
        controls.paths_seen.clear()
        assert len(pulls(connector(base, page_size=None, fetch_commits=False))) == 250
        assert kinds(controls.paths_seen)["pullrequests"] == 3  # 100, 100, then 50: under 100 is the end
        controls.paths_seen.clear()
        assert len(pulls(connector(base, page_size=120, fetch_commits=False))) == 250
        assert kinds(controls.paths_seen)["pullrequests"] == 3


def test_incremental_reads_work_items_only_for_pull_requests_that_changed(fake) -> None:
    url, dataset, controls = fake
    conn = connector(url)
    cursor = datetime.now(UTC)
    active = sorted(i for i, p in dataset["pulls"].items() if p["status"] == "active")
    closed_id, touched_id, *untouched = active
    complete_pull(dataset, closed_id, when=cursor + timedelta(seconds=2))
    add_vote(dataset, touched_id, dataset["people"][3], 10, when=cursor + timedelta(seconds=3))
    dataset["artifact_uris_asked"] = []
    controls.paths_seen.clear()
    got = {p["pullRequestId"] for p in pulls(conn, start=cursor)}
    assert got == {closed_id, touched_id} and untouched
    asked = [uri.rsplit("%2F", 1)[1] for query in dataset["artifact_uris_asked"] for uri in query]
    assert sorted(asked) == sorted(str(i) for i in got)
    threads = {p.split("/pullRequests/")[1].split("/")[0] for p in controls.paths_seen if p.endswith("/threads")}
    assert threads == {str(i) for i in active}  # the closed one's threads once, with its enrichment
    assert sum(p.endswith("/threads") for p in controls.paths_seen) == len(active)


def test_every_commit_of_a_long_pull_request_is_read_oldest_included(fake) -> None:
    url, dataset, controls = fake
    pr_id = next(i for i, p in dataset["pulls"].items() if p["title"].startswith("Chore:"))
    commits = dataset["extras"][pr_id]["commits"]
    newest = commits[0]
    for n in range(300 - len(commits)):  # older and older commits, newest first as the service lists them
        when = datetime.fromisoformat(commits[-1]["author"]["date"].replace("Z", "+00:00")) - timedelta(minutes=n + 1)
        stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        commits.append(
            {**newest, "commitId": f"{n:040x}", "comment": "wip", "author": {**newest["author"], "date": stamp}}
        )
    commits[-1]["comment"] = "ACME-77 first step"
    controls.paths_seen.clear()
    pr = by_id(connector(url))[str(pr_id)]
    assert pr["commits_count"] == 300 and "ACME-77" in pr["linked_keys"]
    assert pr["first_commit_at"] == datetime.fromisoformat(commits[-1]["author"]["date"].replace("Z", "+00:00"))
    assert sum(p.endswith(f"/pullRequests/{pr_id}/commits") for p in controls.paths_seen) == 2  # 250 + 50
