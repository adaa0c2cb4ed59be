"""Webhooks: send-time window, the outbox that survives a broker outage, the body limit while reading,
and the nightly prune of old control-plane rows."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta

import pytest
import redis
from celery import Celery
from fastapi.testclient import TestClient
from sqlmodel import select
from starlette.requests import Request

from api.webhooks import read_limited_body
from models.base import utcnow
from models.db import public_session
from models.public import LoginAttempt, PortalSession, RefreshToken, TaskOutbox, User, WebhookDelivery
from services import outbox
from services.housekeeping import prune_control_plane
from services.outbox import dispatch
from services.security import hash_secret
from services.users import UserCreate, create_user
from services.webhooks import PayloadTooLarge
from tests.event_loops import run_coroutine
from tests.fakes.server import free_port
from tests.integration.test_webhooks_and_evidence import ACTOR, _signed, _source


@pytest.fixture
def client(database_url: str, redis_url: str, monkeypatch) -> TestClient:
    monkeypatch.setenv("REDIS_URL", redis_url)
    from api.app import create_api

    return TestClient(create_api("company"))


@pytest.fixture
def project(make_tenant):
    from services.projects import ProjectCreate, create_project

    tenant = make_tenant("obx")
    return tenant, create_project(ProjectCreate(tenant_id=tenant.id, key="OBX", name="Outbox"), ACTOR)


def _jira_post(client: TestClient, source_id: int, secret: str, sent_ms: int, delivery: str):  # type: ignore[no-untyped-def]
    body = json.dumps({"webhookEvent": "jira:issue_updated", "timestamp": sent_ms}).encode()
    headers = {"X-Hub-Signature": _signed(secret, body), "X-Atlassian-Webhook-Identifier": delivery}
    return client.post(f"/api/webhooks/{source_id}", content=body, headers=headers)


def test_deliveries_outside_the_time_window_are_refused(client: TestClient, project) -> None:
    source_id, secret = _source(project, "jira")
    now_ms = int(time.time() * 1000)
    stale = _jira_post(client, source_id, secret, now_ms - 2 * 24 * 3600 * 1000, "old-1")
    assert stale.status_code == 409 and "replay refused" in stale.json()["error"]["message"]
    future = _jira_post(client, source_id, secret, now_ms + 3600 * 1000, "future-1")
    assert future.status_code == 409 and "future" in future.json()["error"]["message"]
    assert _jira_post(client, source_id, secret, now_ms, "fresh-1").status_code == 202


def _unreachable_broker() -> Celery:
    app = Celery("broker-down", broker=f"redis://127.0.0.1:{free_port()}/0")
    app.conf.broker_connection_timeout = 1
    return app


def test_a_broker_outage_delays_the_sync_but_never_loses_it(client, project, redis_url, monkeypatch) -> None:
    source_id, secret = _source(project, "github")
    monkeypatch.setattr(outbox, "celery_app", _unreachable_broker())
    body = json.dumps({"action": "synchronize", "pull_request": {"number": 11}}).encode()
    headers = {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": str(uuid.uuid4()),
               "X-Hub-Signature-256": _signed(secret, body)}  # fmt: skip
    accepted = client.post(f"/api/webhooks/{source_id}", content=body, headers=headers)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["refresh_task_id"] is None  # recorded, waiting in the outbox
    with public_session() as session:
        delivery = session.exec(select(WebhookDelivery).where(WebhookDelivery.source_id == source_id)).one()
        row = session.get(TaskOutbox, delivery.outbox_id)
        assert row is not None and row.sent_at is None and row.attempts == 1 and row.last_error
        assert row.task_name == "dmt.sync_source" and row.args[1:] == [source_id, "incremental"]
    # The tool retries while the broker is still down: the same delivery, not a replay, nothing queued twice.
    retried = client.post(f"/api/webhooks/{source_id}", content=body, headers=headers)
    assert retried.status_code == 202 and retried.json()["duplicate"] is True
    with public_session() as session:
        assert len(session.exec(select(TaskOutbox).where(TaskOutbox.origin.contains(f"webhook:{source_id}:"))).all()) == 1
    # The broker is back: the dispatcher sends the waiting sync, once.
    queue = f"outbox-test-{uuid.uuid4().hex[:8]}"
    broker_up = Celery("broker-up", broker=redis_url)
    broker_up.conf.task_default_queue = queue
    report = dispatch([row.id], app=broker_up)
    assert report.sent == [row.id] and report.failed == []
    assert dispatch([row.id], app=broker_up).sent == []
    queued = redis.Redis.from_url(redis_url).lrange(queue, 0, -1)
    assert len(queued) == 1 and json.loads(queued[0])["headers"]["task"] == "dmt.sync_source"
    with public_session() as session:
        sent = session.get(TaskOutbox, row.id)
        assert sent is not None and sent.sent_at is not None and sent.task_id
    again = client.post(f"/api/webhooks/{source_id}", content=body, headers=headers)
    assert again.json()["refresh_task_id"] == sent.task_id


def _streaming_request(chunks: list[bytes], pulled: list[int]) -> Request:
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def receive() -> dict:
        pulled.append(1)
        return messages[len(pulled) - 1]

    return Request({"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""}, receive)


def test_the_body_limit_is_enforced_while_reading() -> None:
    pulled: list[int] = []
    request = _streaming_request([b"x" * 1000] * 100, pulled)
    with pytest.raises(PayloadTooLarge):
        run_coroutine(read_limited_body(request, 5_000))
    assert len(pulled) == 6  # stopped at the first chunk past the limit, the other 94 never read
    declared = Request({"type": "http", "method": "POST", "path": "/", "query_string": b"",
                        "headers": [(b"content-length", b"10000000")]})  # fmt: skip
    with pytest.raises(PayloadTooLarge):
        run_coroutine(read_limited_body(declared, 5_000))  # refused before a byte is read
    assert run_coroutine(read_limited_body(_streaming_request([b"ab", b"cd"], []), 5_000)) == b"abcd"


def test_an_oversized_delivery_is_answered_413(client: TestClient, project, monkeypatch) -> None:
    from core.settings import reset_settings_cache

    source_id, _secret = _source(project, "github")
    monkeypatch.setenv("WEBHOOK_MAX_BODY_BYTES", "1000")
    reset_settings_cache()
    try:
        refused = client.post(f"/api/webhooks/{source_id}", content=b"{" + b" " * 5000 + b"}")
    finally:
        monkeypatch.undo()
        reset_settings_cache()
    assert refused.status_code == 413


def test_the_nightly_prune_deletes_only_what_outlived_its_retention(project) -> None:
    tenant, _ = project
    source_id, _ = _source(project, "github")
    email = f"p{uuid.uuid4().hex[:8]}@example.com"
    user = create_user(UserCreate(email=email, password="correct-horse-battery", tenant_id=tenant.id), ACTOR)
    now = utcnow()
    old, recent = now - timedelta(days=90), now - timedelta(hours=1)
    marker = uuid.uuid4().hex[:8]
    with public_session() as session:
        session.add_all([
            LoginAttempt(email=email, at=old), LoginAttempt(email=email, at=recent),
            PortalSession(user_id=user.id, token_hash=hash_secret(f"old-{marker}"), portal="company",
                          expires_at=old, created_at=old),
            PortalSession(user_id=user.id, token_hash=hash_secret(f"live-{marker}"), portal="company",
                          expires_at=now + timedelta(hours=5)),
            RefreshToken(user_id=user.id, family_id=marker, token_hash=hash_secret(f"r-old-{marker}"), expires_at=old),
            RefreshToken(user_id=user.id, family_id=marker, token_hash=hash_secret(f"r-revoked-{marker}"),
                         expires_at=now + timedelta(days=3), revoked_at=old),
            WebhookDelivery(source_id=source_id, delivery_id=f"old-{marker}", body_digest=f"a{marker}", received_at=old),
            WebhookDelivery(source_id=source_id, delivery_id=f"new-{marker}", body_digest=f"b{marker}",
                            received_at=recent),
            TaskOutbox(task_name="dmt.sync_source", args=[], origin=marker, sent_at=old, created_at=old),
            TaskOutbox(task_name="dmt.sync_source", args=[], origin=marker),  # unsent: kept whatever its age
        ])  # fmt: skip
        session.commit()
    report = prune_control_plane()
    assert report.login_attempts >= 1 and report.portal_sessions >= 1 and report.refresh_tokens >= 1
    assert report.webhook_deliveries >= 1 and report.outbox_rows >= 1
    with public_session() as session:
        assert [a.at > old for a in session.exec(select(LoginAttempt).where(LoginAttempt.email == email))] == [True]
        sessions = session.exec(select(PortalSession).where(PortalSession.user_id == user.id)).all()
        assert [s.token_hash for s in sessions] == [hash_secret(f"live-{marker}")]
        tokens = session.exec(select(RefreshToken).where(RefreshToken.family_id == marker)).all()
        assert [t.token_hash for t in tokens] == [hash_secret(f"r-revoked-{marker}")]  # kept until it expires
        deliveries = session.exec(select(WebhookDelivery).where(WebhookDelivery.source_id == source_id)).all()
        assert [d.delivery_id for d in deliveries] == [f"new-{marker}"]
        rows = session.exec(select(TaskOutbox).where(TaskOutbox.origin == marker)).all()
        assert [r.sent_at for r in rows] == [None]
        assert session.get(User, user.id) is not None
