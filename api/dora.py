"""DORA's four keys (`/api/dora`) and the deployments and incidents behind them.

`project_id` defaults to the caller's first project, `period` to 90 days
(30d, 90d, 180d, 365d, ending now), `environment` to the project's production
environment, `failure_window_hours` to the project's deployment sources'
setting (24 h by default). Reads are served from the tenant's read cache;
tenant and project are checked by the services (any role on the project).
"""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import CompanyUserDep, ProjectIdDep, cached_read
from services.dashboards import dora

router = APIRouter(prefix="/api/dora", tags=["dora"])

PeriodQuery = Query(None, description=f"one of {', '.join(dora.PERIODS)} (default {dora.DEFAULT_PERIOD}), ending now")
EnvironmentQuery = Query(None, max_length=200, description="default: production, else the most deployed environment")
WindowQuery = Query(
    None, gt=0, le=dora.MAX_FAILURE_WINDOW_HOURS, description="hours after a deployment an incident or revert fails it"
)


@router.get("", response_model=dora.DoraOverview)
async def overview(
    user: CompanyUserDep,
    project_id: ProjectIdDep,
    period: str | None = PeriodQuery,
    environment: str | None = EnvironmentQuery,
    failure_window_hours: float | None = WindowQuery,
) -> Response:
    """Deployment frequency, lead time for changes, change failure rate and time to restore, with bands and trend."""
    return await cached_read(
        user,
        project_id,
        ("dora", period, environment, failure_window_hours),
        lambda: dora.dora_overview(user, project_id, period, environment, failure_window_hours),
    )


@router.get("/deployments", response_model=dora.DoraDeployments)
async def deployments(
    user: CompanyUserDep,
    project_id: ProjectIdDep,
    period: str | None = PeriodQuery,
    environment: str | None = EnvironmentQuery,
    failure_window_hours: float | None = WindowQuery,
    failed_only: bool = Query(False, description="only the deployments that failed in production"),
    page: int = Query(1, ge=1),
    page_size: int = Query(50, ge=1, le=500),
) -> Response:
    """The period's successful deployments, newest first: what each shipped, its lead time, whether it failed."""
    return await cached_read(
        user,
        project_id,
        ("dora-deployments", period, environment, failure_window_hours, failed_only, page, page_size),
        lambda: dora.dora_deployments(
            user, project_id, period, environment, failed_only=failed_only, page=page, page_size=page_size,
            failure_window=failure_window_hours,
        ),
    )  # fmt: skip


@router.get("/deployments/{deployment_id}", response_model=dora.DoraDeploymentDetail)
async def deployment(user: CompanyUserDep, project_id: ProjectIdDep, deployment_id: int) -> Response:
    """One deployment: the pull requests it shipped (lead time each, their work items) and its commits."""
    return await cached_read(
        user,
        project_id,
        ("dora-deployment", deployment_id),
        lambda: dora.dora_deployment(user, project_id, deployment_id),
    )


@router.get("/incidents", response_model=dora.DoraIncidents)
async def incidents(
    user: CompanyUserDep,
    project_id: ProjectIdDep,
    period: str | None = PeriodQuery,
    environment: str | None = EnvironmentQuery,
    failure_window_hours: float | None = WindowQuery,
    page: int = Query(1, ge=1),
    page_size: int = Query(50, ge=1, le=500),
) -> Response:
    """The period's incidents, newest first: time to restore, and the deployment before each."""
    return await cached_read(
        user,
        project_id,
        ("dora-incidents", period, environment, failure_window_hours, page, page_size),
        lambda: dora.dora_incidents(
            user, project_id, period, environment, page=page, page_size=page_size, failure_window=failure_window_hours
        ),
    )
