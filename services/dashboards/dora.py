"""DORA read model: the four keys of a project's environment over a period, their trend and the lists behind them.

Figures come from `etl.dora` (set-based SQL, defined in docs/metrics.md). The
period is one of `PERIODS` ending now; the environment defaults to production
(or the project's most deployed one); the change failure window is the one the
project's deployment sources set (``config_json.failure_window_hours``, default
24), unless the caller asks for another. Every read checks the user's role on
the project (`require_project`): any role may read DORA figures.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import select

from core.errors import NotFound, ValidationFailed
from etl import dora
from models.db import public_session, tenant_session
from models.enums import DEPLOYMENT_SOURCES
from models.public import SourceConfig
from services.auth import CurrentUser
from services.dashboards.common import _round, require_project

#: Periods a DORA read covers (days back from now) and the trend's bucket for each.
PERIODS: dict[str, tuple[int, str]] = {
    "30d": (30, "week"),
    "90d": (90, "week"),
    "180d": (180, "month"),
    "365d": (365, "month"),
}
DEFAULT_PERIOD = "90d"
MAX_FAILURE_WINDOW_HOURS = 24 * 30

LABELS = {
    "deployment_frequency": "Deployment frequency",
    "lead_time": "Lead time for changes",
    "change_failure_rate": "Change failure rate",
    "time_to_restore": "Time to restore",
}
BAND_LABELS = {"elite": "Elite", "high": "High", "medium": "Medium", "low": "Low"}


# --------------------------------------------------------------------------- shapes
class DoraKey(BaseModel):
    key: str
    label: str
    value: float | None = None
    display: str = "-"
    unit: str = ""
    band: str | None = None  # elite, high, medium, low
    band_label: str = ""
    detail: str = ""  # the second figure (P85, counts)
    hint: str = ""


class DoraPoint(BaseModel):
    """One bucket of the trend."""

    start: str
    label: str
    deployments: int = 0
    failed_deployments: int = 0
    deployments_per_week: float = 0.0
    change_failure_rate: float | None = None
    lead_time_median_hours: float | None = None
    lead_time_p85_hours: float | None = None
    incidents: int = 0
    restore_median_hours: float | None = None


class DoraOverview(BaseModel):
    project_id: int
    period: str = DEFAULT_PERIOD
    since: str = ""
    until: str = ""
    environment: str | None = None
    environments: list[str] = Field(default_factory=list)
    bucket: str = "week"
    failure_window_hours: float = 24.0
    keys: list[DoraKey] = Field(default_factory=list)
    series: list[DoraPoint] = Field(default_factory=list)
    deployments: int = 0
    changes: int = 0
    incidents: int = 0
    open_incidents: int = 0
    has_data: bool = False
    empty_message: str = ""


class DoraDeploymentRow(BaseModel):
    id: int
    name: str
    repository: str
    environment: str
    kind: str
    commit_sha: str | None = None
    ref: str | None = None
    url: str | None = None
    finished_at: str = ""
    changes_count: int = 0
    prs: int = 0
    lead_time_median_hours: float | None = None
    is_revert: bool = False
    failed: bool = False
    cause: str = ""  # why it counts as failed: an incident (its key), a revert/hotfix after it
    creator_login: str | None = None


class DoraDeployments(BaseModel):
    project_id: int
    environment: str | None = None
    period: str = DEFAULT_PERIOD
    failed_only: bool = False
    rows: list[DoraDeploymentRow] = Field(default_factory=list)
    total: int = 0
    page: int = 1
    page_size: int = 50


class DoraIncidentRow(BaseModel):
    id: int
    item_key: str | None = None
    title: str = ""
    url: str | None = None
    status: str = ""
    priority: str | None = None
    opened_at: str = ""
    resolved_at: str | None = None
    restore_hours: float | None = None
    deployment_id: int | None = None
    deployment_name: str | None = None
    deployed_at: str | None = None
    caused_failure: bool = False  # opened within the failure window after that deployment


class DoraIncidents(BaseModel):
    project_id: int
    period: str = DEFAULT_PERIOD
    rows: list[DoraIncidentRow] = Field(default_factory=list)
    total: int = 0
    page: int = 1
    page_size: int = 50


class ShippedPullRequest(BaseModel):
    id: int
    number: int | None = None
    title: str = ""
    url: str | None = None
    repository: str = ""
    author_login: str | None = None
    first_commit_at: str | None = None
    merged_at: str | None = None
    lead_time_hours: float | None = None
    work_items: list[dict[str, Any]] = Field(default_factory=list)


class DoraDeploymentDetail(BaseModel):
    project_id: int
    deployment: DoraDeploymentRow
    previous_sha: str | None = None
    status: str = ""
    pull_requests: list[ShippedPullRequest] = Field(default_factory=list)
    commits: list[dict[str, Any]] = Field(default_factory=list)


# --------------------------------------------------------------------------- helpers
def _iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value else ""


def _hours(value: float | None) -> str:
    """3.5 h, 2.1 d, 6 wk: the unit that reads best."""
    if value is None:
        return "-"
    if value < 48:
        return f"{value:.1f} h" if value < 10 else f"{value:.0f} h"
    if value < 24 * 14:
        return f"{value / 24:.1f} d"
    return f"{value / 168:.1f} wk"


def _frequency(per_day: float) -> str:
    if per_day >= 1:
        return f"{per_day:.1f} / day"
    if per_day * 7 >= 1:
        return f"{per_day * 7:.1f} / week"
    return f"{per_day * 30:.1f} / month"


def period_window(period: str | None, now: datetime | None = None) -> tuple[str, datetime, datetime, str]:
    """(period, since, until, bucket) for a period name; an unknown name is refused."""
    name = period or DEFAULT_PERIOD
    if name not in PERIODS:
        raise ValidationFailed(f"period must be one of {', '.join(PERIODS)}", field="period")
    days, bucket = PERIODS[name]
    until = (now or datetime.now(UTC)).astimezone(UTC)
    return name, until - timedelta(days=days), until, bucket


def failure_window_hours(project_id: int, requested: float | None = None) -> float:
    """The change failure window: the caller's, else the project's deployment sources' setting, else 24 h."""
    if requested is not None:
        if not 0 < requested <= MAX_FAILURE_WINDOW_HOURS:
            raise ValidationFailed(
                f"the failure window is between 1 and {MAX_FAILURE_WINDOW_HOURS} hours", field="failure_window_hours"
            )
        return float(requested)
    with public_session() as session:
        configs = session.exec(
            select(SourceConfig.config_json).where(
                SourceConfig.project_id == project_id,
                SourceConfig.source_type.in_([str(t) for t in DEPLOYMENT_SOURCES]),  # type: ignore[attr-defined]
            )
        ).all()
    for config in configs:
        try:
            hours = float((config or {}).get("failure_window_hours") or 0)
        except (TypeError, ValueError):
            continue
        if 0 < hours <= MAX_FAILURE_WINDOW_HOURS:
            return hours
    return dora.DEFAULT_FAILURE_WINDOW.total_seconds() / 3600


