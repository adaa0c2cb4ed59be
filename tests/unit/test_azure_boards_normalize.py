"""normalize_azure_work_item on Microsoft's published payloads and on odd values."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from etl.connectors.azure_boards import (
    RevisionHistories,
    compact_updates,
    normalize_azure_work_item,
    propose_mapping,
    revisions_to_updates,
)
from etl.connectors.base import SourceDataError
from etl.connectors.values import parse_datetime, to_float

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "azure_boards"  # see its NOTICE


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())["responses"]["200"]["body"]


def expanded_items() -> list[dict[str, Any]]:
    return sample("workItems/GET__wit_WorkItems_ids-_ids___expand-all.json")["value"]


def test_expanded_product_backlog_item_from_the_docs() -> None:
    item = normalize_azure_work_item(expanded_items()[0])
    assert item["source_item_id"] == "297"
    assert item["item_key"] == "AB#297"
    assert item["item_type"] == "story"
    assert item["title"] == "Customer can sign in using their Microsoft Account"
    assert item["status"] == "New" and item["status_category"] == "todo"
    assert (
        item["url"] == "https://dev.azure.com/fabrikam/web/wi.aspx?pcguid=d81542e4-cdfa-4333-b082-1ae2d6c3ad16&id=297"
    )
    assert item["story_points"] == 8.0  # Scrum's Effort when there is no StoryPoints
    assert item["created_at_source"] == datetime(2014, 12, 29, 20, 49, 20, 770000, tzinfo=UTC)
    assert item["sprint_name"] is None  # the project root iteration is no sprint
    assert item["parent_source_id"] is None
    assert {link["target_id"] for link in item["links"] if link["type"].startswith("System.LinkTypes")} == {
        "299",
        "300",
    }
    assert item["pr_links"] == []


def test_task_with_parent_relation_tags_and_assignee() -> None:
    item = normalize_azure_work_item(expanded_items()[1])
    assert item["item_type"] == "task"
    assert item["parent_source_id"] == "297"
    assert item["assignee_name"] and item["assignee_email"]
    assert isinstance(item["labels"], list)


def test_batch_sample_with_few_fields_is_tolerated() -> None:
    body = json.loads((SAMPLES / "workItemsBatch/POST__wit_WorkItemsBatch_ids-_ids__fields-_columns_.json").read_text())
    items = [normalize_azure_work_item(raw) for raw in body["responses"]["200"]["body"]["value"]]
    assert [i["item_key"] for i in items] == ["AB#297", "AB#299", "AB#300"]
    assert items[0]["status"] == "" and items[0]["created_at_source"] is None
    assert items[1]["url"] is None  # no project known, no web link invented


def test_updates_history_from_the_docs_gives_start_and_sprints() -> None:
    updates = sample("updates/GET__list_of_workitem_updates.json")["value"]
    raw = {
        "id": 1,
        "fields": {
            "System.WorkItemType": "Bug",
            "System.State": "Active",
            "System.TeamProject": "MyAgilePro1",
            "System.IterationPath": "MyAgilePro1\\Iteration 2",
        },
        "_dmt": {
            "state_categories": {"New": "Proposed", "Active": "InProgress", "Closed": "Completed"},
            "updates": updates,
        },
    }
    item = normalize_azure_work_item(raw)
    assert item["status_category"] == "in_progress"
    assert item["started_at"] == datetime(2017, 9, 4, 2, 36, 18, 750000, tzinfo=UTC)
    assert item["sprint_history"] == ["Iteration 1", "Iteration 2"]
    assert item["sprint_name"] == "Iteration 2"


def test_state_categories_map_resolved_and_removed_to_done() -> None:
    cats = {"Proposed": "Proposed", "Doing": "InProgress", "Resolved": "Resolved", "Gone": "Removed"}
    base = {"id": 5, "fields": {"System.WorkItemType": "User Story"}}
    for state, expected in (("Proposed", "todo"), ("Doing", "in_progress"), ("Resolved", "done"), ("Gone", "done")):
        raw = {**base, "fields": {**base["fields"], "System.State": state}, "_dmt": {"state_categories": cats}}
        assert normalize_azure_work_item(raw)["status_category"] == expected


def test_odd_values_strings_for_numbers_offsets_and_never_dates() -> None:
    raw = {
        "id": "42",
        "fields": {
            "System.State": "Closed",
            "System.WorkItemType": "Product Backlog Item",
            "System.TeamProject": "P",
            "System.IterationPath": "P\\Release 1\\Sprint 3",
            "System.AssignedTo": "Jane Doe <jane@acme.example>",
            "System.Tags": "backend; Blocked ;",
            "System.ChangedDate": "2024-03-01T10:00:00.1234567+05:30",
            "Microsoft.VSTS.Scheduling.StoryPoints": "5",
            "Microsoft.VSTS.Common.ClosedDate": "9999-01-01T00:00:00Z",
            "Microsoft.VSTS.Common.StateChangeDate": "2024-03-01T09:00:00Z",
            "Microsoft.VSTS.Common.Priority": None,
            "Custom.Coverage": "87,5 %",
            "Custom.AC": "Not Testable",
            "Custom.Signoff": {"displayName": "Rita Reviewer", "uniqueName": "rita@acme.example"},
            "Custom.ExceptionBy": None,
        },
        "relations": [
            {
                "rel": "ArtifactLink",
                "url": "vstfs:///Git/PullRequestId/p%2Fr%2F7",
                "attributes": {"name": "Pull Request"},
            },
            {"rel": "Hyperlink", "url": "https://github.com/acme/shop/pull/12", "attributes": {}},
        ],
        "url": "https://dev.azure.com/acme/_apis/wit/workItems/42",
    }
    mapping = {
        "coverage": {"field": "Custom.Coverage"},
        "ac_quality": "Custom.AC",
        "dmt_signoff": {"field": "Custom.Signoff"},
        "exception_approved_by": {"field": "Custom.ExceptionBy"},
    }
    item = normalize_azure_work_item(raw, mapping)
    assert item["story_points"] == 5.0
    assert item["updated_at_source"] == datetime(2024, 3, 1, 4, 30, 0, 123456, tzinfo=UTC)
    assert item["done_at"] == datetime(2024, 3, 1, 9, 0, tzinfo=UTC)  # sentinel ClosedDate ignored
    assert item["assignee_email"] == "jane@acme.example" and item["assignee_name"] == "Jane Doe"
    assert item["labels"] == ["backend", "Blocked"] and item["is_blocked"]
    assert item["sprint_name"] == "Sprint 3"
    assert item["coverage_percent"] == 87.5
    assert item["ac_quality"] == "not_testable"
    assert item["dmt_signoff"] is True and item["dmt_signoff_by"] == "Rita Reviewer"
    assert item["exception_approved_by"] is None
    assert item["priority"] is None
    assert item["pr_links"] == ["vstfs:///Git/PullRequestId/p%2Fr%2F7", "https://github.com/acme/shop/pull/12"]
    assert item["url"] == "https://dev.azure.com/acme/P/_workitems/edit/42"


def test_value_map_translates_tool_options() -> None:
    raw = {"id": 1, "fields": {"Custom.Unit": "Fertig"}}
    mapping = {"unit_testing_status": {"field": "Custom.Unit", "values": {"fertig": "done"}}}
    assert normalize_azure_work_item(raw, mapping)["unit_testing_status"] == "done"


def test_iteration_extras_give_sprint_dates_and_state() -> None:
    raw = {
        "id": 9,
        "fields": {"System.IterationPath": "P\\Sprint 2", "System.TeamProject": "P"},
        "_dmt": {
            "iteration": {
                "id": "abc",
                "name": "Sprint 2",
                "path": "P\\Sprint 2",
                "attributes": {
                    "startDate": "2024-01-01T00:00:00Z",
                    "finishDate": "2024-01-14T00:00:00Z",
                    "timeFrame": "past",
                },
            }
        },
    }
    item = normalize_azure_work_item(raw)
    assert item["sprint_source_id"] == "abc" and item["sprint_state"] == "closed"
    assert item["sprint_end"] - item["sprint_start"] == timedelta(days=13)


@pytest.mark.parametrize("raw", [{}, {"id": None, "fields": {}}, {"id": 3, "fields": "oops"}, "not a dict"])
def test_malformed_records_raise_data_error(raw: Any) -> None:
    with pytest.raises(SourceDataError):
        normalize_azure_work_item(raw)


def test_parse_helpers() -> None:
    assert parse_datetime("2024-01-01T00:00:00") == datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_datetime(1704067200000) == datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_datetime("2024-01-01T01:00:00+0100") == datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_datetime(datetime(2024, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))) == datetime(
        2024, 1, 1, tzinfo=UTC
    )
    assert parse_datetime("garbage") is None and parse_datetime(None) is None
    assert to_float("n/a") is None and to_float(3) == 3.0
    assert propose_mapping("Story Points", "Microsoft.VSTS.Scheduling.StoryPoints") == "story_points"
    assert propose_mapping("AC Quality", "Custom.ACQuality") == "ac_quality"
    assert propose_mapping("Title", "System.Title") is None


# --------------------------------------------------------------------------- history from the reporting revisions feed
def test_reporting_revisions_from_the_docs_become_compact_histories() -> None:
    body = sample("workItemRevisions/GET__wit_reporting_workItemRevisions.json")
    histories = RevisionHistories(since=None)
    for revision in body["values"]:
        histories.add(revision)
    assert len(histories) == 2 and body["isLastBatch"] is True
    first = histories.updates_of(1)
    assert [u["rev"] for u in first] == [1, 2]  # rev 2 changed only the backlog priority: kept as the last change
    assert first[0]["fields"]["System.State"] == {"newValue": "New"}
    assert first[0]["fields"]["System.IterationPath"] == {"newValue": "Fabrikam-Fiber-Git"}
    assert first[1]["fields"] == {"System.ChangedDate": {"newValue": "2014-03-18T17:17:05.76Z"}}
    assert histories.updates_of(2)[0]["fields"]["System.ChangedDate"] == {"newValue": "2014-03-18T17:17:06.01Z"}
    assert histories.updates_of(99) == []


def test_revisions_and_updates_of_one_history_compact_to_the_same_record() -> None:
    revisions = [
        {"id": 7, "rev": 1, "fields": {"System.State": "New", "System.ChangedDate": "2024-01-01T09:00:00Z",
                                       "System.IterationPath": "P\\Sprint 1", "System.Tags": "Blocked"}},
        {"id": 7, "rev": 2, "fields": {"System.State": "New", "System.ChangedDate": "2024-01-01T10:00:00Z",
                                       "System.IterationPath": "P\\Sprint 1", "System.Title": "x"}},
        {"id": 7, "rev": 3, "fields": {"System.State": "Active", "System.ChangedDate": "2024-01-02T09:00:00Z",
                                       "System.IterationPath": "P\\Sprint 2"}},
        {"id": 7, "rev": 4, "fields": {"System.State": "Closed", "System.ChangedDate": "2024-01-03T09:00:00Z",
                                       "System.IterationPath": "P\\Sprint 2"}},
    ]  # fmt: skip
    updates = [
        {"id": 1, "rev": 1, "fields": {"System.State": {"newValue": "New"},
                                       "System.ChangedDate": {"newValue": "2024-01-01T09:00:00Z"},
                                       "System.IterationPath": {"newValue": "P\\Sprint 1"},
                                       "System.Tags": {"newValue": "Blocked"}}},
        {"id": 2, "rev": 2, "fields": {"System.ChangedDate": {"oldValue": "2024-01-01T09:00:00Z",
                                                              "newValue": "2024-01-01T10:00:00Z"},
                                       "System.Tags": {"oldValue": "Blocked", "newValue": ""},
                                       "System.Title": {"newValue": "x"}}},
        {"id": 3, "rev": 3, "fields": {"System.State": {"oldValue": "New", "newValue": "Active"},
                                       "System.ChangedDate": {"newValue": "2024-01-02T09:00:00Z"},
                                       "System.IterationPath": {"oldValue": "P\\Sprint 1", "newValue": "P\\Sprint 2"}}},
        {"id": 4, "rev": 4, "fields": {"System.State": {"oldValue": "Active", "newValue": "Closed"},
                                       "System.ChangedDate": {"newValue": "2024-01-03T09:00:00Z"}}},
    ]  # fmt: skip
    histories = RevisionHistories(since=None)
    for revision in revisions:
        histories.add(revision)
    assert histories.updates_of(7) == compact_updates(updates) == compact_updates(revisions_to_updates(revisions))
    fields = {"System.State": "Closed", "System.WorkItemType": "Bug", "System.TeamProject": "P",
              "System.IterationPath": "P\\Sprint 2"}  # fmt: skip
    item = normalize_azure_work_item({"id": 7, "fields": fields, "_dmt": {"updates": histories.updates_of(7)}})
    assert item["started_at"] == datetime(2024, 1, 2, 9, tzinfo=UTC)
    assert item["done_at"] == datetime(2024, 1, 3, 9, tzinfo=UTC)
    assert item["sprint_history"] == ["Sprint 1", "Sprint 2"]
    assert item["blocked_hours"] == 1.0  # tagged Blocked from creation until the tag went at 10:00


def test_an_item_closed_straight_from_new_has_no_start_time() -> None:
    updates = [
        {"rev": 1, "fields": {"System.State": {"newValue": "New"}, "System.ChangedDate": {"newValue": "2024-01-01T09:00:00Z"}}},
        {"rev": 2, "fields": {"System.State": {"oldValue": "New", "newValue": "Closed"},
                              "System.ChangedDate": {"newValue": "2024-01-05T09:00:00Z"}}},
    ]  # fmt: skip
    cats = {"New": "Proposed", "Active": "InProgress", "Closed": "Completed"}
    fields = {"System.State": "Closed", "System.WorkItemType": "Bug", "System.TeamProject": "P",
              "Microsoft.VSTS.Common.StateChangeDate": "2024-01-05T09:00:00Z"}  # fmt: skip
    with_history = normalize_azure_work_item(
        {"id": 8, "fields": fields, "_dmt": {"updates": updates, "state_categories": cats}}
    )
    without = normalize_azure_work_item({"id": 8, "fields": fields, "_dmt": {"state_categories": cats}})
    for item in (with_history, without):
        assert item["status_category"] == "done" and item["done_at"] == datetime(2024, 1, 5, 9, tzinfo=UTC)
        assert item["started_at"] is None  # excluded from cycle time, as in Jira and ClickUp
