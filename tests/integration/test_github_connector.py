"""The GitHub connector end to end against the fake GitHub API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from etl.connectors.base import SourceAuthError, SourceDataError, SourceNotFound, SourceRateLimited, SourceSettings
from etl.connectors.github import GitHubConnector
from etl.connectors.registry import get_connector
from tests.fakes.azure_boards import login_of
from tests.fakes.github import DEFAULT_TOKEN, add_comment, add_review, create_app, generate_dataset, update_pull
from tests.fakes.server import FaultControls, serve

REPOS = ["acme/shop", "acme/api"]
KEYS = [f"ACME-{n}" for n in range(1, 11)]


@pytest.fixture
def fake() -> Iterator[tuple[str, dict[str, Any], FaultControls]]:
    dataset = generate_dataset(seed=3, size=26, repositories=REPOS, work_item_keys=KEYS)
    controls = FaultControls()
    with serve(create_app(dataset, controls)) as url:
        yield url, dataset, controls


def connector(base_url: str, token: str = DEFAULT_TOKEN, **config: Any) -> GitHubConnector:
    settings = SourceSettings(
        source_type="github",
        base_url=base_url,
        token=token,
        config_json={"repositories": REPOS, "per_page": 5, "project_keys": ["ACME"], **config},
    )
    return GitHubConnector(settings, sleep=lambda _s: None, max_retries=3)


def pulls(conn: GitHubConnector, start: datetime | None = None) -> list[dict[str, Any]]:
    return [p for page in conn.extract_pull_requests(start, None) for p in page]


def test_registry_builds_the_github_connector() -> None:
    settings = SourceSettings(source_type="github", base_url="", token="x", config_json={"repositories": ["a/b"]})
    assert isinstance(get_connector("github", settings), GitHubConnector)


def test_connection_names_the_user_and_repositories(fake) -> None:
    url, dataset, _ = fake
    result = connector(url).test_connection()
    assert result.ok and login_of(dataset["user"]) in result.identity
    assert set(result.details["repositories"]) == set(REPOS)


def test_connection_to_unknown_repository_is_not_found(fake) -> None:
    url, _, _ = fake
    with pytest.raises(SourceNotFound):
        connector(url, repositories=["acme/nope"]).test_connection()


def test_discover_fields_lists_labels(fake) -> None:
    url, _, _ = fake
    fields = {f.id: f for f in connector(url).discover_fields()}
    assert "label:bug" in fields and fields["label:bug"].field_type == "label"
    assert fields["label:dmt-signed-off"].proposed_for == "dmt_signoff"


def test_full_extract_pages_through_every_repository_and_enriches(fake) -> None:
    url, _, _ = fake
    conn = connector(url)
    raw = pulls(conn)
    assert len(raw) == 26  # 13 per repository at 5 per page: Link paging works
    normalised = [conn.normalize_pull_request(p) for p in raw]
    assert {n["repository"] for n in normalised} == set(REPOS)
    linked = [n for n in normalised if n["linked_keys"]]
    assert len(linked) >= 20 and all(k.startswith("ACME-") for n in linked for k in n["linked_keys"])
    merged = [n for n in normalised if n["state"] == "merged"]
    assert merged and all(n["approvals_count"] >= 1 and n["approved_at"] for n in merged)
    assert any(n["dmt_signoff"] for n in normalised)
    assert all(n["ci_status"] in {"success", "failure", "pending"} for n in normalised)
    assert all(n["author_email"] for n in normalised)
    reviewed = [n for n in normalised if n["review_count"]]
    assert all(n["first_review_at"] >= n["created_at_source"] for n in reviewed)


def test_incremental_extract_stops_at_the_cursor(fake) -> None:
    url, dataset, _ = fake
    conn = connector(url)
    pulls(conn)
    cursor = datetime.now(UTC)
    add_review(dataset, "acme/shop", 2, "cchurch", "APPROVED", when=cursor + timedelta(seconds=2))
    add_comment(dataset, "acme/api", 1, "cchurch", "DMT-OK", when=cursor + timedelta(seconds=3))
    changed = pulls(conn, start=cursor)
    assert sorted((p["_dmt"]["repository"], p["number"]) for p in changed) == [("acme/api", 1), ("acme/shop", 2)]
    signed = next(conn.normalize_pull_request(p) for p in changed if p["number"] == 1)
    assert signed["dmt_signoff"] and signed["dmt_signoff_by"] == "cchurch"


def test_second_incremental_run_gets_304_and_costs_no_quota(fake) -> None:
    url, dataset, _ = fake
    first = connector(url)
    pulls(first)
    assert set(first.etags) == set(REPOS)
    # The pipeline persists etags into config_json; a new connector picks them up.
    second = connector(url, etags=first.etags)
    before = dataset["rate_limit"]["remaining"]
    assert pulls(second, start=datetime.now(UTC) - timedelta(minutes=1)) == []
    assert second.not_modified == REPOS
    assert dataset["rate_limit"]["remaining"] == before
    update_pull(dataset, "acme/shop", 3, {"title": "ACME-3 renamed"})
    third = connector(url, etags=second.etags)
    changed = pulls(third, start=datetime.now(UTC) - timedelta(minutes=1))
    assert [p["number"] for p in changed] == [3] and third.not_modified == ["acme/api"]


def test_full_sync_ignores_etags(fake) -> None:
    url, _, _ = fake
    first = connector(url)
    pulls(first)
    assert len(pulls(connector(url, etags=first.etags))) == 26


def test_wrong_token_raises_auth_error(fake) -> None:
    url, _, _ = fake
    with pytest.raises(SourceAuthError, match="Bad credentials"):
        connector(url, token="ghp_wrong").test_connection()


def test_rate_limited_then_success(fake) -> None:
    url, _, controls = fake
    controls.rate_limit_next(2, retry_after=0)
    assert len(pulls(connector(url))) == 26


def test_exhausted_primary_rate_limit_raises_rate_limited(fake) -> None:
    url, dataset, _ = fake
    dataset["rate_limit"]["remaining"] = 0
    dataset["rate_limit"]["reset"] = int(datetime.now(UTC).timestamp()) + 1
    with pytest.raises(SourceRateLimited):
        connector(url).test_connection()


def test_secondary_rate_limit_403_with_retry_after_is_waited_out(fake) -> None:
    url, dataset, _ = fake
    dataset["secondary_limit_next"] = 2
    assert connector(url).test_connection().ok


def test_malformed_payload_raises_data_error(fake) -> None:
    url, dataset, _ = fake
    dataset["malformed_next"] = 1
    with pytest.raises(SourceDataError):
        pulls(connector(url))


def test_enterprise_base_url_under_api_v3() -> None:
    dataset = generate_dataset(seed=5, size=4, repositories=["acme/shop"], work_item_keys=KEYS)
    parent = FastAPI()
    parent.mount("/api/v3", create_app(dataset))
    with serve(parent) as url:
        conn = connector(f"{url}/api/v3", repositories=["acme/shop"], per_page=2)
        assert conn.test_connection().ok
        assert len(pulls(conn)) == 4
