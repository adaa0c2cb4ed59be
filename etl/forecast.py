"""Statistical forecasts: Monte Carlo over past sprints' velocity and throughput.

Pure functions do the maths (`velocity_range`, `finish_range`, `trend`);
`forecast_project` reads a project's sprint history and open backlog, runs
them and stores the results in `ai_predictions` (kinds `forecast_velocity` and
`forecast_backlog`) with their inputs.

Conventions (see docs/metrics.md):
* P50 / P85 of a velocity are the values reached or exceeded in 50 % / 85 %
  of simulations (so P85 <= P50: the safer commitment).
* P50 / P85 of a finish date are the dates by which 50 % / 85 % of
  simulations have burnt the backlog (so P85 >= P50).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa

from core.realtime import publish_event
from models.base import utcnow
from models.db import tenant_schema_of, tenant_session
from models.tenant import AIPrediction

DEFAULT_SIMULATIONS = 10_000
DEFAULT_SEED = 42
DEFAULT_HISTORY = 6
DEFAULT_SPRINT_DAYS = 14.0
MAX_SPRINTS = 200
#: |slope| / mean per sprint below which a trend is "flat".
FLAT_SLOPE = 0.03
#: Fits explaining less than this share of the variance are called "flat".
MIN_R2 = 0.1


@dataclass(frozen=True)
class Trend:
    direction: str  # up, down, flat
    slope: float  # units per sprint
    normalised_slope: float  # slope / mean: relative change per sprint
    r2: float  # share of the variance the straight line explains (strength)


@dataclass(frozen=True)
class VelocityRange:
    p50: float
    p85: float
    mean: float
    samples: int


@dataclass(frozen=True)
class FinishRange:
    p50_sprints: int | None
    p85_sprints: int | None
    p50_date: datetime | None
    p85_date: datetime | None
    probability_within_horizon: float


def trend(values: list[float]) -> Trend:
    """Least-squares line through the values (oldest first); direction from slope/mean and r²."""
    y = np.asarray(values, dtype=float)
    if y.size < 2:
        return Trend("flat", 0.0, 0.0, 0.0)
    x = np.arange(y.size, dtype=float)
    slope, intercept = np.polyfit(x, y, 1)
    fitted = slope * x + intercept
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    ss_res = float(np.sum((y - fitted) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0
    mean = float(y.mean())
    normalised = float(slope) / mean if mean else 0.0
    if abs(normalised) < FLAT_SLOPE or r2 < MIN_R2:
        direction = "flat"
    else:
        direction = "up" if slope > 0 else "down"
    return Trend(direction, round(float(slope), 6), round(normalised, 6), round(max(0.0, r2), 6))


def velocity_range(
    history: list[float], simulations: int = DEFAULT_SIMULATIONS, seed: int = DEFAULT_SEED
) -> VelocityRange | None:
    """Next-sprint velocity by resampling past sprints (bootstrap), seeded."""
    if not history:
        return None
    rng = np.random.default_rng(seed)
    draws = rng.choice(np.asarray(history, dtype=float), size=simulations, replace=True)
    return VelocityRange(
        p50=round(float(np.percentile(draws, 50)), 3),
        p85=round(float(np.percentile(draws, 15)), 3),  # reached or exceeded in 85 % of runs
        mean=round(float(draws.mean()), 3),
        samples=len(history),
    )


def finish_range(
    history: list[float],
    remaining: float,
    start: datetime,
    sprint_days: float = DEFAULT_SPRINT_DAYS,
    simulations: int = DEFAULT_SIMULATIONS,
    seed: int = DEFAULT_SEED,
    max_sprints: int = MAX_SPRINTS,
) -> FinishRange:
    """Sprints (and dates) needed to burn `remaining` by drawing past sprints' output at random."""
    if remaining <= 0:
        return FinishRange(0, 0, start, start, 1.0)
    values = np.asarray(history, dtype=float)
    if values.size == 0 or not np.any(values > 0):
        return FinishRange(None, None, None, None, 0.0)
    rng = np.random.default_rng(seed)
    draws = rng.choice(values, size=(simulations, max_sprints), replace=True)
    done = np.cumsum(draws, axis=1) >= remaining
    finished = done.any(axis=1)
    sprints = np.where(finished, done.argmax(axis=1) + 1, max_sprints + 1)
    probability = float(finished.mean())

    def at(q: float) -> tuple[int | None, datetime | None]:
        n = math.ceil(float(np.percentile(sprints, q)))
        if n > max_sprints:
            return None, None
        return n, start + timedelta(days=n * sprint_days)

    p50, p50_date = at(50)
    p85, p85_date = at(85)
    return FinishRange(p50, p85, p50_date, p85_date, round(probability, 4))


