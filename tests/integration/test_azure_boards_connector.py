"""The Azure Boards connector end to end against the fake Azure Boards API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from etl.connectors.azure_boards import AzureBoardsConnector
from etl.connectors.base import SourceAuthError, SourceConfigError, SourceDataError, SourceSettings
from etl.connectors.registry import get_connector
from tests.fakes.azure_boards import DEFAULT_TOKEN, create_app, delete_work_item, generate_dataset, update_work_item
from tests.fakes.server import FaultControls, serve

MAPPING = {
    "ac_quality": {"field": "Custom.ACQuality", "values": {"Testable": "testable", "Not Testable": "not_testable"}},
    "unit_testing_status": {"field": "Custom.UnitTestingStatus"},
    "coverage": {"field": "Custom.CodeCoverage"},
    "ci_evidence": {"field": "Custom.CIEvidenceUrl"},
    "dmt_signoff": {"field": "Custom.DMTSignoff"},
}


@pytest.fixture
def fake() -> Iterator[tuple[str, dict[str, Any], FaultControls]]:
    dataset = generate_dataset(seed=7, size=45, wiql_cap=12)
    controls = FaultControls()
    with serve(create_app(dataset, controls)) as url:
        yield f"{url}/{dataset['organization']}", dataset, controls


def connector(base_url: str, token: str = DEFAULT_TOKEN, **config: Any) -> AzureBoardsConnector:
    settings = SourceSettings(
        source_type="azure_boards",
        base_url=base_url,
        token=token,
        config_json={"project": "Fabrikam", **config},
        field_mappings=MAPPING,
    )
    return AzureBoardsConnector(settings, sleep=lambda _s: None, max_retries=3)


def all_items(conn: AzureBoardsConnector, start: datetime | None = None) -> list[dict[str, Any]]:
    return [item for page in conn.extract_work_items(start, None) for item in page]


def test_registry_builds_the_azure_boards_connector(fake) -> None:
    base_url, _, _ = fake
    settings = SourceSettings(source_type="azure_boards", base_url=base_url, token="x", config_json={"project": "P"})
    assert isinstance(get_connector("azure_boards", settings), AzureBoardsConnector)


def test_connection_names_the_user_and_project(fake) -> None:
    base_url, dataset, _ = fake
    result = connector(base_url).test_connection()
    assert result.ok
    assert result.identity == f"{dataset['user']['name']} <{dataset['user']['email']}>"
    assert result.details["project"] == "Fabrikam"


def test_discover_fields_proposes_dmt_mappings_with_picklist_options(fake) -> None:
    base_url, _, _ = fake
    fields = {f.id: f for f in connector(base_url).discover_fields()}
    assert fields["Microsoft.VSTS.Scheduling.StoryPoints"].proposed_for == "story_points"
    assert fields["Custom.ACQuality"].proposed_for == "ac_quality"
    assert fields["Custom.ACQuality"].options == ["Testable", "Not Testable", "Missing"]
    assert fields["Custom.CodeCoverage"].proposed_for == "coverage"
    assert fields["Custom.DMTSignoff"].proposed_for == "dmt_signoff"
    assert fields["System.Title"].proposed_for is None


def test_full_extract_splits_wiql_windows_at_the_cap_and_returns_every_item(fake) -> None:
    base_url, dataset, _ = fake
    conn = connector(base_url, batch_size=10)
    items = all_items(conn)
    assert sorted(i["id"] for i in items) == sorted(dataset["work_items"])
    assert conn.windows_split >= 2  # 45 items, cap 12
    assert max(len(page) for page in [items[i : i + 10] for i in range(0, len(items), 10)]) <= 10
    normalised = [conn.normalize_work_item(i) for i in items]
    done = [n for n in normalised if n["status"] == "Closed"]
    assert done and all(n["status_category"] == "done" and n["done_at"] for n in done)
    story = next(n for n in done if n["item_type"] == "story")
    assert story["item_key"] == f"AB#{story['source_item_id']}"
    assert story["sprint_name"].startswith("Sprint ") and story["sprint_start"] is not None
    assert story["pr_links"] and story["pr_links"][0].startswith("vstfs:///Git/PullRequestId/")
    assert story["ac_quality"] in {"testable", "not_testable", "missing"}
    assert story["url"].startswith(base_url) and "/_workitems/edit/" in story["url"]


def test_incremental_extract_returns_only_changed_items_and_misses_deleted_ones(fake) -> None:
    base_url, dataset, _ = fake
    conn = connector(base_url)
    all_items(conn)
    cursor = datetime.now(UTC)
    update_work_item(dataset, 3, {"System.State": "Active"}, when=cursor + timedelta(seconds=5))
    delete_work_item(dataset, 4)
    changed = all_items(conn, start=cursor)
    assert [i["id"] for i in changed] == [3]
    ids = {i for page in conn.list_work_item_ids() for i in page}
    assert "4" not in ids and "3" in ids


@pytest.mark.parametrize("history", ["revisions", "updates"])
def test_history_gives_sprint_history_and_reopen_counts(fake, history: str) -> None:
    base_url, dataset, _ = fake
    closed_id = next(i for i, w in dataset["work_items"].items() if w["fields"]["System.State"] == "Closed")
    update_work_item(dataset, closed_id, {"System.State": "Active"})
    conn = connector(base_url, history=history)
    item = next(i for i in all_items(conn) if i["id"] == closed_id)
    normalised = conn.normalize_work_item(item)
    assert normalised["reopened_count"] == 1
    assert normalised["status_category"] == "in_progress" and normalised["done_at"] is None
    assert normalised["sprint_history"]


def test_fields_only_mode_sends_the_field_list(fake) -> None:
    base_url, _, _ = fake
    items = all_items(connector(base_url, fields_only=True))
    assert items and all("relations" not in i for i in items)
    assert all("Custom.ACQuality" in i["fields"] for i in items if i["fields"]["System.WorkItemType"] == "User Story")


def test_wrong_token_raises_auth_error_with_the_tool_message(fake) -> None:
    base_url, _, _ = fake
    with pytest.raises(SourceAuthError, match="TF400813"):
        connector(base_url, token="wrong").test_connection()


def test_rate_limited_then_success(fake) -> None:
    base_url, dataset, controls = fake
    controls.rate_limit_next(2, retry_after=0)
    items = all_items(connector(base_url))
    assert len(items) == len(dataset["work_items"])


def test_malformed_payload_raises_data_error(fake) -> None:
    base_url, dataset, _ = fake
    dataset["malformed_next"] = 1
    with pytest.raises(SourceDataError):
        all_items(connector(base_url))


def test_works_mounted_under_a_prefix() -> None:
    from fastapi import FastAPI

    dataset = generate_dataset(seed=2, size=5)
    parent = FastAPI()
    parent.mount("/azure", create_app(dataset))
    with serve(parent) as url:
        base = f"{url}/azure/{dataset['organization']}"
        conn = connector(base)
        assert conn.test_connection().ok
        items = all_items(conn)
        assert len(items) == 5
        assert conn.normalize_work_item(items[0])["url"].startswith(base)


def test_iterations_the_team_dropped_get_dates_from_classification_nodes(fake) -> None:
    base_url, dataset, _ = fake
    first_sprint = dataset["iterations"][0]["path"]
    item_id = next(i for i, w in dataset["work_items"].items() if w["fields"]["System.IterationPath"] == first_sprint)
    conn = connector(base_url)
    item = next(i for i in all_items(conn) if i["id"] == item_id)
    normalised = conn.normalize_work_item(item)
    assert normalised["sprint_name"] == "Sprint 1"
    assert normalised["sprint_start"] is not None and normalised["sprint_state"] == "closed"


@pytest.mark.parametrize("history", ["revisions", "updates"])
def test_blocked_hours_from_tag_updates(fake, history: str) -> None:
    base_url, dataset, _ = fake
    dataset["work_items"][2]["fields"].pop("System.Tags", None)  # created without tags, as the test assumes
    dataset["updates"][2][0]["fields"].pop("System.Tags", None)
    t0 = datetime.now(UTC) - timedelta(hours=5)
    update_work_item(dataset, 2, {"System.Tags": "Blocked"}, when=t0)
    update_work_item(dataset, 2, {"System.Tags": ""}, when=t0 + timedelta(hours=2))
    update_work_item(dataset, 2, {"System.Tags": "backend; Blocked"}, when=t0 + timedelta(hours=3))
    update_work_item(dataset, 2, {"System.Title": "still blocked"}, when=t0 + timedelta(hours=4))
    conn = connector(base_url, history=history)
    item = next(i for i in all_items(conn, start=t0 - timedelta(seconds=1)) if i["id"] == 2)
    normalised = conn.normalize_work_item(item)
    assert normalised["is_blocked"] and normalised["blocked_hours"] == 3.0
    assert normalised["blocked_since"] == (t0 + timedelta(hours=3)).replace(microsecond=(t0.microsecond // 1000) * 1000)


def test_sign_in_page_with_203_is_an_auth_error(fake) -> None:
    base_url, _, _ = fake
    conn = connector(base_url)
    conn.http._client.auth = None  # as when a proxy strips the Authorization header
    with pytest.raises(SourceAuthError, match="sign-in page"):
        conn.test_connection()


# --------------------------------------------------------------------------- history in bulk
def by_id(conn: AzureBoardsConnector, start: datetime | None = None) -> dict[str, dict[str, Any]]:
    return {n["source_item_id"]: n for n in (conn.normalize_work_item(i) for i in all_items(conn, start))}


def test_bulk_revisions_give_the_same_records_as_per_item_updates_with_a_few_requests(fake) -> None:
    base_url, dataset, controls = fake
    closed_id = next(i for i, w in dataset["work_items"].items() if w["fields"]["System.State"] == "Closed")
    update_work_item(dataset, closed_id, {"System.State": "Active"})  # a reopening
    untagged = next(i for i, w in dataset["work_items"].items() if "System.Tags" not in w["fields"] and i != closed_id)
    update_work_item(dataset, untagged, {"System.Tags": "Blocked"}, when=datetime.now(UTC) - timedelta(hours=3))
    update_work_item(dataset, untagged, {"System.Title": "waiting"}, when=datetime.now(UTC) - timedelta(hours=1))
    dataset["revisions_page_size"] = 40  # several pages of the feed, continued by token

    controls.paths_seen.clear()
    per_item = by_id(connector(base_url, history="updates"))
    per_item_paths = list(controls.paths_seen)
    controls.paths_seen.clear()
    bulk = by_id(connector(base_url))
    bulk_paths = list(controls.paths_seen)

    assert bulk == per_item  # every column, raw_data (with its compact history) included
    assert bulk[str(closed_id)]["reopened_count"] == 1 and bulk[str(untagged)]["blocked_hours"] == 2.0
    assert sum(p.endswith("/updates") for p in per_item_paths) == len(dataset["work_items"])
    assert not any(p.endswith("/updates") for p in bulk_paths)
    revision_pages = [p for p in bulk_paths if p.lower().endswith("/reporting/workitemrevisions")]
    assert len(revision_pages) >= 3  # one request per 40 revisions here (1,000 on the real service)
    assert len(per_item_paths) - len(bulk_paths) == len(dataset["work_items"]) - len(revision_pages)
    first, *following = dataset["reporting_queries"]
    assert "startDateTime" not in first and "System.State" in first["fields"].split(",")
    assert following and all(q["continuationToken"] and "startDateTime" not in q for q in following)


def test_incremental_reads_revisions_from_a_lookback_and_old_items_per_item(fake) -> None:
    base_url, dataset, controls = fake
    start = datetime.now(UTC) - timedelta(days=2)
    old_id = min(dataset["work_items"], key=lambda i: dataset["work_items"][i]["fields"]["System.CreatedDate"])
    young_id = max(dataset["work_items"], key=lambda i: dataset["work_items"][i]["fields"]["System.CreatedDate"])
    for item_id in (old_id, young_id):
        update_work_item(dataset, item_id, {"System.Tags": "Blocked"}, when=start + timedelta(hours=1))
    expected = by_id(connector(base_url, history="updates"), start)
    controls.paths_seen.clear()
    dataset["reporting_queries"] = []
    got = by_id(connector(base_url, revision_lookback_days=30), start)
    assert got == expected and set(got) >= {str(old_id), str(young_id)}
    since = datetime.fromisoformat(dataset["reporting_queries"][0]["startDateTime"].replace("Z", "+00:00"))
    assert abs(since - (start - timedelta(days=30))) < timedelta(seconds=1)
    per_item = [p for p in controls.paths_seen if p.endswith("/updates")]
    created = {
        i: datetime.fromisoformat(dataset["work_items"][i]["fields"]["System.CreatedDate"].replace("Z", "+00:00"))
        for i in (old_id, young_id)
    }
    assert created[old_id] < since < created[young_id]
    assert any(p.endswith(f"/workItems/{old_id}/updates") for p in per_item)
    assert not any(p.endswith(f"/workItems/{young_id}/updates") for p in per_item)


def test_without_the_reporting_api_history_comes_per_item(fake) -> None:
    base_url, dataset, controls = fake
    expected = by_id(connector(base_url, history="updates"))
    dataset["reporting_api"] = False  # an old Server: 404
    controls.paths_seen.clear()
    assert by_id(connector(base_url)) == expected
    assert sum(p.endswith("/updates") for p in controls.paths_seen) == len(dataset["work_items"])


def test_history_none_reads_no_history(fake) -> None:
    base_url, _, controls = fake
    controls.paths_seen.clear()
    items = all_items(connector(base_url, history="none"))
    assert items and all(i["_dmt"]["updates"] is None for i in items)
    assert not any("/updates" in p or "reporting" in p.lower() for p in controls.paths_seen)


def test_an_unknown_history_mode_is_refused() -> None:
    with pytest.raises(SourceConfigError, match="history"):
        connector("https://dev.azure.com/acme", history="sometimes")
