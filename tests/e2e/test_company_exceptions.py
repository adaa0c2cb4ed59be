"""A DMT exception in the browser: a developer requests it from a flag, a tech lead approves it on the
exceptions page, and the item's flags are resolved at once (and show the exception)."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Portal, open_page, sign_in

pytestmark = pytest.mark.e2e

PASSWORD = "exceptions-e2e-1"


@pytest.fixture
def team(database_url: str) -> dict[str, object]:
    """A tenant of its own: a developer, a tech lead and a done item that fails the testing rules."""
    from models.enums import ProjectRole
    from services.alerts import evaluate_and_alert
    from services.audit import Actor
    from services.projects import ProjectCreate, create_project
    from services.tenants import TenantCreate, create_tenant
    from services.users import UserCreate, create_user, set_project_role
    from tests.integration.test_compliance_support import add_item, compliant_fields

    actor = Actor.system("e2e-exceptions")
    tag = uuid.uuid4().hex[:6]
    tenant = create_tenant(TenantCreate(name=f"Except {tag}", slug=f"exc_{tag}"), actor)
    project = create_project(ProjectCreate(tenant_id=tenant.id or 0, key="EXC", name="Exceptions"), actor)
    emails = {}
    for role, name in ((ProjectRole.DEVELOPER, "Dana Dev"), (ProjectRole.TECH_LEAD, "Lee Lead")):
        email = f"{role.value}-{tag}@exceptions-e2e.com"
        user = create_user(UserCreate(email=email, password=PASSWORD, full_name=name, tenant_id=tenant.id), actor)
        set_project_role(user.id or 0, project.id or 0, role, actor)
        emails[role.value] = email
    fields = compliant_fields() | {"unit_testing_status": "not_started", "item_key": "EXC-7", "title": "Legacy export"}
    item_id = add_item(tenant.slug, project.id or 0, **fields)
    evaluate_and_alert(tenant.slug)
    return {"tenant": tenant, "item_id": item_id, **emails}


def open_flags(slug: str, item_id: int) -> set[str]:
    from sqlmodel import select

    from models.db import tenant_session
    from models.tenant import ComplianceFlag

    with tenant_session(slug) as session:
        rows = session.exec(
            select(ComplianceFlag.rule_id).where(
                ComplianceFlag.work_item_id == item_id, ComplianceFlag.status == "open"
            )
        ).all()
    return set(rows)


def test_a_developer_requests_and_a_tech_lead_approves_an_exception(browser, company_portal: Portal, team) -> None:
    slug = team["tenant"].slug
    assert "unit_testing_not_done" in open_flags(slug, team["item_id"])

    dev = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    dev.set_default_timeout(20_000)
    sign_in(dev, company_portal, team["developer"], PASSWORD)
    expect(dev.locator("#signed-in-user")).to_have_text("Dana Dev")
    open_page(dev, company_portal, "/compliance/flags")
    row = dev.locator(".flag-row").filter(has_text="EXC-7").filter(has_text="Unit testing").first
    row.get_by_role("button", name="Request a DMT exception for EXC-7").click()
    dialog = dev.locator("#exception-request-dialog")
    expect(dialog).to_contain_text("Request a DMT exception for EXC-7")
    dev.locator("#exception-reason").fill("Legacy export module without a harness; covered by end-to-end tests")
    dev.locator("#send-exception-request").click()
    expect(dev.get_by_text("Exception requested for EXC-7")).to_be_visible()
    expect(dev.locator(".flag-exception").first).to_contain_text("exception requested")
    dev.context.close()

    lead = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    lead.set_default_timeout(20_000)
    sign_in(lead, company_portal, team["tech_lead"], PASSWORD)
    expect(lead.locator("#signed-in-user")).to_have_text("Lee Lead")
    open_page(lead, company_portal, "/compliance/exceptions")
    pending = lead.locator(".pending-exception").filter(has_text="EXC-7")
    expect(pending).to_contain_text("Dana Dev")
    pending.get_by_role("button", name="Approve the exception for EXC-7").click()
    lead.locator("#decision-note").fill("Agreed: the harness comes next sprint")
    lead.locator("#confirm-decision").click()
    expect(lead.locator("#exception-notice")).to_contain_text("Exception for EXC-7 approved")
    expect(lead.locator(".exception-row").filter(has_text="EXC-7")).to_contain_text("approved by Lee Lead")

    # Recomputed at once: the rule the exception covers passes, and the flag says why.
    assert "unit_testing_not_done" not in open_flags(slug, team["item_id"])
    open_page(lead, company_portal, "/compliance/flags?status=resolved&rule=unit_testing_not_done")
    resolved = lead.locator(".flag-row").filter(has_text="EXC-7")
    expect(resolved).to_contain_text("exception until")
    lead.context.close()
