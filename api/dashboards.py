"""Dashboard read routes: thin wrappers over services.dashboards (tenant and project checked there)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from api.deps import CompanyUserDep
from services import dashboards as dash
from services.auth import CurrentUser
from core.read_cache import cached_json_async

router = APIRouter(prefix="/api/dashboards", tags=["dashboards"])


async def _cached(
    user: CurrentUser, project_id: int, parts: tuple[object, ...], produce: Callable[[], BaseModel]
) -> Response:
    """Serve a dashboard read from the tenant's read cache (services/read_cache.py).

    The key carries the user and their role on the project, so what one user may
    see is never served to another, and a changed role misses the cache. A hit is
    served on the event loop; only a miss runs the SQL, in a worker thread.
    """
    role = user.project_roles.get(project_id, "none")
    body = await cached_json_async(user.tenant_slug or "", user.id, (project_id, role, *parts), produce)
    return Response(content=body, media_type="application/json")


@router.get("/projects", response_model=list[dash.ProjectOption])
def projects(user: CompanyUserDep) -> list[dash.ProjectOption]:
    """The projects the caller holds a role on."""
    return dash.user_projects(user)


@router.get("/{project_id}/kpis", response_model=dash.Kpis)
async def kpis(project_id: int, user: CompanyUserDep) -> Response:
    return await _cached(user, project_id, ("kpis",), lambda: dash.kpis(user, project_id))


@router.get("/{project_id}/velocity", response_model=dash.VelocitySeries)
async def velocity(project_id: int, user: CompanyUserDep) -> Response:
    return await _cached(user, project_id, ("velocity",), lambda: dash.velocity_series(user, project_id))


@router.get("/{project_id}/throughput", response_model=dash.ThroughputSeries)
async def throughput(project_id: int, user: CompanyUserDep) -> Response:
    return await _cached(user, project_id, ("throughput",), lambda: dash.throughput_series(user, project_id))


@router.get("/{project_id}/quality", response_model=dash.Quality)
async def quality(project_id: int, user: CompanyUserDep) -> Response:
    return await _cached(user, project_id, ("quality",), lambda: dash.quality(user, project_id))


@router.get("/{project_id}/pr-health", response_model=dash.PrHealth)
async def pr_health(project_id: int, user: CompanyUserDep, days: int = Query(180, ge=1, le=3650)) -> Response:
    return await _cached(user, project_id, ("pr-health", days), lambda: dash.pr_health(user, project_id, days=days))


@router.get("/{project_id}/sprints/{sprint_id}", response_model=dash.SprintDetail)
async def sprint(project_id: int, sprint_id: int, user: CompanyUserDep) -> Response:
    return await _cached(user, project_id, ("sprint", sprint_id), lambda: dash.sprint_detail(user, project_id, sprint_id))


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
async def developers(project_id: int, user: CompanyUserDep) -> Response:
    return await _cached(user, project_id, ("developers",), lambda: dash.developers(user, project_id))


@router.get("/{project_id}/developers/{identity_id}", response_model=dash.DeveloperDetail)
async def developer(project_id: int, identity_id: int, user: CompanyUserDep) -> Response:
    return await _cached(
        user, project_id, ("developer", identity_id), lambda: dash.developer_detail(user, project_id, identity_id)
    )


@router.get("/{project_id}/me", response_model=dash.DeveloperDetail)
async def me(project_id: int, user: CompanyUserDep) -> Response:
    return await _cached(user, project_id, ("me",), lambda: dash.me(user, project_id))
