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
    """A figure as pages show it: `digits` decimals (a whole number without them), percent without a space."""
    if value is None:
        return "-"
    value = round(float(value), digits) + 0.0  # + 0.0: never "-0"
    text = str(int(value)) if value.is_integer() else f"{value:.{digits}f}"
    if unit == "%":
        return f"{text}%"
    if value == 1 and unit in ("items", "days"):
        unit = unit[:-1]
    return f"{text} {unit}" if unit else text


def _card(
    key: str,
    label: str,
    value: float | None,
    previous: list[float | None],
    unit: str,
    higher_is_better: bool,
    hint: str,
    digits: int = 1,
) -> KpiCard:
    """A KPI with its change against the previous sprints' average, both rounded to the figure's `digits`.

    Counts have 0 digits (a change of a count is a whole number of items);
    percentages have 1, like every table and chart of the portal, and their change
    is in percentage points ("pp"); a change that rounds to zero is "about the
    same", never "-0.0".
    """
    prev = [p for p in previous if p is not None]
    prev_avg = sum(prev) / len(prev) if prev else None
    card = KpiCard(key=key, label=label, value=value, display=_fmt(value, unit, digits), unit=unit, hint=hint)
    if value is not None and prev_avg is not None:
        delta = round(value - prev_avg, digits) + 0.0
        card.previous = round(prev_avg, 1)
        card.delta = delta
        sprints = f"{len(prev)} sprint" + ("s" if len(prev) != 1 else "")
        if delta == 0:
            card.direction, card.good = "flat", None
            card.delta_display = f"about the average of the previous {sprints}"
        else:
            card.direction = "up" if delta > 0 else "down"
            card.good = (delta > 0) == higher_is_better
            sign = "+" if delta > 0 else "\u2212"  # a minus sign, as in print
            size = _fmt(abs(delta), "", digits) + " pp" if unit == "%" else _fmt(abs(delta), unit, digits)
            card.delta_display = f"{sign}{size} vs the average of the previous {sprints}"
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
            digits=0,
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
            digits=0,
        ),
        _card(
            "open_critical_flags",
            "Critical flags (sprint)",
            float(cur.open_critical_flags),
            [float(p.open_critical_flags) for p in prev],
            "",
            False,
            f"open on this sprint's items; {open_critical} open in the whole project",
            digits=0,
        ),
    ]
    for card in result.cards:
        card.drill_metric = drills.get(card.key, "")
    return result
