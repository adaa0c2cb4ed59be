"""DMT exceptions through the REST API: request -> approve/reject -> revoke, roles and other tenants' ids."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from services.auth import login
from tests.integration.test_dashboards_seed import PASSWORD, Seeded, seed_tenant


@pytest.fixture(scope="module")
def two(database_url: str) -> tuple[Seeded, Seeded]:
    from services.audit import Actor
    from services.tenants import TenantCreate, create_tenant

    tag = uuid.uuid4().hex[:6]
    return (
        seed_tenant(create_tenant(TenantCreate(name="ExA", slug=f"exa_{tag}"), Actor.system("test"))),
        seed_tenant(create_tenant(TenantCreate(name="ExB", slug=f"exb_{tag}"), Actor.system("test"))),
    )


@pytest.fixture(scope="module")
def client(two: tuple[Seeded, Seeded]) -> TestClient:
    from api.app import create_api

    return TestClient(create_api("company"))


def bearer(s: Seeded, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {login(s.users[role], PASSWORD).tokens.access_token}"}


def body(item_id: int, **extra: object) -> dict[str, object]:
    until = (date.today() + timedelta(days=20)).isoformat()
    return {"work_item_id": item_id, "rules": ["low_coverage"], "reason": "legacy", "valid_until": until, **extra}


def test_request_approve_and_revoke_through_the_api(client: TestClient, two: tuple[Seeded, Seeded]) -> None:
    a, _ = two
    dev, lead, pm = bearer(a, "developer"), bearer(a, "tech_lead"), bearer(a, "project_manager")
    item_id = a.items["s3_b"]
    created = client.post("/api/exceptions", json=body(item_id), headers=dev)
    assert created.status_code == 201, created.text
    x = created.json()
    assert x["status"] == "requested" and x["rules"] == ["low_coverage"]
    assert x["valid_until"] == (date.today() + timedelta(days=20)).isoformat()

    pending = client.get("/api/exceptions", params={"decidable": "true"}, headers=lead).json()
    assert [r["id"] for r in pending["items"]] == [x["id"]] and pending["items"][0]["can_decide"] is True
    assert client.get("/api/exceptions", params={"decidable": "true"}, headers=dev).json()["total"] == 0

    refused = client.post(f"/api/exceptions/{x['id']}/approve", json={"note": "fine"}, headers=dev)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    assert client.post(f"/api/exceptions/{x['id']}/approve", json={"note": ""}, headers=lead).status_code == 422
    approved = client.post(f"/api/exceptions/{x['id']}/approve", json={"note": "tests next sprint"}, headers=lead)
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert approved.json()["approved_by"] == "Lee" and approved.json()["can_revoke"] is True
    again = client.post(f"/api/exceptions/{x['id']}/reject", json={"note": "late"}, headers=pm)
    assert again.status_code == 409

    of_item = client.get("/api/exceptions", params={"work_item_id": item_id, "status": "approved"}, headers=dev)
    assert [r["id"] for r in of_item.json()["items"]] == [x["id"]]
    revoked = client.post(f"/api/exceptions/{x['id']}/revoke", json={"note": "harness exists"}, headers=pm)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert client.get(f"/api/exceptions/{x['id']}", headers=dev).json()["revoke_note"] == "harness exists"


def test_nobody_approves_their_own_request_and_bad_requests_are_422(
    client: TestClient, two: tuple[Seeded, Seeded]
) -> None:
    a, _ = two
    lead, pm, viewer = bearer(a, "tech_lead"), bearer(a, "project_manager"), bearer(a, "viewer")
    assert client.post("/api/exceptions", json=body(a.items["s1_a"]), headers=viewer).status_code == 403
    own = client.post("/api/exceptions", json=body(a.items["s1_a"]), headers=lead).json()
    for verb in ("approve", "reject"):
        r = client.post(f"/api/exceptions/{own['id']}/{verb}", json={"note": "mine"}, headers=lead)
        assert r.status_code == 403 and "own" in r.json()["error"]["message"]
    assert client.post(f"/api/exceptions/{own['id']}/reject", json={"note": "no"}, headers=pm).status_code == 200

    unknown_rule = client.post("/api/exceptions", json=body(a.items["s1_b"], rules=["missing_pr_link"]), headers=lead)
    assert unknown_rule.status_code == 422 and unknown_rule.json()["error"]["field"] == "rules"
    two_expiries = client.post(
        "/api/exceptions", json=body(a.items["s1_b"], expires_at="2030-01-01T00:00:00Z"), headers=lead
    )
    assert two_expiries.status_code == 422
    past = client.post("/api/exceptions", json=body(a.items["s1_b"], valid_until="2001-01-01"), headers=lead)
    assert past.status_code == 422


def test_another_tenants_ids_are_not_found(client: TestClient, two: tuple[Seeded, Seeded]) -> None:
    a, b = two
    theirs = client.post("/api/exceptions", json=body(b.items["s1_c"]), headers=bearer(b, "developer")).json()
    lead = bearer(a, "tech_lead")
    missing_item = max(a.items.values()) + 100  # exists in neither tenant's schema
    assert client.post("/api/exceptions", json=body(missing_item), headers=lead).status_code == 404
    b_only = theirs["id"] + 100
    assert client.get(f"/api/exceptions/{b_only}", headers=lead).status_code == 404
    for verb in ("approve", "reject", "revoke"):
        assert client.post(f"/api/exceptions/{b_only}/{verb}", json={"note": "x"}, headers=lead).status_code == 404
    listed = client.get("/api/exceptions", params={"status": "all"}, headers=lead).json()
    assert all(r["project_id"] == a.project_id for r in listed["items"])
    assert client.get("/api/exceptions", params={"project_id": b.project_id}, headers=lead).status_code == 404
    assert client.get("/api/exceptions", params={"status": "nonsense"}, headers=lead).status_code == 422
