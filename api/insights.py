"""AI insights at the spec's paths (section 4.3): a project's insights and forecasts, and feedback on one."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import CompanyUserDep, ProjectIdDep
from services import dashboards as dash

router = APIRouter(prefix="/api/ai-insights", tags=["insights"])


class Feedback(BaseModel):
    rating: Literal[1, -1] = Field(description="1 helpful, -1 not helpful")
    note: str = Field(default="", max_length=2000)


@router.get("", response_model=list[dash.Insight])
def list_insights(
    user: CompanyUserDep, project_id: ProjectIdDep, limit: int = Query(30, ge=1, le=200)
) -> list[dash.Insight]:
    """The project's AI insights and forecasts, newest first."""
    return dash.insights(user, project_id, limit=limit)


@router.post("/{insight_id}/feedback", response_model=dash.Insight)
def feedback(insight_id: int, body: Feedback, user: CompanyUserDep) -> dash.Insight:
    """Rate an insight (thumbs up or down, with an optional note); your latest rating counts."""
    return dash.rate_insight(user, insight_id, body.rating, body.note)
