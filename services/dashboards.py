"""Read side of the company portal: KPIs, charts, tables, drill-downs.

Every function takes the authenticated `CurrentUser` (the tenant comes from
it, never from the browser) and a project id that must be one of the user's
projects; anything else is `NotFound`, the same answer as for an id that does
not exist, so ids of other tenants leak nothing.

Figures come from the read models (`sprint_metrics`, `developer_metrics`)
when the metrics job has filled them, and otherwise from set-based aggregates
over `work_items` / `pull_requests`, so a fresh tenant still sees numbers.
Developers are shown by name to tech leads and project managers
(`CurrentUser.can_see_names`); everyone else sees "Developer N" (N is the
identity's stable id) except themselves.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from core.errors import NotFound, ValidationFailed
from models.db import public_session, tenant_schema_of, tenant_session
from models.public import Project
from models.tenant import (
    AIPrediction,
    ComplianceFlag,
    DeveloperIdentity,
    DeveloperMetrics,
    Sprint,
    SprintMetrics,
)
from services.auth import CurrentUser

HISTORY_SPRINTS = 12  # sprints shown on charts
TREND_WINDOW = 3  # previous sprints a KPI is compared with
SEVERITY_ORDER = ["critical", "high", "medium", "low", "info"]
FORECAST_KINDS = ("forecast_velocity", "forecast_backlog")
DRILL_METRICS = ("committed", "completed", "throughput", "defects", "blocked", "noncompliant", "flags", "carried_over")


# =========================================================================== shapes
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
    source: str = "none"  # prediction, estimate, none
    note: str = ""
    p50_text: str = ""  # backlog forecasts: finish dates
    p85_text: str = ""


class VelocitySeries(BaseModel):
    project_id: int
    points: list[SprintPoint] = Field(default_factory=list)
    forecast: Forecast = Field(default_factory=Forecast)
    backlog_forecast: Forecast = Field(default_factory=Forecast)
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


# =========================================================================== access
def _now() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def _require_company(user: CurrentUser) -> str:
    if not user.tenant_slug or user.tenant_id is None:
        raise NotFound("no company data for this account")
    return user.tenant_slug


def user_projects(user: CurrentUser) -> list[ProjectOption]:
    """The projects the user holds a role on, in their own tenant, by name."""
    if not user.project_roles or user.tenant_id is None:
        return []
    with public_session() as session:
        rows = session.exec(
            select(Project)
            .where(col(Project.id).in_(list(user.project_roles)), Project.tenant_id == user.tenant_id)
            .order_by(Project.name)
        ).all()
    return [ProjectOption(id=p.id or 0, key=p.key, name=p.name, role=user.project_roles[p.id or 0]) for p in rows]


def require_project(user: CurrentUser, project_id: int) -> Project:
    """The project if the user has a role on it in their tenant; else NotFound."""
    _require_company(user)
    if project_id not in user.project_roles:
        raise NotFound(f"project {project_id} not found")
    with public_session() as session:
        project = session.get(Project, project_id)
    if project is None or project.tenant_id != user.tenant_id:
        raise NotFound(f"project {project_id} not found")
    return project


def _tables(session: Session) -> dict[str, str]:
    schema = tenant_schema_of(session)
    names = ("work_items", "sprints", "pull_requests", "compliance_flags", "developer_identities")
    return {n: f'"{schema}".{n}' for n in names}


# =========================================================================== naming
def _my_identity_ids(session: Session, user: CurrentUser) -> set[int]:
    rows = session.exec(
        select(DeveloperIdentity.id).where(
            sa.or_(
                DeveloperIdentity.user_id == user.id,
                sa.func.lower(DeveloperIdentity.primary_email) == user.email.lower(),
            )
        )
    ).all()
    return {int(r) for r in rows if r is not None}


class _Namer:
    """Turns identity ids into what this user may see."""

    def __init__(self, session: Session, user: CurrentUser, project_id: int) -> None:
        self.named = user.can_see_names(project_id)
        self.mine = _my_identity_ids(session, user)
        self.user = user
        self._names: dict[int, str] = {}
        self._session = session

    def load(self, ids: set[int]) -> None:
        missing = [i for i in ids if i not in self._names]
        if missing:
            for ident in self._session.exec(select(DeveloperIdentity).where(col(DeveloperIdentity.id).in_(missing))):
                self._names[ident.id or 0] = ident.display_name

    def name(self, identity_id: int | None, fallback: str | None = None) -> str:
        if identity_id is None:
            if not fallback:
                return "Unassigned"
            return fallback if self.named else "Developer (not linked)"
        if self.named or identity_id in self.mine:
            self.load({identity_id})
            return self._names.get(identity_id) or fallback or f"Developer {identity_id}"
        return f"Developer {identity_id}"


# =========================================================================== sprint rows
def _round(value: Any, digits: int = 1) -> float | None:
    if value is None:
        return None
    value = float(value)
    if math.isnan(value):
        return None
    return round(value, digits)


def _pct(part: float | None, whole: float | None) -> float | None:
    if not whole:
        return None
    return round(100.0 * float(part or 0) / float(whole), 1)


_ROWS_MEMO: ContextVar[dict[tuple[str, int, bool], list[SprintPoint]] | None] = ContextVar(
    "dashboards_rows_memo", default=None
)


@contextmanager
def one_page_load() -> Iterator[None]:
    """Inside this block the per-sprint figures are read once and shared by every call.

    For a page that shows several views of the same sprints (the dashboard: KPIs and
    velocity). The memo lives only for the block, so nothing is ever served stale.
    """
    token = _ROWS_MEMO.set({})
    try:
        yield
    finally:
        _ROWS_MEMO.reset(token)


def _sprint_rows(session: Session, project_id: int, include_future: bool = False) -> list[SprintPoint]:
    """Per-sprint figures, oldest first: the read model when filled, else live aggregates."""
    memo = _ROWS_MEMO.get()
    key = (tenant_schema_of(session), project_id, include_future)
    if memo is not None and key in memo:
        return list(memo[key])
    rows = _read_sprint_rows(session, project_id, include_future)
    if memo is not None:
        memo[key] = rows
    return list(rows)


def _read_sprint_rows(session: Session, project_id: int, include_future: bool) -> list[SprintPoint]:
    sprints = session.exec(
        select(Sprint)
        .where(Sprint.project_id == project_id)
        .order_by(sa.nulls_last(col(Sprint.start_date).asc()), col(Sprint.id))
    ).all()
    if not include_future:
        sprints = [s for s in sprints if s.state != "future"]
    if not sprints:
        return []
    # Core rows, not ORM objects: building SQLModel instances costs more than the query.
    columns = [c for c in SprintMetrics.__table__.c]  # type: ignore[attr-defined]
    metrics = {
        m.sprint_id: m
        for m in session.execute(sa.select(*columns).where(SprintMetrics.__table__.c.project_id == project_id))  # type: ignore[attr-defined]
    }
    # Sprints the metrics job has not reached yet (a fresh tenant, a sprint that just started)
    # are aggregated live, and only those.
    missing = [s.id or 0 for s in sprints if s.state != "future" and s.id not in metrics]
    live = _live_sprint_figures(session, project_id, missing) if missing else {}
    # Open flags per sprint: the read model's snapshot when every sprint has one, else counted live.
    flags = (
        {sid: (int(m.open_flags or 0), int(m.open_critical_flags or 0)) for sid, m in metrics.items()}
        if not live and metrics
        else _open_flags_by_sprint(session, project_id)
    )
    out: list[SprintPoint] = []
    for s in sprints:
        sid = s.id or 0
        base = SprintPoint(
            sprint_id=sid,
            sprint_name=s.name,
            state=s.state,
            start=_iso(s.start_date),
            end=_iso(s.end_date),
        )
        m = metrics.get(sid)
        if m is not None:
            base = base.model_copy(
                update=dict(
                    committed_points=float(m.committed_points or 0),
                    completed_points=float(m.completed_points or m.velocity or 0),
                    committed_items=m.committed_items,
                    completed_items=m.completed_items or m.throughput,
                    avg_cycle_time_days=_round(m.avg_cycle_time_days),
                    blocked_items=m.blocked_items,
                    defects=m.defects_count,
                    defect_density=_round(m.defect_density),
                    compliance_rate=_round(_as_percent(m.compliance_rate)),
                    prs_merged=m.prs_merged,
                    avg_time_to_first_review_hours=_round(m.avg_time_to_first_review_hours),
                    pr_review_rate=_round(_as_percent(m.pr_review_rate)),
                    avg_merge_time_hours=_round(m.avg_merge_time_hours),
                    throughput_by_type={str(k): int(v or 0) for k, v in (m.throughput_by_type or {}).items()},
                )
            )
        elif sid in live:
            base = base.model_copy(update=live[sid])
        open_all, open_crit = flags.get(sid, (0, 0))
        base.open_flags = open_all
        base.open_critical_flags = open_crit
        out.append(base)
    return out


def _as_percent(rate: float | None) -> float | None:
    """Read models store rates as 0..1 fractions; pages show percent."""
    if rate is None:
        return None
    return rate * 100.0


def _live_sprint_figures(session: Session, project_id: int, sprint_ids: list[int]) -> dict[int, dict[str, Any]]:
    t = _tables(session)
    ids = {"p": project_id, "ids": list(sprint_ids)}
    rows = session.execute(
        sa.text(
            f"""
            SELECT w.sprint_id,
                   coalesce(sum(w.story_points), 0) AS committed_points,
                   count(*) AS committed_items,
                   coalesce(sum(w.story_points) FILTER (WHERE w.status_category = 'done'), 0) AS completed_points,
                   count(*) FILTER (WHERE w.status_category = 'done') AS completed_items,
                   avg(extract(epoch FROM (w.done_at - w.started_at)) / 86400.0)
                       FILTER (WHERE w.status_category = 'done' AND w.started_at IS NOT NULL
                               AND w.done_at IS NOT NULL) AS avg_cycle,
                   count(*) FILTER (WHERE w.is_blocked OR w.blocked_hours > 0) AS blocked_items,
                   count(*) FILTER (WHERE w.status_category = 'done' AND w.item_type = 'bug') AS defects,
                   count(*) FILTER (WHERE w.status_category = 'done' AND w.dmt_compliant) AS compliant,
                   count(*) FILTER (WHERE w.status_category = 'done' AND w.dmt_compliant IS NOT NULL) AS judged
            FROM {t["work_items"]} w
            WHERE w.project_id = :p AND w.sprint_id = ANY(:ids) AND NOT w.is_deleted
            GROUP BY w.sprint_id
            """
        ),
        ids,
    ).mappings()
    out: dict[int, dict[str, Any]] = {}
    for r in rows:
        completed_points = float(r["completed_points"] or 0)
        out[int(r["sprint_id"])] = dict(
            committed_points=float(r["committed_points"] or 0),
            completed_points=completed_points,
            committed_items=int(r["committed_items"]),
            completed_items=int(r["completed_items"]),
            avg_cycle_time_days=_round(r["avg_cycle"]),
            blocked_items=int(r["blocked_items"]),
            defects=int(r["defects"]),
            defect_density=_round(100.0 * r["defects"] / completed_points) if completed_points else None,
            compliance_rate=_pct(r["compliant"], r["judged"]),
        )
    by_type = session.execute(
        sa.text(
            f"""
            SELECT sprint_id, item_type, count(*) AS n FROM {t["work_items"]}
            WHERE project_id = :p AND sprint_id = ANY(:ids) AND status_category = 'done' AND NOT is_deleted
            GROUP BY sprint_id, item_type
            """
        ),
        ids,
    ).all()
    for sprint_id, item_type, n in by_type:
        out.setdefault(int(sprint_id), {}).setdefault("throughput_by_type", {})[item_type or "other"] = int(n)
    return out


def _open_flags_by_sprint(session: Session, project_id: int) -> dict[int, tuple[int, int]]:
    t = _tables(session)
    rows = session.execute(
        sa.text(
            f"""
            SELECT w.sprint_id, count(*) AS n, count(*) FILTER (WHERE f.severity = 'critical') AS crit
            FROM {t["compliance_flags"]} f JOIN {t["work_items"]} w ON w.id = f.work_item_id
            WHERE f.project_id = :p AND f.status = 'open' AND w.sprint_id IS NOT NULL
            GROUP BY w.sprint_id
            """
        ),
        {"p": project_id},
    ).all()
    return {int(s): (int(n), int(c)) for s, n, c in rows}


def _current_index(points: list[SprintPoint]) -> int | None:
    """The active sprint, else the most recent one that has started."""
    if not points:
        return None
    for i in range(len(points) - 1, -1, -1):
        if points[i].state == "active":
            return i
    now = _now().isoformat()
    started = [i for i, p in enumerate(points) if not p.start or p.start <= now]
    return started[-1] if started else len(points) - 1


# =========================================================================== KPIs
def _fmt(value: float | None, unit: str, digits: int = 1) -> str:
    if value is None:
        return "-"
    if unit == "%":
        return f"{value:.0f}%"
    if float(value).is_integer() and digits:
        return f"{int(value)}{(' ' + unit) if unit else ''}"
    return f"{value:.{digits}f}{(' ' + unit) if unit else ''}"


def _card(
    key: str,
    label: str,
    value: float | None,
    previous: list[float | None],
    unit: str,
    higher_is_better: bool,
    hint: str,
) -> KpiCard:
    prev = [p for p in previous if p is not None]
    prev_avg = sum(prev) / len(prev) if prev else None
    card = KpiCard(key=key, label=label, value=value, display=_fmt(value, unit), unit=unit, hint=hint)
    if value is not None and prev_avg is not None:
        delta = value - prev_avg
        card.previous = round(prev_avg, 1)
        card.delta = round(delta, 1)
        if abs(delta) < 1e-9:
            card.direction, card.good = "flat", None
            card.delta_display = f"same as the previous {len(prev)} sprint(s)"
        else:
            card.direction = "up" if delta > 0 else "down"
            card.good = (delta > 0) == higher_is_better
            sign = "+" if delta > 0 else "-"
            card.delta_display = f"{sign}{_fmt(abs(delta), unit)} vs avg of previous {len(prev)}"
    return card


def kpis(user: CurrentUser, project_id: int) -> Kpis:
    """Current-sprint KPIs, each compared with the average of the previous sprints."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        points = _sprint_rows(session, project_id)
        open_critical = int(
            session.exec(
                select(sa.func.count())
                .select_from(ComplianceFlag)
                .where(
                    ComplianceFlag.project_id == project_id,
                    ComplianceFlag.status == "open",
                    ComplianceFlag.severity == "critical",
                )
            ).one()
        )
    result = Kpis(project_id=project_id)
    idx = _current_index(points)
    if idx is None:
        result.empty_message = "No sprints yet for this project: ask your admin to add a data source and run a sync."
        result.cards = [
            KpiCard(
                key="open_critical_flags",
                label="Open critical flags",
                value=open_critical,
                display=str(open_critical),
                hint="critical DMT flags still open",
            )
        ]
        return result
    cur = points[idx]
    prev = points[max(0, idx - TREND_WINDOW) : idx]
    result.sprint_id, result.sprint_name, result.sprint_state = cur.sprint_id, cur.sprint_name, cur.state
    result.has_data = True
    drills = {
        "velocity": "completed",
        "throughput": "completed",
        "compliance_rate": "noncompliant",
        "cycle_time": "completed",
        "blocked_items": "blocked",
        "open_critical_flags": "flags",
    }
    result.cards = [
        _card(
            "velocity",
            "Velocity",
            cur.completed_points,
            [p.completed_points for p in prev],
            "pts",
            True,
            "story points completed in the sprint",
        ),
        _card(
            "throughput",
            "Throughput",
            float(cur.completed_items),
            [float(p.completed_items) for p in prev],
            "items",
            True,
            "items completed in the sprint",
        ),
        _card(
            "compliance_rate",
            "DMT compliance",
            cur.compliance_rate,
            [p.compliance_rate for p in prev],
            "%",
            True,
            "done items that meet Done Means Tested",
        ),
        _card(
            "cycle_time",
            "Avg cycle time",
            cur.avg_cycle_time_days,
            [p.avg_cycle_time_days for p in prev],
            "days",
            False,
            "start to done, completed items",
        ),
        _card(
            "blocked_items",
            "Blocked items",
            float(cur.blocked_items),
            [float(p.blocked_items) for p in prev],
            "",
            False,
            "items blocked at some point in the sprint",
        ),
        _card(
            "open_critical_flags",
            "Critical flags (sprint)",
            float(cur.open_critical_flags),
            [float(p.open_critical_flags) for p in prev],
            "",
            False,
            f"open on this sprint's items; {open_critical} open in the whole project",
        ),
    ]
    for card in result.cards:
        card.drill_metric = drills.get(card.key, "")
    return result