def _history(session: Any, schema: str, project_id: int, n: int) -> list[dict[str, Any]]:
    rows = session.connection().execute(
        sa.text(f"""
            SELECT m.sprint_id, s.name AS sprint_name, m.completed_points AS velocity,
                   m.completed_items AS throughput, s.start_date, s.end_date
            FROM "{schema}".sprint_metrics m JOIN "{schema}".sprints s ON s.id = m.sprint_id
            WHERE m.project_id = :p AND s.state = 'closed'
            ORDER BY coalesce(s.start_date, s.end_date) DESC NULLS LAST, m.sprint_id DESC
            LIMIT :n"""),
        {"p": project_id, "n": n},
    ).mappings().all()
    return [dict(r) for r in reversed(rows)]


def _backlog(session: Any, schema: str, project_id: int) -> dict[str, float]:
    row = session.connection().execute(
        sa.text(f"""
            SELECT count(*) AS items, coalesce(sum(story_points), 0) AS points,
                   count(*) FILTER (WHERE story_points IS NULL) AS unestimated
            FROM "{schema}".work_items
            WHERE project_id = :p AND NOT is_deleted AND status_category <> 'done'
              AND item_type NOT IN ('epic')"""),
        {"p": project_id},
    ).mappings().one()
    return {"items": int(row["items"]), "points": float(row["points"]), "unestimated": int(row["unestimated"])}


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in data.items()}


def forecast_project(
    tenant_slug: str,
    project_id: int,
    *,
    history_sprints: int = DEFAULT_HISTORY,
    simulations: int = DEFAULT_SIMULATIONS,
    seed: int = DEFAULT_SEED,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Forecast next-sprint velocity and the backlog's finish date; store both predictions."""
    now = now or utcnow()
    with tenant_session(tenant_slug) as session:
        schema = tenant_schema_of(session)
        history = _history(session, schema, project_id, history_sprints)
        backlog = _backlog(session, schema, project_id)
        velocities = [float(h["velocity"]) for h in history]
        throughputs = [float(h["throughput"]) for h in history]
        lengths = [
            (h["end_date"] - h["start_date"]).total_seconds() / 86400
            for h in history
            if h["start_date"] and h["end_date"] and h["end_date"] > h["start_date"]
        ]
        sprint_days = float(np.median(lengths)) if lengths else DEFAULT_SPRINT_DAYS
        # Points when the backlog and the history are estimated, else item counts.
        use_points = backlog["points"] > 0 and any(v > 0 for v in velocities)
        unit = "points" if use_points else "items"
        remaining = backlog["points"] if use_points else float(backlog["items"])
        series = velocities if use_points else throughputs
        velocity = velocity_range(velocities, simulations, seed)
        throughput = velocity_range(throughputs, simulations, seed)
        finish = finish_range(series, remaining, now, sprint_days, simulations, seed)
        velocity_trend, throughput_trend = trend(velocities), trend(throughputs)
        inputs = {
            "sprints": [h["sprint_name"] for h in history],
            "velocity_history": velocities,
            "throughput_history": throughputs,
            "simulations": simulations,
            "seed": seed,
        }
        velocity_out = {
            "velocity": asdict(velocity) if velocity else None,
            "throughput": asdict(throughput) if throughput else None,
            "velocity_trend": asdict(velocity_trend),
            "throughput_trend": asdict(throughput_trend),
        }
        backlog_out = {"unit": unit, "remaining": remaining, "sprint_days": sprint_days,
                       **_jsonable(asdict(finish))}
        confidence = min(1.0, len(history) / max(1, history_sprints))
        rows = [
            AIPrediction(
                project_id=project_id, kind="forecast_velocity", provider="statistics", model="monte_carlo",
                title="Next sprint velocity",
                summary=(f"Next sprint: {velocity.p50:g} points at P50, {velocity.p85:g} at P85; "
                         f"trend {velocity_trend.direction}.") if velocity else "Not enough sprint history.",
                inputs=inputs, outputs=velocity_out, confidence=confidence,
            ),
            AIPrediction(
                project_id=project_id, kind="forecast_backlog", provider="statistics", model="monte_carlo",
                title="Backlog finish date",
                summary=(f"{remaining:g} open {unit}: done by {finish.p50_date:%Y-%m-%d} (P50), "
                         f"{finish.p85_date:%Y-%m-%d} (P85).") if finish.p50_date and finish.p85_date
                else "The backlog cannot be forecast from the sprint history yet.",
                inputs={**inputs, "backlog": backlog}, outputs=backlog_out, confidence=confidence,
            ),
        ]
        session.add_all(rows)
        session.commit()
        ids = [r.id for r in rows]
    publish_event("insight.created", tenant_slug, project_id=project_id, kinds=["forecast_velocity",
                                                                                "forecast_backlog"], ids=ids)
    return {"velocity": velocity_out, "backlog": backlog_out, "inputs": inputs, "prediction_ids": ids}
