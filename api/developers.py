"""Individual metrics at the spec's paths (section 4.3): developers, one developer over time and against
the team average, and the caller's own metrics. Names are shown only to roles allowed to see them."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import CompanyUserDep, ProjectIdDep, cached_read
from services import dashboards as dash

router = APIRouter(prefix="/api", tags=["developers"])


@router.get("/developers", response_model=dash.DeveloperList)
async def developers(user: CompanyUserDep, project_id: ProjectIdDep) -> Response:
    """The project's developers with their totals (anonymised unless you are a tech lead or project manager)."""
    return await cached_read(user, project_id, ("developers",), lambda: dash.developers(user, project_id))


@router.get("/developers/{identity_id}/metrics", response_model=dash.DeveloperDetail)
async def developer_metrics(identity_id: int, user: CompanyUserDep, project_id: ProjectIdDep) -> Response:
    """One developer's figures per sprint, next to the team average."""
    return await cached_read(
        user, project_id, ("developer", identity_id), lambda: dash.developer_detail(user, project_id, identity_id)
    )


@router.get("/developers/{identity_id}/comparison", response_model=dash.DeveloperComparison)
async def developer_vs_team(
    identity_id: int,
    user: CompanyUserDep,
    project_id: ProjectIdDep,
    sprint_id: int | None = Query(None, description="compare in this sprint too; default: the current sprint"),
) -> Response:
    """One developer against the team average: over the sprints shown and in one sprint."""
    return await cached_read(
        user,
        project_id,
        ("comparison", identity_id, sprint_id),
        lambda: dash.developer_comparison(user, project_id, identity_id, sprint_id),
    )


@router.get("/me/metrics", response_model=dash.DeveloperDetail)
async def my_metrics(user: CompanyUserDep, project_id: ProjectIdDep) -> Response:
    """Your own figures per sprint (your account linked to a developer identity by user or email)."""
    return await cached_read(user, project_id, ("me",), lambda: dash.me(user, project_id))
