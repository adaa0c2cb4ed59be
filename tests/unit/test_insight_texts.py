"""The local provider's insights read like the pages: figures with at most one decimal, rules and people in words."""

from __future__ import annotations

import re

from etl.forecast import trend, velocity_range
from etl.insights import LocalProvider


def _statistics() -> dict:
    velocities = [101.94, 96.5, 110.25, 104.0, 99.75, 108.5]
    forecast = velocity_range(velocities)
    assert forecast is not None
    sprint = {
        "committed_points": 120.0, "completed_points": 104.0, "throughput": 20, "avg_cycle_time_days": 5.4567,
        "avg_lead_time_days": 9.1, "blocked_days": 34.5512, "defect_density": 2.1, "pr_review_rate": 0.8333,
        "hours_to_first_review": 26.789, "compliance_rate": 0.689, "open_critical_flags": 2,
    }  # fmt: skip
    return {
        "sprints": [dict(sprint, sprint=f"sprint_{i - 5}") for i in range(6)],
        "velocity_trend": trend(velocities).__dict__,
        "velocity_forecast": forecast.__dict__,
        "developers": [
            {"developer": "developer_1", "items_completed": 30, "points_completed": 160.456, "avg_cycle_time_days": 4.0,
             "blocked_days": 12.345, "reviews_given": 0, "prs_merged": 4, "compliance_rate": 0.5333},
            {"developer": "developer_2", "items_completed": 10, "points_completed": 50.0, "avg_cycle_time_days": 3.0,
             "blocked_days": 0.0, "reviews_given": 3, "prs_merged": 2, "compliance_rate": 0.9},
        ],
        "open_flags": [{"rule": "unit_testing_not_done", "severity": "critical", "count": 43},
                       {"rule": "missing_dmt_signoff", "severity": "medium", "count": 38}],
        "items": {"done": 100, "done_compliant": 69, "open": 40, "open_points": 351.0},
    }


def test_local_insights_round_like_the_pages_and_name_things_in_words() -> None:
    insights = LocalProvider().write(_statistics())
    text = " ".join(i.title + " " + i.summary + " " + i.analysis + " " + " ".join(i.actions) for i in insights)
    assert not re.search(r"\d+\.\d{2,}", text), text  # never more than one decimal
    assert "_" not in text  # no rule ids, no developer_1
    assert "Unit testing not done" in text and "Developer 1" in text
    assert "34.6 days" in text and "53.3%" in text and "26.8 hours" in text and "69% of done items" in text
    forecast = _statistics()["velocity_forecast"]
    p50 = f"{round(forecast['p50'], 1):.1f}".removesuffix(".0")
    assert insights[0].title.startswith(f"Next sprint: about {p50} points")
