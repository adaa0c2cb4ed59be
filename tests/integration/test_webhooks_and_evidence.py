"""Webhooks: signatures, shared secrets, replays; CI coverage evidence satisfying the rules."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from core.crypto import encrypt_secret
from models.db import public_session, tenant_session
from models.public import SourceConfig
from models.tenant import ComplianceFlag, CoverageEvidence, WorkItem
from services.api_tokens import create_api_token, revoke_api_token
from services.audit import Actor
from services.projects import ProjectCreate, create_project
from services.webhooks import rotate_webhook_secret

ACTOR = Actor.system("test")


@pytest.fixture
def client(database_url: str, redis_url: str, monkeypatch) -> TestClient:
    monkeypatch.setenv("REDIS_URL", redis_url)
    from api.app import create_api

    return TestClient(create_api("company"))


@pytest.fixture
def project(make_tenant):
    tenant = make_tenant("hook")
    return tenant, create_project(ProjectCreate(tenant_id=tenant.id, key="HOOK", name="Hooks"), ACTOR)


def _source(project, source_type: str) -> tuple[int, str]:
    tenant, proj = project
    with public_session() as session:
        source = SourceConfig(
            tenant_id=tenant.id,
            project_id=proj.id,
            name=source_type,
            source_type=source_type,
            base_url="https://example.invalid",
            token_encrypted=encrypt_secret("t"),
        )
        session.add(source)
        session.commit()
        source_id = source.id
    return source_id, rotate_webhook_secret(source_id, ACTOR)


def _signed(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_github_delivery_is_queued_once_and_replays_are_refused(client: TestClient, project) -> None:
    source_id, secret = _source(project, "github")
    body = json.dumps({"action": "closed", "pull_request": {"number": 7}}).encode()
    headers = {
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": _signed(secret, body),
    }
    first = client.post(f"/api/webhooks/{source_id}", content=body, headers=headers)
    assert first.status_code == 202, first.text
    assert first.json()["event"] == "pull_request" and first.json()["refresh_task_id"]
    assert first.json()["duplicate"] is False
    # The tool retrying the same delivery (same id, same body) is answered, not refused, and queues nothing new.
    retry = client.post(f"/api/webhooks/{source_id}", content=body, headers=headers)
    assert retry.status_code == 202, retry.text
    assert retry.json()["duplicate"] is True and retry.json()["refresh_task_id"] == first.json()["refresh_task_id"]
    # The signed body under a fresh delivery id (GitHub does not sign the id header): a replay.
    replay = client.post(f"/api/webhooks/{source_id}", content=body, headers={**headers, "X-GitHub-Delivery": "new"})
    assert replay.status_code == 409 and "replay refused" in replay.json()["error"]["message"]
    # The known delivery id with another (validly signed) body: refused as well.
    other = json.dumps({"action": "reopened", "pull_request": {"number": 7}}).encode()
    reused = client.post(
        f"/api/webhooks/{source_id}", content=other, headers={**headers, "X-Hub-Signature-256": _signed(secret, other)}
    )
    assert reused.status_code == 409 and "another body" in reused.json()["error"]["message"]


def test_forged_or_tampered_github_deliveries_are_refused(client: TestClient, project) -> None:
    source_id, secret = _source(project, "github")
    body = b'{"action": "opened"}'
    forged = client.post(
        f"/api/webhooks/{source_id}",
        content=body,
        headers={"X-GitHub-Delivery": "d1", "X-Hub-Signature-256": _signed("not-the-secret", body)},
    )
    assert forged.status_code == 401 and "does not match" in forged.json()["error"]["message"]
    tampered = client.post(
        f"/api/webhooks/{source_id}",
        content=b'{"action": "closed"}',
        headers={"X-GitHub-Delivery": "d2", "X-Hub-Signature-256": _signed(secret, body)},
    )
    assert tampered.status_code == 401
    unsigned = client.post(f"/api/webhooks/{source_id}", content=body, headers={"X-GitHub-Delivery": "d3"})
    assert unsigned.status_code == 401


def test_jira_and_azure_shared_secrets(client: TestClient, project) -> None:
    jira_id, jira_secret = _source(project, "jira")
    body = json.dumps({"webhookEvent": "jira:issue_updated", "timestamp": int(time.time() * 1000)}).encode()
    ok = client.post(
        f"/api/webhooks/{jira_id}",
        content=body,
        headers={"X-DMT-Webhook-Secret": jira_secret, "X-Atlassian-Webhook-Identifier": "jira-1"},
    )
    assert ok.status_code == 202 and ok.json()["event"] == "jira:issue_updated"
    wrong = client.post(
        f"/api/webhooks/{jira_id}",
        content=body,
        headers={"X-DMT-Webhook-Secret": "nope", "X-Atlassian-Webhook-Identifier": "jira-2"},
    )
    assert wrong.status_code == 401
    azure_id, azure_secret = _source(project, "azure_devops_git")
    event = json.dumps({"id": str(uuid.uuid4()), "eventType": "git.pullrequest.updated"}).encode()
    basic = base64.b64encode(f"dmt:{azure_secret}".encode()).decode()
    accepted = client.post(f"/api/webhooks/{azure_id}", content=event, headers={"Authorization": f"Basic {basic}"})
    assert accepted.status_code == 202 and accepted.json()["event"] == "git.pullrequest.updated"


def test_source_without_a_webhook_secret_refuses_and_unknown_source_is_404(client: TestClient, project) -> None:
    tenant, proj = project
    with public_session() as session:
        source = SourceConfig(
            tenant_id=tenant.id, project_id=proj.id, name="x", source_type="github", base_url="https://e.invalid"
        )
        session.add(source)
        session.commit()
    refused = client.post(f"/api/webhooks/{source.id}", content=b"{}", headers={"X-GitHub-Delivery": "z"})
    assert refused.status_code == 403 and "not enabled" in refused.json()["error"]["message"]
    assert client.post("/api/webhooks/999999", content=b"{}").status_code == 404


def test_ci_evidence_resolves_coverage_and_ci_flags(client: TestClient, project) -> None:
    tenant, proj = project
    with tenant_session(tenant) as session:
        item = WorkItem(
            source_id=1,
            project_id=proj.id,
            source_type="jira",
            source_item_id="1",
            item_key="HOOK-1",
            title="t",
            status="Done",
            status_category="done",
            ac_quality="testable",
            has_unit_test_task=True,
            unit_testing_status="done",
            coverage_percent=40.0,
        )
        session.add(item)
        session.commit()
        item_id = item.id
    from etl.compliance import evaluate_compliance

    evaluate_compliance(tenant.slug)

    def open_rules() -> set[str]:
        with tenant_session(tenant) as session:
            rows = session.exec(
                select(ComplianceFlag.rule_id).where(
                    ComplianceFlag.work_item_id == item_id, ComplianceFlag.status == "open"
                )
            )
            return set(rows.all())

    assert {"low_coverage", "missing_ci_evidence"} <= open_rules()
    _, secret = create_api_token(tenant.id, "github-actions", ACTOR)
    headers = {"Authorization": f"Bearer {secret}"}
    bad = client.post("/api/evidence", json={"work_item_key": "HOOK-1"}, headers=headers)
    assert bad.status_code == 422 and "coverage_percent" in bad.json()["error"]["message"]
    missing = client.post("/api/evidence", json={"work_item_key": "HOOK-404", "coverage_percent": 90}, headers=headers)
    assert missing.status_code == 404
    posted = client.post(
        "/api/evidence",
        json={
            "work_item_key": "hook-1",
            "coverage_percent": 91.5,
            "build_url": "https://ci.example.com/build/42",
            "commit_sha": "abc1234",
        },
        headers=headers,
    )
    assert posted.status_code == 201, posted.text
    assert posted.json()["work_item_ids"] == [item_id]
    assert not {"low_coverage", "missing_ci_evidence"} & open_rules()
    with tenant_session(tenant) as session:
        evidence = session.exec(select(CoverageEvidence)).one()
        assert evidence.posted_by == "api-token:github-actions" and evidence.coverage_percent == 91.5

    assert client.post("/api/evidence", json={"work_item_key": "HOOK-1", "coverage_percent": 1}).status_code == 401
    row, other_secret = create_api_token(tenant.id, "revoked", ACTOR)
    revoke_api_token(row.id, tenant.id, ACTOR)
    revoked = client.post(
        "/api/evidence",
        json={"work_item_key": "HOOK-1", "coverage_percent": 1},
        headers={"Authorization": f"Bearer {other_secret}"},
    )
    assert revoked.status_code == 401 and "revoked" in revoked.json()["error"]["message"]


def test_evidence_token_cannot_reach_another_tenant(client: TestClient, project, make_tenant) -> None:
    tenant, _ = project
    other = make_tenant("other")
    with tenant_session(other) as session:
        session.add(WorkItem(source_id=1, project_id=1, source_type="jira", source_item_id="9", item_key="GLX-9"))
        session.commit()
    _, secret = create_api_token(tenant.id, "ci", ACTOR)
    response = client.post(
        "/api/evidence",
        json={"work_item_key": "GLX-9", "coverage_percent": 99},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 404