def _scope(
    project_id: int,
    period: str | None,
    environment: str | None,
    window_hours: float | None,
    session: Any,
) -> tuple[dora.Scope | None, str, str, list[str]]:
    """(scope or None when the project has no deployment, period name, bucket, known environments)."""
    name, since, until, bucket = period_window(period)
    known = dora.environments(session, project_id)
    names = [env for env, _n in known]
    chosen = environment or dora.default_environment(known)
    if environment and environment not in names:
        raise NotFound(f"environment {environment!r} has no deployment in this project")
    if chosen is None:
        return None, name, bucket, names
    scope = dora.Scope(
        project_id=project_id,
        environment=chosen,
        since=since,
        until=until,
        rules=tuple(dora.incident_rules(project_id)),
        failure_window=timedelta(hours=failure_window_hours(project_id, window_hours)),
    )
    return scope, name, bucket, names


def _keys(total: dora.KeyFigures) -> list[DoraKey]:
    bands = total.bands()

    def key(name: str, value: float | None, display: str, unit: str, detail: str, hint: str) -> DoraKey:
        b = bands[name]
        return DoraKey(
            key=name, label=LABELS[name], value=_round(value, 2), display=display, unit=unit,
            band=b, band_label=BAND_LABELS.get(b or "", ""), detail=detail, hint=hint,
        )  # fmt: skip

    per_day = total.deployments_per_day
    cfr = total.change_failure_rate
    return [
        key("deployment_frequency", per_day if total.deployments else 0.0, _frequency(per_day), "per day",
            f"{total.deployments} deployments", "Successful deployments to the environment, per day of the period"),
        key("lead_time", total.lead_time_median_hours, _hours(total.lead_time_median_hours), "hours",
            f"P85 {_hours(total.lead_time_p85_hours)} · {total.changes} PRs",
            "Median time from a PR's first commit to the deployment that shipped it"),
        key("change_failure_rate", cfr, f"{cfr:.0f}%" if cfr is not None else "-", "%",
            f"{total.failed_deployments} of {total.deployments} deployments",
            "Deployments followed by an incident or a revert/hotfix within the failure window"),
        key("time_to_restore", total.restore_median_hours, _hours(total.restore_median_hours), "hours",
            f"P85 {_hours(total.restore_p85_hours)} · {total.resolved_incidents} of {total.incidents} resolved"
            if total.incidents
            else "no incident in the period",
            "Median time from an incident's opening to its resolution"),
    ]  # fmt: skip


