"""Forecasts as pages show them: the dashboard's PredictionCard and the velocity page's forecast figures.

Both read the predictions the worker stores after every metrics rebuild
(`etl.forecast`, kinds `forecast_velocity` and `forecast_backlog`). Until the
first one is stored, the velocity forecast is computed live by the same
function from the same closed sprints, so the number does not change when the
job catches up.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from etl.forecast import DEFAULT_HISTORY, closed_sprint_metrics, velocity_range
from models.db import tenant_session
from models.tenant import AIPrediction
from services.auth import CurrentUser
from services.dashboards.common import _round, require_project
from services.dashboards.shapes import Forecast


class ForecastCard(BaseModel):
    """The PredictionCard: next sprint's P50/P85, the backlog's finish dates and how well past forecasts held."""

    project_id: int
    unit: str = "points"  # points, or items when the team does not estimate
    next_p50: float | None = None
    next_p85: float | None = None
    trend: str = ""  # up, down, flat ("" without history)
    history: list[str] = Field(default_factory=list)  # the closed sprints the forecast drew from
    remaining: float | None = None  # open backlog in `unit`
    finish_p50: str = ""  # dates (YYYY-MM-DD)
    finish_p85: str = ""
    calibration_tested: int = 0
    calibration_hits: int = 0  # past sprints that reached their P85
    calibration_coverage: float | None = None  # percent
    calibration_text: str = ""
    made_on: str = ""  # date of the stored forecast
    source: str = "none"  # prediction, live, none
    empty_message: str = ""


def latest_prediction(session: Session, project_id: int, kind: str) -> AIPrediction | None:
    """The newest stored prediction of a kind for the project."""
    return session.exec(
        select(AIPrediction)
        .where(AIPrediction.project_id == project_id, AIPrediction.kind == kind)
        .order_by(col(AIPrediction.created_at).desc(), col(AIPrediction.id).desc())
        .limit(1)
    ).first()


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def velocity_forecast(session: Session, project_id: int, label: str = "next sprint") -> Forecast:
    """Next sprint's velocity P50/P85: the stored forecast, else the same Monte Carlo run now."""
    pred = latest_prediction(session, project_id, "forecast_velocity")
    if pred is not None:
        velocity = _dict(_dict(pred.outputs).get("velocity"))
        if velocity:
            return Forecast(label=label, p50=_round(velocity.get("p50")), p85=_round(velocity.get("p85")),
                            source="prediction", note=pred.summary or "")  # fmt: skip
        return Forecast(label=label, note=pred.summary or "a forecast needs at least one closed sprint")
    history = [float(h["velocity"]) for h in closed_sprint_metrics(session, project_id, DEFAULT_HISTORY)]
    live = velocity_range(history)
    if live is None:
        return Forecast(label=label, note="a forecast needs at least one closed sprint")
    return Forecast(label=label, p50=_round(live.p50), p85=_round(live.p85), source="live",
                    note=f"computed from the last {live.samples} closed sprint(s); the stored forecast follows "
                    "the next metrics rebuild")  # fmt: skip


def backlog_forecast(session: Session, project_id: int) -> Forecast:
    """The backlog's finish dates (P50/P85) from the stored forecast; empty before the first one."""
    pred = latest_prediction(session, project_id, "forecast_backlog")
    if pred is None:
        return Forecast(label="backlog")
    out = _dict(pred.outputs)
    return Forecast(label="backlog", source="prediction" if out.get("p50_date") else "none", note=pred.summary or "",
                    p50_text=str(out.get("p50_date") or "")[:10], p85_text=str(out.get("p85_date") or "")[:10])  # fmt: skip


def calibration_text(tested: int, hits: int) -> str:
    """'11 of 13 past sprints reached their P85 forecast' (empty before any sprint could be tested)."""
    if not tested:
        return ""
    return f"{hits} of {tested} past sprint{'s' if tested != 1 else ''} reached their P85 forecast"


def forecast_card(user: CurrentUser, project_id: int) -> ForecastCard:
    """The dashboard's PredictionCard from the stored forecasts of the project."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        velocity_pred = latest_prediction(session, project_id, "forecast_velocity")
        backlog_pred = latest_prediction(session, project_id, "forecast_backlog")
        fallback = velocity_forecast(session, project_id) if velocity_pred is None else None
    card = ForecastCard(project_id=project_id)
    if velocity_pred is None:
        if fallback is not None and fallback.source == "live":
            card.next_p50, card.next_p85, card.source = fallback.p50, fallback.p85, "live"
        else:
            card.empty_message = "No closed sprint yet: the forecast starts after the first sprint closes."
        return card
    out, backlog = _dict(velocity_pred.outputs), _dict(backlog_pred.outputs if backlog_pred else {})
    card.unit = str(backlog.get("unit") or "points")
    series = _dict(out.get("velocity" if card.unit == "points" else "throughput"))
    card.next_p50, card.next_p85 = _round(series.get("p50")), _round(series.get("p85"))
    card.trend = str(_dict(out.get("velocity_trend" if card.unit == "points" else "throughput_trend")).get("direction")
                     or "")  # fmt: skip
    card.history = [str(s) for s in (velocity_pred.inputs or {}).get("sprints", [])]
    card.made_on = velocity_pred.created_at.date().isoformat() if velocity_pred.created_at else ""
    card.source = "prediction" if series else "none"
    if backlog:
        card.remaining = _round(backlog.get("remaining"))
        card.finish_p50 = str(backlog.get("p50_date") or "")[:10]
        card.finish_p85 = str(backlog.get("p85_date") or "")[:10]
    calibration = _dict(out.get("calibration"))
    card.calibration_tested = int(calibration.get("sprints_tested") or 0)
    card.calibration_hits = int(calibration.get("p85_hits") or 0)
    coverage = calibration.get("p85_coverage")
    card.calibration_coverage = round(100.0 * float(coverage)) if coverage is not None else None
    card.calibration_text = calibration_text(card.calibration_tested, card.calibration_hits)
    if not series:
        card.empty_message = "No closed sprint yet: the forecast starts after the first sprint closes."
    return card
