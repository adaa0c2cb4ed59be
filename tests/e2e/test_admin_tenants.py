"""Create a tenant, a project and a company user through the admin UI; the user can then sign in."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Portal, Seed, sign_in
from tests.e2e.test_admin_pages import shoot

pytestmark = pytest.mark.e2e


def test_admin_creates_tenant_project_and_user_who_can_sign_in(
    page, admin_portal: Portal, company_portal: Portal, seed: Seed
) -> None:
    slug = f"globex_{uuid.uuid4().hex[:5]}"
    sign_in(page, admin_portal, seed.admin_email, seed.admin_password)
    expect(page.locator("#signed-in-user")).to_have_text(seed.admin_name)
    page.goto(f"{admin_portal.url}/dashboard/tenants")

    # Tenant, with a write-only AI key, on its own page.
    page.locator("#new-tenant").click()
    expect(page).to_have_url(f"{admin_portal.url}/dashboard/tenants/new")
    page.locator("#name").fill("Globex Corporation")
    page.locator("#slug").fill(slug)
    page.locator("#retention_days").fill("400")
    page.locator("#ai_provider").select_option("openai")
    page.locator("#ai_model").fill("gpt-4o-mini")
    page.locator("#ai_api_key").fill("sk-test-secret-9876")
    shoot(page, "tenant-create")
    page.locator("#create-tenant").click()
    expect(page).to_have_url(re.compile(r"/dashboard/tenants/\d+$"))  # the new tenant's page
    expect(page.get_by_text("Schema tenant_" + slug, exact=True)).to_be_visible()  # not the "created" toast
    assert "sk-test-secret" not in page.content()
    page.goto(f"{admin_portal.url}/dashboard/tenants")
    row = page.get_by_role("row").filter(has_text=slug)
    expect(row).to_contain_text("Globex Corporation")
    expect(row).to_contain_text("key set")
    assert "sk-test-secret" not in page.content()

    # A duplicate slug is refused with the service's words.
    page.locator("#new-tenant").click()
    page.locator("#name").fill("Globex again")
    page.locator("#slug").fill(slug)
    page.locator("#create-tenant").click()
    expect(page.get_by_role("alert")).to_contain_text("already exists")
    page.goto(f"{admin_portal.url}/dashboard/tenants")

    # Search and the status filter.
    page.locator("#tenant-search").fill(slug)
    expect(page.get_by_role("row").filter(has_text="Acme E2E")).to_have_count(0)
    expect(page.get_by_role("row").filter(has_text=slug)).to_have_count(1)

    # Project, on the tenant's Projects page.
    page.get_by_role("link", name="Globex Corporation").click()
    expect(page).to_have_url(re.compile(r"/dashboard/tenants/\d+$"))
    expect(page.get_by_text("Schema tenant_" + slug, exact=True)).to_be_visible()
    page.locator(".tab-link", has_text="Projects").click()
    expect(page).to_have_url(re.compile(r"/dashboard/tenants/\d+/projects$"))
    page.locator("#project-key").fill("SHOP")
    page.locator("#project-name").fill("Online shop")
    page.locator("#create-project").click()
    expect(page.get_by_role("row").filter(has_text="Online shop")).to_be_visible()

    # Company user with a role on the project, on the tenant's Users page.
    page.locator(".tab-link", has_text="Users").click()
    expect(page).to_have_url(re.compile(r"/dashboard/tenants/\d+/users$"))
    email = f"gina.{uuid.uuid4().hex[:4]}@globex-e2e.com"
    page.locator("#user-name").fill("Gina Globex")
    page.locator("#user-email").fill(email)
    page.locator("#user-password").fill("gina-password-1")
    page.locator("#user-project").select_option(label="SHOP - Online shop")
    page.locator("#user-role").select_option("project_manager")
    page.locator("#create-user").click()
    user_row = page.get_by_role("row").filter(has_text=email)
    expect(user_row).to_contain_text("SHOP: project_manager")

    # The new user signs in to the company portal.
    other = page.context.browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        user_page = other.new_page()
        sign_in(user_page, company_portal, email, "gina-password-1")
        expect(user_page.locator("#signed-in-user")).to_have_text("Gina Globex")
    finally:
        other.close()

    # Deactivating the tenant locks its users out.
    page.goto(f"{admin_portal.url}/dashboard/tenants")
    row = page.get_by_role("row").filter(has_text=slug)
    row.get_by_role("button", name="Deactivate").click()
    expect(row).to_contain_text("inactive")
    locked = page.context.browser.new_context()
    try:
        user_page = locked.new_page()
        sign_in(user_page, company_portal, email, "gina-password-1")
        expect(user_page.get_by_role("alert")).to_contain_text("deactivated")
    finally:
        locked.close()


def test_admin_edits_a_tenant_and_tunes_project_rules(page, admin_portal: Portal, seed: Seed) -> None:
    from models.db import get_tenant, public_session
    from services.projects import get_project

    sign_in(page, admin_portal, seed.admin_email, seed.admin_password)
    expect(page.locator("#signed-in-user")).to_have_text(seed.admin_name)
    page.goto(f"{admin_portal.url}/dashboard/tenants")
    row = page.get_by_role("row").filter(has_text=seed.tenant_slug)
    row.get_by_role("link", name="Settings").click()
    expect(page).to_have_url(f"{admin_portal.url}/dashboard/tenants/{seed.tenant_id}")
    expect(page.locator("#name")).to_have_value("Acme E2E")
    page.locator("#retention_days").fill("1000")
    page.locator("#save-tenant").click()
    expect(page.get_by_text("Tenant saved")).to_be_visible()
    page.goto(f"{admin_portal.url}/dashboard/tenants")
    expect(page.get_by_role("row").filter(has_text=seed.tenant_slug)).to_contain_text("1000 d")

    page.goto(f"{admin_portal.url}/dashboard/projects/{seed.project_id}")
    expect(page.locator("input[name='name']")).to_have_value("Web shop")  # loaded
    target = page.get_by_label("Compliance target (%)")  # the field's own label names it
    expect(target).to_have_value("90")
    # 0 passes the browser's min=0 but is no target: the server refuses it in words, and nothing is saved.
    target.fill("0")
    page.locator("#save-settings").click()
    expect(page.get_by_role("alert")).to_contain_text("the compliance target is a percentage above 0 and at most 100")
    assert get_project(seed.project_id).compliance_target == 90
    page.get_by_label("Compliance target (%)").fill("85")
    page.locator("input[name='coverage_threshold']").fill("90")
    page.get_by_role("row").filter(has_text="low_coverage").get_by_role("checkbox").click()
    page.locator("select[name='rule_missing_ci_evidence_severity']").select_option("critical")
    page.locator("#save-settings").click()
    expect(page.get_by_text("DMT settings saved")).to_be_visible()

    with public_session() as session:
        assert get_tenant(session, seed.tenant_id).retention_days == 1000
    project = get_project(seed.project_id)
    assert project.coverage_threshold == 90
    assert project.compliance_target == 85
    expect(page.get_by_label("Compliance target (%)")).to_have_value("85")  # reloaded from the service
    assert project.rules_config["low_coverage"]["enabled"] is False
    assert project.rules_config["missing_ci_evidence"] == {"enabled": True, "severity": "critical"}
