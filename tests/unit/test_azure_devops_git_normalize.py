"""normalize_azure_devops_pull on Microsoft's published payloads and odd values."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from etl.connectors.azure_devops_git import build_as_status, build_pull_request_id, normalize_azure_devops_pull
from etl.connectors.base import PullRequestOptions, SourceDataError

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "azure_devops_git"  # see its NOTICE


def sample(name: str) -> Any:
    return copy.deepcopy(json.loads((SAMPLES / name).read_text())["responses"]["200"]["body"])


def active_pull() -> dict[str, Any]:
    return sample("pullRequests/GET__git_repositories__repositoryId__pullRequests__pullRequestId_.json")


def threads() -> list[dict[str, Any]]:
    return sample("pullRequestThreads/GET__git_repositories__repositoryId__pullRequests__pullRequestId__threads.json")[
        "value"
    ]


def test_active_pull_request_from_the_docs() -> None:
    pr = normalize_azure_devops_pull(active_pull())
    assert pr["source_pr_id"] == "22" and pr["number"] == 22
    assert pr["repository"] == "2016_10_31"
    assert pr["state"] == "open" and pr["merged_at"] is None and pr["closed_at"] is None
    assert pr["source_branch"] == "npaulk/my_work" and pr["target_branch"] == "new_feature"
    assert pr["author_login"] == "fabrikamfiber16@hotmail.com" and pr["author_name"] == "Normal Paulk"
    assert pr["author_email"] == "fabrikamfiber16@hotmail.com"
    assert pr["created_at_source"] == datetime(2016, 11, 1, 16, 30, 31, 665547, tzinfo=UTC)
    assert pr["url"] == "https://dev.azure.com/fabrikam/2016_10_31/_git/2016_10_31/pullrequest/22"
    assert pr["reviewers"] == []  # the only reviewer is the author


def test_completed_pull_request_is_merged_at_its_closed_date() -> None:
    raw = sample("pullRequests/GET__git_repositories__repositoryId__pullRequests_status-completed.json")["value"][0]
    pr = normalize_azure_devops_pull(raw)
    assert pr["state"] == "merged"
    assert pr["merged_at"] == pr["closed_at"] == datetime(2016, 11, 1, 16, 30, 2, 41391, tzinfo=UTC)
    assert pr["approvals_count"] == 0  # the author's own vote of 10 is no review


def test_every_listed_pull_request_normalises() -> None:
    for name in (
        "pullRequests/GET__git_repositories__repositoryId__pullRequests.json",
        "pullRequests/GET__git_pullRequests.json",
    ):
        for raw in sample(name)["value"]:
            pr = normalize_azure_devops_pull(raw)
            assert pr["state"] in {"open", "merged", "closed"} and pr["created_at_source"].tzinfo is UTC


def test_threads_from_the_docs_by_the_author_are_no_review() -> None:
    raw = active_pull()
    raw["_dmt"] = {"threads": threads(), "work_items": [], "statuses": [], "commits": None}
    pr = normalize_azure_devops_pull(raw)
    assert pr["first_review_at"] is None  # every human comment and the vote are the author's
    assert pr["comments_count"] == 2  # text comments, the deleted reply excluded
    assert pr["updated_at_source"] == datetime(2016, 11, 1, 16, 30, 52, 480000, tzinfo=UTC)


def test_threads_by_another_reviewer_give_first_review_approval_and_signoff() -> None:
    raw = active_pull()
    reviewer = {"id": "aaaa-1", "displayName": "Johnnie McLeod", "uniqueName": "johnnie@fabrikam.example"}
    raw["reviewers"].append({**reviewer, "vote": 10, "isRequired": True})
    raw["reviewers"].append(
        {
            "id": "bbbb-2",
            "displayName": "[Fabrikam]\\Reviewers",
            "uniqueName": "vstfs:///g",
            "vote": 0,
            "isContainer": True,
        }
    )
    extra = copy.deepcopy(threads())
    vote = copy.deepcopy(next(t for t in extra if t["id"] == 143))
    vote["id"], vote["publishedDate"] = 150, "2016-11-02T09:00:00Z"
    vote["properties"]["CodeReviewVotedByTfId"]["$value"] = "aaaa-1"
    comment = copy.deepcopy(extra[-1])
    comment["id"] = 151
    comment["comments"] = [
        {
            **comment["comments"][0],
            "author": reviewer,
            "content": "Tests look good. DMT-OK",
            "publishedDate": "2016-11-02T08:00:00+01:00",
        }
    ]
    raw["_dmt"] = {
        "threads": [*extra, vote, comment],
        "work_items": [{"id": "12", "url": "https://dev.azure.com/fabrikam/_apis/wit/workItems/12"}],
        "statuses": [
            {
                "id": 1,
                "state": "failed",
                "context": {"name": "build", "genre": "ci"},
                "targetUrl": "https://ci/1",
                "creationDate": "2016-11-01T17:00:00Z",
            },
            {
                "id": 2,
                "state": "succeeded",
                "context": {"name": "build", "genre": "ci"},
                "targetUrl": "https://ci/2",
                "creationDate": "2016-11-01T18:00:00Z",
            },
            {"id": 3, "state": "notApplicable", "context": {"name": "policy", "genre": "x"}},
        ],
        "commits": [
            {
                "commitId": "abc",
                "comment": "AB#7 fix ACME-4",
                "author": {"name": "Normal Paulk", "email": "n@x.example"},
            }
        ],
    }
    raw["title"] = "ACME-3 new feature"
    pr = normalize_azure_devops_pull(raw, PullRequestOptions.of({"project_keys": ["ACME"]}))
    assert pr["first_review_at"] == datetime(2016, 11, 2, 7, 0, tzinfo=UTC)
    assert pr["approved_at"] == datetime(2016, 11, 2, 9, 0, tzinfo=UTC)
    assert pr["approvals_count"] == 1 and pr["review_count"] == 1
    assert pr["reviewers"][0]["state"] == "APPROVED" and pr["reviewers"][0]["email"] == "johnnie@fabrikam.example"
    assert pr["dmt_signoff"] and pr["dmt_signoff_by"] == "Johnnie McLeod"
    assert pr["ci_status"] == "success" and pr["ci_url"] == "https://ci/2"  # the latest status per context wins
    assert pr["linked_keys"] == ["ACME-3", "AB#7", "ACME-4", "AB#12"]
    assert pr["commits_count"] == 1


@pytest.mark.parametrize("shape", ["tf_id", "identity"])
def test_a_vote_thread_names_its_voter_by_tf_id_or_through_its_identities_map(shape: str) -> None:
    raw = active_pull()
    reviewer = {"id": "aaaa-1", "displayName": "Johnnie McLeod", "uniqueName": "johnnie@fabrikam.example"}
    raw["reviewers"].append({**reviewer, "vote": 10})
    vote = copy.deepcopy(next(t for t in threads() if t["id"] == 143))
    vote["publishedDate"] = "2016-11-02T09:00:00Z"
    if shape == "identity":  # as real organisations send it: a key into the thread's identities map
        del vote["properties"]["CodeReviewVotedByTfId"]
        vote["properties"]["CodeReviewVotedByIdentity"] = {"$type": "System.String", "$value": "1"}
        vote["identities"] = {"1": reviewer}
    else:
        vote["properties"]["CodeReviewVotedByTfId"]["$value"] = "aaaa-1"
    raw["_dmt"] = {"threads": [vote], "work_items": [], "statuses": [], "commits": None}
    pr = normalize_azure_devops_pull(raw)
    assert pr["first_review_at"] == pr["approved_at"] == datetime(2016, 11, 2, 9, 0, tzinfo=UTC)
    assert pr["reviewers"][-1]["submitted_at"] == "2016-11-02T09:00:00+00:00"


def test_a_vote_thread_whose_identity_key_is_missing_counts_no_vote() -> None:
    raw = active_pull()
    vote = copy.deepcopy(next(t for t in threads() if t["id"] == 143))
    del vote["properties"]["CodeReviewVotedByTfId"]
    vote["properties"]["CodeReviewVotedByIdentity"] = {"$type": "System.String", "$value": "7"}
    vote["identities"] = {"1": {"id": "x"}}
    raw["_dmt"] = {"threads": [vote], "work_items": [], "statuses": [], "commits": None}
    assert normalize_azure_devops_pull(raw)["first_review_at"] is None


@pytest.mark.parametrize(
    ("vote", "state"),
    [(5, "APPROVED_WITH_SUGGESTIONS"), (-5, "WAITING_FOR_AUTHOR"), (-10, "REJECTED"), ("10", "APPROVED")],
)
def test_vote_values(vote: Any, state: str) -> None:
    raw = {
        "pullRequestId": "5",
        "status": "abandoned",
        "closedDate": "2024-01-01T00:00:00Z",
        "reviewers": [{"id": "r", "uniqueName": "r@x.example", "displayName": "R", "vote": vote}],
    }
    pr = normalize_azure_devops_pull(raw)
    assert pr["reviewers"][0]["state"] == state and pr["state"] == "closed" and pr["merged_at"] is None
    assert pr["approvals_count"] == (1 if state.startswith("APPROVED") else 0)


@pytest.mark.parametrize("raw", [{}, {"pullRequestId": None}, "x"])
def test_malformed_records_raise_data_error(raw: Any) -> None:
    with pytest.raises(SourceDataError):
        normalize_azure_devops_pull(raw)


def test_a_pull_request_build_becomes_a_status_entry_the_normaliser_reads() -> None:
    build = {
        "id": 5123,
        "buildNumber": "20250301.4",
        "status": "completed",
        "result": "partiallySucceeded",
        "queueTime": "2025-03-01T10:00:00Z",
        "finishTime": "2025-03-01T10:12:00Z",
        "sourceBranch": "refs/pull/22/merge",
        "definition": {"id": 3, "name": "PR validation"},
        "_links": {"web": {"href": "https://dev.azure.com/fabrikam/web/_build/results?buildId=5123"}},
    }
    assert build_pull_request_id(build) == 22
    assert build_pull_request_id({**build, "triggerInfo": {"pr.number": "31"}}) == 31
    assert build_pull_request_id({"sourceBranch": "refs/heads/main"}) is None
    raw = active_pull()
    raw["_dmt"] = {"threads": [], "work_items": [], "statuses": [build_as_status(build)], "commits": None}
    pr = normalize_azure_devops_pull(raw)
    assert pr["ci_status"] == "success" and pr["ci_url"].endswith("buildId=5123")
    running = build_as_status({**build, "status": "inProgress", "result": None})
    assert running["state"] == "pending"
