"""A tool whose paging never ends (a cursor that comes back, a page number it ignores) stops the sync."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from etl.connectors.base import SourceDataError, SourceSettings
from etl.connectors.clickup import ClickUpConnector
from etl.connectors.jira import JiraConnector
from tests.fakes.server import FaultControls, install_faults, serve

# Without the guard these loops never end: fail instead of hanging the suite.
pytestmark = pytest.mark.timeout(120)


def _looping_jira(controls: FaultControls) -> FastAPI:
    app = FastAPI()
    install_faults(app, controls)

    @app.get("/rest/api/3/search/jql")
    def search(nextPageToken: str | None = None) -> dict[str, Any]:
        token = "B" if nextPageToken == "A" else "A"  # A, B, A, ...: the site's cursor comes back
        return {"issues": [{"id": "10001"}], "nextPageToken": token, "isLast": False}

    return app


def _page_ignoring_clickup(controls: FaultControls) -> FastAPI:
    app = FastAPI()
    install_faults(app, controls)

    @app.get("/api/v2/team/{team}/task")
    def tasks(team: str, page: int = 0) -> dict[str, Any]:
        return {"tasks": [{"id": f"t{i}"} for i in range(100)], "last_page": False}  # every page the same

    return app


def test_a_jira_cursor_that_comes_back_stops_the_search() -> None:
    controls = FaultControls()
    with serve(_looping_jira(controls)) as url:
        settings = SourceSettings(
            source_type="jira", base_url=url, token="t", project_key="ACME", config_json={"deployment": "cloud"}
        )
        connector = JiraConnector(settings)
        with pytest.raises(SourceDataError, match="already returned"):
            for _ in connector.list_work_item_ids():
                pass
        connector.close()
    assert controls.requests_seen == 3  # first page, token A, token B; the second A is never requested


def test_a_clickup_site_ignoring_the_page_number_stops_the_task_list() -> None:
    controls = FaultControls()
    with serve(_page_ignoring_clickup(controls)) as url:
        settings = SourceSettings(
            source_type="clickup", base_url=f"{url}/api/v2", token="t", config_json={"team_id": "9"}
        )
        connector = ClickUpConnector(settings)
        with pytest.raises(SourceDataError, match="already returned"):
            for _ in connector.list_work_item_ids():
                pass
        connector.close()
    assert controls.requests_seen == 2
