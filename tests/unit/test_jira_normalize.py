"""normalize_jira_issue on Atlassian's real example payloads and on the odd corners they show."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from etl.connectors.jira import (
    normalize_jira_issue,
    parse_jira_datetime,
    parse_sprint_value,
    propose_jira_field,
)

EXAMPLES_FILE = Path(__file__).resolve().parent.parent / "fixtures" / "jira" / "atlassian_openapi_examples.json"

BASE = "https://your-domain.atlassian.net"
UTC0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def examples() -> dict[str, Any]:
    return json.loads(EXAMPLES_FILE.read_text())


def _example(examples: dict[str, Any], operation: str) -> Any:
    return examples[operation]["example"]


def _search_issues(examples: dict[str, Any]) -> list[dict[str, Any]]:
    issues = []
    for operation in ("GET /rest/api/3/search", "POST /rest/api/3/search", "GET /rest/agile/1.0/board/{boardId}/issue"):
        issues.extend(_example(examples, operation)["issues"])
    issues.append(_example(examples, "GET /rest/api/3/issue/{issueIdOrKey}"))
    return issues


def test_every_real_example_issue_normalises(examples) -> None:
    for raw in _search_issues(examples):
        item = normalize_jira_issue(raw, {}, BASE)
        assert item["source_item_id"] == raw["id"]
        assert item["item_key"] == raw["key"]
        assert item["url"] == f"{BASE}/browse/{raw['key']}"
        assert item["status_category"] in ("todo", "in_progress", "done")
        for key in ("created_at_source", "updated_at_source", "started_at", "done_at", "blocked_since"):
            assert item[key] is None or item[key].tzinfo is not None


def test_search_example_keeps_links_and_tolerates_missing_fields(examples) -> None:
    raw = _example(examples, "GET /rest/api/3/search")["issues"][0]
    item = normalize_jira_issue(raw, {"story_points": {"field": "customfield_10016"}}, BASE)
    # The example has no status, summary, type or assignee at all.
    assert item["status"] == "" and item["status_category"] == "todo"
    assert item["title"] == "" and item["assignee_email"] is None and item["story_points"] is None
    assert {"type": "is depended by", "key": "PR-2", "id": "10004L"} in item["links"]
    # "updated": 1 — a number where a string is documented: read as epoch seconds, still UTC-aware.
    assert item["updated_at_source"] == datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert "comment" not in item["raw_data"]["fields"] and "issuelinks" in item["raw_data"]["fields"]


def test_agile_example_flag_and_sprints(examples) -> None:
    raw = _example(examples, "GET /rest/agile/1.0/board/{boardId}/issue")["issues"][0]
    item = normalize_jira_issue(raw, {}, BASE, now=UTC0)
    assert item["is_blocked"] is True and item["blocked_reason"] == "flagged as impediment"
    # closedSprints first, then the current sprint; the last one is the item's sprint.
    assert item["sprint_history"] == ["sprint 1", "sprint 2"]
    assert item["sprint_name"] == "sprint 2" and item["sprint_state"] == "future"
    sprints = parse_sprint_value(raw["fields"]["closedSprints"])
    assert parse_jira_datetime(sprints[0]["startDate"]) == datetime(2015, 4, 11, 5, 22, tzinfo=UTC)


def test_status_category_keys_from_the_status_example(examples) -> None:
    statuses = _example(examples, "GET /rest/api/3/status")
    base_issue = {"id": "1", "key": "EX-1", "fields": {}}
    expected = {"In Progress": "in_progress", "Closed": "done"}  # category keys "in-flight" / "completed"
    for status in statuses:
        raw = copy.deepcopy(base_issue)
        raw["fields"]["status"] = status
        assert normalize_jira_issue(raw, {}, BASE)["status_category"] == expected[status["name"]]


def test_changelog_example_values_are_read(examples) -> None:
    changelog = _example(examples, "GET /rest/api/3/issue/{issueIdOrKey}/changelog")
    raw = {"id": "10", "key": "TT-1", "fields": {}, "changelog": {"histories": changelog["values"]}}
    item = normalize_jira_issue(raw, {}, BASE)
    assert item["started_at"] is None and item["reopened_count"] == 0  # label edits only


def test_field_proposals_on_the_field_example(examples) -> None:
    fields = _example(examples, "GET /rest/api/3/field")
    assert [propose_jira_field(f) for f in fields] == [None, None]
    assert (
        propose_jira_field(
            {"name": "Sprint", "schema": {"type": "array", "custom": "com.pyxis.greenhopper.jira:gh-sprint"}}
        )
        == "sprint"
    )
    assert propose_jira_field({"name": "Story point estimate", "schema": {"type": "number"}}) == "story_points"
    assert propose_jira_field({"name": "Story Points", "schema": {"type": "string"}}) is None
    for name, target in [
        ("Acceptance Criteria Quality", "ac_quality"),
        ("Unit Testing Status", "unit_testing_status"),
        ("Coverage", "coverage"),
        ("PR Link", "pr_links"),
        ("CI Evidence", "ci_evidence"),
        ("DMT Sign-off", "dmt_signoff"),
        ("Exception Approved By", "exception_approved_by"),
        ("Exception Reason", "exception_reason"),
        ("Exception Expiry", "exception_expires_at"),
    ]:
        assert propose_jira_field({"name": name, "schema": {"type": "string"}}) == target


# --------------------------------------------------------------------------- odd values
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-01T10:00:00.000-0800", datetime(2024, 1, 1, 18, 0, tzinfo=UTC)),
        ("2024-01-01T10:00:00.000+0530", datetime(2024, 1, 1, 4, 30, tzinfo=UTC)),
        ("2024-01-01T10:00:00+05:30", datetime(2024, 1, 1, 4, 30, tzinfo=UTC)),
        ("2024-01-01T10:00:00Z", datetime(2024, 1, 1, 10, 0, tzinfo=UTC)),
        ("2024-01-01T10:00:00.000+0000", datetime(2024, 1, 1, 10, 0, tzinfo=UTC)),
        ("2024-01-01", datetime(2024, 1, 1, tzinfo=UTC)),
        ("1704103200000", datetime(2024, 1, 1, 10, 0, tzinfo=UTC)),
        (None, None),
        ("", None),
        ("not a date", None),
    ],
)
def test_parse_jira_datetime(text: str | None, expected: datetime | None) -> None:
    assert parse_jira_datetime(text) == expected


def _t(hours: float) -> str:
    return (UTC0 + timedelta(hours=hours)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _status_item(old: tuple[str, str], new: tuple[str, str]) -> dict[str, Any]:
    return {
        "field": "status",
        "fieldtype": "jira",
        "fieldId": "status",
        "from": old[0],
        "fromString": old[1],
        "to": new[0],
        "toString": new[1],
    }


TODO, PROGRESS, BLOCKED, DONE = ("1", "To Do"), ("3", "Doing"), ("5", "Blocked"), ("6", "Shipped")
CATEGORIES = {"1": "new", "3": "indeterminate", "5": "indeterminate", "6": "done"}


def _issue(status: tuple[str, str], category: str, histories: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {
        "id": "10042",
        "key": "ACME-42",
        "fields": {
            "status": {"id": status[0], "name": status[1], "statusCategory": {"key": category}},
            "created": "2023-12-31T16:00:00.000-0800",
            "updated": _t(100),
            **fields,
        },
        "changelog": {"startAt": 0, "maxResults": len(histories), "total": len(histories), "histories": histories},
    }


def test_changelog_gives_start_done_reopen_and_blocked_hours() -> None:
    histories = [
        {"created": _t(1), "items": [_status_item(TODO, PROGRESS)]},
        {
            "created": _t(2),
            "items": [
                {
                    "field": "Flagged",
                    "fieldtype": "custom",
                    "fieldId": "customfield_10021",
                    "from": None,
                    "fromString": None,
                    "to": "[10019]",
                    "toString": "Impediment",
                }
            ],
        },
        {
            "created": _t(7),
            "items": [
                {
                    "field": "Flagged",
                    "fieldtype": "custom",
                    "fieldId": "customfield_10021",
                    "from": "[10019]",
                    "fromString": "Impediment",
                    "to": None,
                    "toString": None,
                }
            ],
        },
        {"created": _t(10), "items": [_status_item(PROGRESS, DONE)]},
        {"created": _t(20), "items": [_status_item(DONE, PROGRESS)]},
        {"created": _t(22), "items": [_status_item(PROGRESS, BLOCKED)]},
        {"created": _t(25), "items": [_status_item(BLOCKED, PROGRESS)]},
        {"created": _t(30), "items": [_status_item(PROGRESS, DONE)]},
    ]
    raw = _issue(DONE, "done", list(reversed(histories)))  # order in the payload must not matter
    item = normalize_jira_issue(raw, {}, BASE, status_categories=CATEGORIES, now=UTC0 + timedelta(days=10))
    assert item["created_at_source"] == UTC0
    assert item["started_at"] == UTC0 + timedelta(hours=1)
    assert item["done_at"] == UTC0 + timedelta(hours=30)  # the last arrival in done
    assert item["reopened_count"] == 1
    assert item["blocked_hours"] == 8.0  # flagged 5 h + Blocked status 3 h
    assert item["is_blocked"] is False and item["blocked_since"] is None


def test_currently_blocked_status_counts_until_now() -> None:
    histories = [
        {"created": _t(1), "items": [_status_item(TODO, PROGRESS)]},
        {"created": _t(4), "items": [_status_item(PROGRESS, BLOCKED)]},
    ]
    raw = _issue(BLOCKED, "indeterminate", histories)
    item = normalize_jira_issue(raw, {}, BASE, status_categories=CATEGORIES, now=UTC0 + timedelta(hours=10))
    assert item["is_blocked"] and item["blocked_since"] == UTC0 + timedelta(hours=4)
    assert item["blocked_hours"] == 6.0 and item["blocked_reason"] == "status Blocked"
    assert item["done_at"] is None and item["status_category"] == "in_progress"


def test_without_status_map_names_decide_the_category() -> None:
    histories = [{"created": _t(1), "items": [_status_item(("9", "Open"), ("8", "Closed"))]}]
    item = normalize_jira_issue(_issue(("8", "Closed"), "done", histories), {}, BASE)
    assert item["done_at"] == UTC0 + timedelta(hours=1) and item["started_at"] is None


def test_a_status_the_site_no_longer_lists_is_not_guessed_in_progress() -> None:
    # "Triage" and "Waiting" were deleted from the site: /status no longer lists them.
    histories = [
        {"created": _t(1), "items": [_status_item(TODO, ("41", "Triage"))]},
        {"created": _t(5), "items": [_status_item(("41", "Triage"), ("42", "Waiting"))]},
        {"created": _t(9), "items": [_status_item(("42", "Waiting"), PROGRESS)]},
        {"created": _t(12), "items": [_status_item(PROGRESS, DONE)]},
    ]
    item = normalize_jira_issue(_issue(DONE, "done", histories), {}, BASE, status_categories=CATEGORIES)
    assert item["started_at"] == UTC0 + timedelta(hours=9)  # not 1 h: the unknown statuses start no clock
    assert item["done_at"] == UTC0 + timedelta(hours=12) and item["reopened_count"] == 0


def test_a_deleted_status_is_classified_by_what_the_changelog_implies() -> None:
    # Into a deleted "Shipped-old" with the resolution set in the same change: done.
    # Into the status the issue is in now (known from the issue itself, though /status lacks it): its category.
    resolved = {"field": "resolution", "fieldtype": "jira", "fieldId": "resolution", "from": None, "to": "10000",
                "fromString": None, "toString": "Done"}  # fmt: skip
    histories = [
        {"created": _t(2), "items": [_status_item(TODO, ("43", "Building"))]},
        {"created": _t(6), "items": [_status_item(("43", "Building"), ("44", "Shipped-old")), resolved]},
    ]
    raw = _issue(("43", "Building"), "indeterminate", histories)  # "Building" is the current status now
    item = normalize_jira_issue(raw, {}, BASE, status_categories={"1": "new"})
    assert item["started_at"] == UTC0 + timedelta(hours=2)  # "Building" is in progress: the issue says so
    assert item["reopened_count"] == 0  # the move out of "Shipped-old" is not known as a reopening


@pytest.mark.parametrize(
    ("issuetype", "known", "expected"),
    [
        ({"id": "10001", "name": "故事", "hierarchyLevel": 0}, {"10001": {"untranslatedName": "Story"}}, "story"),
        ({"id": "10004", "name": "缺陷", "hierarchyLevel": 0}, {"10004": {"untranslatedName": "Bug"}}, "bug"),
        ({"id": "10000", "name": "史诗", "hierarchyLevel": 1}, {}, "epic"),
        ({"id": "10005", "name": "子任务", "hierarchyLevel": -1}, {}, "subtask"),
        ({"id": "10006", "name": "故事", "hierarchyLevel": 0}, {}, "task"),
        ({"id": "10007", "name": "Defect"}, {}, "bug"),
        ({"id": "10008", "name": "Spike", "hierarchyLevel": 0}, {"10008": {"untranslatedName": "Spike"}}, "spike"),
    ],
)
def test_issue_types_by_untranslated_name_then_hierarchy_then_name(
    issuetype: dict[str, Any], known: dict[str, dict[str, Any]], expected: str
) -> None:
    raw = _issue(TODO, "new", [], issuetype=issuetype)
    assert normalize_jira_issue(raw, {}, BASE, issue_types=known)["item_type"] == expected


MAPPING = {
    "story_points": {"field": "customfield_10016"},
    "sprint": {"field": "customfield_10020"},
    "epic": {"field": "customfield_10014"},
    "ac_quality": {"field": "customfield_10100", "values": {"Testable": "testable", "Not Testable": "not_testable"}},
    "unit_testing_status": {"field": "customfield_10102", "values": {"N/A": "not_applicable"}},
    "coverage": {"field": "customfield_10103"},
    "pr_links": {"field": "customfield_10104"},
    "ci_evidence": {"field": "customfield_10105"},
    "dmt_signoff": {"field": "customfield_10106"},
    "exception_approved_by": {"field": "customfield_10107"},
    "exception_reason": {"field": "customfield_10108"},
    "exception_expires_at": {"field": "customfield_10109"},
}


def test_mapped_dmt_fields_cloud_shapes() -> None:
    raw = _issue(
        DONE,
        "done",
        [],
        customfield_10016="5",  # a number sent as a string
        customfield_10020=[
            {
                "id": 1,
                "name": "Sprint 1",
                "state": "closed",
                "startDate": "2024-01-01T00:00:00.000Z",
                "endDate": "2024-01-15T00:00:00.000Z",
            },
            {
                "id": 2,
                "name": "Sprint 2",
                "state": "active",
                "startDate": "2024-01-15T09:00:00.000+0530",
                "endDate": "2024-01-29T00:00:00.000Z",
            },
        ],
        customfield_10014="ACME-1",
        customfield_10100={"self": "x", "value": "not testable", "id": "10301"},
        customfield_10102={"value": "N/A", "id": "10313"},
        customfield_10103="85%",
        customfield_10104={
            "type": "doc",
            "version": 1,
            "content": [
                {
                    "type": "paragraph",
                    "content": [
                        {"type": "text", "text": "see https://github.com/acme/shop/pull/7 and"},
                        {"type": "inlineCard", "attrs": {"url": "https://github.com/acme/api/pull/9"}},
                    ],
                }
            ],
        },
        customfield_10105="https://ci.acme.example/builds/1",
        customfield_10106=[{"value": "Signed off", "id": "10320"}],
        customfield_10107={"accountId": "abc", "displayName": "Dana Kowalski", "emailAddress": "dana@acme.example"},
        customfield_10108={
            "type": "doc",
            "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Legacy module"}]}],
        },
        customfield_10109="2024-06-30",
    )
    item = normalize_jira_issue(raw, MAPPING, BASE)
    assert item["story_points"] == 5.0
    assert item["sprint_history"] == ["Sprint 1", "Sprint 2"] and item["sprint_name"] == "Sprint 2"
    assert item["sprint_start"] == datetime(2024, 1, 15, 3, 30, tzinfo=UTC) and item["sprint_state"] == "active"
    assert {"type": "epic", "key": "ACME-1"} in item["links"]
    assert item["ac_quality"] == "not_testable"  # values table matched case-insensitively
    assert item["unit_testing_status"] == "not_applicable"
    assert item["coverage_percent"] == 85.0
    assert item["pr_links"] == ["https://github.com/acme/shop/pull/7", "https://github.com/acme/api/pull/9"]
    assert item["ci_evidence_url"] == "https://ci.acme.example/builds/1"
    assert item["dmt_signoff"] is True
    assert item["exception_approved_by"] == "Dana Kowalski"
    assert item["exception_reason"] == "Legacy module"
    assert item["exception_expires_at"] == datetime(2024, 6, 30, tzinfo=UTC)


def test_mapped_fields_server_shapes_and_nulls() -> None:
    legacy = (
        "com.atlassian.greenhopper.service.sprint.Sprint@5a1[id=7,rapidViewId=1,state=CLOSED,name=Sprint 7, hotfix,"
        "startDate=2024-02-01T10:00:00.000+01:00,endDate=2024-02-15T10:00:00.000+01:00,completeDate=<null>,sequence=7,goal=]"
    )
    raw = _issue(
        PROGRESS,
        "indeterminate",
        [],
        customfield_10020=[legacy],
        customfield_10103=None,
        customfield_10104="https://github.com/a/b/pull/1, https://github.com/a/b/pull/2",
        customfield_10106=None,
        customfield_10016=None,
        customfield_10108="plain text reason",
    )
    item = normalize_jira_issue(raw, MAPPING, BASE)
    assert item["sprint_name"] == "Sprint 7, hotfix" and item["sprint_source_id"] == "7"
    assert item["sprint_state"] == "closed" and item["sprint_start"] == datetime(2024, 2, 1, 9, 0, tzinfo=UTC)
    assert item["pr_links"] == ["https://github.com/a/b/pull/1", "https://github.com/a/b/pull/2"]
    assert item["coverage_percent"] is None and item["dmt_signoff"] is None and item["story_points"] is None
    assert item["exception_reason"] == "plain text reason" and item["ac_quality"] is None


def test_an_issue_without_id_is_a_data_error() -> None:
    from etl.connectors.base import SourceDataError

    with pytest.raises(SourceDataError):
        normalize_jira_issue({"key": "X-1", "fields": {}}, {}, BASE)


def test_open_flag_in_the_changelog_counts_when_the_field_is_absent() -> None:
    histories = [
        {"created": _t(1), "items": [_status_item(TODO, PROGRESS)]},
        {
            "created": _t(2),
            "items": [
                {
                    "field": "Flagged",
                    "fieldtype": "custom",
                    "fieldId": "customfield_10021",
                    "from": None,
                    "fromString": None,
                    "to": "[10019]",
                    "toString": "Impediment",
                }
            ],
        },
    ]
    item = normalize_jira_issue(_issue(PROGRESS, "indeterminate", histories), {}, BASE, now=UTC0 + timedelta(hours=5))
    assert item["is_blocked"] and item["blocked_since"] == UTC0 + timedelta(hours=2)
    assert item["blocked_hours"] == 3.0
    # With the field in the payload and empty, the flag was cleared since: not blocked now.
    raw = _issue(PROGRESS, "indeterminate", histories, customfield_10021=None)
    cleared = normalize_jira_issue(raw, {}, BASE, flagged_field="customfield_10021", now=UTC0 + timedelta(hours=5))
    assert not cleared["is_blocked"]
