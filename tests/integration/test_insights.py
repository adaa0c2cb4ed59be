"""AI insights: local provider, OpenAI-compatible provider against the fake server, fallbacks, ratings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from core.crypto import encrypt_secret
from core.errors import PermissionDenied
from etl.compliance import evaluate_compliance
from etl.insights import INSIGHT_KINDS, LocalProvider
from etl.metrics import rebuild_metrics
from models.db import public_session, tenant_session
from models.public import Notification, Tenant
from models.tenant import AIPrediction
from services.insights import generate_insights, rate_insight
from tests.fakes.openai import FakeOpenAI, create_app
from tests.fakes.server import serve
from tests.integration.test_compliance_support import (
    add_item,
    add_pr,
    add_sprint,
    make_identity,
    make_project,
    make_user,
)

TITLES = ["Payroll export leaks SALARY-7731", "Confidential merger screen QX-991"]
EMAILS = ["maria.secret@example.com", "jonas.hidden@example.com"]
NAMES = ["Maria Secretperson", "Jonas Hiddenname"]


@pytest.fixture
def project_with_history(make_tenant):
    t = make_tenant("ins")
    p = make_project(t)
    lead = make_user(t, p, "tech_lead")
    ids = [make_identity(t.slug, NAMES[i], email=EMAILS[i]) for i in range(2)]
    start = datetime(2025, 1, 6, 9, tzinfo=UTC)
    for n in range(4):
        s0 = start + timedelta(days=14 * n)
        sid = add_sprint(t.slug, p.id, f"Sprint {n + 1}", s0, s0 + timedelta(days=14))
        for k in range(3 + n):
            item = add_item(
                t.slug, p.id, title=TITLES[k % 2], assignee_email=EMAILS[k % 2], assignee_name=NAMES[k % 2],
                assignee_identity_id=ids[k % 2], sprint_id=sid, sprint_history=[f"Sprint {n + 1}"],
                story_points=3, created_at_source=s0 - timedelta(days=3), started_at=s0 + timedelta(days=1),
                done_at=s0 + timedelta(days=3 + k), unit_testing_status="done" if k % 2 else "not_started",
            )
            add_pr(t.slug, p.id, [item], title=TITLES[k % 2], author_email=EMAILS[k % 2],
                   author_identity_id=ids[k % 2], created_at_source=s0 + timedelta(days=2),
                   merged_at=s0 + timedelta(days=3), first_review_at=s0 + timedelta(days=2, hours=5))
    evaluate_compliance(t.slug)
    rebuild_metrics(t.slug)
    return t, p, lead


def configure_ai(tenant: Tenant, base_url: str) -> None:
    with public_session() as s:
        row = s.get(Tenant, tenant.id)
        assert row is not None
        row.ai_provider, row.ai_base_url, row.ai_model = "openai", f"{base_url}/v1", "fake-gpt"
        row.ai_api_key_encrypted = encrypt_secret("sk-test-123")
        s.add(row)
        s.commit()


def test_local_provider_writes_all_four_kinds_and_notifies_leads(project_with_history) -> None:
    t, p, lead = project_with_history
    rows = generate_insights(t.slug, p.id)
    assert [r.kind for r in rows] == list(INSIGHT_KINDS)
    assert {r.provider for r in rows} == {"local"} and all(r.note is None for r in rows)
    velocity = rows[0]
    assert "points" in velocity.title and velocity.summary and velocity.analysis and velocity.actions
    assert rows[3].kind == "compliance_risk" and "Unit testing not done" in rows[3].summary + rows[3].analysis
    assert "unit_testing_not_done" not in rows[3].summary + rows[3].analysis  # rules are named in words
    with public_session() as s:
        notes = s.exec(select(Notification).where(Notification.user_id == lead)).all()
    assert [n.kind for n in notes if n.kind == "new_insight"] == ["new_insight"]


def test_openai_provider_sends_aggregates_only_and_stores_its_insights(project_with_history) -> None:
    t, p, _ = project_with_history
    fake = FakeOpenAI(api_key="sk-test-123")
    with serve(create_app(fake)) as base:
        configure_ai(t, base)
        rows = generate_insights(t.slug, p.id, timeout=5)
    assert {r.provider for r in rows} == {"openai"} and {r.model for r in rows} == {"fake-gpt"}
    assert rows[0].title.startswith("Expect about") and all(r.note is None for r in rows)
    assert len(fake.requests) == 1 and fake.requests[0]["model"] == "fake-gpt"
    body = fake.raw_bodies[0].decode()
    for secret in TITLES + EMAILS + NAMES + ["SALARY", "Sprint 1"]:
        assert secret not in body
    statistics = json.loads(fake.requests[0]["messages"][1]["content"])
    assert statistics["developers"][0]["developer"] == "developer_1"


@pytest.mark.parametrize(("mode", "note"), [("slow", "timed out"), ("500", "HTTP 500"), ("malformed", "not JSON")])
def test_provider_failures_fall_back_to_the_local_provider_with_a_note(project_with_history, mode, note) -> None:
    t, p, _ = project_with_history
    fake = FakeOpenAI(mode=mode, slow_seconds=3)
    with serve(create_app(fake)) as base:
        configure_ai(t, base)
        rows = generate_insights(t.slug, p.id, timeout=0.5)
    assert [r.kind for r in rows] == list(INSIGHT_KINDS)
    assert {r.provider for r in rows} == {"local"}
    assert all(r.note and note in r.note and "local provider" in r.note for r in rows)


def test_users_rate_insights_of_their_own_tenant_only(project_with_history, make_tenant) -> None:
    t, p, lead = project_with_history
    rows = generate_insights(t.slug, p.id)
    rated = rate_insight(t.slug, rows[0].id, lead, helpful=True, note="spot on")
    assert (rated.rating, rated.rating_note, rated.rated_by) == (1, "spot on", lead)
    assert rate_insight(t.slug, rows[1].id, lead, helpful=False).rating == -1
    other = make_tenant("oth")
    stranger = make_user(other)
    with pytest.raises(PermissionDenied):
        rate_insight(t.slug, rows[0].id, stranger, helpful=False)
    with tenant_session(t.slug) as s:
        assert s.get(AIPrediction, rows[0].id).rating == 1


def test_local_provider_handles_an_empty_project() -> None:
    empty = {"sprints": [], "velocity_trend": {"direction": "flat", "normalised_slope": 0, "r2": 0},
             "velocity_forecast": None, "developers": [], "open_flags": [],
             "items": {"done": 0, "done_compliant": 0, "open": 0, "open_points": 0}}
    assert [i.kind for i in LocalProvider().write(empty)] == list(INSIGHT_KINDS)
