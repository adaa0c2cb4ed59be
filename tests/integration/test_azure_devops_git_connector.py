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


def test_incremental_extract_gets_active_new_and_recently_closed(fake) -> None:
    url, dataset, _ = fake
    conn = connector(url)
    cursor = datetime.now(UTC)
    closed_id = next(i for i, p in dataset["pulls"].items() if p["status"] == "active")
    complete_pull(dataset, closed_id, when=cursor + timedelta(seconds=2))
    old_completed = {i for i, p in dataset["pulls"].items() if p["status"] != "active" and i != closed_id}
    active = {i for i, p in dataset["pulls"].items() if p["status"] == "active"}
    got = {p["pullRequestId"] for p in pulls(conn, start=cursor)}
    assert closed_id in got and active <= got and not (got & old_completed)


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
