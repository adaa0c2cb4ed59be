"""JiraConnector end to end against the fake Jira (Cloud and Server / Data Center)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from etl.connectors.base import SourceAuthError, SourceDataError, SourceNotFound, SourceSettings
from etl.connectors.jira import CHANGELOG_PAGE_SIZE, PAGES_PER_WINDOW, JiraConnector
from etl.connectors.registry import get_connector
from tests.fakes.jira import FIELD_MAPPINGS, JiraDataset, create_app, generate_dataset
from tests.fakes.server import FaultControls, serve


class Site:
    def __init__(self, url: str, dataset: JiraDataset, controls: FaultControls, deployment: str) -> None:
        self.url, self.dataset, self.controls, self.deployment = url, dataset, controls, deployment
        self.waits: list[float] = []

    def settings(self, **overrides: Any) -> SourceSettings:
        values: dict[str, Any] = {
            "source_type": "jira",
            "base_url": self.url,
            "token": self.dataset.token,
            "username": self.dataset.api_user_email if self.deployment == "cloud" else None,
            "project_key": self.dataset.project_key,
            "field_mappings": FIELD_MAPPINGS,
            "config_json": {"deployment": "auto", "max_workers": 3},
        }
        values.update(overrides)
        return SourceSettings(**values)

    def connector(self, **overrides: Any) -> JiraConnector:
        return JiraConnector(self.settings(**overrides), sleep=self.waits.append)


#: Tests of Cloud's bulk changelog API run on the Cloud site only (Server has no such API).
CLOUD_ONLY = pytest.mark.parametrize("site", ["cloud"], indirect=True)


@pytest.fixture(scope="module", params=["cloud", "server"])
def site(request: pytest.FixtureRequest) -> Iterator[Site]:
    dataset = generate_dataset(seed=11, size=420)
    controls = FaultControls()
    with serve(create_app(dataset, controls, deployment=request.param)) as url:
        yield Site(url, dataset, controls, request.param)


def _extract(connector: JiraConnector, start: datetime | None = None, end: datetime | None = None) -> list[dict]:
    return [raw for page in connector.extract_work_items(start, end) for raw in page]


def test_connection_detects_the_deployment(site: Site) -> None:
    result = site.connector().test_connection()
    assert result.ok and result.identity == "Alice Martin <alice.martin@acme.example>"
    assert result.details["deployment"] == site.deployment
    assert result.details["project"]["key"] == "ACME" and "Story" in result.details["project"]["issue_types"]


def test_unknown_project_is_not_found(site: Site) -> None:
    with pytest.raises(SourceNotFound, match="No project could be found with key 'NOPE'"):
        site.connector(project_key="NOPE").test_connection()


def test_wrong_token_is_a_clear_auth_error(site: Site) -> None:
    with pytest.raises(SourceAuthError) as exc:
        site.connector(token="not-the-token").test_connection()
    assert "the token was refused by 127.0.0.1" in str(exc.value)
    assert "(401): check the API token and username" in str(exc.value)


def test_discover_fields_proposes_the_dmt_mapping(site: Site) -> None:
    fields = {f.id: f for f in site.connector().discover_fields()}
    proposed = {f.proposed_for: f.id for f in fields.values() if f.proposed_for}
    assert proposed == {k: v["field"] for k, v in FIELD_MAPPINGS.items()}
    assert fields["customfield_10100"].options == ["Testable", "Not Testable", "Missing"]
    assert fields["customfield_10102"].field_type == "option"
    assert fields["customfield_10020"].field_type == "sprint"


def test_full_extract_pages_through_every_issue(site: Site) -> None:
    connector = site.connector()
    before = site.controls.requests_seen
    raws = _extract(connector)
    ids = [r["id"] for r in raws]
    assert len(ids) == len(set(ids)) == site.dataset.live_count()
    searches = [p for p in site.controls.paths_seen if p.endswith(("/search/jql", "/search"))]
    assert len(searches) > 5  # several windows, several pages each
    assert site.controls.requests_seen - before > len(raws) // 100

    items = [connector.normalize_work_item(r) for r in raws]
    categories = Counter(i["status_category"] for i in items)
    assert set(categories) == {"todo", "in_progress", "done"}
    done = [i for i in items if i["status_category"] == "done"]
    assert all(i["done_at"] and i["started_at"] and i["started_at"] <= i["done_at"] for i in done)
    assert any(i["is_blocked"] for i in items) and any(i["blocked_hours"] > 0 for i in items)
    assert any(i["reopened_count"] for i in items)
    assert {i["ac_quality"] for i in items} >= {"testable", "not_testable", "missing", None}
    assert {i["unit_testing_status"] for i in items} >= {"done", "in_progress", "not_started", "not_applicable"}
    assert any(i["dmt_signoff"] for i in items) and any(i["exception_expires_at"] for i in items)
    assert any(len(i["pr_links"]) == 2 for i in items) and any(i["ci_evidence_url"] for i in items)
    assert all(i["assignee_email"] is None or i["assignee_email"].endswith("@acme.example") for i in items)
    sprinted = [i for i in items if i["sprint_name"]]
    assert sprinted and all(i["sprint_start"] and i["sprint_end"] for i in sprinted)
    assert any(len(i["sprint_history"]) == 2 for i in items)  # carried over from the previous sprint


def test_truncated_changelogs_are_completed(site: Site) -> None:
    connector = site.connector()
    limit = site.dataset.changelog_limit
    long_ones = [i for i in range(site.dataset.size) if len(site.dataset.issue(i)["changelog"]["histories"]) > limit]
    assert long_ones, "the dataset should contain issues with long changelogs"
    by_id = {r["id"]: r for r in _extract(connector)}
    for index in long_ones:
        full = site.dataset.issue(index)
        got = by_id[full["id"]]["changelog"]
        assert got["total"] == len(got["histories"]) == len(full["changelog"]["histories"])
    follow_up = (
        "/changelog/bulkfetch"
        if site.deployment == "cloud"
        else f"/rest/api/2/issue/{site.dataset.issue(long_ones[0])['id']}"
    )
    assert any(p.endswith(follow_up) for p in site.controls.paths_seen)


def _long_changelogs(site: Site) -> list[int]:
    return [i for i in range(site.dataset.size) if len(site.dataset.issue(i)["changelog"]["histories"]) > site.dataset.changelog_limit]


@CLOUD_ONLY
def test_cloud_bulk_changelogs_are_read_across_pages_in_order(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """One bulk request per search page; its entries (oldest first, all issues mixed) are paged by token."""
    import etl.connectors.jira as jira_module

    monkeypatch.setattr(jira_module, "BULK_CHANGELOG_PAGE_SIZE", 7)  # an issue's entries split over pages
    site.controls.paths_seen.clear()
    by_id = {r["id"]: r for r in _extract(site.connector())}
    for index in _long_changelogs(site):
        full = site.dataset.issue(index)
        assert [h["id"] for h in by_id[full["id"]]["changelog"]["histories"]] == [h["id"] for h in full["changelog"]["histories"]]
    bulk = [p for p in site.controls.paths_seen if p.endswith("/changelog/bulkfetch")]
    assert len(bulk) > len({i // 100 for i in _long_changelogs(site)})  # several pages per request
    assert not [p for p in site.controls.paths_seen if re.search(r"/issue/\d+/changelog$", p)]


class _BulkAnswerAfterNextSearch:
    """ASGI wrapper of a fake site: a bulk changelog request is answered only once the connector has received
    another search page, plus `latency_seconds` of simulated latency (or after `limit_seconds`): the order of
    events a loaded machine produces now and then."""

    def __init__(self, app: FastAPI, latency_seconds: float = 0.3, limit_seconds: float = 2) -> None:
        self.app, self.latency_seconds, self.limit_seconds = app, latency_seconds, limit_seconds
        self.search_answered = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if path.endswith("/changelog/bulkfetch"):
            self.search_answered.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.search_answered.wait(), self.limit_seconds)
            await asyncio.sleep(self.latency_seconds)
        elif path.endswith("/search/jql"):
            send = self._marking_the_answer(send)
        await self.app(scope, receive, send)

    def _marking_the_answer(self, send: Send) -> Send:
        async def send_and_mark(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.search_answered.set()

        return send_and_mark


@CLOUD_ONLY
def test_pages_go_on_while_their_truncated_changelogs_wait_for_the_bulk_request(site: Site) -> None:
    """Only the truncated issues wait for their changelogs: holding whole pages for the bulk request made a
    sync's peak memory grow with its windows. Each search page still gives one page, every issue once."""
    connector = site.connector(config_json={"deployment": "auto", "max_workers": 1})  # one window, in this thread
    site.controls.paths_seen.clear()
    bulk_requests_seen_at_each_page = []
    issues = []
    for page in connector.extract_work_items(None, None):
        bulk_requests_seen_at_each_page.append(sum(p.endswith("/changelog/bulkfetch") for p in site.controls.paths_seen))
        issues.extend(page)
    pages = -(-site.dataset.live_count() // connector.page_size)
    assert len(bulk_requests_seen_at_each_page) == pages  # one page out per search page
    assert pages > 2 and bulk_requests_seen_at_each_page[:-1] == [0] * (pages - 1)  # the bulk comes last
    assert sorted(i["id"] for i in issues) == sorted({i["id"] for i in issues})
    assert len(issues) == site.dataset.live_count()
    for index in _long_changelogs(site):
        full = site.dataset.issue(index)
        got = next(i for i in issues if i["id"] == full["id"])["changelog"]
        assert got["total"] == len(got["histories"]) == len(full["changelog"]["histories"])


@pytest.mark.parametrize("newer_is_truncated", [False, True])
def test_an_issue_returned_again_replaces_its_older_version_still_waiting(site: Site, newer_is_truncated: bool) -> None:
    """An issue updated during the sync can come back on a later page: its older version, still waiting for
    its changelog, must not be yielded after (and so be loaded over) the newer one."""
    connector = site.connector()

    def issue(issue_id: str, version: int, truncated: bool) -> dict[str, Any]:
        return {"id": issue_id, "version": version, "changelog": {"total": 3 if truncated else 1, "histories": [{}]}}

    def complete(issues: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i in issues:
            i["changelog"] = {"total": 3, "histories": [{}, {}, {}]}
        return issues

    connector._complete_changelogs = complete  # type: ignore[method-assign]
    connector._complete_changelog = lambda i: complete([i])[0]  # type: ignore[method-assign]
    pages = [[issue("A", 1, True), issue("B", 1, False)], [issue("C", 1, False)], [issue("A", 2, newer_is_truncated)]]
    out = list(connector._with_complete_changelogs(iter(pages)))
    assert len(out) == 3
    seen = [(i["id"], i["version"]) for page in out for i in page]
    assert sorted(seen) == [("A", 2), ("B", 1), ("C", 1)]
    assert all(i["changelog"]["total"] == len(i["changelog"]["histories"]) for page in out for i in page)


def test_a_cloud_site_without_the_bulk_api_gets_one_bulk_request_and_changelogs_per_issue() -> None:
    """The first bulk request learns the site has no bulk API (404); no second one is sent, even when the
    next search page is fetched before that answer arrives, and every changelog is completed per issue."""
    dataset = generate_dataset(seed=11, size=420)
    dataset.bulk_changelog = False
    controls = FaultControls()
    with serve(_BulkAnswerAfterNextSearch(create_app(dataset, controls, deployment="cloud"))) as url:
        site = Site(url, dataset, controls, "cloud")
        by_id = {r["id"]: r for r in _extract(site.connector(config_json={"deployment": "auto", "max_workers": 1}))}
    long_ones = _long_changelogs(site)
    assert long_ones
    for index in long_ones:
        full = dataset.issue(index)
        assert [h["id"] for h in by_id[full["id"]]["changelog"]["histories"]] == [h["id"] for h in full["changelog"]["histories"]]
    assert sum(p.endswith("/changelog/bulkfetch") for p in controls.paths_seen) == 1
    per_issue = [p for p in controls.paths_seen if re.search(r"/issue/\d+/changelog$", p)]
    pages_per_issue = {
        index: -(-len(dataset.issue(index)["changelog"]["histories"]) // CHANGELOG_PAGE_SIZE) for index in long_ones
    }
    assert len(per_issue) == sum(pages_per_issue.values())


def test_incremental_extract_sees_only_changes(site: Site) -> None:
    dataset = site.dataset
    connector = site.connector()
    since = datetime.now(UTC) - timedelta(seconds=1)
    open_index = next(
        i for i in range(10, dataset.size) if dataset.issue(i)["fields"]["status"]["statusCategory"]["key"] != "done"
    )
    changed = [dataset.key_of(i) for i in (open_index, 3, 200)]
    dataset.update_issue(changed[0], status="done")
    dataset.update_issue(changed[1], summary="Renamed between syncs", flagged=True)
    dataset.update_issue(changed[2], story_points=21)
    new_key = dataset.add_issue("Brand new story")
    dataset.delete_issue(dataset.key_of(7))
    raws = _extract(connector, since, None)
    assert sorted(r["key"] for r in raws) == sorted([*changed, new_key])
    items = {r["key"]: connector.normalize_work_item(r) for r in raws}
    assert items[changed[0]]["status_category"] == "done" and items[changed[0]]["done_at"] >= since
    assert items[changed[1]]["title"] == "Renamed between syncs" and items[changed[1]]["is_blocked"]
    assert items[changed[2]]["story_points"] == 21
    live = [i for page in connector.list_work_item_ids() for i in page]
    assert len(live) == dataset.live_count() and str(10000 + 7) not in live


def test_a_429_storm_ends_in_success(site: Site) -> None:
    connector = site.connector(config_json={"deployment": site.deployment, "max_workers": 1})
    site.waits.clear()
    site.controls.rate_limit_next(4, retry_after=2)
    raws = _extract(connector, datetime.now(UTC) - timedelta(days=400), None)
    assert len(raws) == site.dataset.live_count()
    assert site.waits.count(2.0) == 4


def test_a_malformed_page_is_a_data_error(site: Site) -> None:
    site.dataset.break_next_search(1)
    with pytest.raises(SourceDataError, match="invalid JSON"):
        _extract(site.connector(config_json={"deployment": site.deployment, "max_workers": 2}))


def test_registry_builds_the_connector(site: Site) -> None:
    connector = get_connector("jira", site.settings())
    assert isinstance(connector, JiraConnector)
    assert connector.test_connection().ok


def test_works_when_mounted_under_a_prefix() -> None:
    dataset = generate_dataset(seed=5, size=60)
    parent = FastAPI()
    parent.mount("/jira", create_app(dataset, None, deployment="cloud"))
    with serve(parent) as url:
        connector = JiraConnector(
            SourceSettings(
                source_type="jira",
                base_url=f"{url}/jira",
                token=dataset.token,
                username=dataset.api_user_email,
                project_key="ACME",
                config_json={"deployment": "auto"},
            ),
        )
        assert connector.test_connection().details["deployment"] == "cloud"
        raws = _extract(connector)
        assert len(raws) == 60
        assert raws[0]["self"].startswith(f"{url}/jira/rest/api/3/issue/")


def test_large_dataset_is_generated_lazily() -> None:
    dataset = generate_dataset(seed=1, size=100_000)
    issue = dataset.issue(99_999)
    assert issue["key"] == "ACME-100000" and issue["fields"]["project"]["key"] == "ACME"
    assert dataset._index is None  # nothing built until the first search


def test_backfill_windows_are_balanced_by_issue_count(site: Site) -> None:
    connector = site.connector(config_json={"deployment": site.deployment, "max_workers": 3, "page_size": 10})
    start = connector._earliest_update()
    assert start is not None
    end = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    windows = connector._balanced_windows(start, end)
    ordered = sorted(windows)
    # The windows tile [start, end): nothing is fetched twice and nothing is left out.
    assert ordered[0][0] == start.replace(second=0, microsecond=0) and ordered[-1][1] == end
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ordered))
    counts = {w: connector._count_issues(w) for w in windows}
    total = site.dataset.live_count()
    assert sum(counts.values()) == total
    # As many windows as the backfill is worth (PAGES_PER_WINDOW pages each), at most 4 per worker.
    wanted = max(1, min(3 * 4, -(-total // (10 * PAGES_PER_WINDOW))))
    assert 1 < wanted < 3 * 4
    target = max(10 * 2, -(-total // wanted))
    assert all(c <= target or w[1] - w[0] < timedelta(minutes=2) for w, c in counts.items())
    assert [counts[w] for w in windows] == sorted(counts.values(), reverse=True)  # largest first
    equal_time = connector._windows(start, end, wanted)
    assert max(counts.values()) < max(connector._count_issues(w) for w in equal_time)


def test_without_issue_counts_the_backfill_uses_equal_time_windows(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    connector = site.connector(config_json={"deployment": site.deployment, "max_workers": 3, "page_size": 10})

    def no_count(window: Any) -> int:
        raise SourceNotFound("the count endpoint is not there on this site")

    monkeypatch.setattr(connector, "_count_issues", no_count)
    start, end = datetime(2020, 1, 1, tzinfo=UTC), datetime.now(UTC).replace(second=0, microsecond=0)
    assert connector._balanced_windows(start, end) == connector._windows(start, end)
    ids = [r["id"] for r in _extract(connector)]
    assert len(ids) == len(set(ids)) == site.dataset.live_count()


def test_a_failed_changelog_request_fails_the_extract(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    from etl.connectors.base import SourceUnavailable

    connector = site.connector()

    def unavailable(issue: dict) -> dict:
        raise SourceUnavailable(f"changelog of {issue['key']}: the site answered 503 three times")

    def bulk_unavailable(ids: list) -> dict:
        raise SourceUnavailable(f"changelogs of {len(ids)} issues: the site answered 503 three times")

    monkeypatch.setattr(connector, "_complete_changelog", unavailable)
    monkeypatch.setattr(connector, "_bulk_histories", bulk_unavailable)
    with pytest.raises(SourceUnavailable, match="answered 503"):
        _extract(connector)
    connector.close()


def test_search_asks_only_for_the_fields_it_reads_and_normalises_as_with_every_field(site: Site) -> None:
    """`*all` would bring every field of the site; the narrow list must lose nothing the normaliser uses."""
    narrow = site.connector()
    fields = narrow._fetch_fields().split(",")
    assert "*all" not in fields and {"summary", "status", "subtasks", "issuelinks"} <= set(fields)
    assert {spec["field"] for spec in FIELD_MAPPINGS.values()} <= set(fields)
    assert "customfield_10021" in fields  # the Flagged field, found by name
    wide = site.connector(config_json={"deployment": "auto", "max_workers": 3, "fields": ["*all"]})
    assert wide._fetch_fields().startswith("*all,")
    now = datetime(2026, 11, 1, tzinfo=UTC)

    def normalised(connector: JiraConnector) -> dict[str, dict]:
        out = {}
        for raw in _extract(connector):
            record = dict(connector.normalize_work_item(raw, now=now))
            out[record.pop("source_item_id")] = {k: v for k, v in record.items() if k != "raw_data"}
        return out

    kept, everything = normalised(narrow), normalised(wide)
    assert len(kept) == site.dataset.size and kept == everything
    raw = _extract(narrow)[0]
    assert "reporter" not in raw["fields"] and "customfield_10016" in raw["fields"]


@CLOUD_ONLY
def test_fake_bulk_changelog_api_filters_fields_and_refuses_bad_requests(site: Site) -> None:
    """The fake answers as Jira Cloud documents: fieldIds keeps the entries changing those fields; limits give 400."""
    import httpx

    index = _long_changelogs(site)[0]
    issue_id = site.dataset.issue(index)["id"]
    auth = (site.dataset.api_user_email, site.dataset.token)
    with httpx.Client(base_url=site.url, auth=auth) as client:
        url = "/rest/api/3/changelog/bulkfetch"
        everything = client.post(url, json={"issueIdsOrKeys": [issue_id]}).json()
        statuses = client.post(url, json={"issueIdsOrKeys": [issue_id], "fieldIds": ["status"]}).json()
        assert [log["issueId"] for log in everything["issueChangeLogs"]] == [issue_id]
        kept = statuses["issueChangeLogs"][0]["changeHistories"]
        assert kept and all(item["fieldId"] == "status" for h in kept for item in h["items"])
        assert len(kept) < len(everything["issueChangeLogs"][0]["changeHistories"])
        assert client.post(url, json={"issueIdsOrKeys": []}).status_code == 400
        assert client.post(url, json={"issueIdsOrKeys": [str(n) for n in range(1001)]}).status_code == 400
