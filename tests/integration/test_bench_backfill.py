"""`python -m bench backfill`: the request log it judges budgets from, and one small run end to end."""

from __future__ import annotations

import argparse

import pytest

from bench.backfill import budget, endpoint_kind, peak_in_window, run


def test_peak_in_window_counts_the_busiest_stretch() -> None:
    times = [0.0, 10.0, 20.0, 59.0, 61.0, 62.0, 200.0]
    assert peak_in_window(times, 60) == 5  # 10, 20, 59, 61, 62
    assert peak_in_window(times, 1.5) == 2
    assert peak_in_window(times, 60, weights=[1, 1, 1, 1, 1, 10, 1]) == 14
    assert peak_in_window([], 60) == 0


def test_budgets_are_judged_per_provider() -> None:
    clickup_log = [[float(i) * 0.5, "GET", "/api/v2/team/1/task"] for i in range(101)]  # 101 in 50 s
    assert budget("clickup", clickup_log, {}, 0.01)["respected"] is False
    assert budget("clickup", clickup_log[:100], {}, 0.01)["respected"] is True
    github = budget(
        "github", [[0.0, "POST", "/graphql"], [1.0, "GET", "/repos/a/b/pulls"]], {"graphql_points": 4999}, 0
    )
    assert github["peak_points_per_hour"] == 5000 and github["respected"] is True
    azure = budget("azure_devops_git", [[float(i) / 100, "GET", "/x"] for i in range(20_001)], {}, 0.01)
    assert azure["respected"] is False and azure["peak_tstu_per_5_minutes"] == 200.01
    assert (
        endpoint_kind("/acme/Fabrikam/_apis/wit/workItems/12/updates")
        == "/acme/Fabrikam/_apis/wit/workItems/{id}/updates"
    )


@pytest.mark.parametrize("tool", ["azure_boards", "clickup"])
def test_a_small_backfill_reports_requests_per_record_and_the_budget(tool: str) -> None:
    args = argparse.Namespace(
        tool=tool, size=60, latency=0.0, graphql_latency=0.0, api="graphql", history="revisions",
        workers=None, tstu_per_request=0.01, seed=3,
    )  # fmt: skip
    result = run(args)
    assert result["records"] == 60 and result["requests"] > 0
    assert result["requests_per_1000_records"] == round(result["requests"] * 1000 / 60, 1)
    assert result["budget"]["respected"] is True
    assert result["goal"]["applies"] is False  # only at 10,000 records and 300 ms
    assert sum(result["endpoints"].values()) <= result["requests"]
