"""Quality (defects, compliance rate per sprint, flags by rule) and the compliance overview."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select

from etl.project_figures import compliance_counts, stored_compliance_counts
from etl.rules import rule_title
from models.db import tenant_schema_of, tenant_session
from models.tenant import ComplianceFlag
from services.auth import CurrentUser
from services.dashboards.common import HISTORY_SPRINTS, SEVERITY_ORDER, _pct, require_project
from services.dashboards.shapes import ComplianceOverview, Quality, QualityPoint, RuleCount
from services.dashboards.sprint_rows import _sprint_rows


def _flags_by_rule(session: Session, project_id: int) -> list[RuleCount]:
    rows = session.exec(
        select(
            ComplianceFlag.rule_id,
            ComplianceFlag.severity,
            sa.func.count().filter(ComplianceFlag.status == "open"),
            sa.func.count().filter(ComplianceFlag.status != "open"),
        )
        .where(ComplianceFlag.project_id == project_id)
        .group_by(ComplianceFlag.rule_id, ComplianceFlag.severity)
    ).all()
    out = [RuleCount(rule_id=r, severity=s, title=rule_title(r), open=int(o), resolved=int(c)) for r, s, o, c in rows]
    order = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    out.sort(key=lambda rc: (order.get(rc.severity, 9), -rc.open, rc.rule_id))
    return out


def _done_compliance(session: Session, project_id: int) -> tuple[int, int, int]:
    """(done, compliant, judged) items of the project: the pipeline's stored counts, else counted now."""
    conn, schema = session.connection(), tenant_schema_of(session)
    stored = stored_compliance_counts(conn, schema, project_id)
    return stored if stored is not None else compliance_counts(conn, schema, [project_id])[project_id]


def quality(user: CurrentUser, project_id: int) -> Quality:
    """Defect density and compliance rate per sprint, and flags by rule."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        points = _sprint_rows(session, project_id)[-HISTORY_SPRINTS:]
        by_rule = _flags_by_rule(session, project_id)
        done, compliant, judged = _done_compliance(session, project_id)
    by_sev: dict[str, int] = {}
    for rc in by_rule:
        by_sev[rc.severity] = by_sev.get(rc.severity, 0) + rc.open
    result = Quality(
        project_id=project_id,
        series=[
            QualityPoint(
                sprint_id=p.sprint_id,
                sprint_name=p.sprint_name,
                defects=p.defects,
                defect_density=p.defect_density,
                compliance_rate=p.compliance_rate,
                open_flags=p.open_flags,
            )
            for p in points
        ],
        flags_by_rule=by_rule,
        flags_by_severity=by_sev,
        open_flags=sum(rc.open for rc in by_rule),
        compliance_rate=_pct(compliant, judged),
        done_items=done,
        compliant_items=compliant,
        judged_items=judged,
    )
    if not points and not by_rule:
        result.empty_message = "No quality data yet: it appears after the first sync and compliance evaluation."
    return result


def compliance_overview(user: CurrentUser, project_id: int) -> ComplianceOverview:
    """Open flags by severity and rule, and the compliance rate (now and per sprint)."""
    q = quality(user, project_id)
    return ComplianceOverview(
        project_id=project_id,
        open_flags=q.open_flags,
        by_severity=q.flags_by_severity,
        by_rule=q.flags_by_rule,
        compliance_rate=q.compliance_rate,
        done_items=q.done_items,
        compliant_items=q.compliant_items,
        judged_items=q.judged_items,
        trend=q.series,
    )
