"""normalize_github_pull on recorded api.github.com exchanges (PyGithub ReplayData) and odd values; the GraphQL mapping."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from graphql import parse

from etl.connectors.base import PullRequestOptions, SourceDataError
from etl.connectors.github import ci_from_checks, normalize_github_pull
from etl.connectors.github_graphql import (
    PULL_REQUEST_PAGE_QUERY,
    estimated_page_cost,
    graphql_endpoint,
    rest_shaped_pull,
)
from tests.fakes.github_graphql import query_cost

REPLAY = Path(__file__).resolve().parent.parent / "fixtures" / "github"  # see its NOTICE


@cache
def exchanges(name: str) -> list[tuple[str, Any]]:
    """(path, JSON body) of each recorded exchange: 10 lines each, the body last."""
    lines = (REPLAY / name).read_text().split("\n")
    out = []
    for i, line in enumerate(lines):
        if line in ("http", "https") and i + 9 < len(lines) and lines[i + 1] in ("GET", "POST", "PATCH", "PUT"):
            out.append((lines[i + 4], json.loads(lines[i + 9])))
    return out


def body(name: str, path: str) -> Any:
    return copy.deepcopy(next(b for p, b in exchanges(name) if p == path))


def test_merged_pull_with_commits_from_the_recording() -> None:
    raw = body("PullRequest.setUp.txt", "/repos/PyGithub/PyGithub/pulls/31")
    raw["_dmt"] = {"commits": body("PullRequest.testGetCommits.txt", "/repos/PyGithub/PyGithub/pulls/31/commits")}
    pr = normalize_github_pull(raw)
    assert pr["source_pr_id"] == "1436215" and pr["number"] == 31
    assert pr["repository"] == "PyGithub/PyGithub"
    assert pr["state"] == "merged"
    assert pr["merged_at"] == datetime(2012, 5, 27, 10, 29, 7, tzinfo=UTC)
    assert pr["author_login"] == "jacquev6"
    assert pr["author_email"] == "vincent@vincent-jacques.net" and pr["author_name"] == "Vincent Jacques"
    assert pr["additions"] == 511 and pr["commits_count"] == 3
    assert pr["comments_count"] == 1 + 2  # no fetched comments: the PR's own counters
    assert pr["url"] == "https://github.com/PyGithub/PyGithub/pull/31"
    assert pr["first_review_at"] is None and pr["review_count"] == 0
    assert pr["dmt_signoff"] is False and pr["linked_keys"] == []


def test_closed_unmerged_open_and_draft_states() -> None:
    closed = normalize_github_pull(body("PullRequest.setUp.txt", "/repos/MarcoFalke/PyGithub/pulls/1"))
    opened = body("PullRequest.setUp.txt", "/repos/FlorentClarret/PyGithub/pulls/2")
    assert closed["state"] == "closed" and closed["closed_at"] is not None and closed["merged_at"] is None
    assert normalize_github_pull(opened)["state"] == "open"
    opened["draft"] = True
    assert normalize_github_pull(opened)["is_draft"] is True


def test_old_list_elements_without_head_and_base_are_tolerated() -> None:
    for pull in body("Repository.testGetPulls.txt", "/repos/PyGithub/PyGithub/pulls"):
        pr = normalize_github_pull(pull)
        assert pr["number"] == 32 and pr["state"] == "open"
        assert pr["repository"] == "PyGithub/PyGithub"


def test_every_pull_of_a_30_item_list_page_normalises() -> None:
    pulls = body(
        "Issue131.testGetPullsWithOrgHeadUser.txt", "/repos/openmicroscopy/ome-documentation/pulls?state=closed"
    )
    prs = [normalize_github_pull(p) for p in pulls]
    assert len(prs) == 30
    assert {p["state"] for p in prs} <= {"merged", "closed"}
    assert all(p["created_at_source"].tzinfo is UTC for p in prs)


def test_reviews_from_the_recording_give_first_review_and_approval() -> None:
    raw = body("PullRequest.setUp.txt", "/repos/PyGithub/PyGithub/pulls/31")
    reviews = body("PullRequestReview.testAttributes.txt", "/repos/PyGithub/PyGithub/pulls/538/reviews")
    reviews.append({**reviews[1], "id": 1, "state": "PENDING", "submitted_at": None})
    raw["_dmt"] = {"reviews": reviews, "comments": []}
    pr = normalize_github_pull(raw)
    assert pr["review_count"] == 5
    assert pr["first_review_at"] == datetime(2017, 3, 22, 19, 6, 59, tzinfo=UTC)
    assert pr["approved_at"] == datetime(2017, 3, 22, 19, 6, 59, tzinfo=UTC)
    assert pr["approvals_count"] == 1
    states = {r["login"]: r["state"] for r in pr["reviewers"]}
    assert states == {"jzelinskie": "APPROVED", "electrofelix": "COMMENTED", "sfdye": "COMMENTED"}
    assert pr["comments_count"] == 2  # review comments counter; no issue comments


def test_author_reviews_do_not_count_and_changes_requested_overrides_approval() -> None:
    user = {"login": "alice"}
    raw = {
        "id": 1,
        "number": 7,
        "title": "ACME-12 add login tests",
        "state": "open",
        "user": user,
        "head": {"ref": "feature/ACME-12-login", "sha": "abc"},
        "base": {"ref": "main"},
        "_dmt": {
            "repository": "acme/shop",
            "reviews": [
                {"user": user, "state": "COMMENTED", "submitted_at": "2024-01-01T08:00:00Z", "body": ""},
                {
                    "user": {"login": "bob"},
                    "state": "APPROVED",
                    "submitted_at": "2024-01-02T10:00:00+02:00",
                    "body": "",
                },
                {
                    "user": {"login": "bob"},
                    "state": "CHANGES_REQUESTED",
                    "submitted_at": "2024-01-03T10:00:00Z",
                    "body": "",
                },
                {"user": {"login": "bob"}, "state": "COMMENTED", "submitted_at": "2024-01-04T10:00:00Z", "body": "nit"},
            ],
            "comments": [
                {"user": user, "body": "DMT-OK", "created_at": "2024-01-01T09:00:00Z"},
                {"user": {"login": "carol"}, "body": "Looks fine. dmt-ok", "created_at": "2024-01-05T09:00:00Z"},
                {"user": {"login": "dave"}, "body": "DMT-OKAY?", "created_at": "2024-01-04T09:00:00Z"},
            ],
        },
    }
    pr = normalize_github_pull(raw, PullRequestOptions.of({"project_keys": ["ACME"]}))
    assert pr["first_review_at"] == datetime(2024, 1, 2, 8, 0, tzinfo=UTC)
    assert pr["approvals_count"] == 0 and pr["approved_at"] is None
    assert pr["reviewers"] == [
        {
            "login": "bob",
            "name": None,
            "email": None,
            "state": "CHANGES_REQUESTED",
            "submitted_at": "2024-01-04T10:00:00+00:00",
        }
    ]
    assert pr["dmt_signoff"] is True and pr["dmt_signoff_by"] == "carol"  # the author's own marker does not count
    assert pr["linked_keys"] == ["ACME-12"]
    assert pr["comments_count"] == 3


def test_custom_signoff_marker_and_label_signoff() -> None:
    raw = {
        "id": 2,
        "number": 8,
        "state": "open",
        "user": {"login": "a"},
        "labels": [{"name": "dmt-approved"}],
        "_dmt": {"comments": [{"user": {"login": "b"}, "body": "QA-PASS", "created_at": None}]},
    }
    assert normalize_github_pull(raw, PullRequestOptions.of({"signoff_marker": "QA-PASS"}))["dmt_signoff_by"] == "b"
    labelled = normalize_github_pull(raw, PullRequestOptions.of({}, {"dmt_signoff": {"field": "label:dmt-approved"}}))
    assert labelled["dmt_signoff"] is True and labelled["dmt_signoff_by"] is None


def test_ci_status_from_check_runs_and_statuses() -> None:
    runs = [
        {"status": "completed", "conclusion": "success", "html_url": "https://ci/1"},
        {"status": "in_progress", "conclusion": None, "html_url": "https://ci/2"},
    ]
    assert ci_from_checks(runs, None) == ("pending", "https://ci/2")
    status = {"state": "failure", "statuses": [{"state": "error", "target_url": "https://ci/3"}]}
    assert ci_from_checks(runs, status) == ("failure", "https://ci/3")
    assert ci_from_checks([], {"state": "pending", "statuses": []}) == (None, None)
    assert ci_from_checks(runs[:1], {"statuses": []}) == ("success", "https://ci/1")


def test_strings_for_numbers_and_missing_fields() -> None:
    pr = normalize_github_pull({"id": "99", "number": "12", "additions": "7", "user": None, "state": None})
    assert pr["number"] == 12 and pr["additions"] == 7 and pr["author_login"] is None
    assert pr["state"] == "open" and pr["title"] == "" and pr["reviewers"] == []


@pytest.mark.parametrize("raw", [{}, {"id": 1}, {"number": 3}, ["x"]])
def test_malformed_records_raise_data_error(raw: Any) -> None:
    with pytest.raises(SourceDataError):
        normalize_github_pull(raw)


# --------------------------------------------------------------------------- the GraphQL path's mapping
def graphql_pull(**changes: Any) -> dict[str, Any]:
    node = {
        "id": "PR_kwDOA1",
        "fullDatabaseId": "2147483659",
        "number": 9,
        "title": "ACME-3 add login tests",
        "body": "",
        "url": "https://github.com/acme/shop/pull/9",
        "state": "MERGED",
        "isDraft": False,
        "createdAt": "2024-03-01T10:00:00Z",
        "updatedAt": "2024-03-02T10:00:00Z",
        "closedAt": "2024-03-02T09:00:00Z",
        "mergedAt": "2024-03-02T09:00:00Z",
        "additions": 12,
        "deletions": 3,
        "changedFiles": 2,
        "headRefName": "feature/ACME-3",
        "headRefOid": "abc",
        "baseRefName": "main",
        "author": {"__typename": "User", "login": "alice"},
        "comments": {"totalCount": 1},
        "commits": {"totalCount": 1},
    }
    return {**node, **changes}


def graphql_lists(**changes: Any) -> dict[str, list[Any]]:
    lists: dict[str, list[Any]] = {
        "labels": [{"name": "dmt-approved"}],
        "reviewRequests": [
            {"requestedReviewer": {"__typename": "Team", "slug": "qa", "name": "QA"}},
            {"requestedReviewer": {"__typename": "User", "login": "carol"}},
        ],
        "reviews": [
            {
                "author": {"__typename": "Bot", "login": "renovate"},
                "state": "COMMENTED",
                "body": "",
                "submittedAt": "2024-03-01T11:00:00Z",
                "comments": {"totalCount": 2},
            },
            {
                "author": {"__typename": "User", "login": "bob"},
                "state": "APPROVED",
                "body": "DMT-OK",
                "submittedAt": "2024-03-01T12:00:00Z",
                "comments": {"totalCount": 1},
            },
            {
                "author": {"login": "bob"},
                "state": "PENDING",
                "body": "",
                "submittedAt": None,
                "comments": {"totalCount": 5},
            },
        ],
        "comments": [
            {"author": {"__typename": "User", "login": "bob"}, "body": "ok", "createdAt": "2024-03-01T13:00:00Z"}
        ],
        "commits": [
            {
                "commit": {
                    "oid": "abc",
                    "message": "ACME-4 tests",
                    "author": {"name": "Alice", "email": "alice@acme.example", "user": {"login": "alice"}},
                }
            }
        ],
        "contexts": [
            {"__typename": "StatusContext", "context": "coverage", "state": "EXPECTED", "targetUrl": None},
            {
                "__typename": "CheckRun",
                "name": "build",
                "status": "COMPLETED",
                "conclusion": "SUCCESS",
                "url": "https://ci/1",
            },
        ],
    }
    return {**lists, **changes}


def test_graphql_pull_maps_to_the_rest_shape_the_normaliser_reads() -> None:
    raw = rest_shaped_pull(graphql_pull(), "acme/shop", graphql_lists())
    assert raw["id"] == 2147483659 and raw["state"] == "closed" and raw["body"] is None
    assert raw["requested_teams"] == [{"slug": "qa", "name": "QA"}]
    assert raw["requested_reviewers"] == [{"login": "carol", "type": "User"}]
    assert raw["_dmt"]["check_runs"][0]["conclusion"] == "success"
    assert raw["_dmt"]["status"]["statuses"][0]["state"] == "pending"  # required but not reported yet
    pr = normalize_github_pull(raw, PullRequestOptions.of({"project_keys": ["ACME"]}))
    assert pr["source_pr_id"] == "2147483659" and pr["state"] == "merged"
    assert {r["login"] for r in pr["reviewers"]} == {"renovate[bot]", "bob"}  # REST's name for a bot
    assert pr["comments_count"] == 1 + 2 + 1  # issue comments and published review comments, not pending ones
    assert (pr["additions"], pr["deletions"], pr["commits_count"]) == (12, 3, 1)
    assert (pr["ci_status"], pr["ci_url"]) == ("pending", None)
    assert pr["dmt_signoff_by"] == "bob" and pr["linked_keys"] == ["ACME-3", "ACME-4"]
    assert pr["author_email"] == "alice@acme.example"


def test_graphql_pull_without_id_is_a_data_error() -> None:
    with pytest.raises(SourceDataError):
        rest_shaped_pull(graphql_pull(fullDatabaseId=None), "acme/shop", graphql_lists())


def test_graphql_endpoint_for_github_com_and_enterprise_server() -> None:
    assert graphql_endpoint("https://api.github.com") == "https://api.github.com/graphql"
    assert graphql_endpoint("https://ghe.acme.com/api/v3/") == "https://ghe.acme.com/api/graphql"
    assert graphql_endpoint("http://127.0.0.1:9000/github") == "http://127.0.0.1:9000/github/graphql"


@pytest.mark.parametrize("page_size", [1, 10, 50, 100])
def test_estimated_page_cost_is_githubs_cost_of_the_query(page_size: int) -> None:
    variables = {"owner": "acme", "name": "shop", "first": page_size, "after": None}
    assert query_cost(parse(PULL_REQUEST_PAGE_QUERY), None, variables)[0] == estimated_page_cost(page_size)
    assert estimated_page_cost(100) <= 17  # 100 PRs a page: 10,000 PRs in 1,700 of the hour's 5,000 points
