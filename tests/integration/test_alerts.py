"""Alerts: sprints about to end are announced to the project leads, once per sprint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from models.db import public_session
from models.public import Notification
from services.alerts import notify_sprints_ending
from tests.integration.test_compliance_support import add_sprint, make_project, make_user


def test_sprint_ending_notifies_project_leads_once(make_tenant) -> None:
    t = make_tenant("end")
    p = make_project(t, sprint_ending_days=2)
    lead = make_user(t, p, "project_manager")
    make_user(t, p, "developer")
    now = datetime.now(UTC)
    add_sprint(t.slug, p.id, "Ending", now - timedelta(days=12), now + timedelta(days=1), state="active")
    add_sprint(t.slug, p.id, "Later", now - timedelta(days=2), now + timedelta(days=9), state="active")
    assert notify_sprints_ending(t.slug, now) == 1
    assert notify_sprints_ending(t.slug, now) == 0
    with public_session() as s:
        notes = s.exec(select(Notification).where(Notification.tenant_id == t.id)).all()
    assert [(n.user_id, n.kind) for n in notes] == [(lead, "sprint_ending")]
    assert "Ending" in notes[0].title
