"""The product spec's REST contract (PRD section 4.1-4.3), held as data: all 56 method + path pairs.

Each pair must be in `/api/openapi.json` at exactly the spec's method and path
(parameter names aside: the spec writes `{id}`), and must answer an authorised
caller with real ids of its own (never 404 or 405, never a server error).
The response shapes the spec gives (auth) are checked too.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bench._fake_tracker import TOKEN, TrackerData, create_app, register_fake_connectors
from etl.connectors import registry
from models.db import tenant_session
from models.enums import UserRole
from models.tenant import WorkItem
from services import auth
from services.audit import Actor
from services.notifications import create_for_users
from tests.fakes.server import FaultControls, serve
from tests.integration.test_dashboards_seed import PASSWORD, Seeded, seed_tenant
from tests.waiting import wait_until

#: PRD section 4: (method, path), in the spec's order.
SPEC_ENDPOINTS: list[tuple[str, str]] = [
    # 4.1 authentication
    ("POST", "/api/auth/register"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/refresh"),
    ("POST", "/api/auth/logout"),
    ("GET", "/api/auth/me"),
    # 4.2 tenant management
    ("GET", "/api/admin/tenants"),
    ("POST", "/api/admin/tenants"),
    ("GET", "/api/admin/tenants/{id}"),
    ("PUT", "/api/admin/tenants/{id}"),
    ("POST", "/api/admin/tenants/{id}/activate"),
    ("POST", "/api/admin/tenants/{id}/deactivate"),
    ("GET", "/api/admin/tenants/{id}/users"),
    ("POST", "/api/admin/tenants/{id}/users"),
    # 4.2 project management
    ("GET", "/api/admin/tenants/{tenant_id}/projects"),
    ("POST", "/api/admin/tenants/{tenant_id}/projects"),
    ("PUT", "/api/admin/projects/{id}"),
    ("GET", "/api/admin/projects/{id}/sources"),
    ("POST", "/api/admin/projects/{id}/sources"),
    ("GET", "/api/admin/sources/{id}"),
    ("PUT", "/api/admin/sources/{id}"),
    ("POST", "/api/admin/sources/{id}/test"),
    ("GET", "/api/admin/sources/{id}/discover"),
    ("POST", "/api/admin/sources/{id}/trigger-sync"),
    ("POST", "/api/admin/sources/{id}/trigger-historical"),
    # 4.2 system health and monitoring
    ("GET", "/api/admin/health"),
    ("GET", "/api/admin/health/etl"),
    ("GET", "/api/admin/health/queues"),
    ("GET", "/api/admin/audit-logs"),
    ("GET", "/api/admin/data-retention"),
    ("POST", "/api/admin/data-retention"),
    ("POST", "/api/admin/data-retention/{id}/archive"),
    ("POST", "/api/admin/data-retention/{id}/delete"),
    # 4.3 dashboards
    ("GET", "/api/dashboard/summary"),
    ("GET", "/api/dashboard/velocity"),
    ("GET", "/api/dashboard/throughput"),
    ("GET", "/api/dashboard/defect-density"),
    ("GET", "/api/dashboard/compliance"),
    ("GET", "/api/dashboard/blocked-items"),
    ("GET", "/api/dashboard/pr-health"),
    # 4.3 individual metrics
    ("GET", "/api/developers"),
    ("GET", "/api/developers/{id}/metrics"),
    ("GET", "/api/developers/{id}/comparison"),
    ("GET", "/api/me/metrics"),
    # 4.3 compliance flags
    ("GET", "/api/compliance-flags"),
    ("POST", "/api/compliance-flags/{id}/resolve"),
    # 4.3 AI insights
    ("GET", "/api/ai-insights"),
    ("POST", "/api/ai-insights/{id}/feedback"),
    # 4.3 notifications
    ("GET", "/api/notifications"),
    ("POST", "/api/notifications/{id}/read"),
    ("POST", "/api/notifications/mark-all-read"),
    ("GET", "/api/notifications/unread-count"),
    # 4.3 exports
    ("POST", "/api/exports/sprint"),
    ("POST", "/api/exports/developer"),
    ("POST", "/api/exports/compliance"),
    ("GET", "/api/exports/{id}/status"),
    ("GET", "/api/exports/{id}/download"),
]

#: Which id a `{...}` placeholder stands for, by the path segment before it.
ID_OF_SEGMENT = {
    "tenants": "tenant_id",
    "projects": "project_id",
    "sources": "source_id",
    "data-retention": "job_id",
    "developers": "identity_id",
    "compliance-flags": "flag_id",
    "ai-insights": "insight_id",
    "notifications": "notification_id",
    "exports": "export_id",
}


def _shape(path: str) -> str:
    return re.sub(r"{\w+}", "{}", path)


def test_the_spec_lists_56_endpoints() -> None:
    assert len(SPEC_ENDPOINTS) == 56 and len(set(SPEC_ENDPOINTS)) == 56


@pytest.mark.parametrize("portal", ["company", "admin"])
def test_every_spec_endpoint_is_in_the_openapi_document_at_its_method_and_path(portal: str) -> None:
    from api.app import create_api

    spec = TestClient(create_api(portal)).get("/api/openapi.json").json()
    documented = {(m.upper(), _shape(p)) for p, ops in spec["paths"].items() for m in ops}
    missing = [f"{m} {p}" for m, p in SPEC_ENDPOINTS if (m, _shape(p)) not in documented]
    assert not missing, f"not in the OpenAPI document: {missing}"


# --------------------------------------------------------------------------- calling every endpoint
@dataclass
class World:
    company: Seeded
    ids: dict[str, int]
    admin_email: str
    lead: str  # company tech lead's email
    tracker_url: str  # the fake tool on loopback


@pytest.fixture(scope="module")
def world(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    import os

    from core.settings import reset_settings_cache
    from services import exports, retention
    from services.projects import ProjectCreate, create_project
    from services.sources import SourceCreate, create_source
    from services.tenants import TenantCreate, create_tenant
    from services.users import UserCreate, create_user

    os.environ["EXPORT_DIR"] = str(tmp_path_factory.mktemp("contract-exports"))
    os.environ["ARCHIVE_DIR"] = str(tmp_path_factory.mktemp("contract-archives"))
    reset_settings_cache()
    system = Actor.system("test")
    tag = uuid.uuid4().hex[:6]
    company = seed_tenant(create_tenant(TenantCreate(name="Contract", slug=f"ct_{tag}"), system))
    managed = create_tenant(TenantCreate(name="Managed", slug=f"cm_{tag}"), system)
    project = create_project(ProjectCreate(tenant_id=managed.id, key="MG", name="Managed"), system)
    admin_email = f"admin-{tag}@contract.example"
    create_user(UserCreate(email=admin_email, password=PASSWORD, role=UserRole.PLATFORM_ADMIN), system)
    with tenant_session(company.slug) as session:
        blocked = session.get(WorkItem, company.items["s3_open"])
        assert blocked is not None
        blocked.blocked_since = datetime.now(UTC) - timedelta(hours=30)
        blocked.blocked_reason = "waiting for the payments team"
        session.commit()
    lead = company.user("tech_lead")
    note = create_for_users(company.tenant_id, [lead.id], kind="test", title="hello", tenant_slug=company.slug)[0]
    job = exports.start_export(lead, exports.ExportRequest(project_id=company.project_id, report="developer"))
    wait_until(lambda: exports.get_export(lead, job.id).status == "finished", timeout=60, what="the export to finish")
    retention_job = retention.create_job(managed.id, "2019Q1", system)
    saved = dict(registry._REGISTRY)
    register_fake_connectors()
    try:
        with serve(create_app(TrackerData(size=20), FaultControls())) as url:
            source = create_source(
                managed.id,
                SourceCreate(project_id=project.id or 0, name="tracker", source_type="jira", base_url=url, token=TOKEN),
                system,
            )
            ids = {
                "tenant_id": managed.id or 0,
                "project_id": project.id or 0,
                "source_id": source.id,
                "job_id": retention_job.id or 0,
                "identity_id": company.identities["Ann"],
                "flag_id": company.flags["high"],
                "insight_id": company.insight_id,
                "notification_id": note.id or 0,
                "export_id": job.id,
            }
            yield World(
                company=company, ids=ids, admin_email=admin_email, lead=company.users["tech_lead"], tracker_url=url
            )
    finally:
        registry._REGISTRY.clear()
        registry._REGISTRY.update(saved)
        from core.queue import app as celery_app

        celery_app.control.purge()  # the syncs this module queued: no worker here, none should run later


def _url(path: str, ids: dict[str, int]) -> str:
    parts = path.split("/")
    for i, part in enumerate(parts):
        if part.startswith("{"):
            parts[i] = str(ids[ID_OF_SEGMENT[parts[i - 1]]])
    return "/".join(parts)


def _body(method: str, path: str, world: World) -> dict[str, Any] | None:
    tag = uuid.uuid4().hex[:6]
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/api/auth/register"): {"email": f"first-{tag}@contract.example", "password": PASSWORD},
        ("POST", "/api/auth/login"): {"email": world.lead, "password": PASSWORD},
        ("POST", "/api/admin/tenants"): {"name": "New", "slug": f"cn_{tag}"},
        ("PUT", "/api/admin/tenants/{id}"): {"name": "Managed and renamed"},
        ("POST", "/api/admin/tenants/{id}/users"): {"email": f"user-{tag}@contract.example", "password": PASSWORD},
        ("POST", "/api/admin/tenants/{tenant_id}/projects"): {"key": f"N{tag.upper()}", "name": "New project"},
        ("PUT", "/api/admin/projects/{id}"): {"coverage_threshold": 75},
        ("POST", "/api/admin/projects/{id}/sources"): {
            "name": "second",
            "source_type": "jira",
            "base_url": world.tracker_url,
        },
        ("PUT", "/api/admin/sources/{id}"): {"request_budget_per_minute": 300},
        ("POST", "/api/admin/data-retention"): {"tenant_id": world.ids["tenant_id"], "quarter": "2018Q4"},
        ("POST", "/api/admin/data-retention/{id}/delete"): {"confirmation": "not the phrase"},
        ("POST", "/api/compliance-flags/{id}/resolve"): {"note": "tests added"},
        ("POST", "/api/ai-insights/{id}/feedback"): {"rating": 1},
    }
    return bodies.get((method, path), {} if method in ("POST", "PUT") else None)


#: Answers other than 2xx that are right for the request sent: the first admin exists (409);
#: a quarter with no verified archive cannot be hard-deleted (400/409).
EXPECTED_REFUSALS = {
    ("POST", "/api/auth/register"): {409},
    ("POST", "/api/admin/data-retention/{id}/delete"): {400, 409, 422},
}


def test_every_spec_endpoint_answers_an_authorised_caller(world: World) -> None:
    from api.app import create_api

    client = TestClient(create_api("company"))
    admin = {"Authorization": f"Bearer {auth.login(world.admin_email, PASSWORD).tokens.access_token}"}
    lead_tokens = auth.login(world.lead, PASSWORD).tokens
    lead = {"Authorization": f"Bearer {lead_tokens.access_token}"}
    failures = []
    for method, path in SPEC_ENDPOINTS:
        if path == "/api/auth/refresh":
            body: dict[str, Any] | None = {"refresh": auth.login(world.lead, PASSWORD).tokens.refresh_token}
        elif path == "/api/auth/logout":
            body = {"refresh": auth.login(world.lead, PASSWORD).tokens.refresh_token}
        else:
            body = _body(method, path, world)
        headers = admin if path.startswith("/api/admin/") else lead
        response = client.request(method, _url(path, world.ids), json=body, headers=headers)
        allowed = EXPECTED_REFUSALS.get((method, path), set())
        if not (200 <= response.status_code < 300 or response.status_code in allowed):
            failures.append(f"{method} {path} -> {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures)


def test_auth_endpoints_have_the_spec_shapes(world: World) -> None:
    from api.app import create_api

    client = TestClient(create_api("company"))
    login = client.post("/api/auth/login", json={"email": world.lead, "password": PASSWORD})
    assert login.status_code == 200
    body = login.json()
    assert set(body) == {"user", "tokens", "portal_url"}
    assert {"access", "refresh"} <= set(body["tokens"])
    refreshed = client.post("/api/auth/refresh", json={"refresh": body["tokens"]["refresh"]})
    assert refreshed.status_code == 200 and "access" in refreshed.json()
    headers = {"Authorization": f"Bearer {refreshed.json()['access']}"}
    me = client.get("/api/auth/me", headers=headers).json()
    assert {"id", "email", "role", "tenant"} <= set(me)
    assert me["tenant"]["slug"] == world.company.slug and me["email"] == world.lead
    out = client.post("/api/auth/logout", json={"refresh": refreshed.json()["refresh"]})
    assert out.status_code == 204 and out.content == b""
    assert client.post("/api/auth/refresh", json={"refresh": refreshed.json()["refresh"]}).status_code == 401


def test_company_endpoints_default_to_the_first_project_and_the_current_sprint(world: World) -> None:
    from api.app import create_api

    client = TestClient(create_api("company"))
    headers = {"Authorization": f"Bearer {auth.login(world.lead, PASSWORD).tokens.access_token}"}
    company = world.company
    summary = client.get("/api/dashboard/summary", headers=headers).json()
    assert summary["project_id"] == company.project_id and summary["sprint_name"] == "S3"
    s2 = client.get(f"/api/dashboard/summary?sprint_id={company.sprints['S2']}", headers=headers).json()
    assert s2["sprint_name"] == "S2" and {c["key"]: c["value"] for c in s2["cards"]}["velocity"] == 10
    sprint = client.get("/api/dashboard/sprint", headers=headers).json()
    assert sprint["sprint"]["sprint_id"] == company.sprints["S3"]
    items = client.get(f"/api/dashboard/sprint/items?sprint_id={company.sprints['S1']}", headers=headers).json()
    assert items["sprint_name"] == "S1" and items["total"] == 4


def test_blocked_items_list_what_is_blocked_now_with_since_and_why(world: World) -> None:
    from api.app import create_api

    client = TestClient(create_api("company"))
    company = world.company
    lead = {"Authorization": f"Bearer {auth.login(world.lead, PASSWORD).tokens.access_token}"}
    answer = client.get(f"/api/dashboard/blocked-items?project_id={company.project_id}", headers=lead)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["total"] == 1
    (item,) = body["items"]
    assert item["assignee"] == "Cid Example" and item["sprint_name"] == "S3" and item["story_points"] == 5
    assert item["reason"] == "waiting for the payments team" and 30 <= item["blocked_hours"] < 31
    assert item["blocked_since"].endswith("+00:00")
    s1 = client.get(f"/api/dashboard/blocked-items?sprint_id={company.sprints['S1']}", headers=lead).json()
    assert s1["total"] == 0 and s1["empty_message"]
    viewer = {"Authorization": f"Bearer {auth.login(company.users['viewer'], PASSWORD).tokens.access_token}"}
    anonymous = client.get("/api/dashboard/blocked-items", headers=viewer).json()["items"][0]["assignee"]
    assert anonymous == f"Developer {company.identities['Cid']}"


def test_developer_comparison_is_against_the_team_average(world: World) -> None:
    from api.app import create_api

    client = TestClient(create_api("company"))
    company = world.company
    lead = {"Authorization": f"Bearer {auth.login(world.lead, PASSWORD).tokens.access_token}"}
    ann = company.identities["Ann"]
    body = client.get(f"/api/developers/{ann}/comparison?sprint_id={company.sprints['S1']}", headers=lead).json()
    overall = {m["metric"]: m for m in body["overall"]}
    team = client.get("/api/developers", headers=lead).json()["developers"]
    active = [d for d in team if d["sprints_active"]]
    expected = sum(d["items_completed"] for d in active) / len(active)
    mine = next(d for d in team if d["identity_id"] == ann)
    assert overall["items_completed"]["developer"] == mine["items_completed"]
    assert overall["items_completed"]["team_average"] == round(expected, 1)
    assert body["team_size"] == len(active)
    sprint = {m["metric"]: m for m in body["sprint"]["metrics"]}
    # S1: Ann finished stories of 3 and 8 points, Bob one of 5 and a 1-point bug, Cid nothing (his story is
    # open): 2, 2 and 0 items (average 1.3), 11, 6 and 0 points (average 5.7), as on the developer page.
    assert sprint["items_completed"]["developer"] == 2 and sprint["items_completed"]["team_average"] == 1.3
    assert sprint["points_completed"]["developer"] == 11 and sprint["points_completed"]["team_average"] == 5.7
    assert sprint["points_completed"]["better"] is True and sprint["points_completed"]["difference"] == 5.3