# =========================================================================== velocity / throughput
def _latest_prediction(session: Session, project_id: int, kind: str) -> AIPrediction | None:
    return session.exec(
        select(AIPrediction)
        .where(AIPrediction.project_id == project_id, AIPrediction.kind == kind)
        .order_by(col(AIPrediction.created_at).desc(), col(AIPrediction.id).desc())
        .limit(1)
    ).first()


def _forecast_of(pred: AIPrediction | None, label: str) -> Forecast:
    """Read a stored forecast: velocity outputs {"velocity": {"p50", "p85"}}, backlog {"p50_date", ...}."""
    if pred is None:
        return Forecast(label=label)
    out = pred.outputs or {}
    nested = out.get("velocity") if isinstance(out.get("velocity"), dict) else None
    values = nested or out
    fc = Forecast(
        label=str(out.get("label") or label),
        p50=_round(values.get("p50")),
        p85=_round(values.get("p85")),
        source="prediction",
        note=pred.summary or pred.title or "",
    )
    if "velocity" in out and nested is None:
        fc.source = "none"  # the forecast job ran but had too little history
    fc.p50_text = str(out.get("p50_date") or "")[:10]
    fc.p85_text = str(out.get("p85_date") or "")[:10]
    return fc


def _local_estimate(values: list[float]) -> Forecast:
    """Order statistics of recent velocities, used until the forecast job has run."""
    vals = sorted(v for v in values if v is not None)[-8:]
    if len(vals) < 2:
        return Forecast(note="a forecast needs at least two finished sprints")
    p50 = statistics.median(vals)
    # 85% confidence: the level reached in 85% of recent sprints (lower tail).
    p85 = sorted(vals)[max(0, math.floor(0.15 * (len(vals) - 1)))]
    return Forecast(
        p50=round(p50, 1),
        p85=round(p85, 1),
        source="estimate",
        note="estimate from recent sprints (the forecast job has not run yet)",
    )


