"""normalize_github_pull on recorded api.github.com exchanges (PyGithub ReplayData) and odd values."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from etl.connectors.base import PullRequestOptions, SourceDataError
from etl.connectors.github import ci_from_checks, normalize_github_pull

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
