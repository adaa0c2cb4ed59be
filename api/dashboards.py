"""Company dashboards at the spec's paths (section 4.3): `/api/dashboard/*` with `?project_id=` and `?sprint_id=`.

`project_id` defaults to the caller's first project, `sprint_id` to the current
sprint (the active one, else the latest started). Beyond the spec, in the same
style: `/api/projects` (the caller's projects), `/api/dashboard/sprint` (a
sprint's deep-dive and burndown) and `/api/dashboard/sprint/items` (the items
behind one chart point). Reads are served from the tenant's read cache; tenant
and project are checked by the services.
"""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import CompanyUserDep, ProjectIdDep, cached_read
from core.errors import NotFound
from services import dashboards as dash

router = APIRouter(prefix="/api", tags=["dashboards"])

SprintQuery = Query(None, description="a sprint of the project; default: the current sprint")


@router.get("/projects", response_model=list[dash.ProjectOption])
def projects(user: CompanyUserDep) -> list[dash.ProjectOption]:
    """The projects the caller holds a role on (the first is the default `project_id`)."""
    return dash.user_projects(user)


@router.get("/dashboard/summary", response_model=dash.Kpis)
async def summary(user: CompanyUserDep, project_id: ProjectIdDep, sprint_id: int | None = SprintQuery) -> Response:
    """KPI cards of a sprint (default: the current one), each compared with the sprints before it."""
    return await cached_read(
        user, project_id, ("summary", sprint_id), lambda: dash.kpis(user, project_id, sprint_id)
    )


@router.get("/dashboard/velocity", response_model=dash.VelocitySeries)
async def velocity(user: CompanyUserDep, project_id: ProjectIdDep) -> Response:
    """Committed and completed points per sprint, with the next-sprint and backlog forecasts."""
    return await cached_read(user, project_id, ("velocity",), lambda: dash.velocity_series(user, project_id))


@router.get("/dashboard/throughput", response_model=dash.ThroughputSeries)
async def throughput(user: CompanyUserDep, project_id: ProjectIdDep) -> Response:
    """Items completed per sprint, by type."""
    return await cached_read(user, project_id, ("throughput",), lambda: dash.throughput_series(user, project_id))


@router.get("/dashboard/defect-density", response_model=dash.Quality)
async def defect_density(user: CompanyUserDep, project_id: ProjectIdDep) -> Response:
    """Defects and defect density per sprint, with open flags by rule and severity."""
    return await cached_read(user, project_id, ("defect-density",), lambda: dash.quality(user, project_id))


@router.get("/dashboard/compliance", response_model=dash.ComplianceOverview)
async def compliance(user: CompanyUserDep, project_id: ProjectIdDep) -> Response:
    """DMT compliance rate of done items, its trend per sprint, open flags by severity and rule."""
    return await cached_read(user, project_id, ("compliance",), lambda: dash.compliance_overview(user, project_id))


@router.get("/dashboard/blocked-items", response_model=dash.BlockedItems)
async def blocked(
    user: CompanyUserDep,
    project_id: ProjectIdDep,
    sprint_id: int | None = Query(None, description="only this sprint's items; default: the whole project"),
    page: int = Query(1, ge=1),
    page_size: int = Query(50, ge=1, le=500),
) -> Response:
    """Unfinished items blocked now: since when, for how long and why, longest-blocked first."""
    return await cached_read(
        user,
        project_id,
        ("blocked-items", sprint_id, page, page_size),
        lambda: dash.blocked_items(user, project_id, sprint_id, page, page_size),
    )


@router.get("/dashboard/pr-health", response_model=dash.PrHealth)
async def pr_health(
    user: CompanyUserDep, project_id: ProjectIdDep, days: int = Query(180, ge=1, le=3650)
) -> Response:
    """Review coverage, time to first review and to merge, per repository and per sprint."""
    return await cached_read(
        user, project_id, ("pr-health", days), lambda: dash.pr_health(user, project_id, days=days)
    )


@router.get("/dashboard/sprint", response_model=dash.SprintDetail)
async def sprint(user: CompanyUserDep, project_id: ProjectIdDep, sprint_id: int | None = SprintQuery) -> Response:
    """One sprint's figures, burndown and items."""
    return await cached_read(
        user, project_id, ("sprint", sprint_id), lambda: dash.sprint_detail(user, project_id, sprint_id)
    )


@router.get("/dashboard/sprint/items", response_model=dash.DrillDown)
def sprint_items(
    user: CompanyUserDep,
    project_id: ProjectIdDep,
    sprint_id: int | None = SprintQuery,
    metric: str = Query("completed", description=", ".join(dash.DRILL_METRICS)),
    item_type: str | None = Query(None, description="story, bug, task or other"),
) -> dash.DrillDown:
    """The items behind one chart point (a sprint and a metric)."""
    chosen = dash.chosen_sprint(user, project_id, sprint_id)
    if chosen is None:
        raise NotFound("this project has no sprints yet")
    return dash.drill_down(user, project_id, chosen.id, metric, item_type)