def velocity_series(user: CurrentUser, project_id: int) -> VelocitySeries:
    """Committed vs completed points per sprint, plus the P50/P85 forecast for the next sprint."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        points = _sprint_rows(session, project_id)[-HISTORY_SPRINTS:]
        fc = _forecast_of(_latest_prediction(session, project_id, "forecast_velocity"), "next sprint")
        backlog = _forecast_of(_latest_prediction(session, project_id, "forecast_backlog"), "backlog")
    result = VelocitySeries(project_id=project_id, points=points, backlog_forecast=backlog)
    closed = [p.completed_points for p in points if p.state == "closed"]
    result.forecast = fc if fc.source != "none" else _local_estimate(closed)
    result.average_velocity = round(sum(closed) / len(closed), 1) if closed else None
    if not points:
        result.empty_message = "No sprints yet: ask your admin to connect Jira, ClickUp or Azure Boards and sync."
    return result


def _type_bucket(item_type: str) -> str:
    t = (item_type or "").lower()
    if t in ("story", "user story", "user_story", "feature"):
        return "story"
    if t in ("bug", "defect"):
        return "bug"
    if t in ("task", "subtask", "sub-task"):
        return "task"
    return "other"


def throughput_series(user: CurrentUser, project_id: int) -> ThroughputSeries:
    """Completed items per sprint, split by item type (story, bug, task, other)."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        points = _sprint_rows(session, project_id)[-HISTORY_SPRINTS:]
    rows: list[ThroughputRow] = []
    seen: set[str] = set()
    for p in points:
        row = ThroughputRow(sprint_id=p.sprint_id, sprint_name=p.sprint_name)
        for item_type, n in p.throughput_by_type.items():
            bucket = _type_bucket(item_type)
            setattr(row, bucket, getattr(row, bucket) + int(n))
            seen.add(bucket)
        row.total = row.story + row.bug + row.task + row.other
        if not p.throughput_by_type:
            row.total = p.completed_items
            row.other = p.completed_items
            if p.completed_items:
                seen.add("other")
        rows.append(row)
    result = ThroughputSeries(
        project_id=project_id, rows=rows, types=[t for t in ("story", "bug", "task", "other") if t in seen]
    )
    if rows:
        result.average = round(sum(r.total for r in rows) / len(rows), 1)
    else:
        result.empty_message = "No completed work yet: items appear here once sprints have done items."
    return result


