"""One developer against the team average, in one sprint and over the sprints shown (`/api/developers/{id}/comparison`).

Built from the same figures as the developers list and the developer page, so
the numbers agree with them. "Team average" is the mean over the developers
who finished work in the period (per sprint: in that sprint), as on the
developer page's chart. Names follow the same role rules as everywhere.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from services.auth import CurrentUser
from services.dashboards.common import _round, require_project
from services.dashboards.developer_stats import developer_detail, developers
from services.dashboards.shapes import DeveloperRow, DeveloperSprintPoint
from services.dashboards.sprint_choice import chosen_sprint

#: (metric, label, DeveloperRow field, is a higher value better?)
_TOTAL_METRICS: tuple[tuple[str, str, str, bool], ...] = (
    ("items_completed", "Items completed", "items_completed", True),
    ("points_completed", "Story points completed", "points_completed", True),
    ("avg_cycle_time_days", "Average cycle time (days)", "avg_cycle_time_days", False),
    ("compliance_rate", "DMT compliance (%)", "compliance_rate", True),
    ("defects_completed", "Defects fixed", "defects_completed", True),
    ("prs_merged", "Pull requests merged", "prs_merged", True),
    ("reviews_given", "Reviews given", "reviews_given", True),
)
#: (metric, label, developer field, team-average field, is a higher value better?) of one sprint.
_SPRINT_METRICS: tuple[tuple[str, str, str, str, bool], ...] = (
    ("items_completed", "Items completed", "items", "team_avg_items", True),
    ("points_completed", "Story points completed", "points", "team_avg_points", True),
    ("avg_cycle_time_days", "Average cycle time (days)", "avg_cycle_time_days", "team_avg_cycle_time_days", False),
    ("compliance_rate", "DMT compliance (%)", "compliance_rate", "team_avg_compliance_rate", True),
)


class MetricComparison(BaseModel):
    metric: str
    label: str
    developer: float | None = None
    team_average: float | None = None
    difference: float | None = Field(default=None, description="developer minus team average")
    difference_percent: float | None = Field(default=None, description="difference as a percent of the average")
    better: bool | None = Field(default=None, description="is the developer's figure better than the average?")


class SprintComparison(BaseModel):
    sprint_id: int
    sprint_name: str
    metrics: list[MetricComparison] = Field(default_factory=list)


class DeveloperComparison(BaseModel):
    project_id: int
    identity_id: int
    name: str
    is_me: bool = False
    team_size: int = Field(default=0, description="developers with finished work in the sprints shown")
    overall: list[MetricComparison] = Field(default_factory=list, description="totals over the sprints shown")
    sprint: SprintComparison | None = Field(default=None, description="the chosen (default: current) sprint")
    series: list[DeveloperSprintPoint] = Field(default_factory=list, description="per sprint, with team averages")
    empty_message: str = ""


def _compare(metric: str, label: str, mine: float | None, average: float | None, higher_is_better: bool) -> MetricComparison:
    result = MetricComparison(metric=metric, label=label, developer=_round(mine), team_average=_round(average))
    if mine is None or average is None:
        return result
    result.difference = _round(mine - average)
    result.difference_percent = _round(100.0 * (mine - average) / average) if average else None
    if mine != average:
        result.better = (mine > average) == higher_is_better
    return result


def _mean(rows: list[DeveloperRow], field: str) -> float | None:
    values = [float(v) for v in (getattr(r, field) for r in rows) if v is not None]
    return sum(values) / len(values) if values else None


def developer_comparison(
    user: CurrentUser, project_id: int, identity_id: int, sprint_id: int | None = None
) -> DeveloperComparison:
    """A developer's figures next to the team average: over the sprints shown, and in one sprint."""
    require_project(user, project_id)
    detail = developer_detail(user, project_id, identity_id)
    team = [d for d in developers(user, project_id).developers if d.sprints_active]
    result = DeveloperComparison(
        project_id=project_id,
        identity_id=identity_id,
        name=detail.name,
        is_me=detail.is_me,
        team_size=len(team),
        series=detail.series,
    )
    if detail.totals is not None:
        result.overall = [
            _compare(metric, label, getattr(detail.totals, field), _mean(team, field), better)
            for metric, label, field, better in _TOTAL_METRICS
        ]
    else:
        result.empty_message = detail.empty_message or "No completed work for this developer in this project yet."
    chosen = chosen_sprint(user, project_id, sprint_id)
    if chosen is not None:
        point = next((p for p in detail.series if p.sprint_id == chosen.id), None)
        result.sprint = SprintComparison(sprint_id=chosen.id, sprint_name=chosen.name)
        if point is not None:
            result.sprint.metrics = [
                _compare(metric, label, getattr(point, mine), getattr(point, avg), better)
                for metric, label, mine, avg, better in _SPRINT_METRICS
            ]
    return result
