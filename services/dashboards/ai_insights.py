"""AI insights of a project (forecasts are shown on the velocity page) and rating them."""

from __future__ import annotations

from sqlmodel import col, select

from core.errors import NotFound, ValidationFailed
from models.db import tenant_session
from models.tenant import AIPrediction
from services.auth import CurrentUser
from services.dashboards.common import FORECAST_KINDS, _iso, _require_company, require_project
from services.dashboards.shapes import Insight
from services.insights import rate_insight as store_rating


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


def rate_insight(user: CurrentUser, insight_id: int, rating: int, note: str = "") -> Insight:
    """Thumbs up (+1) or down (-1) on an insight of the user's projects, with an optional note."""
    if rating not in (1, -1):
        raise ValidationFailed("rating must be 1 (helpful) or -1 (not helpful)", field="rating")
    row = get_insight(user, insight_id)
    store_rating(user.tenant_slug or "", insight_id, user.id, rating > 0, note)
    return next(i for i in insights(user, row.project_id, limit=1000) if i.id == insight_id)
