"""Admin read models: tenant overview counts, users with roles, audit paging and filters."""

from __future__ import annotations

import uuid

from models.enums import ProjectRole
from services import admin_queries
from services.audit import Actor
from services.projects import ProjectCreate, create_project
from services.users import UserCreate, create_user, set_project_role

ACTOR = Actor(user_id=None, email="admin@platform-tests.com")


def test_overview_counts_projects_and_users_and_filters(make_tenant) -> None:
    tenant = make_tenant("aq")
    project = create_project(ProjectCreate(tenant_id=tenant.id, key="WEB", name="Web"), ACTOR)
    user = create_user(
        UserCreate(email=f"u{uuid.uuid4().hex[:6]}@aq-tests.com", password="password-123", tenant_id=tenant.id), ACTOR
    )
    set_project_role(user.id, project.id, ProjectRole.TECH_LEAD, ACTOR)

    rows = admin_queries.tenant_overview(search=tenant.slug)
    assert [(r["slug"], r["projects"], r["users"], r["sources"]) for r in rows] == [(tenant.slug, 1, 1, 0)]
    assert admin_queries.tenant_overview(search=tenant.slug, status="inactive") == []
    users = admin_queries.tenant_users(tenant.id)
    assert users[0]["roles"] == "WEB: tech_lead"
    assert "password_hash" not in users[0]


def test_audit_page_filters_and_pages(make_tenant) -> None:
    tenant = make_tenant("au")
    for i in range(3):
        create_project(ProjectCreate(tenant_id=tenant.id, key=f"P{i}", name=f"P{i}"), ACTOR)
    page = admin_queries.audit_page(tenant_id=tenant.id, action="project.create", page_size=2)
    assert page["total"] == 3 and page["pages"] == 2 and len(page["items"]) == 2
    assert "key: P2" in page["items"][0]["new_values"]  # newest first
    second = admin_queries.audit_page(tenant_id=tenant.id, action="project.create", page=2, page_size=2)
    assert len(second["items"]) == 1
    assert admin_queries.audit_page(tenant_id=tenant.id, user="nobody@else")["total"] == 0
    assert "project.create" in admin_queries.audit_filters()["actions"]
