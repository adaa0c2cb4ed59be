"""Alerts: who hears about new critical flags and about sprints about to end.

The pipeline computes (etl.compliance opens flags, etl.metrics knows the
sprints); this module decides who is told and writes the notifications
(services.notifications publishes each one as a live event).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from urllib.parse import quote

import sqlalchemy as sa
from sqlmodel import select

from etl.compliance import EvaluationResult, NewCriticalFlags, evaluate_compliance
from models.base import utcnow
from models.db import get_tenant_by_slug, public_session, tenant_session
from models.public import Notification, Project
from models.tenant import Sprint
from services import notifications


def evaluate_and_alert(tenant_slug: str, work_item_ids: list[int] | None = None) -> EvaluationResult:
    """Evaluate the DMT rules (all items, or only `work_item_ids`) and tell people about new critical flags."""
    result = evaluate_compliance(tenant_slug, work_item_ids)
    notify_new_critical_flags(tenant_slug, result.new_critical_flags)
    return result


def notify_new_critical_flags(tenant_slug: str, flags: Iterable[NewCriticalFlags]) -> int:
    """One notification per user for one evaluation's new critical flags (never one per item).

    Tech leads and project managers of each project hear about all of its new
    critical flags; an assignee who can sign in hears about their own. Returns
    the notifications created.
    """
    flags = list(flags)
    if not flags:
        return 0
    per_project: dict[int, int] = defaultdict(int)
    for group in flags:
        per_project[group.project_id] += group.count
    with public_session() as session:
        tenant_id = get_tenant_by_slug(session, tenant_slug).id or 0
        leads = notifications.users_with_project_roles(session, tenant_id, per_project)
    per_user: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for group in flags:
        project_leads = leads.get(group.project_id, set())
        for user_id in project_leads:
            per_user[user_id][group.project_id] += group.count
        if group.assignee_user_id is not None and group.assignee_user_id not in project_leads:
            per_user[group.assignee_user_id][group.project_id] += group.count
    for user_id, by_project in per_user.items():
        total = sum(by_project.values())
        only = next(iter(by_project)) if len(by_project) == 1 else None
        notifications.create_for_users(
            tenant_id,
            [user_id],
            kind="critical_flags",
            severity="critical",
            title=f"{total} new critical DMT flag{'s' if total != 1 else ''}",
            body="Done items failed critical Done-Means-Tested checks (missing PR link or unfinished "
            "unit testing). Open the compliance page to see them.",
            project_id=only,
            link="/compliance/flags?status=open&severity=critical" + (f"&project={only}" if only else ""),
            data={"count": total, "by_project": {str(p): c for p, c in by_project.items()}},
            tenant_slug=tenant_slug,
        )
    return len(per_user)


def notify_sprints_ending(tenant_slug: str, now: datetime | None = None) -> int:
    """Tell project leads when an active sprint ends within Project.sprint_ending_days.

    Each sprint is announced once (an earlier `sprint_ending` notification for
    the same sprint suppresses a new one). Returns the notifications created.
    """
    now = now or utcnow()
    with public_session() as ps:
        tenant = get_tenant_by_slug(ps, tenant_slug)
        projects = {p.id: p for p in ps.exec(select(Project).where(Project.tenant_id == tenant.id)).all()}
    if not projects:
        return 0
    horizon = now + timedelta(days=max(p.sprint_ending_days for p in projects.values()))
    with tenant_session(tenant_slug) as session:
        sprints = session.exec(
            select(Sprint).where(
                Sprint.state == "active",
                sa.and_(Sprint.end_date > now, Sprint.end_date <= horizon),  # type: ignore[operator]
                sa.column("project_id").in_(list(projects)),
            )
        ).all()
    created = 0
    for sprint in sprints:
        project = projects[sprint.project_id]
        assert sprint.end_date is not None
        if sprint.end_date > now + timedelta(days=project.sprint_ending_days):
            continue
        with public_session() as ps:
            seen = ps.exec(
                select(Notification.id).where(
                    Notification.tenant_id == tenant.id,
                    Notification.kind == "sprint_ending",
                    Notification.data["sprint_id"].as_integer() == sprint.id,  # type: ignore[index]
                )
            ).first()
        if seen is not None:
            continue
        hours = (sprint.end_date - now).total_seconds() / 3600
        when = f"in {hours:.0f} hours" if hours < 48 else f"in {hours / 24:.0f} days"
        rows = notifications.create_for_project_roles(
            tenant.id or 0,
            sprint.project_id,
            kind="sprint_ending",
            title=f"Sprint {sprint.name} ends {when}",
            body=f"{project.name}: sprint {sprint.name} ends on {sprint.end_date:%Y-%m-%d %H:%M} UTC. "
            "Check open items and DMT flags before it closes.",
            severity="info",
            data={"sprint_id": sprint.id, "end_date": sprint.end_date.isoformat()},
            link=f"/team/sprint/{quote(sprint.name, safe='')}?project={sprint.project_id}",
            tenant_slug=tenant_slug,
        )
        created += len(rows)
    return created