def _point(figures: dora.KeyFigures, bucket: str) -> DoraPoint:
    start = figures.start or datetime.now(UTC)
    label = start.strftime("%d %b") if bucket != "month" else start.strftime("%b %Y")
    return DoraPoint(
        start=start.date().isoformat(),
        label=label,
        deployments=figures.deployments,
        failed_deployments=figures.failed_deployments,
        deployments_per_week=round(figures.deployments_per_day * 7, 2),
        change_failure_rate=_round(figures.change_failure_rate, 1),
        lead_time_median_hours=_round(figures.lead_time_median_hours, 1),
        lead_time_p85_hours=_round(figures.lead_time_p85_hours, 1),
        incidents=figures.incidents,
        restore_median_hours=_round(figures.restore_median_hours, 1),
    )


# --------------------------------------------------------------------------- reads
def dora_overview(
    user: CurrentUser,
    project_id: int,
    period: str | None = None,
    environment: str | None = None,
    failure_window: float | None = None,
) -> DoraOverview:
    """The four keys of the project's environment over the period, with their bands and trend."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        scope, name, bucket, names = _scope(project_id, period, environment, failure_window, session)
        if scope is None:
            return DoraOverview(
                project_id=project_id, period=name, bucket=bucket, environments=names,
                empty_message="No deployments yet: ask your admin to add a deployment source "
                "(GitHub deployments or Azure Pipelines) to this project and run a sync.",
            )  # fmt: skip
        keys = dora.four_keys(session, scope, bucket)
    total = keys.total
    return DoraOverview(
        project_id=project_id,
        period=name,
        since=_iso(scope.since),
        until=_iso(scope.until),
        environment=scope.environment,
        environments=names,
        bucket=bucket,
        failure_window_hours=scope.failure_window.total_seconds() / 3600,
        keys=_keys(total),
        series=[_point(p, bucket) for p in keys.series],
        deployments=total.deployments,
        changes=total.changes,
        incidents=total.incidents,
        open_incidents=total.incidents - total.resolved_incidents,
        has_data=True,
        empty_message=""
        if total.deployments or total.incidents
        else f"No deployment to {scope.environment} in this period.",
    )


def _deployment_row(row: dict[str, Any]) -> DoraDeploymentRow:
    cause = ""
    if row.get("incident_key"):
        cause = f"incident {row['incident_key']}"
    if row.get("reverted"):
        cause = f"{cause} and a revert/hotfix after it" if cause else "a revert/hotfix after it"
    return DoraDeploymentRow(
        id=row["id"],
        name=row["name"] or "",
        repository=row["repository"] or "",
        environment=row["environment"],
        kind=row["kind"],
        commit_sha=row["commit_sha"],
        ref=row["ref"],
        url=row["url"],
        finished_at=_iso(row["finished_at"]),
        changes_count=row["changes_count"] or 0,
        prs=int(row.get("prs") or 0),
        lead_time_median_hours=_round(row.get("lead_median"), 1),
        is_revert=bool(row["is_revert"]),
        failed=bool(row.get("failed")),
        cause=cause,
        creator_login=row.get("creator_login"),
    )


def dora_deployments(
    user: CurrentUser,
    project_id: int,
    period: str | None = None,
    environment: str | None = None,
    *,
    failed_only: bool = False,
    page: int = 1,
    page_size: int = 50,
    failure_window: float | None = None,
) -> DoraDeployments:
    """The deployments behind the figures, newest first (only those that failed in production on request)."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        scope, name, _bucket, _names = _scope(project_id, period, environment, failure_window, session)
        if scope is None:
            return DoraDeployments(
                project_id=project_id, period=name, failed_only=failed_only, page=page, page_size=page_size
            )
        rows, total = dora.deployment_rows(
            session, scope, failed_only=failed_only, limit=page_size, offset=(page - 1) * page_size
        )
    return DoraDeployments(
        project_id=project_id, environment=scope.environment, period=name, failed_only=failed_only,
        rows=[_deployment_row(r) for r in rows], total=total, page=page, page_size=page_size,
    )  # fmt: skip


