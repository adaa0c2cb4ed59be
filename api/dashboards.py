"""Dashboard read routes: thin wrappers over services.dashboards (tenant and project checked there)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from api.deps import CompanyUserDep
from services import dashboards as dash

router = APIRouter(prefix="/api/dashboards", tags=["dashboards"])


@router.get("/projects", response_model=list[dash.ProjectOption])
def projects(user: CompanyUserDep) -> list[dash.ProjectOption]:
    """The projects the caller holds a role on."""
    return dash.user_projects(user)


@router.get("/{project_id}/kpis", response_model=dash.Kpis)
def kpis(project_id: int, user: CompanyUserDep) -> dash.Kpis:
    return dash.kpis(user, project_id)


@router.get("/{project_id}/velocity", response_model=dash.VelocitySeries)
def velocity(project_id: int, user: CompanyUserDep) -> dash.VelocitySeries:
    return dash.velocity_series(user, project_id)


@router.get("/{project_id}/throughput", response_model=dash.ThroughputSeries)
def throughput(project_id: int, user: CompanyUserDep) -> dash.ThroughputSeries:
    return dash.throughput_series(user, project_id)


@router.get("/{project_id}/quality", response_model=dash.Quality)
def quality(project_id: int, user: CompanyUserDep) -> dash.Quality:
    return dash.quality(user, project_id)


@router.get("/{project_id}/pr-health", response_model=dash.PrHealth)
def pr_health(project_id: int, user: CompanyUserDep, days: int = Query(180, ge=1, le=3650)) -> dash.PrHealth:
    return dash.pr_health(user, project_id, days=days)


@router.get("/{project_id}/sprints/{sprint_id}", response_model=dash.SprintDetail)
def sprint(project_id: int, sprint_id: int, user: CompanyUserDep) -> dash.SprintDetail:
    return dash.sprint_detail(user, project_id, sprint_id)


@router.get("/{project_id}/sprints/{sprint_id}/items", response_model=dash.DrillDown)
def drill_down(
    project_id: int,
    sprint_id: int,
    user: CompanyUserDep,
    metric: str = Query("completed", description="committed, completed, throughput, defects, blocked, ..."),
    item_type: str | None = Query(None, description="story, bug, task or other"),
) -> dash.DrillDown:
    """The items behind one chart point (a sprint and a metric)."""
    return dash.drill_down(user, project_id, sprint_id, metric, item_type)


@router.get("/{project_id}/developers", response_model=dash.DeveloperList)
def developers(project_id: int, user: CompanyUserDep) -> dash.DeveloperList:
    return dash.developers(user, project_id)


@router.get("/{project_id}/developers/{identity_id}", response_model=dash.DeveloperDetail)
def developer(project_id: int, identity_id: int, user: CompanyUserDep) -> dash.DeveloperDetail:
    return dash.developer_detail(user, project_id, identity_id)


@router.get("/{project_id}/me", response_model=dash.DeveloperDetail)
def me(project_id: int, user: CompanyUserDep) -> dash.DeveloperDetail:
    return dash.me(user, project_id)
