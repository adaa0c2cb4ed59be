"""Shapes of the company portal's read models (pydantic models returned by services.dashboards)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from etl.rules import rule_title


class ProjectOption(BaseModel):
    id: int
    key: str
    name: str
    role: str


class KpiCard(BaseModel):
    key: str
    label: str
    value: float | None = None
    display: str = "-"
    unit: str = ""
    previous: float | None = None
    delta: float | None = None
    delta_display: str = ""
    direction: str = "none"  # up, down, flat, none
    good: bool | None = None  # is the change good news?
    hint: str = ""
    drill_metric: str = ""  # drill_down() metric listing the items behind the value


class Kpis(BaseModel):
    project_id: int
    sprint_id: int | None = None
    sprint_name: str = ""
    sprint_state: str = ""
    cards: list[KpiCard] = Field(default_factory=list)
    has_data: bool = False
    empty_message: str = ""


class SprintPoint(BaseModel):
    sprint_id: int
    sprint_name: str
    state: str
    start: str = ""
    end: str = ""
    committed_points: float = 0.0
    completed_points: float = 0.0
    committed_items: int = 0
    completed_items: int = 0
    avg_cycle_time_days: float | None = None
    blocked_items: int = 0
    defects: int = 0
    defect_density: float | None = None
    compliance_rate: float | None = None  # percent
    open_flags: int = 0
    open_critical_flags: int = 0
    prs_merged: int = 0
    avg_time_to_first_review_hours: float | None = None
    pr_review_rate: float | None = None  # percent
    avg_merge_time_hours: float | None = None
    throughput_by_type: dict[str, int] = Field(default_factory=dict)


class Forecast(BaseModel):
    label: str = "next sprint"
    p50: float | None = None
    p85: float | None = None
    source: str = "none"  # prediction (stored by the worker), live (same Monte Carlo, not stored yet), none
    note: str = ""
    p50_text: str = ""  # backlog forecasts: finish dates
    p85_text: str = ""


class VelocitySeries(BaseModel):
    project_id: int
    points: list[SprintPoint] = Field(default_factory=list)
    forecast: Forecast = Field(default_factory=Forecast)
    backlog_forecast: Forecast = Field(default_factory=Forecast)
    calibration_text: str = ""  # "11 of 13 past sprints reached their P85 forecast"
    average_velocity: float | None = None
    empty_message: str = ""


class ThroughputRow(BaseModel):
    sprint_id: int
    sprint_name: str
    total: int = 0
    story: int = 0
    bug: int = 0
    task: int = 0
    other: int = 0


class ThroughputSeries(BaseModel):
    project_id: int
    rows: list[ThroughputRow] = Field(default_factory=list)
    types: list[str] = Field(default_factory=list)
    average: float | None = None
    empty_message: str = ""


class RuleCount(BaseModel):
    rule_id: str
    severity: str
    title: str = ""  # the rule in words (etl.rules.rule_title)
    open: int
    resolved: int


class QualityPoint(BaseModel):
    sprint_id: int
    sprint_name: str
    defects: int = 0
    defect_density: float | None = None
    compliance_rate: float | None = None
    open_flags: int = 0


class Quality(BaseModel):
    project_id: int
    series: list[QualityPoint] = Field(default_factory=list)
    flags_by_rule: list[RuleCount] = Field(default_factory=list)
    flags_by_severity: dict[str, int] = Field(default_factory=dict)
    open_flags: int = 0
    compliance_rate: float | None = None
    done_items: int = 0
    compliant_items: int = 0
    judged_items: int = 0
    empty_message: str = ""


class ReviewBucket(BaseModel):
    bucket: str
    count: int


class RepoHealth(BaseModel):
    repository: str
    prs: int = 0
    merged: int = 0
    open: int = 0
    reviewed_share: float | None = None  # percent of merged PRs with a review
    avg_first_review_hours: float | None = None
    median_first_review_hours: float | None = None
    avg_merge_hours: float | None = None


class PrSprintPoint(BaseModel):
    sprint_id: int
    sprint_name: str
    prs_merged: int = 0
    avg_time_to_first_review_hours: float | None = None
    pr_review_rate: float | None = None
    avg_merge_time_hours: float | None = None


class PrHealth(BaseModel):
    project_id: int
    total: int = 0
    merged: int = 0
    open: int = 0
    reviewed_share: float | None = None
    avg_first_review_hours: float | None = None
    median_first_review_hours: float | None = None
    avg_merge_hours: float | None = None
    buckets: list[ReviewBucket] = Field(default_factory=list)
    repositories: list[RepoHealth] = Field(default_factory=list)
    series: list[PrSprintPoint] = Field(default_factory=list)
    empty_message: str = ""


class ItemRow(BaseModel):
    id: int
    key: str
    title: str
    item_type: str
    status: str
    status_category: str
    story_points: float | None = None
    assignee: str
    url: str = ""
    done_at: str = ""
    compliant: str = ""  # yes, no, "" (not judged)
    blocked: bool = False
    open_flags: int = 0
    #: The item's DMT exception that matters now (approved and unexpired, else a waiting request) and its last day.
    exception_status: str = ""
    exception_until: str = ""


class BurnPoint(BaseModel):
    day: str
    remaining: float | None = None  # None on days still to come
    ideal: float
    done: float | None = None
    scope: float


class SprintDetail(BaseModel):
    project_id: int
    sprint: SprintPoint
    goal: str = ""
    burn: list[BurnPoint] = Field(default_factory=list)
    items: list[ItemRow] = Field(default_factory=list)
    items_total: int = 0
    sprints: list[SprintPoint] = Field(default_factory=list)  # for the sprint picker
    empty_message: str = ""


class DrillDown(BaseModel):
    project_id: int
    sprint_id: int
    sprint_name: str
    metric: str
    title: str
    items: list[ItemRow] = Field(default_factory=list)
    total: int = 0


class DeveloperRow(BaseModel):
    identity_id: int
    name: str
    is_me: bool = False
    sprints_active: int = 0
    items_completed: int = 0
    points_completed: float = 0.0
    avg_cycle_time_days: float | None = None
    compliance_rate: float | None = None
    defects_completed: int = 0
    prs_merged: int = 0
    reviews_given: int = 0


class DeveloperList(BaseModel):
    project_id: int
    names_visible: bool
    developers: list[DeveloperRow] = Field(default_factory=list)
    empty_message: str = ""


class DeveloperSprintPoint(BaseModel):
    sprint_id: int
    sprint_name: str
    items: int = 0
    points: float = 0.0
    avg_cycle_time_days: float | None = None
    compliance_rate: float | None = None
    team_avg_items: float | None = None
    team_avg_points: float | None = None
    team_avg_cycle_time_days: float | None = None
    team_avg_compliance_rate: float | None = None


class DeveloperDetail(BaseModel):
    project_id: int
    identity_id: int | None = None
    name: str = ""
    is_me: bool = False
    totals: DeveloperRow | None = None
    series: list[DeveloperSprintPoint] = Field(default_factory=list)
    empty_message: str = ""


class FlagRow(BaseModel):
    id: int
    project_id: int
    project_key: str = ""
    rule_id: str
    severity: str
    message: str
    status: str
    item_id: int
    item_key: str = ""
    item_title: str = ""
    item_url: str = ""
    sprint_id: int | None = None
    sprint_name: str = ""
    assignee: str = ""
    opened_at: str = ""
    resolved_at: str = ""
    resolved_by: str = ""
    resolution: str = ""
    #: The item's DMT exception that matters now: an approved, unexpired one, else a waiting request.
    exception_id: int | None = None
    exception_status: str = ""  # approved, requested or ""
    exception_until: str = ""  # the last day it covers
    #: Whether that exception covers this flag's rule.
    exception_covers: bool = False
    #: The rule's name in words, for people ("Coverage below threshold"); filled from rule_id.
    rule_title: str = ""

    def model_post_init(self, _context: object) -> None:
        if not self.rule_title:
            self.rule_title = rule_title(self.rule_id)


class FlagPage(BaseModel):
    items: list[FlagRow] = Field(default_factory=list)
    total: int = 0
    page: int = 1
    page_size: int = 25
    pages: int = 1


class FlagFilters(BaseModel):
    project_id: int | None = None
    rule_id: str | None = None
    severity: str | None = None
    sprint_id: int | None = None
    assignee_identity_id: int | None = None
    status: str | None = "open"
    sort: str = "severity"  # severity, opened_at, rule_id, item_key, status
    descending: bool = False
    page: int = 1
    page_size: int = 25


class ComplianceOverview(BaseModel):
    project_id: int
    open_flags: int = 0
    by_severity: dict[str, int] = Field(default_factory=dict)
    by_rule: list[RuleCount] = Field(default_factory=list)
    compliance_rate: float | None = None
    done_items: int = 0
    compliant_items: int = 0
    judged_items: int = 0
    trend: list[QualityPoint] = Field(default_factory=list)


class Insight(BaseModel):
    id: int
    kind: str
    title: str
    summary: str
    analysis: str
    actions: list[str] = Field(default_factory=list)
    provider: str = "local"
    confidence: float | None = None
    note: str = ""
    rating: int | None = None
    rating_note: str = ""
    created_at: str = ""


class Choice(BaseModel):
    value: str
    label: str
