"""Statistical forecasts: Monte Carlo over the velocity and throughput of CLOSED sprints.

Pure functions do the maths (`velocity_range`, `finish_range`, `trend`,
`backtest`); `closed_sprint_metrics` reads the one history every forecast and
every insight uses (the project's last closed sprints, oldest first);
`forecast_project` runs them for one project and stores the results in
`ai_predictions` (kinds `forecast_velocity` and `forecast_backlog`) with their
inputs; `forecast_tenant` does it for every active project of a tenant (the
worker runs it after every metrics rebuild).

Conventions (see docs/metrics.md):
* P50 / P85 of a velocity are the values reached or exceeded in 50 % / 85 %
  of simulations (so P85 <= P50: the safer commitment).
* P50 / P85 of a finish date are the dates by which 50 % / 85 % of
  simulations have burnt the backlog (so P85 >= P50).
* Calibration: `backtest` forecasts every past sprint from the sprints before
  it and counts how often the actual velocity reached the forecast's P85.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.realtime import publish_event
from etl.metrics import counted_points
from models.base import utcnow
from models.db import get_tenant_by_slug, public_session, tenant_schema_of, tenant_session
from models.public import Project
from models.tenant import AIPrediction

DEFAULT_SIMULATIONS = 10_000
DEFAULT_SEED = 42
#: Closed sprints a forecast (and the insights) draw from: the most recent ones.
DEFAULT_HISTORY = 6
DEFAULT_SPRINT_DAYS = 14.0
MAX_SPRINTS = 200
#: A backtest forecasts a past sprint only when at least this many closed sprints precede it.
BACKTEST_MIN_HISTORY = 3
#: Closed sprints a backtest looks back over (the most recent ones).
BACKTEST_SPRINTS = 52
#: |slope| / mean per sprint below which a trend is "flat".
FLAT_SLOPE = 0.03
#: Fits explaining less than this share of the variance are called "flat".
MIN_R2 = 0.1
FORECAST_KINDS = ("forecast_velocity", "forecast_backlog")


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


@dataclass(frozen=True)
class BacktestPoint:
    """One past sprint forecast from the sprints before it."""

    sprint: str
    p50: float
    p85: float
    actual: float


@dataclass(frozen=True)
class Calibration:
    """How often past sprints reached their forecast (each forecast from the sprints before it only)."""

    window: int  # closed sprints each forecast drew from (at most)
    sprints_tested: int
    p85_hits: int  # actual velocity >= P85
    p50_hits: int  # actual velocity >= P50
    p85_coverage: float | None  # p85_hits / sprints_tested
    p50_coverage: float | None
    points: list[BacktestPoint] = field(default_factory=list)


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


def backtest(
    history: list[float],
    names: list[str] | None = None,
    *,
    window: int = DEFAULT_HISTORY,
    min_history: int = BACKTEST_MIN_HISTORY,
    simulations: int = DEFAULT_SIMULATIONS,
    seed: int = DEFAULT_SEED,
) -> Calibration:
    """Forecast each past sprint from the (up to `window`) sprints before it, as `forecast_project` would have.

    `history` is oldest first. A sprint is tested once `min_history` sprints
    precede it; the result counts how often its actual velocity was at or above
    the forecast's P85 (ideally about 85 % of the time) and P50 (about 50 %).
    """
    labels = names or [f"sprint {i + 1}" for i in range(len(history))]
    points: list[BacktestPoint] = []
    for i in range(max(1, min_history), len(history)):
        forecast = velocity_range(history[max(0, i - window) : i], simulations, seed)
        if forecast is None:
            continue
        points.append(BacktestPoint(labels[i], forecast.p50, forecast.p85, float(history[i])))
    tested = len(points)
    p85_hits = sum(1 for p in points if p.actual >= p.p85)
    p50_hits = sum(1 for p in points if p.actual >= p.p50)
    return Calibration(
        window=window,
        sprints_tested=tested,
        p85_hits=p85_hits,
        p50_hits=p50_hits,
        p85_coverage=round(p85_hits / tested, 4) if tested else None,
        p50_coverage=round(p50_hits / tested, 4) if tested else None,
        points=points,
    )


# ---------------------------------------------------------------- reading the history


def closed_sprint_metrics(session: Session, project_id: int, limit: int = DEFAULT_HISTORY) -> list[dict[str, Any]]:
    """The project's last `limit` CLOSED sprints with their stored figures, oldest first.

    The one history forecasts, backtests and insights draw from: active and
    future sprints (whose velocity is still growing or zero) never count.
    Rows hold every `sprint_metrics` column plus `sprint_name`, `start_date`,
    `end_date` and `velocity` (= completed points) / `throughput` (= completed items).
    """
    schema = tenant_schema_of(session)
    rows = session.connection().execute(
        sa.text(f"""
            SELECT m.*, s.name AS sprint_name, s.start_date, s.end_date,
                   m.completed_points AS velocity, m.completed_items AS throughput
            FROM "{schema}".sprint_metrics m JOIN "{schema}".sprints s ON s.id = m.sprint_id
            WHERE m.project_id = :p AND s.state = 'closed'
            ORDER BY coalesce(s.start_date, s.end_date) DESC NULLS LAST, m.sprint_id DESC
            LIMIT :n"""),
        {"p": project_id, "n": limit},
    ).mappings().all()
    return [dict(r) for r in reversed(rows)]


def _backlog(session: Session, project_id: int) -> dict[str, float]:
    schema = tenant_schema_of(session)
    row = session.connection().execute(
        sa.text(f"""
            SELECT count(*) AS items, coalesce(sum({counted_points()}), 0) AS points,
                   count(*) FILTER (WHERE story_points IS NULL) AS unestimated
            FROM "{schema}".work_items
            WHERE project_id = :p AND NOT is_deleted AND status_category <> 'done'
              AND item_type NOT IN ('epic')"""),
        {"p": project_id},
    ).mappings().one()
    return {"items": int(row["items"]), "points": float(row["points"]), "unestimated": int(row["unestimated"])}


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in data.items()}


def _latest(session: Session, project_id: int, kind: str) -> AIPrediction | None:
    return session.exec(
        select(AIPrediction)
        .where(AIPrediction.project_id == project_id, AIPrediction.kind == kind)
        .order_by(col(AIPrediction.created_at).desc(), col(AIPrediction.id).desc())
        .limit(1)
    ).first()


def _coverage_text(calibration: Calibration) -> str:
    if not calibration.sprints_tested or calibration.p85_coverage is None:
        return ""
    return (f" Backtest: {calibration.p85_hits} of {calibration.sprints_tested} past sprints reached "
            f"their P85 ({calibration.p85_coverage:.0%}).")


# ---------------------------------------------------------------- use cases


def forecast_project(
    tenant_slug: str,
    project_id: int,
    *,
    history_sprints: int = DEFAULT_HISTORY,
    simulations: int = DEFAULT_SIMULATIONS,
    seed: int = DEFAULT_SEED,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Forecast next-sprint velocity and the backlog's finish date from closed sprints; store both predictions.

    Backlog dates count from the start of `now`'s day (UTC). A forecast whose
    inputs and outputs equal the latest stored one of its kind is not stored
    again (`stored` is False and `prediction_ids` are the existing rows).
    """
    today = (now or utcnow()).replace(hour=0, minute=0, second=0, microsecond=0)
    with tenant_session(tenant_slug) as session:
        schema = tenant_schema_of(session)
        session.connection().execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"{schema}:forecast:{project_id}"}
        )
        long_history = closed_sprint_metrics(session, project_id, max(history_sprints, BACKTEST_SPRINTS))
        history = long_history[-history_sprints:]
        backlog = _backlog(session, project_id)
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
        finish = finish_range(series, remaining, today, sprint_days, simulations, seed)
        velocity_trend, throughput_trend = trend(velocities), trend(throughputs)
        calibration = backtest(
            [float(h["velocity"]) for h in long_history], [str(h["sprint_name"]) for h in long_history],
            window=history_sprints, simulations=simulations, seed=seed,
        )  # fmt: skip
        inputs = {
            "sprints": [h["sprint_name"] for h in history],
            "velocity_history": velocities,
            "throughput_history": throughputs,
            "simulations": simulations,
            "seed": seed,
            "closed_sprints_only": True,
        }
        velocity_out = {
            "velocity": asdict(velocity) if velocity else None,
            "throughput": asdict(throughput) if throughput else None,
            "velocity_trend": asdict(velocity_trend),
            "throughput_trend": asdict(throughput_trend),
            "calibration": asdict(calibration),
        }
        backlog_out = {"unit": unit, "remaining": remaining, "sprint_days": sprint_days,
                       **_jsonable(asdict(finish))}
        confidence = min(1.0, len(history) / max(1, history_sprints))
        candidates = [
            AIPrediction(
                project_id=project_id, kind="forecast_velocity", provider="statistics", model="monte_carlo",
                title="Next sprint velocity",
                summary=(f"Next sprint: {velocity.p50:g} points at P50, {velocity.p85:g} at P85; "
                         f"trend {velocity_trend.direction}." + _coverage_text(calibration))
                if velocity else "Not enough closed sprints yet.",
                inputs={**inputs, "backtest_sprints": len(long_history)}, outputs=velocity_out,
                confidence=confidence,
            ),
            AIPrediction(
                project_id=project_id, kind="forecast_backlog", provider="statistics", model="monte_carlo",
                title="Backlog finish date",
                summary=(f"{remaining:g} open {unit}: done by {finish.p50_date:%Y-%m-%d} (P50), "
                         f"{finish.p85_date:%Y-%m-%d} (P85).") if finish.p50_date and finish.p85_date
                else "The backlog cannot be forecast from the closed sprints yet.",
                inputs={**inputs, "backlog": backlog}, outputs=backlog_out, confidence=confidence,
            ),
        ]
        rows: list[AIPrediction] = []
        new_rows: list[AIPrediction] = []
        for candidate in candidates:
            latest = _latest(session, project_id, candidate.kind)
            if latest is not None and latest.inputs == candidate.inputs and latest.outputs == candidate.outputs:
                rows.append(latest)
            else:
                rows.append(candidate)
                new_rows.append(candidate)
        session.add_all(new_rows)
        session.commit()
        ids = [r.id for r in rows]
    if new_rows:
        publish_event("insight.created", tenant_slug, project_id=project_id,
                      kinds=[r.kind for r in new_rows], ids=[r.id for r in new_rows])  # fmt: skip
    return {"velocity": velocity_out, "backlog": backlog_out, "inputs": inputs, "prediction_ids": ids,
            "stored": bool(new_rows)}  # fmt: skip


def forecast_tenant(tenant_slug: str, **options: Any) -> dict[int, dict[str, Any]]:
    """`forecast_project` for every active project of the tenant; results by project id."""
    with public_session() as ps:
        tenant = get_tenant_by_slug(ps, tenant_slug)
        project_ids = list(ps.exec(
            select(Project.id).where(Project.tenant_id == tenant.id, Project.is_active == sa.true()).order_by(Project.id)
        ).all())  # fmt: skip
    return {int(pid): forecast_project(tenant_slug, int(pid), **options) for pid in project_ids if pid is not None}
