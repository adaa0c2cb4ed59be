"""Every admin page renders in the shell (screenshots at 1440x900 go to a temporary folder, SCREENSHOTS)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from services.audit import Actor
from services.sources import SourceCreate, create_source, list_sources
from tests.e2e.conftest import SCREENSHOTS, Portal, Seed, sign_in
from tests.e2e.page_waits import settle

pytestmark = pytest.mark.e2e

SHOTS = SCREENSHOTS  # a temporary folder: docs/screenshots come from `make screenshots` (the demo)


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    settle(page)  # the last state update has painted
    page.screenshot(path=str(SHOTS / f"admin-{name}.png"))


def test_admin_pages_render_and_are_screenshotted(page, admin_portal: Portal, seed: Seed) -> None:
    page.goto(f"{admin_portal.url}/login")
    expect(page.locator("#sign-in")).to_be_visible()
    shoot(page, "login")

    sign_in(page, admin_portal, seed.admin_email, seed.admin_password)
    expect(page.locator("#signed-in-user")).to_have_text(seed.admin_name)

    pages = [
        ("overview", "/dashboard", "System overview"),
        ("tenants", "/dashboard/tenants", "Tenants"),
        ("tenant-new", "/dashboard/tenants/new", "New tenant"),
        ("tenant-detail", f"/dashboard/tenants/{seed.tenant_id}", "Acme E2E"),
        ("tenant-projects", f"/dashboard/tenants/{seed.tenant_id}/projects", "Projects"),
        ("tenant-users", f"/dashboard/tenants/{seed.tenant_id}/users", "Company users"),
        ("project-detail", f"/dashboard/projects/{seed.project_id}", "WEB · Web shop"),
        ("project-sources", f"/dashboard/projects/{seed.project_id}/sources", "Sources"),
        ("sources", f"/dashboard/projects/{seed.project_id}/sources/new", "Add a source"),
        ("health", "/dashboard/health", "Health"),
        ("audit", "/dashboard/audit-logs", "Audit log"),
        ("retention", "/dashboard/data-retention", "Data retention"),
    ]
    sources = list_sources(tenant_id=seed.tenant_id) or [
        create_source(
            seed.tenant_id,
            SourceCreate(
                project_id=seed.project_id,
                name="Acme GitHub",
                source_type="github",
                base_url="http://127.0.0.1:9",
                token="ghp_example_token_1234",
                config_json={"repositories": ["acme/web", "acme/api"]},
            ),
            Actor.system("e2e"),
        )
    ]
    pages.append(("source-detail", f"/dashboard/sources/{sources[0].id}", sources[0].name))
    pages.append(("source-test", f"/dashboard/sources/{sources[0].id}/test", "Test connection"))
    for name, path, heading in pages:
        page.goto(f"{admin_portal.url}{path}")
        expect(page.get_by_role("heading", name=heading).first).to_be_visible()
        if name == "source-test":
            expect(page.locator("#test-result-ok, #test-result-error")).to_be_visible(timeout=30_000)
        if name == "health":
            checked = page.get_by_text("Checked at ")
            expect(checked).to_contain_text("UTC", timeout=15_000)
            first = checked.inner_text()
            expect(checked).not_to_have_text(first, timeout=20_000)  # refreshes by itself
        shoot(page, name)

    # Phone width: the sidebar gives way to the menu button.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{admin_portal.url}/dashboard/tenants")
    expect(page.get_by_role("button", name="Menu")).to_be_visible()
    shoot(page, "tenants-phone")
