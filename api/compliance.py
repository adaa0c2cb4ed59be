"""Compliance flags at the spec's paths (section 4.3): the filterable, paged list and manual resolution."""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import CompanyUserDep
from services import dashboards as dash

router = APIRouter(prefix="/api/compliance-flags", tags=["compliance"])


class ResolveRequest(BaseModel):
    note: str = Field(min_length=1, max_length=2000, description="why the flag is resolved")


@router.get("", response_model=dash.FlagPage)
def flags(
    user: CompanyUserDep,
    project_id: int | None = Query(None, description="one of your projects; default: all of them"),
    rule_id: str | None = None,
    severity: str | None = None,
    sprint_id: int | None = None,
    assignee_identity_id: int | None = None,
    status: str | None = Query("open", description="open, resolved or all"),
    sort: str = Query("severity", description="severity, opened_at, rule_id, item_key, status, resolved_at"),
    descending: bool = False,
    page: int = Query(1, ge=1),
    page_size: int = Query(25, ge=1, le=200),
) -> dash.FlagPage:
    """DMT flags of your projects, filtered, sorted and paged."""
    filters = dash.FlagFilters(
        project_id=project_id,
        rule_id=rule_id,
        severity=severity,
        sprint_id=sprint_id,
        assignee_identity_id=assignee_identity_id,
        status=None if status == "all" else status,
        sort=sort,
        descending=descending,
        page=page,
        page_size=page_size,
    )
    return dash.list_flags(user, filters)


@router.post("/{flag_id}/resolve", response_model=dash.FlagRow)
def resolve(flag_id: int, body: ResolveRequest, user: CompanyUserDep) -> dash.FlagRow:
    """Resolve a flag by hand (tech leads and project managers); the note is recorded and audited."""
    return dash.resolve_flag(user, flag_id, body.note)
