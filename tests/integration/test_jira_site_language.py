"""A Jira site in another language: issue types come from /issuetype's untranslated names."""

from __future__ import annotations

from collections import Counter

from etl.connectors.base import SourceSettings
from etl.connectors.jira import JiraConnector
from tests.fakes.jira import FIELD_MAPPINGS, create_app, generate_dataset
from tests.fakes.server import serve


def test_a_chinese_site_gets_stories_and_bugs_not_tasks() -> None:
    dataset = generate_dataset(seed=5, size=120, language="zh")
    with serve(create_app(dataset, deployment="cloud")) as url:
        settings = SourceSettings(
            source_type="jira",
            base_url=url,
            token=dataset.token,
            username=dataset.api_user_email,
            project_key=dataset.project_key,
            field_mappings=FIELD_MAPPINGS,
            config_json={"deployment": "cloud", "max_workers": 1},
        )
        connector = JiraConnector(settings, sleep=lambda _s: None)
        raws = [raw for page in connector.extract_work_items(None, None) for raw in page]
        names = {raw["fields"]["issuetype"]["name"] for raw in raws}
        assert names <= {"故事", "缺陷", "任务", "史诗"} and "故事" in names  # what the site shows
        types = Counter(connector.normalize_work_item(raw)["item_type"] for raw in raws)
    assert types["story"] and types["bug"] and types["epic"]
    assert set(types) <= {"story", "bug", "task", "epic"}
    assert connector.issue_types and {t["untranslatedName"] for t in connector.issue_types.values()} >= {"Story", "Bug"}
