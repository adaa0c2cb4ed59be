"""`python -m bench backfill --tool azure_devops_git` at a small size: where the requests go."""

from __future__ import annotations

import argparse

from bench.backfill import run


def backfill(fetch_commits: str) -> dict:
    args = argparse.Namespace(
        tool="azure_devops_git", size=90, latency=0.0, graphql_latency=0.0, api="graphql", history="revisions",
        workers=None, fetch_commits=fetch_commits, tstu_per_request=0.01, seed=3,
    )  # fmt: skip
    return run(args)


def by_kind(result: dict) -> dict[str, int]:
    return {path.rsplit("/", 1)[1].lower(): count for path, count in result["endpoints"].items()}


def test_the_backfill_breakdown_is_threads_per_pr_commits_where_no_key_and_bulk_reads() -> None:
    auto = backfill("auto")
    assert auto["records"] == 90 and auto["path"] == "fetch_commits=auto" and auto["budget"]["respected"]
    kinds = by_kind(auto)
    # The fake's data set names no work item in 1 PR in 9 (10 of 90): only those read their commits.
    assert kinds == {"threads": 90, "commits": 10, "pullrequests": 1, "artifacturiquery": 1, "builds": 1,
                     "repositories": 1}  # fmt: skip
    assert auto["requests"] == sum(kinds.values())
    assert "commits" not in by_kind(backfill("false"))
    assert by_kind(backfill("true"))["commits"] == 90