# =========================================================================== quality / compliance
def _flags_by_rule(session: Session, project_id: int) -> list[RuleCount]:
    rows = session.exec(
        select(
            ComplianceFlag.rule_id,
            ComplianceFlag.severity,
            sa.func.count().filter(ComplianceFlag.status == "open"),
            sa.func.count().filter(ComplianceFlag.status != "open"),
        )
        .where(ComplianceFlag.project_id == project_id)
        .group_by(ComplianceFlag.rule_id, ComplianceFlag.severity)
    ).all()
    out = [RuleCount(rule_id=r, severity=s, open=int(o), resolved=int(c)) for r, s, o, c in rows]
    order = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    out.sort(key=lambda rc: (order.get(rc.severity, 9), -rc.open, rc.rule_id))
    return out


def _done_compliance(session: Session, project_id: int) -> tuple[int, int, int]:
    t = _tables(session)
    row = session.execute(
        sa.text(
            f"""
            SELECT count(*) AS done,
                   count(*) FILTER (WHERE dmt_compliant) AS compliant,
                   count(*) FILTER (WHERE dmt_compliant IS NOT NULL) AS judged
            FROM {t["work_items"]}
            WHERE project_id = :p AND status_category = 'done' AND NOT is_deleted
            """
        ),
        {"p": project_id},
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


def quality(user: CurrentUser, project_id: int) -> Quality:
    """Defect density and compliance rate per sprint, and flags by rule."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        points = _sprint_rows(session, project_id)[-HISTORY_SPRINTS:]
        by_rule = _flags_by_rule(session, project_id)
        done, compliant, judged = _done_compliance(session, project_id)
    by_sev: dict[str, int] = {}
    for rc in by_rule:
        by_sev[rc.severity] = by_sev.get(rc.severity, 0) + rc.open
    result = Quality(
        project_id=project_id,
        series=[
            QualityPoint(
                sprint_id=p.sprint_id,
                sprint_name=p.sprint_name,
                defects=p.defects,
                defect_density=p.defect_density,
                compliance_rate=p.compliance_rate,
                open_flags=p.open_flags,
            )
            for p in points
        ],
        flags_by_rule=by_rule,
        flags_by_severity=by_sev,
        open_flags=sum(rc.open for rc in by_rule),
        compliance_rate=_pct(compliant, judged),
        done_items=done,
        compliant_items=compliant,
        judged_items=judged,
    )
    if not points and not by_rule:
        result.empty_message = "No quality data yet: it appears after the first sync and compliance evaluation."
    return result


def compliance_overview(user: CurrentUser, project_id: int) -> ComplianceOverview:
    """Open flags by severity and rule, and the compliance rate (now and per sprint)."""
    q = quality(user, project_id)
    return ComplianceOverview(
        project_id=project_id,
        open_flags=q.open_flags,
        by_severity=q.flags_by_severity,
        by_rule=q.flags_by_rule,
        compliance_rate=q.compliance_rate,
        done_items=q.done_items,
        compliant_items=q.compliant_items,
        judged_items=q.judged_items,
        trend=q.series,
    )


# =========================================================================== PR health
REVIEW_BUCKETS = [("< 1 h", 0, 1), ("1-4 h", 1, 4), ("4-24 h", 4, 24), ("1-3 days", 24, 72), ("> 3 days", 72, None)]


def pr_health(user: CurrentUser, project_id: int, days: int = 180) -> PrHealth:
    """Time to first review (distribution), share reviewed, merge time; overall and per repository."""
    require_project(user, project_id)
    since = _now() - timedelta(days=days)
    with tenant_session(user.tenant_slug or "") as session:
        t = _tables(session)
        params = {"p": project_id, "since": since}
        bucket_sql = ", ".join(
            f"count(*) FILTER (WHERE fr_h >= {lo}" + (f" AND fr_h < {hi}" if hi is not None else "") + f") AS b{i}"
            for i, (_label, lo, hi) in enumerate(REVIEW_BUCKETS)
        )
        per_repo = (
            session.execute(
                sa.text(
                    f"""
                WITH pr AS (
                    SELECT repository, state,
                           (first_review_at IS NOT NULL OR review_count > 0) AS reviewed,
                           extract(epoch FROM (first_review_at - created_at_source)) / 3600.0 AS fr_h,
                           extract(epoch FROM (merged_at - created_at_source)) / 3600.0 AS merge_h
                    FROM {t["pull_requests"]}
                    WHERE project_id = :p AND NOT is_deleted AND created_at_source >= :since
                )
                SELECT GROUPING(repository) AS total_row, repository,
                       count(*) AS prs,
                       count(*) FILTER (WHERE state = 'merged') AS merged,
                       count(*) FILTER (WHERE state = 'open') AS open,
                       count(*) FILTER (WHERE state = 'merged' AND reviewed) AS merged_reviewed,
                       avg(fr_h) AS avg_fr,
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY fr_h) AS med_fr,
                       avg(merge_h) FILTER (WHERE state = 'merged') AS avg_merge,
                       count(*) FILTER (WHERE fr_h IS NULL) AS never,
                       {bucket_sql}
                FROM pr
                GROUP BY ROLLUP (repository)
                ORDER BY GROUPING(repository), count(*) DESC
                """
                ),
                params,
            )
            .mappings()
            .all()
        )
        points = _sprint_rows(session, project_id)[-HISTORY_SPRINTS:]
    result = PrHealth(project_id=project_id)
    for r in per_repo:
        if r["total_row"]:
            result.total, result.merged, result.open = int(r["prs"]), int(r["merged"]), int(r["open"])
            result.reviewed_share = _pct(r["merged_reviewed"], r["merged"])
            result.avg_first_review_hours = _round(r["avg_fr"])
            result.median_first_review_hours = _round(r["med_fr"])
            result.avg_merge_hours = _round(r["avg_merge"])
            result.buckets = [
                ReviewBucket(bucket=label, count=int(r[f"b{i}"])) for i, (label, _lo, _hi) in enumerate(REVIEW_BUCKETS)
            ]
            result.buckets.append(ReviewBucket(bucket="not reviewed", count=int(r["never"])))
        else:
            result.repositories.append(
                RepoHealth(
                    repository=r["repository"] or "(unknown)",
                    prs=int(r["prs"]),
                    merged=int(r["merged"]),
                    open=int(r["open"]),
                    reviewed_share=_pct(r["merged_reviewed"], r["merged"]),
                    avg_first_review_hours=_round(r["avg_fr"]),
                    median_first_review_hours=_round(r["med_fr"]),
                    avg_merge_hours=_round(r["avg_merge"]),
                )
            )
    result.series = [
        PrSprintPoint(
            sprint_id=p.sprint_id,
            sprint_name=p.sprint_name,
            prs_merged=p.prs_merged,
            avg_time_to_first_review_hours=p.avg_time_to_first_review_hours,
            pr_review_rate=p.pr_review_rate,
            avg_merge_time_hours=p.avg_merge_time_hours,
        )
        for p in points
        if p.prs_merged or p.avg_time_to_first_review_hours is not None
    ]
    if result.total == 0:
        result.empty_message = (
            f"No pull requests in the last {days} days: ask your admin to connect GitHub or Azure DevOps Git."
        )
    return result


# =========================================================================== sprint detail / drill-down
_ITEM_COLUMNS = """
    w.id, coalesce(w.item_key, w.source_item_id) AS key, w.title, w.item_type, w.status, w.status_category,
    w.story_points, w.assignee_identity_id, w.assignee_name, w.url, w.done_at, w.dmt_compliant,
    (w.is_blocked OR w.blocked_hours > 0) AS blocked,
    (SELECT count(*) FROM {flags} f WHERE f.work_item_id = w.id AND f.status = 'open') AS open_flags
