"""Notifications service: addressing by project role, paging, unread counts, own rows only."""

from __future__ import annotations

import json

import pytest

from core.realtime import STREAM, redis_client
from services import notifications as svc
from tests.integration.test_compliance_support import make_project, make_user


@pytest.fixture
def setup(make_tenant):
    t = make_tenant("ntf")
    p = make_project(t)
    lead = make_user(t, p, "tech_lead")
    pm = make_user(t, p, "project_manager")
    dev = make_user(t, p, "developer")
    return t, p, lead, pm, dev


def test_create_for_project_roles_addresses_leads_and_publishes_events(setup) -> None:
    t, p, lead, pm, dev = setup
    before = redis_client().xlen(STREAM)
    rows = svc.create_for_project_roles(t.id, p.id, kind="etl_failure", title="Sync failed", tenant_slug=t.slug)
    assert sorted(r.user_id for r in rows) == sorted([lead, pm])
    events = redis_client().xrevrange(STREAM, count=redis_client().xlen(STREAM) - before or 1)
    published = [json.loads(e[1]["data"]) for e in events]
    mine = [e for e in published if e["type"] == "notification.created" and e["tenant"] == t.slug]
    assert sorted(e["user_id"] for e in mine) == sorted([lead, pm])
    devs = svc.create_for_project_roles(t.id, p.id, kind="etl_failure", title="x", roles=["developer"])
    assert [r.user_id for r in devs] == [dev]


def test_list_pages_newest_first_and_counts_unread(setup) -> None:
    t, _p, lead, *_ = setup
    for n in range(5):
        svc.create_for_users(t.id, [lead], kind="new_insight", title=f"n{n}")
    first = svc.list_for_user(lead, t.id, page=1, page_size=2)
    third = svc.list_for_user(lead, t.id, page=3, page_size=2)
    assert first.total == 5 and [i.title for i in first.items] == ["n4", "n3"]
    assert [i.title for i in third.items] == ["n0"]
    assert svc.unread_count(lead, t.id) == 5
    assert svc.mark_read(lead, t.id, first.items[0].id) is True
    assert svc.unread_count(lead, t.id) == 4
    assert svc.list_for_user(lead, t.id, unread_only=True).total == 4
    assert svc.mark_all_read(lead, t.id) == 4
    assert svc.unread_count(lead, t.id) == 0


def test_users_cannot_read_or_mark_other_users_or_other_tenants_rows(setup, make_tenant) -> None:
    t, _p, lead, pm, _ = setup
    [note] = svc.create_for_users(t.id, [lead], kind="sprint_ending", title="mine")
    other = make_tenant("ntx")
    assert svc.mark_read(pm, t.id, note.id) is False
    assert svc.mark_read(lead, other.id, note.id) is False
    assert svc.list_for_user(pm, t.id).total == 0
    assert svc.list_for_user(lead, other.id).total == 0
    assert svc.mark_all_read(pm, t.id) == 0
    assert svc.unread_count(lead, t.id) == 1
