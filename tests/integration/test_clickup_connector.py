"""ClickUpConnector end to end against the fake ClickUp API."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from etl.connectors.base import SourceAuthError, SourceDataError, SourceNotFound, SourceSettings
from etl.connectors.clickup import ClickUpConnector
from etl.connectors.http import RequestBudget
from tests.fakes.clickup import ClickUpDataset, create_app, generate_dataset
from tests.fakes.server import FaultControls, serve


class Site:
    def __init__(self, url: str, dataset: ClickUpDataset, controls: FaultControls) -> None:
        self.url, self.dataset, self.controls = url, dataset, controls
        self.waits: list[float] = []

    def connector(self, **overrides: Any) -> ClickUpConnector:
        values: dict[str, Any] = {
            "source_type": "clickup",
            "base_url": f"{self.url}/api/v2",
            "token": self.dataset.token,
            "config_json": {"team_id": self.dataset.team_id},
            "field_mappings": self.dataset.field_mappings(),
        }
        values.update(overrides)
        # A generous budget: these tests are about the API, the pacing has its own tests.
        return ClickUpConnector(SourceSettings(**values), sleep=self.waits.append, budget=RequestBudget(60_000))


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    dataset = generate_dataset(seed=21, size=430)
    controls = FaultControls()
    with serve(create_app(dataset, controls)) as url:
        yield Site(url, dataset, controls)


def _extract(connector: ClickUpConnector, start: datetime | None = None) -> list[dict[str, Any]]:
    return [raw for page in connector.extract_work_items(start, None) for raw in page]


def test_connection_names_user_and_workspace(site: Site) -> None:
    result = site.connector().test_connection()
    assert result.ok and result.identity == "Alice Martin <alice.martin@acme.example>"
    assert result.details["teams"] == [{"id": site.dataset.team_id, "name": "Acme Workspace"}]
    assert "workspace Acme Workspace is visible" in result.message


def test_unknown_workspace_is_not_found(site: Site) -> None:
    with pytest.raises(SourceNotFound, match="workspace \\(team\\) 123 is not visible"):
        site.connector(config_json={"team_id": "123"}).test_connection()


def test_wrong_token_is_a_clear_auth_error(site: Site) -> None:
    with pytest.raises(SourceAuthError) as exc:
        site.connector(token="pk_wrong").test_connection()
    message = str(exc.value)
    assert "the token was refused by 127.0.0.1" in message and "(401): check the API token" in message
    assert "Token invalid" in message  # ClickUp's own words


def test_discover_fields_proposes_the_dmt_mapping(site: Site) -> None:
    fields = site.connector().discover_fields()
    proposed = {f.proposed_for: f.id for f in fields if f.proposed_for}
    expected = {k: v["field"] for k, v in site.dataset.field_mappings().items()}
    assert proposed == expected
    ac = next(f for f in fields if f.name == "Acceptance Criteria Quality")
    assert ac.field_type == "option" and ac.options == ["Testable", "Not Testable", "Missing"]


def test_full_extract_pages_until_last_page(site: Site) -> None:
    connector = site.connector()
    raws = _extract(connector)
    ids = [r["id"] for r in raws]
    assert len(ids) == len(set(ids)) == len(site.dataset.index())
    task_pages = [p for p in site.controls.paths_seen if p.endswith(f"/team/{site.dataset.team_id}/task")]
    assert len(task_pages) >= 5  # 430 tasks, 100 a page
    # Time in status only where a history says something (not for tasks still in to-do), 100 tasks a request.
    needing = [r for r in raws if connector.needs_status_history(r)]
    assert all("_time_in_status" in r for r in needing)
    assert not any("_time_in_status" in r for r in raws if not connector.needs_status_history(r))
    assert 0 < len(needing) < len(raws)
    asked = [p for p in site.controls.paths_seen if p.endswith("/task/bulk_time_in_status/task_ids")]
    assert len(asked) == -(-len(needing) // 100)

    items = [connector.normalize_work_item(r) for r in raws]
    assert set(Counter(i["status_category"] for i in items)) == {"todo", "in_progress", "done"}
    done = [i for i in items if i["status_category"] == "done"]
    assert all(i["done_at"] for i in done)
    straight = [i for i in done if i["started_at"] is None]  # to-do straight to done: no start, no cycle time
    assert straight and len(straight) < len(done) / 5
    assert all(i["started_at"] <= i["done_at"] for i in done if i["started_at"])
    assert any(i["is_blocked"] for i in items) and any(i["blocked_hours"] > 0 for i in items)
    assert {i["ac_quality"] for i in items} >= {"testable", "not_testable", "missing", None}
    assert {i["unit_testing_status"] for i in items} >= {"done", "in_progress", "not_started", "not_applicable"}
    assert any(i["coverage_percent"] for i in items) and any(i["exception_expires_at"] for i in items)
    assert any(i["has_unit_test_task"] is False for i in items) and any(i["dmt_signoff"] for i in items)
    assert any(i["item_type"] == "subtask" for i in items) and any(i["item_type"] == "bug" for i in items)
    sprinted = [i for i in items if i["sprint_name"]]
    assert sprinted and all(i["sprint_name"].startswith("Sprint ") and i["sprint_start"] for i in sprinted)
    assert any(i["sprint_name"] is None for i in items)  # backlog list
    assert any({"type": "custom_id", "key": "ACME-1"} in i["links"] for i in items)


def test_incremental_extract_uses_date_updated(site: Site) -> None:
    dataset = site.dataset
    connector = site.connector()
    since = datetime.now(UTC) - timedelta(seconds=1)
    ids = [dataset.task_id(i) for i in (2, 40, 300)]
    dataset.update_task(ids[0], status="done")
    dataset.update_task(ids[1], name="Renamed between syncs")
    dataset.update_task(ids[2], status="blocked")
    dataset.delete_task(dataset.task_id(9))
    raws = _extract(connector, since)
    assert sorted(r["id"] for r in raws) == sorted(ids)
    items = {r["id"]: connector.normalize_work_item(r) for r in raws}
    assert items[ids[0]]["status_category"] == "done" and items[ids[0]]["done_at"] >= since
    assert items[ids[1]]["title"] == "Renamed between syncs"
    assert items[ids[2]]["is_blocked"]
    live = [i for page in connector.list_work_item_ids() for i in page]
    assert len(live) == len(dataset.index()) and dataset.task_id(9) not in live


def test_a_429_storm_ends_in_success(site: Site) -> None:
    site.waits.clear()
    site.controls.rate_limit_next(5, retry_after=1)
    raws = _extract(site.connector(config_json={"team_id": site.dataset.team_id, "time_in_status": False}))
    assert len(raws) == len(site.dataset.index())
    assert site.waits.count(1.0) == 5


def test_a_malformed_page_is_a_data_error(site: Site) -> None:
    site.dataset.break_next_search(1)
    with pytest.raises(SourceDataError, match="invalid JSON"):
        _extract(site.connector())


def test_works_when_mounted_under_a_prefix() -> None:
    dataset = generate_dataset(seed=4, size=120)
    parent = FastAPI()
    parent.mount("/clickup", create_app(dataset))
    with serve(parent) as url:
        connector = ClickUpConnector(
            SourceSettings(
                source_type="clickup",
                base_url=f"{url}/clickup/api/v2",
                token=dataset.token,
                config_json={"team_id": dataset.team_id},
            ),
        )
        assert connector.test_connection().ok
        assert len(_extract(connector)) == 120