"""


def _item_rows(rows: Any, namer: _Namer) -> list[ItemRow]:
    out = []
    for r in rows:
        out.append(
            ItemRow(
                id=int(r["id"]),
                key=r["key"] or "",
                title=r["title"] or "",
                item_type=r["item_type"] or "",
                status=r["status"] or r["status_category"] or "",
                status_category=r["status_category"] or "",
                story_points=r["story_points"],
                assignee=namer.name(r["assignee_identity_id"], r["assignee_name"]),
                url=r["url"] or "",
                done_at=_iso(r["done_at"]),
                compliant="" if r["dmt_compliant"] is None else ("yes" if r["dmt_compliant"] else "no"),
                blocked=bool(r["blocked"]),
                open_flags=int(r["open_flags"] or 0),
            )
        )
    return out


def _get_sprint(session: Session, project_id: int, sprint_id: int) -> Sprint:
    sprint = session.get(Sprint, sprint_id)
    if sprint is None or sprint.project_id != project_id:
        raise NotFound(f"sprint {sprint_id} not found")
    return sprint


def _burn(sprint: Sprint, done_rows: list[tuple[datetime, float]], scope: float) -> list[BurnPoint]:
    if not sprint.start_date:
        return []
    start = sprint.start_date.astimezone(UTC).date()
    end_dt = sprint.end_date or sprint.complete_date or (sprint.start_date + timedelta(days=14))
    end = end_dt.astimezone(UTC).date()
    today = _now().date()
    if end < start:
        end = start
    days = (end - start).days
    per_day: dict[Any, float] = {}
    early = 0.0
    for done_at, pts in done_rows:
        d = done_at.astimezone(UTC).date()
        if d < start:
            early += pts
        else:
            per_day[min(d, end)] = per_day.get(min(d, end), 0.0) + pts
    out = []
    cumulative = early
    for i in range(days + 1):
        d = start + timedelta(days=i)
        cumulative += per_day.get(d, 0.0)
        ideal = scope - scope * i / days if days else 0.0
        if d > today:
            # Future days: only the ideal line.
            out.append(BurnPoint(day=d.isoformat(), ideal=round(ideal, 1), scope=round(scope, 1)))
            continue
        out.append(
            BurnPoint(
                day=d.isoformat(),
                remaining=round(scope - cumulative, 1),
                ideal=round(ideal, 1),
                done=round(cumulative, 1),
                scope=round(scope, 1),
            )
        )
    return out


def sprint_detail(user: CurrentUser, project_id: int, sprint_id: int | None = None, limit: int = 500) -> SprintDetail:
    """One sprint: burndown/burnup by day (from done_at) and its items, with links to the tools."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        points = _sprint_rows(session, project_id)
        if sprint_id is None:
            idx = _current_index(points)
            if idx is None:
                return SprintDetail(
                    project_id=project_id,
                    sprint=SprintPoint(sprint_id=0, sprint_name="", state=""),
                    empty_message="No sprints yet: ask your admin to add a data source and run a sync.",
                )
            sprint_id = points[idx].sprint_id
        sprint = _get_sprint(session, project_id, sprint_id)
        t = _tables(session)
        namer = _Namer(session, user, project_id)
        rows = (
            session.execute(
                sa.text(
                    f"SELECT {_ITEM_COLUMNS.format(flags=t['compliance_flags'])} FROM {t['work_items']} w "
                    "WHERE w.project_id = :p AND w.sprint_id = :s AND NOT w.is_deleted "
                    "ORDER BY (w.status_category = 'done') DESC, w.done_at DESC NULLS LAST, w.id LIMIT :lim"
                ),
                {"p": project_id, "s": sprint_id, "lim": limit},
            )
            .mappings()
            .all()
        )
        total, scope = session.execute(
            sa.text(
                f"SELECT count(*), coalesce(sum(story_points), 0) FROM {t['work_items']} "
                "WHERE project_id = :p AND sprint_id = :s AND NOT is_deleted"
            ),
            {"p": project_id, "s": sprint_id},
        ).one()
        done_rows = session.execute(
            sa.text(
                f"SELECT done_at, coalesce(story_points, 0) FROM {t['work_items']} "
                "WHERE project_id = :p AND sprint_id = :s AND NOT is_deleted "
                "AND status_category = 'done' AND done_at IS NOT NULL"
            ),
            {"p": project_id, "s": sprint_id},
        ).all()
        items = _item_rows(rows, namer)
    point = next((p for p in points if p.sprint_id == sprint_id), None) or SprintPoint(
        sprint_id=sprint_id,
        sprint_name=sprint.name,
        state=sprint.state,
        start=_iso(sprint.start_date),
        end=_iso(sprint.end_date),
    )
    detail = SprintDetail(
        project_id=project_id,
        sprint=point,
        goal=sprint.goal or "",
        burn=_burn(sprint, [(d, float(p)) for d, p in done_rows], float(scope)),
        items=items,
        items_total=int(total),
        sprints=list(reversed(points)),
    )
    if not total:
        detail.empty_message = "This sprint has no items."
    return detail


_DRILL_WHERE = {
    "committed": ("Items committed", "TRUE"),
    "completed": ("Items completed", "w.status_category = 'done'"),
    "throughput": ("Items completed", "w.status_category = 'done'"),
    "defects": ("Defects completed", "w.status_category = 'done' AND w.item_type = 'bug'"),
    "blocked": ("Items blocked during the sprint", "(w.is_blocked OR w.blocked_hours > 0)"),
    "noncompliant": ("Done items failing DMT", "w.status_category = 'done' AND w.dmt_compliant = false"),
    "flags": (
        "Items with open flags",
        "EXISTS (SELECT 1 FROM {flags} f WHERE f.work_item_id = w.id AND f.status = 'open')",
    ),
    "carried_over": ("Items not finished", "w.status_category <> 'done'"),
}


