"""The GitHub connector end to end against the fake GitHub API, on both paths (GraphQL, the default, and REST)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from etl.connectors import github_graphql
from etl.connectors.base import (
    SourceAuthError,
    SourceConfigError,
    SourceDataError,
    SourceNotFound,
    SourceRateLimited,
    SourceSettings,
)
from etl.connectors.github import GitHubConnector
from etl.connectors.github_graphql import NESTED_FIRST
from etl.connectors.registry import get_connector
from tests.fakes.azure_boards import login_of
from tests.fakes.github import (
    DEFAULT_TOKEN,
    add_check_run,
    add_comment,
    add_commit,
    add_label,
    add_review,
    add_review_comment,
    create_app,
    generate_dataset,
    request_review,
    update_pull,
)
from tests.fakes.server import FaultControls, serve

REPOS = ["acme/shop", "acme/api"]
KEYS = [f"ACME-{n}" for n in range(1, 11)]
APIS = ["graphql", "rest"]


@pytest.fixture
def fake() -> Iterator[tuple[str, dict[str, Any], FaultControls]]:
    dataset = generate_dataset(seed=3, size=26, repositories=REPOS, work_item_keys=KEYS)
    controls = FaultControls()
    with serve(create_app(dataset, controls)) as url:
        yield url, dataset, controls


def connector(base_url: str, token: str = DEFAULT_TOKEN, sleep: Any = None, **config: Any) -> GitHubConnector:
    settings = SourceSettings(
        source_type="github",
        base_url=base_url,
        token=token,
        config_json={"repositories": REPOS, "per_page": 5, "project_keys": ["ACME"], **config},
    )
    return GitHubConnector(settings, sleep=sleep or (lambda _s: None), max_retries=3)


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


@pytest.mark.parametrize("api", APIS)
def test_full_extract_pages_through_every_repository_and_enriches(fake, api: str) -> None:
    url, _, _ = fake
    conn = connector(url, api=api)
    raw = pulls(conn)
    assert len(raw) == 26  # 13 per repository at 5 per page: paging works
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


@pytest.mark.parametrize("api", APIS)
def test_incremental_extract_stops_at_the_cursor(fake, api: str) -> None:
    url, dataset, _ = fake
    conn = connector(url, api=api)
    pulls(conn)
    cursor = datetime.now(UTC)
    add_review(dataset, "acme/shop", 2, "cchurch", "APPROVED", when=cursor + timedelta(seconds=2))
    add_comment(dataset, "acme/api", 1, "cchurch", "DMT-OK", when=cursor + timedelta(seconds=3))
    changed = pulls(conn, start=cursor)
    assert sorted((p["_dmt"]["repository"], p["number"]) for p in changed) == [("acme/api", 1), ("acme/shop", 2)]
    signed = next(conn.normalize_pull_request(p) for p in changed if p["number"] == 1)
    assert signed["dmt_signoff"] and signed["dmt_signoff_by"] == "cchurch"


def test_second_incremental_rest_run_gets_304_and_costs_no_quota(fake) -> None:
    url, dataset, _ = fake
    first = connector(url, api="rest")
    pulls(first)
    assert set(first.etags) == set(REPOS)
    # The pipeline persists etags into config_json; a new connector picks them up.
    second = connector(url, api="rest", etags=first.etags)
    before = dataset["rate_limit"]["remaining"]
    assert pulls(second, start=datetime.now(UTC) - timedelta(minutes=1)) == []
    assert second.not_modified == REPOS
    assert dataset["rate_limit"]["remaining"] == before
    update_pull(dataset, "acme/shop", 3, {"title": "ACME-3 renamed"})
    third = connector(url, api="rest", etags=second.etags)
    changed = pulls(third, start=datetime.now(UTC) - timedelta(minutes=1))
    assert [p["number"] for p in changed] == [3] and third.not_modified == ["acme/api"]


def test_full_sync_ignores_etags(fake) -> None:
    url, _, _ = fake
    first = connector(url, api="rest")
    pulls(first)
    assert len(pulls(connector(url, api="rest", etags=first.etags))) == 26
    # The GraphQL path keeps the stored ETags as they are (for a switch back to REST).
    assert connector(url, etags=first.etags).etags == first.etags


def test_wrong_token_raises_auth_error(fake) -> None:
    url, _, _ = fake
    with pytest.raises(SourceAuthError, match="Bad credentials"):
        connector(url, token="ghp_wrong").test_connection()


@pytest.mark.parametrize("api", APIS)
def test_rate_limited_then_success(fake, api: str) -> None:
    url, _, controls = fake
    controls.rate_limit_next(2, retry_after=0)
    assert len(pulls(connector(url, api=api))) == 26


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
        pulls(connector(url, api="rest"))


@pytest.mark.parametrize("api", APIS)
def test_enterprise_base_url_under_api_v3(api: str) -> None:
    dataset = generate_dataset(seed=5, size=4, repositories=["acme/shop"], work_item_keys=KEYS)
    parent = FastAPI()
    app = create_app(dataset)
    parent.mount("/api/v3", app)  # REST
    parent.mount("/api", app)  # GraphQL at /api/graphql
    with serve(parent) as url:
        conn = connector(f"{url}/api/v3", repositories=["acme/shop"], per_page=2, api=api)
        assert conn.test_connection().ok
        assert len(pulls(conn)) == 4
    assert dataset["graphql_queries"] == (0 if api == "rest" else 1 + 2)  # test_connection's budget + 2 pages


# --------------------------------------------------------------------------- GraphQL
def normalised(conn: GitHubConnector, start: datetime | None = None) -> dict[str, dict[str, Any]]:
    """Every PR normalised, by id, without raw_data (the two APIs' payloads differ, their meaning must not)."""
    out = {}
    for raw in pulls(conn, start):
        record = dict(conn.normalize_pull_request(raw))
        record.pop("raw_data")
        out[record["source_pr_id"]] = record
    return out


def overflow_every_list(dataset: dict[str, Any], repo: str, number: int) -> None:
    """Give one PR more of every nested list than the GraphQL page query asks for."""
    when = datetime.now(UTC) - timedelta(hours=2)
    for n in range(NESTED_FIRST["reviews"] + 3):
        reviewer = ["cchurch", "dmorgan", "renovate[bot]"][n % 3]
        add_review(dataset, repo, number, reviewer, "COMMENTED", f"round {n}", when=when + timedelta(minutes=n))
    add_review(dataset, repo, number, "dmorgan", "APPROVED", "DMT-OK", when=when + timedelta(minutes=30))
    for n in range(NESTED_FIRST["comments"] + 4):
        add_comment(dataset, repo, number, "cchurch", f"comment {n}", when=when + timedelta(minutes=40 + n))
    for n in range(4):
        add_review_comment(dataset, repo, number, "dmorgan", f"inline {n}", when=when + timedelta(minutes=70 + n))
    for n in range(NESTED_FIRST["commits"] + 2):
        add_commit(dataset, repo, number, f"step {n}", when=when + timedelta(minutes=80 + n))
    add_commit(dataset, repo, number, "ACME-777 last step", when=when + timedelta(minutes=99))
    for n in range(NESTED_FIRST["contexts"] + 5):
        add_check_run(dataset, repo, number, f"job-{n}", "failure" if n == NESTED_FIRST["contexts"] + 2 else "success")
    for n in range(NESTED_FIRST["labels"] + 2):
        add_label(dataset, repo, number, f"area-{n}")
    for login in ("emeka-obi", "fatima-zahra"):
        request_review(dataset, repo, number, login)


def test_graphql_and_rest_give_the_same_records_even_when_lists_overflow(fake) -> None:
    url, dataset, _ = fake
    store = dataset["repos"]["acme/shop"]
    number = next(  # a PR whose own CI passed, so the failing check past the first page decides
        n
        for n, pull in store["pulls"].items()
        if all(run["conclusion"] == "success" for run in store["check_runs"][pull["head"]["sha"]])
        and all(status["state"] == "success" for status in store["statuses"][pull["head"]["sha"]])
    )
    overflow_every_list(dataset, "acme/shop", number)
    add_review_comment(dataset, "acme/api", 2, "cchurch", "Please add a test")
    reader = connector(url)
    graphql, rest = normalised(reader), normalised(connector(url, api="rest"))
    assert graphql == rest and len(graphql) == 26
    assert any(kind.startswith("follow_up") for kind in reader.graphql.costs)  # the lists were completed
    big = graphql[str(store["pulls"][number]["id"])]
    failing = next(
        r for r in store["check_runs"][store["pulls"][number]["head"]["sha"]] if r["conclusion"] == "failure"
    )
    assert big["review_count"] >= NESTED_FIRST["reviews"] + 4  # every review, not the first page's
    assert big["commits_count"] == len(store["commits"][number]) > NESTED_FIRST["commits"]
    assert (big["ci_status"], big["ci_url"]) == ("failure", failing["html_url"])  # past the first 50 contexts
    assert "ACME-777" in big["linked_keys"]  # only in the last commit, read by a follow-up query
    assert "renovate[bot]" in {r["login"] for r in big["reviewers"]}  # a GraphQL Bot is named as REST names it
    assert big["dmt_signoff"] is True


def test_comments_count_counts_issue_and_review_comments(fake) -> None:
    url, dataset, _ = fake
    store = dataset["repos"]["acme/api"]
    number = next(n for n, reviews in store["reviews"].items() if reviews)
    issue_comments, inline_before = len(store["comments"][number]), len(store["review_comments"][number])
    add_review_comment(dataset, "acme/api", number, "cchurch", "Rename this")
    add_review_comment(dataset, "acme/api", number, "dmorgan", "And this")
    pull_id = str(store["pulls"][number]["id"])
    for api in APIS:
        assert normalised(connector(url, api=api))[pull_id]["comments_count"] == issue_comments + inline_before + 2


def test_graphql_reads_a_page_of_prs_in_one_query_and_lists_ids(fake) -> None:
    url, dataset, controls = fake
    conn = connector(url, per_page=100)
    before = controls.requests_seen
    assert len(pulls(conn)) == 26
    assert controls.requests_seen - before == 2  # one query per repository, nothing per PR
    assert conn.graphql.queries == 2 and conn.graphql.points == dataset["graphql_points"] == 2 * 17
    ids = {i for page in conn.list_pull_request_ids() for i in page}
    assert ids == {i for page in connector(url, api="rest").list_pull_request_ids() for i in page}
    assert len(ids) == 26


def test_graphql_first_incremental_page_is_small(fake) -> None:
    url, dataset, _ = fake
    conn = connector(url, per_page=100)
    cursor = datetime.now(UTC) - timedelta(minutes=5)
    update_pull(dataset, "acme/shop", 4, {"title": "ACME-4 renamed"})
    changed = pulls(conn, start=cursor)
    assert [(p["_dmt"]["repository"], p["number"]) for p in changed] == [("acme/shop", 4)]
    assert changed[0]["_dmt"]["api"] == "graphql"
    assert dataset["graphql_points"] == 2 * 2  # a 10-PR page costs 2 points; a full page costs 17


def test_graphql_waits_for_the_reset_when_points_run_short(fake) -> None:
    url, dataset, _ = fake
    quota = dataset["graphql_rate_limit"]
    quota["remaining"], quota["reset"] = 1, int(datetime.now(UTC).timestamp()) + 30
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # time passes: the fake's window resets
        waits.append(seconds)
        quota["reset"] = int(datetime.now(UTC).timestamp()) - 1

    conn = connector(url, sleep=sleep)
    assert len(pulls(conn)) == 26
    assert waits and 0 < waits[0] <= 31
    assert dataset.get("graphql_rejected", 0) == 0  # it waited instead of asking over the limit


def test_graphql_budget_resetting_too_late_stops_the_sync_with_a_retry_time(fake) -> None:
    url, dataset, _ = fake
    quota = dataset["graphql_rate_limit"]
    quota["remaining"], quota["reset"] = 1, int(datetime.now(UTC).timestamp()) + 3000
    with pytest.raises(SourceRateLimited, match="refills in") as refused:
        pulls(connector(url))
    assert 2900 < (refused.value.retry_after or 0) <= 3000
    assert dataset.get("graphql_rejected", 0) == 0


def test_graphql_rate_limited_answer_is_waited_out_and_retried(fake) -> None:
    url, dataset, _ = fake
    quota = dataset["graphql_rate_limit"]
    quota["remaining"], quota["reset"] = 0, int(datetime.now(UTC).timestamp()) + 20
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        quota["reset"] = int(datetime.now(UTC).timestamp()) - 1

    assert len(pulls(connector(url, sleep=sleep))) == 26
    assert dataset["graphql_rejected"] == 1 and waits


def test_graphql_secondary_limit_403_with_retry_after_is_waited_out(fake) -> None:
    url, dataset, controls = fake
    dataset["secondary_limit_next"] = 2
    before = controls.requests_seen
    assert len(pulls(connector(url, per_page=100))) == 26
    assert controls.requests_seen - before == 2 + 2  # two refused, then the two pages


def test_graphql_unknown_repository_is_not_found(fake) -> None:
    url, _, _ = fake
    with pytest.raises(SourceNotFound, match="acme/nope"):
        pulls(connector(url, repositories=["acme/nope"]))


def test_graphql_connection_reports_the_point_budget(fake) -> None:
    url, dataset, _ = fake
    result = connector(url).test_connection()
    assert result.details["api"] == "graphql"
    assert result.details["graphql"]["limit"] == dataset["graphql_rate_limit"]["limit"]
    assert "GraphQL budget" in result.message


def test_graphql_query_the_server_does_not_know_points_to_the_rest_path(fake, monkeypatch) -> None:
    url, _, _ = fake
    query = github_graphql.PULL_REQUEST_PAGE_QUERY.replace("changedFiles", "changedFiles linesChangedEstimate")
    monkeypatch.setattr(github_graphql, "PULL_REQUEST_PAGE_QUERY", query)
    with pytest.raises(SourceConfigError, match=r"linesChangedEstimate.*api to \"rest\""):
        pulls(connector(url))


def test_unknown_api_is_refused() -> None:
    with pytest.raises(SourceConfigError, match="graphql, rest"):
        connector("https://api.github.com", api="soap")
