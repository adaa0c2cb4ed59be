"""The company dashboard's charts: ComplianceGauge, PredictionCard and the current sprint's burndown.

The gauge shows the same figure as the dashboard's "DMT compliance" card (the
current sprint's compliance rate, `etl.metrics`), against the project's own
compliance target (`Project.compliance_target`, set in the admin portal); the
prediction card reads the stored forecasts (`services.dashboards.forecasts`);
the burndown is the one the sprint's own page shows (`team.sprint_burn`).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from models.db import tenant_session
from models.public import DEFAULT_COMPLIANCE_TARGET
from services.auth import CurrentUser
from services.dashboards.common import TREND_WINDOW, _iso, require_project
from services.dashboards.forecasts import ForecastCard, forecast_card
from services.dashboards.item_lists import _get_sprint
from services.dashboards.shapes import BurnPoint
from services.dashboards.sprint_rows import _current_index, _sprint_rows
from services.dashboards.team import sprint_burn

#: The target of a gauge that has no project behind it; a project's own is `Project.compliance_target`.
COMPLIANCE_TARGET = DEFAULT_COMPLIANCE_TARGET
#: The yellow band's width in percentage points: below the target but within it, yellow; further below, red.
#: A fixed width (not a share of the target) keeps "how far off" the same on every project: 90 -> 75 as before.
COMPLIANCE_WARNING_BAND = 15.0


def compliance_warning(target: float) -> float:
    """Where the yellow band of a `target` ends: target - 15 percentage points, never below 0."""
    return max(0.0, round(target - COMPLIANCE_WARNING_BAND, 1))


class ComplianceGauge(BaseModel):
    """A compliance rate against the target, with its band (green, yellow, red; grey without judged items)."""

    sprint_id: int | None = None
    sprint_name: str = ""
    value: float | None = None  # percent, one decimal (the KPI card's figure)
    previous: float | None = None  # average of up to three sprints before, percent
    delta: float | None = None  # value - that average, in percentage points (the KPI card's change)
    target: float = COMPLIANCE_TARGET  # the project's compliance target, percent
    warning: float = Field(default_factory=lambda: compliance_warning(COMPLIANCE_TARGET))
    status: str = "none"  # green, yellow, red, none
    label: str = ""


class SprintBurndown(BaseModel):
    """The current sprint's burndown: remaining points per day against the ideal line."""

    sprint_id: int | None = None
    sprint_name: str = ""
    state: str = ""
    start: str = ""
    end: str = ""
    scope: float = 0.0
    item_count: int = 0
    burn: list[BurnPoint] = Field(default_factory=list)
    empty_message: str = ""


class DashboardCharts(BaseModel):
    project_id: int
    gauge: ComplianceGauge = Field(default_factory=ComplianceGauge)
    forecast: ForecastCard
    burndown: SprintBurndown = Field(default_factory=SprintBurndown)


def compliance_status(value: float | None, target: float = COMPLIANCE_TARGET, warning: float | None = None) -> str:
    """green at or above the target, yellow at or above the warning level (default: the target's), red below.

    none without a value.
    """
    if value is None:
        return "none"
    if value >= target:
        return "green"
    return "yellow" if value >= (compliance_warning(target) if warning is None else warning) else "red"


def _gauge_label(status: str, value: float | None, target: float) -> str:
    if value is None:
        return "No done item judged in this sprint yet"
    if status == "green":
        return "On target"
    gap = round(target - value, 1)  # the rate's own rounding (one decimal)
    return f"{gap:g} pp below the {target:g}% target"


def dashboard_charts(user: CurrentUser, project_id: int) -> DashboardCharts:
    """Gauge, prediction card and burndown of the project's current sprint (active, else the latest started)."""
    project = require_project(user, project_id)
    target = project.compliance_target
    gauge, burndown = ComplianceGauge(target=target, warning=compliance_warning(target)), SprintBurndown()
    with tenant_session(user.tenant_slug or "") as session:
        points = _sprint_rows(session, project_id)
        idx = _current_index(points)
        if idx is None:
            burndown.empty_message = "No sprints yet: ask your admin to add a data source and run a sync."
        else:
            cur = points[idx]
            previous = [
                p.compliance_rate for p in points[max(0, idx - TREND_WINDOW) : idx] if p.compliance_rate is not None
            ]
            status = compliance_status(cur.compliance_rate, target)
            average = sum(previous) / len(previous) if previous else None
            delta = (round(cur.compliance_rate - average, 1) + 0.0
                     if cur.compliance_rate is not None and average is not None else None)  # fmt: skip
            gauge = ComplianceGauge(
                sprint_id=cur.sprint_id, sprint_name=cur.sprint_name, value=cur.compliance_rate,
                previous=round(average, 1) if average is not None else None, delta=delta, status=status,
                target=target, warning=compliance_warning(target), label=_gauge_label(status, cur.compliance_rate, target),
            )  # fmt: skip
            sprint = _get_sprint(session, project_id, cur.sprint_id)
            burn, items = sprint_burn(session, project_id, sprint)
            burndown = SprintBurndown(
                sprint_id=cur.sprint_id, sprint_name=cur.sprint_name, state=cur.state, start=_iso(sprint.start_date),
                end=_iso(sprint.end_date), scope=burn[0].scope if burn else 0.0, item_count=items, burn=burn,
            )  # fmt: skip
            if not items:
                burndown.empty_message = "This sprint has no items yet."
            elif not burn:
                burndown.empty_message = "This sprint has no start date, so it has no burndown."
    return DashboardCharts(project_id=project_id, gauge=gauge, forecast=forecast_card(user, project_id),
                           burndown=burndown)  # fmt: skip