def drill_down(
    user: CurrentUser, project_id: int, sprint_id: int, metric: str, item_type: str | None = None, limit: int = 500
) -> DrillDown:
    """The items behind one chart point: a sprint and a metric (optionally one item type)."""
    require_project(user, project_id)
    if metric not in _DRILL_WHERE:
        raise ValidationFailed(f"unknown metric {metric!r}; use one of: {', '.join(_DRILL_WHERE)}", field="metric")
    title, where = _DRILL_WHERE[metric]
    with tenant_session(user.tenant_slug or "") as session:
        sprint = _get_sprint(session, project_id, sprint_id)
        t = _tables(session)
        where = where.format(flags=t["compliance_flags"])
        params: dict[str, Any] = {"p": project_id, "s": sprint_id, "lim": limit}
        type_sql = ""
        if item_type:
            types = {
                "story": ["story", "user story", "user_story", "feature"],
                "bug": ["bug", "defect"],
                "task": ["task", "subtask", "sub-task"],
            }
            if item_type == "other":
                type_sql = " AND lower(w.item_type) NOT IN :known"
                params["known"] = tuple(x for v in types.values() for x in v)
            else:
                type_sql = " AND lower(w.item_type) IN :types"
                params["types"] = tuple(types.get(item_type, [item_type]))
            title = f"{title} ({item_type})"
        base = f"FROM {t['work_items']} w WHERE w.project_id = :p AND w.sprint_id = :s AND NOT w.is_deleted AND {where}{type_sql}"
        stmt = sa.text(
            f"SELECT {_ITEM_COLUMNS.format(flags=t['compliance_flags'])} {base} ORDER BY w.done_at DESC NULLS LAST, w.id LIMIT :lim"
        )
        count_stmt = sa.text(f"SELECT count(*) {base}")
        if "known" in params:
            stmt = stmt.bindparams(sa.bindparam("known", expanding=True))
            count_stmt = count_stmt.bindparams(sa.bindparam("known", expanding=True))
        if "types" in params:
            stmt = stmt.bindparams(sa.bindparam("types", expanding=True))
            count_stmt = count_stmt.bindparams(sa.bindparam("types", expanding=True))
        rows = session.execute(stmt, params).mappings().all()
        total = session.execute(count_stmt, {k: v for k, v in params.items() if k != "lim"}).scalar_one()
        items = _item_rows(rows, _Namer(session, user, project_id))
    return DrillDown(
        project_id=project_id,
        sprint_id=sprint_id,
        sprint_name=sprint.name,
        metric=metric,
        title=f"{title} — {sprint.name}",
        items=items,
        total=int(total),
    )


# =========================================================================== developers
def _developer_sprint_figures(session: Session, project_id: int) -> list[dict[str, Any]]:
    """(identity, sprint) rows: the read model when filled, else live aggregates."""
    dmt = DeveloperMetrics.__table__  # type: ignore[attr-defined]
    dm = session.execute(sa.select(*dmt.c).where(dmt.c.project_id == project_id)).all()
    if dm:
        return [
            dict(
                identity_id=m.identity_id,
                sprint_id=m.sprint_id,
                items=m.items_completed,
                points=float(m.points_completed or 0),
                cycle=m.avg_cycle_time_days,
                compliance=_as_percent(m.compliance_rate),
                defects=m.defects_completed,
                prs_merged=m.prs_merged,
                reviews=m.reviews_given,
            )
            for m in dm
        ]
    t = _tables(session)
    rows = (
        session.execute(
            sa.text(
                f"""
            SELECT assignee_identity_id AS identity_id, sprint_id,
                   count(*) AS items, coalesce(sum(story_points), 0) AS points,
                   avg(extract(epoch FROM (done_at - started_at)) / 86400.0)
                       FILTER (WHERE started_at IS NOT NULL AND done_at IS NOT NULL) AS cycle,
                   count(*) FILTER (WHERE dmt_compliant) AS compliant,
                   count(*) FILTER (WHERE dmt_compliant IS NOT NULL) AS judged,
                   count(*) FILTER (WHERE item_type = 'bug') AS defects
            FROM {t["work_items"]}
            WHERE project_id = :p AND status_category = 'done' AND NOT is_deleted
                  AND sprint_id IS NOT NULL AND assignee_identity_id IS NOT NULL
            GROUP BY assignee_identity_id, sprint_id
            """
            ),
            {"p": project_id},
        )
        .mappings()
        .all()
    )
    prs = dict(
        session.execute(
            sa.text(
                f"SELECT author_identity_id, count(*) FROM {t['pull_requests']} "
                "WHERE project_id = :p AND state = 'merged' AND NOT is_deleted AND author_identity_id IS NOT NULL "
                "GROUP BY author_identity_id"
            ),
            {"p": project_id},
        ).all()
    )
    out = []
    seen_pr: set[int] = set()
    for r in rows:
        ident = int(r["identity_id"])
        out.append(
            dict(
                identity_id=ident,
                sprint_id=int(r["sprint_id"]),
                items=int(r["items"]),
                points=float(r["points"]),
                cycle=r["cycle"],
                compliance=_pct(r["compliant"], r["judged"]),
                defects=int(r["defects"]),
                # Live fallback has no PR-per-sprint split: count merged PRs once per developer.
                prs_merged=int(prs.get(ident, 0)) if ident not in seen_pr else 0,
                reviews=0,
            )
        )
        seen_pr.add(ident)
    return out


def _totals(identity_id: int, name: str, rows: list[dict[str, Any]], is_me: bool) -> DeveloperRow:
    cycles = [(r["cycle"], r["items"]) for r in rows if r["cycle"] is not None and r["items"]]
    comp = [r["compliance"] for r in rows if r["compliance"] is not None]
    return DeveloperRow(
        identity_id=identity_id,
        name=name,
        is_me=is_me,
        sprints_active=len({r["sprint_id"] for r in rows if r["items"]}),  # sprints with finished work
        items_completed=sum(r["items"] for r in rows),
        points_completed=round(sum(r["points"] for r in rows), 1),
        avg_cycle_time_days=_round(sum(c * n for c, n in cycles) / sum(n for _, n in cycles)) if cycles else None,
        compliance_rate=_round(sum(comp) / len(comp)) if comp else None,
        defects_completed=sum(r["defects"] for r in rows),
        prs_merged=sum(r["prs_merged"] for r in rows),
        reviews_given=sum(r["reviews"] for r in rows),
    )


