"""Projects' DMT settings: the compliance target (create, update, audit, REST) and its range."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from models.enums import UserRole
from services import auth
from services.audit import Actor, AuditFilter, list_audit
from services.projects import (
    ProjectCreate,
    ProjectPublic,
    ProjectSettingsUpdate,
    create_project,
    get_project,
    update_project_settings,
)
from services.users import UserCreate, create_user

PASSWORD = "projects-password-1"
RANGE_MESSAGE = "the compliance target is a percentage above 0 and at most 100"


def test_a_new_project_aims_at_90_percent_unless_told_otherwise(make_tenant) -> None:
    tenant = make_tenant("pt")
    plain = create_project(ProjectCreate(tenant_id=tenant.id, key="PLAIN", name="Plain"), Actor.system("test"))
    strict = create_project(
        ProjectCreate(tenant_id=tenant.id, key="STRICT", name="Strict", compliance_target=97.5), Actor.system("test")
    )
    assert get_project(plain.id).compliance_target == 90.0
    assert ProjectPublic.of(get_project(strict.id)).compliance_target == 97.5


@pytest.mark.parametrize("refused", [0, -5, 100.01, 101, float("nan"), float("inf")])
def test_a_compliance_target_outside_0_to_100_is_refused_with_its_range(refused: float) -> None:
    for build in (
        lambda: ProjectSettingsUpdate(compliance_target=refused),
        lambda: ProjectCreate(tenant_id=1, key="K", name="K", compliance_target=refused),
    ):
        with pytest.raises(ValidationError) as caught:
            build()
        (error,) = caught.value.errors()
        assert error["loc"] == ("compliance_target",)
        assert error["msg"].startswith(RANGE_MESSAGE + ", not ")


def test_the_bounds_themselves_are_targets() -> None:
    assert ProjectSettingsUpdate(compliance_target=100).compliance_target == 100.0
    assert ProjectSettingsUpdate(compliance_target=0.1).compliance_target == 0.1
    assert ProjectSettingsUpdate().compliance_target is None  # not sent: unchanged


def test_changing_the_target_is_audited_like_the_other_settings(make_tenant) -> None:
    tenant = make_tenant("pa")
    actor = Actor.system("test")
    project = create_project(ProjectCreate(tenant_id=tenant.id, key="AUD", name="Audited"), actor)
    update_project_settings(project.id, ProjectSettingsUpdate(compliance_target=82.5), actor)
    update_project_settings(project.id, ProjectSettingsUpdate(coverage_threshold=70), actor)  # target untouched
    assert get_project(project.id).compliance_target == 82.5
    entries = list_audit(AuditFilter(tenant_id=tenant.id, action="project.update", entity_id=str(project.id))).entries
    change = entries[-1]  # newest first: the first update is the last entry
    assert (change.old_values, change.new_values) == ({"compliance_target": 90.0}, {"compliance_target": 82.5})
    assert "compliance_target" not in (entries[0].new_values or {})  # the audit keeps what changed only


def test_changing_the_settings_makes_the_cached_dashboards_stale(make_tenant, redis_url: str) -> None:
    from core.realtime import data_version_key, redis_client

    tenant = make_tenant("pv")
    project = create_project(ProjectCreate(tenant_id=tenant.id, key="VER", name="Versioned"), Actor.system("test"))
    before = int(redis_client().get(data_version_key(tenant.slug)) or 0)
    update_project_settings(project.id, ProjectSettingsUpdate(compliance_target=75), Actor.system("test"))
    assert int(redis_client().get(data_version_key(tenant.slug)) or 0) == before + 1  # the gauge shows the target


def test_the_admin_api_reads_and_writes_the_target(make_tenant) -> None:
    from api.app import create_api

    tenant = make_tenant("pr")
    admin_email = f"admin-{uuid.uuid4().hex[:6]}@projects.example"
    create_user(UserCreate(email=admin_email, password=PASSWORD, role=UserRole.PLATFORM_ADMIN), Actor.system("test"))
    client = TestClient(create_api("admin"))
    headers = {"Authorization": f"Bearer {auth.login(admin_email, PASSWORD).tokens.access_token}"}

    created = client.post(
        f"/api/admin/tenants/{tenant.id}/projects",
        json={"key": "API", "name": "Api", "compliance_target": 85},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    project_id = created.json()["id"]
    assert created.json()["compliance_target"] == 85.0
    changed = client.put(f"/api/admin/projects/{project_id}", json={"compliance_target": 92.5}, headers=headers)
    assert changed.status_code == 200 and changed.json()["compliance_target"] == 92.5
    assert client.get(f"/api/admin/projects/{project_id}", headers=headers).json()["compliance_target"] == 92.5

    refused = client.put(f"/api/admin/projects/{project_id}", json={"compliance_target": 0}, headers=headers)
    assert refused.status_code == 422
    assert RANGE_MESSAGE in refused.text
    assert get_project(project_id).compliance_target == 92.5
