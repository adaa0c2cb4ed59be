"""Schemathesis over the whole OpenAPI document of both portals' APIs: no 5xx, responses match the schema.

Examples per operation are bounded so the run fits CI; authenticated as a
platform admin (admin API) and as a tech lead (company API) of a seeded tenant.
"""

from __future__ import annotations

import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from models.enums import ProjectRole, UserRole
from services import auth
from services.audit import Actor
from services.projects import ProjectCreate, create_project
from services.users import UserCreate, create_user, set_project_role

PASSWORD = "fuzz-password-123"
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]


@pytest.fixture(scope="module")
def tokens(database_url: str) -> dict[str, str]:
    from services.tenants import TenantCreate, create_tenant

    actor = Actor.system("fuzz")
    tag = uuid.uuid4().hex[:6]
    tenant = create_tenant(TenantCreate(name="Fuzz", slug=f"fuzz_{tag}"), actor)
    project = create_project(ProjectCreate(tenant_id=tenant.id, key="FZ", name="Fuzz"), actor)
    lead = create_user(UserCreate(email=f"lead-{tag}@fuzz.example", password=PASSWORD, tenant_id=tenant.id), actor)
    set_project_role(lead.id, project.id, ProjectRole.TECH_LEAD, actor)
    create_user(UserCreate(email=f"admin-{tag}@fuzz.example", password=PASSWORD, role=UserRole.PLATFORM_ADMIN), actor)
    return {
        "company": auth.login(f"lead-{tag}@fuzz.example", PASSWORD).tokens.access_token,
        "admin": auth.login(f"admin-{tag}@fuzz.example", PASSWORD).tokens.access_token,
    }


def _schema(portal: str):
    from api.app import create_api

    # Building the OpenAPI document needs no database; calls run after the fixtures below.
    return schemathesis.openapi.from_asgi("/api/openapi.json", create_api(portal))


company = _schema("company")
admin = _schema("admin")

FUZZ = settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


@company.parametrize()
@FUZZ
def test_company_api_never_fails_and_matches_its_schema(case, tokens) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {tokens['company']}"}, checks=CHECKS)


@admin.exclude(path_regex="^/api/auth/(register|login|refresh)$").parametrize()
@FUZZ
def test_admin_api_never_fails_and_matches_its_schema(case, tokens) -> None:
    # Sign-in routes are fuzzed through the company schema already; here they would
    # only trip the sign-in throttle for the whole module.
    case.call_and_validate(headers={"Authorization": f"Bearer {tokens['admin']}"}, checks=CHECKS)
