"""The dashboard's KPI cards: the current sprint's figures against the previous sprints' average."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import select

from core.errors import NotFound
from models.db import tenant_session
from models.tenant import ComplianceFlag
from services.auth import CurrentUser
from services.dashboards.common import TREND_WINDOW, require_project
from services.dashboards.shapes import KpiCard, Kpis
from services.dashboards.sprint_rows import _current_index, _sprint_rows


def _fmt(value: float | None, unit: str, digits: int = 1) -> str:
    if value is None:
        return "-"
    if unit == "%":
        return f"{value:.0f}%"
    if float(value).is_integer() and digits:
        return f"{int(value)}{(' ' + unit) if unit else ''}"
    return f"{value:.{digits}f}{(' ' + unit) if unit else ''}"


def _card(
    key: str,
    label: str,
    value: float | None,
    previous: list[float | None],
    unit: str,
    higher_is_better: bool,
    hint: str,
) -> KpiCard:
    prev = [p for p in previous if p is not None]
    prev_avg = sum(prev) / len(prev) if prev else None
    card = KpiCard(key=key, label=label, value=value, display=_fmt(value, unit), unit=unit, hint=hint)
    if value is not None and prev_avg is not None:
        delta = value - prev_avg
        card.previous = round(prev_avg, 1)
        card.delta = round(delta, 1)
        if abs(delta) < 1e-9:
            card.direction, card.good = "flat", None
            card.delta_display = f"same as the previous {len(prev)} sprint(s)"
        else:
            card.direction = "up" if delta > 0 else "down"
            card.good = (delta > 0) == higher_is_better
            sign = "+" if delta > 0 else "-"
            card.delta_display = f"{sign}{_fmt(abs(delta), unit)} vs avg of previous {len(prev)}"
    return card


def kpis(user: CurrentUser, project_id: int, sprint_id: int | None = None) -> Kpis:
    """KPIs of a sprint (default: the current one), each compared with the average of the sprints before it."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        points = _sprint_rows(session, project_id)
        open_critical = int(
            session.exec(
                select(sa.func.count())
                .select_from(ComplianceFlag)
                .where(
                    ComplianceFlag.project_id == project_id,
                    ComplianceFlag.status == "open",
                    ComplianceFlag.severity == "critical",
                )
            ).one()
        )
    result = Kpis(project_id=project_id)
    if sprint_id is None:
        idx = _current_index(points)
    else:
        idx = next((i for i, p in enumerate(points) if p.sprint_id == sprint_id), None)
        if idx is None:
            raise NotFound(f"sprint {sprint_id} not found (or not started yet)")
    if idx is None:
        result.empty_message = "No sprints yet for this project: ask your admin to add a data source and run a sync."
        result.cards = [
            KpiCard(
                key="open_critical_flags",
                label="Open critical flags",
                value=open_critical,
                display=str(open_critical),
                hint="critical DMT flags still open",
            )
        ]
        return result
    cur = points[idx]
    prev = points[max(0, idx - TREND_WINDOW) : idx]
    result.sprint_id, result.sprint_name, result.sprint_state = cur.sprint_id, cur.sprint_name, cur.state
    result.has_data = True
    drills = {
        "velocity": "completed",
        "throughput": "completed",
        "compliance_rate": "noncompliant",
        "cycle_time": "completed",
        "blocked_items": "blocked",
        "open_critical_flags": "flags",
    }
    result.cards = [
        _card(
            "velocity",
            "Velocity",
            cur.completed_points,
            [p.completed_points for p in prev],
            "pts",
            True,
            "story points completed in the sprint",
        ),
        _card(
            "throughput",
            "Throughput",
            float(cur.completed_items),
            [float(p.completed_items) for p in prev],
            "items",
            True,
            "items completed in the sprint",
        ),
        _card(
            "compliance_rate",
            "DMT compliance",
            cur.compliance_rate,
            [p.compliance_rate for p in prev],
            "%",
            True,
            "done items that meet Done Means Tested",
        ),
        _card(
            "cycle_time",
            "Avg cycle time",
            cur.avg_cycle_time_days,
            [p.avg_cycle_time_days for p in prev],
            "days",
            False,
            "start to done, completed items",
        ),
        _card(
            "blocked_items",
            "Blocked items",
            float(cur.blocked_items),
            [float(p.blocked_items) for p in prev],
            "",
            False,
            "items blocked at some point in the sprint",
        ),
        _card(
            "open_critical_flags",
            "Critical flags (sprint)",
            float(cur.open_critical_flags),
            [float(p.open_critical_flags) for p in prev],
            "",
            False,
            f"open on this sprint's items; {open_critical} open in the whole project",
        ),
    ]
    for card in result.cards:
        card.drill_metric = drills.get(card.key, "")
    return result
