"""Read side of the company portal: KPIs, charts, tables, drill-downs; one module per page family.

Every function takes the authenticated `CurrentUser` (the tenant comes from
it, never from the browser) and a project id that must be one of the user's
projects; anything else is `NotFound`, so ids of other tenants leak nothing.
Sprint and developer figures come from the read models (`sprint_metrics`,
`developer_metrics`) where the metrics job has filled them, and otherwise from
`etl.metrics` computing the same figures live, so a fresh tenant sees the
numbers the job will store.

Modules: `shapes` (the pydantic read models), `common` (project access,
naming per role, rounding), `sprint_rows` (per-sprint figures), `kpi_cards`,
`velocity` (velocity and throughput), `quality_compliance`, `pull_requests`,
`team` (sprint detail and burndown), `item_lists` (drill-down),
`developer_stats` (developers and me), `comparison` (a developer against the
team average), `blocked_items` (items blocked now), `sprint_choice` (the sprint
a request means), `compliance_flags`, `ai_insights`, `forecasts` (the stored
forecasts: prediction card, velocity page), `dashboard_charts` (compliance
gauge, prediction card, current burndown), `cycle_time` (the cycle-time
scatter), `heatmaps` (review wait by weekday x hour, compliance by developer x
sprint).
Callers use the names re-exported here: `from services import dashboards; dashboards.kpis(...)`.
"""

from __future__ import annotations

from core.errors import NotFound, ValidationFailed
from services.dashboards.ai_insights import get_insight, insights, rate_insight
from services.dashboards.blocked_items import BlockedItem, BlockedItems, blocked_items
from services.dashboards.common import (
    DRILL_METRICS,
    FORECAST_KINDS,
    HISTORY_SPRINTS,
    SEVERITY_ORDER,
    TREND_WINDOW,
    _require_company,
    require_project,
    user_projects,
    view_of,
)
from services.dashboards.comparison import (
    DeveloperComparison,
    MetricComparison,
    SprintComparison,
    developer_comparison,
)
from services.dashboards.compliance_flags import RESOLVER_ROLES, can_resolve, get_flag, list_flags, resolve_flag
from services.dashboards.cycle_time import CyclePoint, CycleTimeScatter, cycle_time_scatter
from services.dashboards.dashboard_charts import (
    COMPLIANCE_TARGET,
    COMPLIANCE_WARNING_BAND,
    ComplianceGauge,
    DashboardCharts,
    SprintBurndown,
    compliance_status,
    compliance_warning,
    dashboard_charts,
)
from services.dashboards.developer_stats import developer_detail, developer_options, developers, me
from services.dashboards.forecasts import ForecastCard, forecast_card
from services.dashboards.heatmaps import Heatmap, compliance_heatmap, review_wait_heatmap
from services.dashboards.item_lists import _get_sprint, drill_down, item_drill
from services.dashboards.kpi_cards import kpis
from services.dashboards.pull_requests import REVIEW_BUCKETS, pr_health
from services.dashboards.quality_compliance import compliance_overview, quality
from services.dashboards.shapes import (
    BurnPoint,
    Choice,
    ComplianceOverview,
    DeveloperDetail,
    DeveloperList,
    DeveloperRow,
    DeveloperSprintPoint,
    DrillDown,
    FlagFilters,
    FlagPage,
    FlagRow,
    Forecast,
    Insight,
    ItemRow,
    KpiCard,
    Kpis,
    PrHealth,
    ProjectOption,
    PrSprintPoint,
    Quality,
    QualityPoint,
    RepoHealth,
    ReviewBucket,
    RuleCount,
    SprintDetail,
    SprintPoint,
    ThroughputRow,
    ThroughputSeries,
    VelocitySeries,
)
from services.dashboards.sprint_choice import SprintRef, chosen_sprint
from services.dashboards.sprint_rows import one_page_load
from services.dashboards.team import sprint_detail, sprint_options
from services.dashboards.velocity import throughput_series, velocity_series

__all__ = [
    "COMPLIANCE_TARGET",
    "COMPLIANCE_WARNING_BAND",
    "DRILL_METRICS",
    "FORECAST_KINDS",
    "HISTORY_SPRINTS",
    "RESOLVER_ROLES",
    "REVIEW_BUCKETS",
    "SEVERITY_ORDER",
    "TREND_WINDOW",
    "BlockedItem",
    "BlockedItems",
    "BurnPoint",
    "Choice",
    "ComplianceGauge",
    "ComplianceOverview",
    "CyclePoint",
    "CycleTimeScatter",
    "DashboardCharts",
    "DeveloperComparison",
    "DeveloperDetail",
    "DeveloperList",
    "DeveloperRow",
    "DeveloperSprintPoint",
    "DrillDown",
    "FlagFilters",
    "FlagPage",
    "FlagRow",
    "Forecast",
    "ForecastCard",
    "Heatmap",
    "Insight",
    "ItemRow",
    "KpiCard",
    "Kpis",
    "MetricComparison",
    "NotFound",
    "PrHealth",
    "PrSprintPoint",
    "ProjectOption",
    "Quality",
    "QualityPoint",
    "RepoHealth",
    "ReviewBucket",
    "RuleCount",
    "SprintBurndown",
    "SprintComparison",
    "SprintDetail",
    "SprintPoint",
    "SprintRef",
    "ThroughputRow",
    "ThroughputSeries",
    "ValidationFailed",
    "VelocitySeries",
    "_get_sprint",
    "_require_company",
    "blocked_items",
    "can_resolve",
    "chosen_sprint",
    "compliance_heatmap",
    "compliance_overview",
    "compliance_status",
    "compliance_warning",
    "cycle_time_scatter",
    "dashboard_charts",
    "developer_comparison",
    "developer_detail",
    "developer_options",
    "developers",
    "drill_down",
    "forecast_card",
    "get_flag",
    "get_insight",
    "insights",
    "item_drill",
    "kpis",
    "list_flags",
    "me",
    "one_page_load",
    "pr_health",
    "quality",
    "rate_insight",
    "require_project",
    "resolve_flag",
    "review_wait_heatmap",
    "sprint_detail",
    "sprint_options",
    "throughput_series",
    "user_projects",
    "velocity_series",
    "view_of",
]