def developers(user: CurrentUser, project_id: int) -> DeveloperList:
    """Developers of the project with their totals; names only for roles allowed to see them."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        figures = _developer_sprint_figures(session, project_id)
        namer = _Namer(session, user, project_id)
        by_dev: dict[int, list[dict[str, Any]]] = {}
        for f in figures:
            by_dev.setdefault(f["identity_id"], []).append(f)
        if namer.named:
            namer.load(set(by_dev))
        devs = [_totals(i, namer.name(i), rows, i in namer.mine) for i, rows in by_dev.items()]
    devs.sort(key=lambda d: (not d.is_me, -d.points_completed, d.identity_id))
    result = DeveloperList(project_id=project_id, names_visible=namer.named, developers=devs)
    if not devs:
        result.empty_message = (
            "No completed work linked to developers yet: items need an assignee, and identities are "
            "linked on sync (ask your admin if people are missing)."
        )
    return result


def _developer_detail(session: Session, user: CurrentUser, project_id: int, identity_id: int) -> DeveloperDetail:
    figures = _developer_sprint_figures(session, project_id)
    mine = [f for f in figures if f["identity_id"] == identity_id]
    namer = _Namer(session, user, project_id)
    if not mine:
        if session.get(DeveloperIdentity, identity_id) is None:
            raise NotFound(f"developer {identity_id} not found")
    name = namer.name(identity_id)
    is_me = identity_id in namer.mine
    names = {p.sprint_id: p.sprint_name for p in _sprint_rows(session, project_id)}
    order = list(names)
    team: dict[int, list[dict[str, Any]]] = {}
    for f in figures:
        team.setdefault(f["sprint_id"], []).append(f)

    def avg(rows: list[dict[str, Any]], key: str) -> float | None:
        vals = [r[key] for r in rows if r[key] is not None]
        return _round(sum(vals) / len(vals)) if vals else None

    series = []
    by_sprint = {f["sprint_id"]: f for f in mine}
    for sid in order[-HISTORY_SPRINTS:]:
        if sid not in team:
            continue
        f = by_sprint.get(sid)
        series.append(
            DeveloperSprintPoint(
                sprint_id=sid,
                sprint_name=names[sid],
                items=f["items"] if f else 0,
                points=round(f["points"], 1) if f else 0.0,
                avg_cycle_time_days=_round(f["cycle"]) if f else None,
                compliance_rate=_round(f["compliance"]) if f else None,
                team_avg_items=avg(team[sid], "items"),
                team_avg_points=avg(team[sid], "points"),
                team_avg_cycle_time_days=avg(team[sid], "cycle"),
                team_avg_compliance_rate=avg(team[sid], "compliance"),
            )
        )
    detail = DeveloperDetail(
        project_id=project_id,
        identity_id=identity_id,
        name=name,
        is_me=is_me,
        totals=_totals(identity_id, name, mine, is_me) if mine else None,
        series=series,
    )
    if not mine:
        detail.empty_message = "No completed work for this developer in this project yet."
    return detail


def developer_detail(user: CurrentUser, project_id: int, identity_id: int) -> DeveloperDetail:
    """One developer's metrics per sprint next to the team average (anonymised per role)."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        return _developer_detail(session, user, project_id, identity_id)


def me(user: CurrentUser, project_id: int) -> DeveloperDetail:
    """The signed-in user's own metrics (identity linked by user id or primary email)."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        ids = sorted(_my_identity_ids(session, user))
        if not ids:
            return DeveloperDetail(
                project_id=project_id,
                name=user.display_name,
                is_me=True,
                empty_message=(
                    f"Your account ({user.email}) is not linked to a developer identity yet: ask your admin to "
                    "link it, or use the same email address in your tools."
                ),
            )
        # Prefer the identity with work in this project.
        best = None
        for ident in ids:
            d = _developer_detail(session, user, project_id, ident)
            if best is None or (
                d.totals and (not best.totals or d.totals.items_completed > best.totals.items_completed)
            ):
                best = d
        assert best is not None
        best.name = user.display_name
        return best


# =========================================================================== flags
_FLAG_SORTS = {
    "severity": "CASE f.severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 "
    "WHEN 'low' THEN 3 ELSE 4 END",
    "opened_at": "f.opened_at",
    "rule_id": "f.rule_id",
    "item_key": "w.item_key",
    "status": "f.status",
    "resolved_at": "f.resolved_at",
}


def list_flags(user: CurrentUser, filters: FlagFilters | None = None) -> FlagPage:
    """Compliance flags of the user's projects, filtered, sorted and one page at a time."""
    filters = filters or FlagFilters()
    projects = {p.id: p for p in user_projects(user)}
    if filters.project_id is not None:
        require_project(user, filters.project_id)
        project_ids = [filters.project_id]
    else:
        project_ids = list(projects)
    if filters.sort not in _FLAG_SORTS:
        raise ValidationFailed(f"unknown sort {filters.sort!r}; use one of: {', '.join(_FLAG_SORTS)}", field="sort")
    page_size = max(1, min(filters.page_size, 200))
    page = max(1, filters.page)
    if not project_ids:
        return FlagPage(page=page, page_size=page_size)
    with tenant_session(_require_company(user)) as session:
        t = _tables(session)
        where = ["f.project_id IN :projects"]
        params: dict[str, Any] = {"projects": tuple(project_ids)}
        for name, column in (
            ("rule_id", "f.rule_id"),
            ("severity", "f.severity"),
            ("status", "f.status"),
            ("sprint_id", "w.sprint_id"),
            ("assignee_identity_id", "w.assignee_identity_id"),
        ):
            value = getattr(filters, name)
            if value not in (None, "", "all"):
                where.append(f"{column} = :{name}")
                params[name] = value
        # Join the items only when a filter or the sort needs them; the page is cut from the flags
        # first and its 25 rows joined afterwards, so 100,000 items are never scanned for one page.
        needs_items = any(c.startswith("w.") for c in where) or filters.sort == "item_key"
        flags_from = f"FROM {t['compliance_flags']} f" + (
            f" JOIN {t['work_items']} w ON w.id = f.work_item_id" if needs_items else ""
        )
        base = f"{flags_from} WHERE " + " AND ".join(where)
        direction = "DESC" if filters.descending else "ASC"
        order = f"{_FLAG_SORTS[filters.sort]} {direction} NULLS LAST, f.opened_at DESC, f.id DESC"
        count_stmt = sa.text(f"SELECT count(*) {base}").bindparams(sa.bindparam("projects", expanding=True))
        total = int(session.execute(count_stmt, params).scalar_one())
        pages = max(1, math.ceil(total / page_size))
        page_order = order.replace("w.item_key", "coalesce(w.item_key, w.source_item_id)")
        stmt = sa.text(
            "WITH page AS ("
            f"SELECT f.id, row_number() OVER (ORDER BY {page_order}) AS n {base} "
            f"ORDER BY {page_order} LIMIT :lim OFFSET :off) "
            "SELECT f.id, f.project_id, f.rule_id, f.severity, f.message, f.status, f.work_item_id, "
            "coalesce(w.item_key, w.source_item_id) AS item_key, w.title, w.url, w.sprint_id, s.name AS sprint_name, "
            "w.assignee_identity_id, w.assignee_name, f.opened_at, f.resolved_at, f.resolved_by, f.resolution "
            f"FROM page JOIN {t['compliance_flags']} f ON f.id = page.id "
            f"JOIN {t['work_items']} w ON w.id = f.work_item_id LEFT JOIN {t['sprints']} s ON s.id = w.sprint_id "
            "ORDER BY page.n"
        ).bindparams(sa.bindparam("projects", expanding=True))
        rows = session.execute(stmt, {**params, "lim": page_size, "off": (page - 1) * page_size}).mappings().all()
        namers: dict[int, _Namer] = {}
        items = []
        for r in rows:
            pid = int(r["project_id"])
            if pid not in namers:
                namers[pid] = _Namer(session, user, pid)
            namer = namers[pid]
            items.append(
                FlagRow(
                    id=int(r["id"]),
                    project_id=pid,
                    project_key=projects[pid].key if pid in projects else "",
                    rule_id=r["rule_id"],
                    severity=r["severity"],
                    message=r["message"],
                    status=r["status"],
                    item_id=int(r["work_item_id"]),
                    item_key=r["item_key"] or "",
                    item_title=r["title"] or "",
                    item_url=r["url"] or "",
                    sprint_id=r["sprint_id"],
                    sprint_name=r["sprint_name"] or "",
                    assignee=namer.name(r["assignee_identity_id"], r["assignee_name"]),
                    opened_at=_iso(r["opened_at"]),
                    resolved_at=_iso(r["resolved_at"]),
                    resolved_by=r["resolved_by"] or "",
                    resolution=r["resolution"] or "",
                )
            )
    return FlagPage(items=items, total=total, page=page, page_size=page_size, pages=pages)


