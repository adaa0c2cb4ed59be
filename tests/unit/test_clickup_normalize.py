"""normalize_clickup_task on real ClickUp task payloads and on the odd corners they show."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from etl.connectors.base import SourceDataError, SourceSettings
from etl.connectors.clickup import (
    ClickUpConnector,
    custom_field_value,
    minute_budget,
    normalize_clickup_task,
    parse_clickup_time,
)

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "clickup"  # see its NOTICE


def _load(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


@pytest.fixture(scope="module")
def real_tasks() -> list[dict[str, Any]]:
    tasks = list(_load("task.json")["tasks"]) + list(_load("bkahlert-hello-tasks.json")["tasks"])
    konnector = _load("konnector-tasks.json")
    tasks += [v for v in konnector.values() if isinstance(v, dict) and "id" in v]
    examples = _load("clickup_openapi_task_examples.json")
    tasks += examples["/team/{team_Id}/task"]["response_example"]["tasks"]
    tasks += examples["/list/{list_id}/task"]["schema_example"]["tasks"]
    tasks.append(examples["/task/{task_id}"]["schema_example"])
    return tasks


def test_every_real_task_normalises(real_tasks) -> None:
    assert len(real_tasks) >= 8
    for raw in real_tasks:
        item = normalize_clickup_task(raw, {})
        assert item["source_item_id"] == raw["id"] and item["item_key"] == f"CU-{raw['id']}"
        assert item["status_category"] in ("todo", "in_progress", "done")
        for key in ("created_at_source", "updated_at_source", "started_at", "done_at"):
            assert item[key] is None or item[key].tzinfo is UTC


def test_real_task_fields(real_tasks) -> None:
    by_id = {t["id"]: t for t in real_tasks}
    hello = normalize_clickup_task(by_id["1yt2xek"], {})
    assert hello["status"] == "in progress" and hello["status_category"] == "in_progress"
    assert hello["assignee_email"] == "mail@bkahlert.com" and hello["assignee_account_id"] == "4687596"
    assert hello["priority"] == "urgent"  # priority 1 as a bare number
    assert hello["created_at_source"] == datetime(2022, 2, 17, 16, 9, 54, 584000, tzinfo=UTC)

    konnector = normalize_clickup_task(_load("konnector-tasks.json")["clickup_item_response"], {})
    assert konnector["priority"] == "high"  # priority as an object
    assert konnector["labels"] == ["office"]
    # No time in status: a task in an in-progress status falls back to its own start_date.
    assert konnector["started_at"] == datetime(2022, 12, 8, 9, 0, tzinfo=UTC)

    first = normalize_clickup_task(by_id["av1"], {})
    assert first["item_type"] == "subtask" and first["parent_source_id"] == "av2"
    assert first["story_points"] == 1.3 and first["labels"] == ["tagged"]
    # The status says "open" although date_done is set: the status wins, done_at stays empty.
    assert first["status_category"] == "todo" and first["done_at"] is None


def test_corrupt_short_timestamp_is_not_read_as_a_future_date(real_tasks) -> None:
    raw = next(t for t in real_tasks if t["id"] == "1d20c6c")
    assert raw["date_updated"] == "1801172502"  # ten digits in a real payload
    item = normalize_clickup_task(raw, {})
    assert item["updated_at_source"] is not None and item["updated_at_source"] < datetime(2000, 1, 1, tzinfo=UTC)


def test_drop_down_value_by_orderindex_and_option_id(real_tasks) -> None:
    field = copy.deepcopy(next(t for t in real_tasks if t["id"] == "1d20c6c")["custom_fields"][0])
    assert custom_field_value(field) is None  # no "value" key: the field is empty
    field["value"] = 1
    assert custom_field_value(field) == "option2"
    field["value"] = "1c368774-f33d-4495-b7d0-2eac4b8337aa"
    assert custom_field_value(field) == "optiona"


def test_template_placeholders_do_not_break_the_normaliser(real_tasks) -> None:
    raw = next(t for t in real_tasks if t["id"] == "id")  # "date_updated": "date_updated", custom fields "type"
    item = normalize_clickup_task(raw, {"coverage": {"field": "id"}})
    assert item["updated_at_source"] is None and item["coverage_percent"] is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1645114194584", datetime(2022, 2, 17, 16, 9, 54, 584000, tzinfo=UTC)),
        (1645114194584, datetime(2022, 2, 17, 16, 9, 54, 584000, tzinfo=UTC)),
        (None, None),
        ("", None),
        ("date_closed", None),
    ],
)
def test_parse_clickup_time(value: Any, expected: datetime | None) -> None:
    assert parse_clickup_time(value) == expected


def _field(fid: str, kind: str, value: Any = None, options: list[str] | None = None) -> dict[str, Any]:
    field: dict[str, Any] = {"id": fid, "name": fid, "type": kind, "type_config": {}, "required": False}
    if options:
        field["type_config"]["options"] = [
            {"id": f"{fid}-{n}", "name": name, "color": None, "orderindex": n} for n, name in enumerate(options)
        ]
    if value is not None:
        field["value"] = value
    return field


MAPPING = {
    "story_points": {"field": "sp"},
    "ac_quality": {"field": "ac", "values": {"Testable": "testable", "Missing": "missing"}},
    "unit_test_task": {"field": "utt"},
    "unit_testing_status": {"field": "uts", "values": {"Done": "done"}},
    "coverage": {"field": "cov"},
    "pr_links": {"field": "pr"},
    "ci_evidence": {"field": "ci"},
    "dmt_signoff": {"field": "so"},
    "exception_approved_by": {"field": "eab"},
    "exception_reason": {"field": "er"},
    "exception_expires_at": {"field": "ee"},
}
#: What the connector learnt from `/list/901` during the run.
LISTS = {"901": {"name": "Sprint 4 (1/1 - 1/14)", "start_date": "1704067200000", "due_date": "1705190400000"}}


def _task(**overrides: Any) -> dict[str, Any]:
    task = copy.deepcopy(_load("konnector-tasks.json")["clickup_item_response"])
    task.update(overrides)
    return task


def test_mapped_custom_fields_of_every_type() -> None:
    raw = _task(
        status={"status": "complete", "type": "closed", "orderindex": 4, "color": "#6bc950"},
        date_closed="1704200000000",
        date_done="1704100000000",
        list={"id": "901", "name": "Sprint 4 (1/1 - 1/14)", "access": True},
        folder={"id": "77", "name": "Sprints", "hidden": False, "access": True},
        custom_id="ACME-12",
        custom_fields=[
            _field("sp", "number", "8"),
            _field("ac", "drop_down", 0, ["Testable", "Not Testable", "Missing"]),
            _field("utt", "checkbox", "true"),
            _field("uts", "drop_down", "uts-0", ["Done", "Not Started"]),
            _field("cov", "number", "91.5"),
            _field("pr", "url", "https://github.com/acme/shop/pull/5"),
            _field("ci", "url", "https://ci.acme.example/b/5"),
            _field("so", "checkbox", True),
            _field("eab", "users", [{"id": 1, "username": "Dana Kowalski", "email": "dana@acme.example"}]),
            _field("er", "text", "Legacy module"),
            _field("ee", "date", "1719705600000"),
        ],
    )
    item = normalize_clickup_task(raw, MAPPING, lists=LISTS)
    assert item["status_category"] == "done"
    assert item["done_at"] == parse_clickup_time("1704100000000")  # date_done before date_closed
    assert item["story_points"] == 8.0  # mapped custom field wins over the native points
    assert item["ac_quality"] == "testable" and item["unit_testing_status"] == "done"
    assert item["has_unit_test_task"] is True and item["dmt_signoff"] is True
    assert item["coverage_percent"] == 91.5
    assert item["pr_links"] == ["https://github.com/acme/shop/pull/5"]
    assert item["ci_evidence_url"] == "https://ci.acme.example/b/5"
    assert item["exception_approved_by"] == "Dana Kowalski" and item["exception_reason"] == "Legacy module"
    assert item["exception_expires_at"] == datetime(2024, 6, 30, tzinfo=UTC)
    assert item["sprint_name"] == "Sprint 4 (1/1 - 1/14)" and item["sprint_source_id"] == "901"
    assert item["sprint_start"] == datetime(2024, 1, 1, tzinfo=UTC) and item["sprint_state"] == "closed"
    assert {"type": "custom_id", "key": "ACME-12"} in item["links"]


def test_time_in_status_gives_start_and_blocked_hours() -> None:
    raw = _task(status={"status": "blocked", "type": "custom", "orderindex": 2, "color": "#e50000"})
    raw["_time_in_status"] = {
        "current_status": {"status": "blocked", "total_time": {"by_minute": 90, "since": "1704070800000"}},
        "status_history": [
            {"status": "to do", "type": "open", "total_time": {"by_minute": 600, "since": "1704000000000"}},
            {"status": "in progress", "type": "custom", "total_time": {"by_minute": 120, "since": "1704036000000"}},
            {"status": "blocked", "type": "custom", "total_time": {"by_minute": 90, "since": "1704070800000"}},
        ],
    }
    item = normalize_clickup_task(raw, {})
    assert item["started_at"] == parse_clickup_time("1704036000000")
    assert item["is_blocked"] and item["blocked_since"] == parse_clickup_time("1704070800000")
    assert item["blocked_hours"] == 1.5 and item["reopened_count"] == 0


def test_a_task_moved_from_to_do_straight_to_done_has_no_start_time() -> None:
    raw = _task(status={"status": "complete", "type": "closed", "orderindex": 3, "color": "#6bc950"})
    raw["date_done"] = raw["date_closed"] = "1704090000000"
    raw.pop("start_date", None)
    raw["_time_in_status"] = {
        "current_status": {"status": "complete", "total_time": {"by_minute": 30, "since": "1704090000000"}},
        "status_history": [
            {"status": "to do", "type": "open", "total_time": {"by_minute": 600, "since": "1704000000000"}},
            {"status": "complete", "type": "closed", "total_time": {"by_minute": 30, "since": "1704090000000"}},
        ],
    }
    item = normalize_clickup_task(raw, {})
    assert item["status_category"] == "done" and item["done_at"] == parse_clickup_time("1704090000000")
    assert item["started_at"] is None  # excluded from cycle time, as Jira and Azure Boards do


def test_folderless_list_is_not_a_sprint_and_missing_id_is_an_error() -> None:
    item = normalize_clickup_task(_task(), MAPPING, lists=LISTS)
    assert item["sprint_name"] is None and item["sprint_history"] == []
    with pytest.raises(SourceDataError):
        normalize_clickup_task({"name": "no id"}, {})


def test_the_minute_budget_never_admits_more_than_the_limit_in_any_minute() -> None:
    clock = [0.0]
    budget = minute_budget(100, None)
    budget._clock = lambda: clock[0]  # a steady clock the test moves
    budget._updated = 0.0
    admitted: list[float] = []
    while clock[0] < 300:
        if budget.try_acquire() == 0:
            admitted.append(clock[0])
        else:
            clock[0] += 0.05
    peak = max(sum(1 for t in admitted if start <= t < start + 60) for start in admitted)
    assert peak <= 100 and len(admitted) >= 10 + 90 * 5 - 1  # a tenth as burst, the rest steady: never over


def test_the_connector_holds_the_source_budget_under_clickups_limit() -> None:
    def connector(budget: int, **config: Any) -> ClickUpConnector:
        settings = SourceSettings(source_type="clickup", base_url="https://api.clickup.com/api/v2", token="pk_x",
                                  config_json={"team_id": "1", **config}, request_budget_per_minute=budget)  # fmt: skip
        return ClickUpConnector(settings)

    assert connector(600).rate_limit_per_minute == 100  # ClickUp's own limit wins over a looser source budget
    assert connector(40).rate_limit_per_minute == 40
    assert connector(5000, rate_limit_per_minute=1000).rate_limit_per_minute == 1000  # Business Plus
