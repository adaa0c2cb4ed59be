"""Isolation matrix: every route of the API, called by each project role of one tenant with the
other tenant's ids, returns only refusals (403/404/422) and never a byte of the other tenant's data.

Routes come from the OpenAPI document itself, so a new route is covered the day it is added.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from core.crypto import encrypt_secret
from models.base import utcnow
from models.db import public_session, tenant_session
from models.public import Notification, SourceConfig, User
from models.tenant import Deployment, WorkItem
from services.auth import login
from services.exceptions import request_exception
from tests.integration.test_dashboards_seed import PASSWORD, Seeded, seed_tenant

ROLES = ("viewer", "developer", "tech_lead", "project_manager")
REFUSED = {401, 403, 404, 409, 422}


@pytest.fixture(scope="module")
def world(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import os

    from core.settings import reset_settings_cache
    from services.audit import Actor
    from services.tenants import TenantCreate, create_tenant

    os.environ["EXPORT_DIR"] = str(tmp_path_factory.mktemp("matrix-exports"))
    reset_settings_cache()
    tag = uuid.uuid4().hex[:6]
    acme = seed_tenant(create_tenant(TenantCreate(name="Acme", slug=f"mxa_{tag}"), Actor.system("test")))
    globex = seed_tenant(create_tenant(TenantCreate(name="Globex", slug=f"mxg_{tag}"), Actor.system("test")))
    marker = f"GLOBEX-SECRET-{tag}"
    with tenant_session(globex.slug) as session:
        for item in session.exec(select(WorkItem)).all():
            item.title = f"{marker} {item.title}"
        deployment = Deployment(
            source_id=1, project_id=globex.project_id, source_type="github_deployments", source_deployment_id=marker,
            name=marker, status="success", finished_at=utcnow(),
        )  # fmt: skip
        session.add(deployment)
        session.commit()
        deployment_id = deployment.id
    globex_exception = request_exception(
        globex.user("developer"), globex.items["s1_c"], rules=["low_coverage"], reason=marker,
        expires_at=utcnow() + timedelta(days=30),
    )  # fmt: skip
    with public_session() as session:
        source = SourceConfig(
            tenant_id=globex.tenant_id,
            project_id=globex.project_id,
            name=marker,
            source_type="jira",
            base_url="https://globex.invalid",
            token_encrypted=encrypt_secret("globex-token"),
        )
        session.add(source)
        globex_user = session.exec(select(User).where(User.email == globex.users["tech_lead"])).one()
        note = Notification(tenant_id=globex.tenant_id, user_id=globex_user.id, kind="critical_flags", title=marker)
        session.add(note)
        session.commit()
        ids = {
            "project_id": globex.project_id,
            "sprint_id": next(iter(globex.sprints.values())),
            "identity_id": next(iter(globex.identities.values())),
            "flag_id": next(iter(globex.flags.values())),
            "insight_id": globex.insight_id,
            "job_id": globex.export_id,
            "notification_id": note.id,
            "source_id": source.id,
            "tenant_id": globex.tenant_id,
            "user_id": globex_user.id,
            "exception_id": globex_exception.id,
            "work_item_id": globex.items["s1_c"],
            "deployment_id": deployment_id,
        }
    return {"acme": acme, "globex": globex, "marker": marker, "ids": ids}


def _routes(client: TestClient) -> list[tuple[str, str, list[dict[str, Any]]]]:
    spec = client.get("/api/openapi.json").json()
    out = []
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            out.append((method.upper(), path, op.get("parameters", [])))
    return out


def _fill(path: str, params: list[dict[str, Any]], ids: dict[str, int]) -> tuple[str, dict[str, Any]] | None:
    names = re.findall(r"{(\w+)}", path)
    if any(n not in ids for n in names):
        return None
    url = path.format(**{n: ids[n] for n in names})
    query = {p["name"]: ids[p["name"]] for p in params if p.get("in") == "query" and p["name"] in ids}
    return url, query


@pytest.mark.parametrize("role", ROLES)
def test_every_route_refuses_the_other_tenants_ids(world: dict[str, Any], role: str) -> None:
    from api.app import create_api

    client = TestClient(create_api("company"))
    acme: Seeded = world["acme"]
    headers = {"Authorization": f"Bearer {login(acme.users[role], PASSWORD).tokens.access_token}"}
    checked = 0
    for method, path, params in _routes(client):
        if path.startswith("/api/auth/") or path == "/api/health":
            continue
        filled = _fill(path, params, world["ids"])
        if filled is None:
            continue
        url, query = filled
        if not re.search(r"{\w+}", path) and not query:
            continue  # no foreign id to pass: covered by the leak check below
        response = client.request(method, url, params=query, headers=headers, json={})
        checked += 1
        assert world["marker"] not in response.text, f"{role}: {method} {url} leaked the other tenant's data"
        assert response.status_code in REFUSED, f"{role}: {method} {url} answered {response.status_code}"
    assert checked >= 20


@pytest.mark.parametrize("role", ROLES)
def test_lists_of_one_tenant_never_contain_the_other(world: dict[str, Any], role: str) -> None:
    from api.app import create_api

    client = TestClient(create_api("company"))
    acme: Seeded = world["acme"]
    headers = {"Authorization": f"Bearer {login(acme.users[role], PASSWORD).tokens.access_token}"}
    own_project = {"project_id": acme.project_id}
    for method, path, params in _routes(client):
        if method != "GET" or re.search(r"{\w+}", path) or path.startswith("/api/auth/"):
            continue
        query = {
            p["name"]: own_project[p["name"]] for p in params if p.get("in") == "query" and p["name"] in own_project
        }
        response = client.get(path, params=query, headers=headers)
        assert world["marker"] not in response.text, f"{role}: GET {path} leaked the other tenant's data"
        if path.startswith("/api/admin/"):
            assert response.status_code == 403, f"{role}: {path} is for platform administrators"
        else:
            assert response.status_code == 200, f"{role}: GET {path} -> {response.status_code} {response.text[:200]}"
