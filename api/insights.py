"""AI insight routes: list a project's insights, rate one (thumbs up/down with a note)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import CompanyUserDep
from services import dashboards as dash

router = APIRouter(prefix="/api/insights", tags=["insights"])


class RatingRequest(BaseModel):
    rating: Literal[1, -1] = Field(description="1 helpful, -1 not helpful")
    note: str = Field(default="", max_length=2000)


@router.get("", response_model=list[dash.Insight])
def list_insights(user: CompanyUserDep, project_id: int, limit: int = Query(30, ge=1, le=200)) -> list[dash.Insight]:
    return dash.insights(user, project_id, limit=limit)


@router.post("/{insight_id}/rate", response_model=dash.Insight)
def rate(insight_id: int, body: RatingRequest, user: CompanyUserDep) -> dash.Insight:
    return dash.rate_insight(user, insight_id, body.rating, body.note)