def dora_incidents(
    user: CurrentUser,
    project_id: int,
    period: str | None = None,
    environment: str | None = None,
    *,
    page: int = 1,
    page_size: int = 50,
    failure_window: float | None = None,
) -> DoraIncidents:
    """The incidents of the period, newest first, with their time to restore and the deployment before them."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        scope, name, _bucket, _names = _scope(project_id, period, environment, failure_window, session)
        if scope is None:
            return DoraIncidents(project_id=project_id, period=name, page=page, page_size=page_size)
        rows, total = dora.incident_rows(session, scope, limit=page_size, offset=(page - 1) * page_size)
    return DoraIncidents(
        project_id=project_id,
        period=name,
        rows=[
            DoraIncidentRow(
                id=r["id"],
                item_key=r["item_key"],
                title=r["title"] or "",
                url=r["url"],
                status=r["status"] or "",
                priority=r["priority"],
                opened_at=_iso(r["opened_at"]),
                resolved_at=_iso(r["resolved_at"]) or None,
                restore_hours=_round(r["restore_hours"], 1),
                deployment_id=r["deployment_id"],
                deployment_name=r["deployment_name"],
                deployed_at=_iso(r["deployed_at"]) or None,
                caused_failure=bool(r["within_window"]),
            )
            for r in rows
        ],
        total=total,
        page=page,
        page_size=page_size,
    )


def dora_deployment(user: CurrentUser, project_id: int, deployment_id: int) -> DoraDeploymentDetail:
    """One deployment of the project: the PRs it shipped (with their lead time and work items) and its commits."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        found = dora.shipped_by(session, project_id, deployment_id)
    if found is None:
        raise NotFound(f"deployment {deployment_id} not found")
    d = found["deployment"]
    row = _deployment_row({**d, "prs": len(found["pull_requests"])})
    return DoraDeploymentDetail(
        project_id=project_id,
        deployment=row,
        previous_sha=d["previous_sha"],
        status=d["status"],
        pull_requests=[
            ShippedPullRequest(
                id=p["id"],
                number=p["number"],
                title=p["title"] or "",
                url=p["url"],
                repository=p["repository"] or "",
                author_login=p["author_login"],
                first_commit_at=_iso(p["first_commit_at"]) or None,
                merged_at=_iso(p["merged_at"]) or None,
                lead_time_hours=_round(p["lead_hours"], 1),
                work_items=list(p["work_items"] or []),
            )
            for p in found["pull_requests"]
        ],
        commits=[{**c, "authored_at": _iso(c["authored_at"]) or None} for c in found["commits"]],
    )