def get_flag(user: CurrentUser, flag_id: int) -> ComplianceFlag:
    """A flag of one of the user's projects, else NotFound."""
    with tenant_session(_require_company(user)) as session:
        flag = session.get(ComplianceFlag, flag_id)
    if flag is None or flag.project_id not in user.project_roles:
        raise NotFound(f"flag {flag_id} not found")
    require_project(user, flag.project_id)
    return flag


# =========================================================================== insights
def insights(user: CurrentUser, project_id: int, limit: int = 30) -> list[Insight]:
    """AI insights of the project, newest first (forecast rows are shown on the velocity page)."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        rows = session.exec(
            select(AIPrediction)
            .where(AIPrediction.project_id == project_id, col(AIPrediction.kind).not_in(FORECAST_KINDS))
            .order_by(col(AIPrediction.created_at).desc(), col(AIPrediction.id).desc())
            .limit(limit)
        ).all()
    return [
        Insight(
            id=r.id or 0,
            kind=r.kind,
            title=r.title or r.kind.replace("_", " ").capitalize(),
            summary=r.summary,
            analysis=r.analysis,
            actions=[str(a) for a in (r.actions or [])],
            provider=r.provider,
            confidence=r.confidence,
            note=r.note or "",
            rating=r.rating,
            rating_note=r.rating_note or "",
            created_at=_iso(r.created_at),
        )
        for r in rows
    ]


def get_insight(user: CurrentUser, insight_id: int) -> AIPrediction:
    """An insight of one of the user's projects, else NotFound."""
    with tenant_session(_require_company(user)) as session:
        row = session.get(AIPrediction, insight_id)
    if row is None or row.project_id not in user.project_roles:
        raise NotFound(f"insight {insight_id} not found")
    require_project(user, row.project_id)
    return row


class Choice(BaseModel):
    value: str
    label: str


def sprint_options(user: CurrentUser, project_id: int) -> list[Choice]:
    """The project's sprints, newest first, for pickers."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        rows = session.execute(
            sa.select(Sprint.__table__.c.id, Sprint.__table__.c.name)  # type: ignore[attr-defined]
            .where(Sprint.__table__.c.project_id == project_id)  # type: ignore[attr-defined]
            .order_by(sa.nulls_last(Sprint.__table__.c.start_date.desc()), Sprint.__table__.c.id.desc())  # type: ignore[attr-defined]
        ).all()
    return [Choice(value=str(i), label=n) for i, n in rows]


def developer_options(user: CurrentUser, project_id: int) -> list[Choice]:
    """Assignees of the project's items for pickers (same naming rules as everywhere)."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        t = _tables(session)
        schema = tenant_schema_of(session)
        from_read_model = f'SELECT DISTINCT identity_id FROM "{schema}".developer_metrics WHERE project_id = :p'
        ids = [int(r[0]) for r in session.execute(sa.text(from_read_model), {"p": project_id})]
        if not ids:
            ids = [
                int(r[0])
                for r in session.execute(
                    sa.text(
                        f"SELECT DISTINCT assignee_identity_id FROM {t['work_items']} "
                        "WHERE project_id = :p AND assignee_identity_id IS NOT NULL"
                    ),
                    {"p": project_id},
                )
            ]
        namer = _Namer(session, user, project_id)
        if namer.named:
            namer.load(set(ids))
        out = [Choice(value=str(i), label=namer.name(i)) for i in ids]
    out.sort(key=lambda c: (not c.label.startswith("Developer "), c.label) if not namer.named else (c.label,))
    return out


#: Roles that may resolve a compliance flag by hand.
RESOLVER_ROLES = {"tech_lead", "project_manager"}


def can_resolve(user: CurrentUser, project_id: int) -> bool:
    return user.role_in(project_id) in RESOLVER_ROLES


def resolve_flag(user: CurrentUser, flag_id: int, note: str) -> FlagRow:
    """Resolve a flag of the user's projects by hand (tech leads and project managers only)."""
    from core.errors import PermissionDenied
    from services import flags as flag_service

    flag = get_flag(user, flag_id)
    if not can_resolve(user, flag.project_id):
        raise PermissionDenied("only tech leads and project managers can resolve compliance flags")
    flag_service.resolve_flag(user.tenant_slug or "", flag_id, user.actor(), note)
    with tenant_session(user.tenant_slug or "") as session:
        row = session.get(ComplianceFlag, flag_id)
    assert row is not None
    return FlagRow(
        id=flag_id,
        project_id=row.project_id,
        rule_id=row.rule_id,
        severity=row.severity,
        message=row.message,
        status=row.status,
        item_id=row.work_item_id,
        opened_at=_iso(row.opened_at),
        resolved_at=_iso(row.resolved_at),
        resolved_by=row.resolved_by or "",
        resolution=row.resolution or "",
    )


def rate_insight(user: CurrentUser, insight_id: int, rating: int, note: str = "") -> Insight:
    """Thumbs up (+1) or down (-1) on an insight of the user's projects, with an optional note."""
    from etl.insights import rate_insight as store_rating

    if rating not in (1, -1):
        raise ValidationFailed("rating must be 1 (helpful) or -1 (not helpful)", field="rating")
    row = get_insight(user, insight_id)
    store_rating(user.tenant_slug or "", insight_id, user.id, rating > 0, note)
    return next(i for i in insights(user, row.project_id, limit=1000) if i.id == insight_id)
