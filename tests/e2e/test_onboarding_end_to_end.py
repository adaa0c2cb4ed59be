"""Onboarding a company end to end from the browser, with a REAL Celery worker.

A platform admin, through the admin portal only: creates a tenant, a project (ONB)
and a tech lead; adds a Jira source pointing at the fake Jira; tests the
connection, discovers fields and saves the proposed mapping; clicks Sync now.
A real `celery -A worker worker` subprocess (test database, test Redis, the
default queue that `services.sources.trigger_sync` sends to) runs the sync; the
source page shows the succeeded run with 60 items. The new tech lead then signs
in to the company portal and sees ONB's flags and sprints.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.celery_worker import start_worker, stop_worker, wait_until_ready
from tests.e2e.conftest import SCREENSHOTS, Portal, Seed, open_page, sign_in, wait_for_company_data
from tests.e2e.page_waits import settle
from tests.fakes import jira as fake_jira
from tests.fakes.server import serve

pytestmark = pytest.mark.e2e

SHOTS = SCREENSHOTS  # a temporary folder: docs/screenshots come from `make screenshots` (the demo)
SIZE = 60
SYNC_TIMEOUT_MS = 90_000


@pytest.fixture
def jira_site() -> Iterator[tuple[str, fake_jira.JiraDataset]]:
    dataset = fake_jira.generate_dataset(seed=5, size=SIZE, project_key="ONB")
    with serve(fake_jira.create_app(dataset)) as url:
        yield url, dataset


@pytest.fixture
def celery_worker(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[Path]:
    """A real worker on the default queue (Sync now uses `apply_async` without a queue); stopped afterwards."""
    log = tmp_path / "worker.log"
    name = f"onboarding-{uuid.uuid4().hex[:6]}"
    proc = start_worker(database_url, redis_url, queue="celery", name=name, log=log)
    try:
        wait_until_ready(proc, log)
        yield log
    finally:
        stop_worker(proc)


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    settle(page)  # the last state update has painted
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_admin_onboards_a_company_and_the_tech_lead_sees_synced_data(
    page: Page, admin_portal: Portal, company_portal: Portal, seed: Seed, jira_site, celery_worker: Path
) -> None:
    url, dataset = jira_site
    slug = f"onboard_{uuid.uuid4().hex[:5]}"
    lead_email = f"tess.{uuid.uuid4().hex[:4]}@onboard-e2e.com"
    lead_password = "tess-password-1"

    sign_in(page, admin_portal, seed.admin_email, seed.admin_password)
    expect(page.locator("#signed-in-user")).to_have_text(seed.admin_name)

    # Tenant.
    page.goto(f"{admin_portal.url}/dashboard/tenants")
    page.locator("#new-tenant").click()
    page.locator("#name").fill("Onboard Industries")
    page.locator("#slug").fill(slug)
    page.locator("#create-tenant").click()
    expect(page).to_have_url(re.compile(r"/dashboard/tenants/\d+$"))
    # exact: the "created (schema ...)" toast may still be on screen.
    expect(page.get_by_text("Schema tenant_" + slug, exact=True)).to_be_visible()

    # Project ONB.
    page.locator(".tab-link", has_text="Projects").click()
    expect(page).to_have_url(re.compile(r"/dashboard/tenants/\d+/projects$"))
    page.locator("#project-key").fill("ONB")
    page.locator("#project-name").fill("Onboarding")
    page.locator("#create-project").click()
    expect(page.get_by_role("row").filter(has_text="Onboarding")).to_be_visible()

    # Company user, tech lead on ONB.
    page.locator(".tab-link", has_text="Users").click()
    expect(page).to_have_url(re.compile(r"/dashboard/tenants/\d+/users$"))
    page.locator("#user-name").fill("Tess Techlead")
    page.locator("#user-email").fill(lead_email)
    page.locator("#user-password").fill(lead_password)
    page.locator("#user-project").select_option(label="ONB - Onboarding")
    page.locator("#user-role").select_option("tech_lead")
    page.locator("#create-user").click()
    expect(page.get_by_role("row").filter(has_text=lead_email)).to_contain_text("ONB: tech_lead")

    # Jira source, from the project's "Add a source".
    page.locator(".tab-link", has_text="Projects").click()
    page.get_by_role("link", name="Onboarding").click()
    expect(page).to_have_url(re.compile(r"/dashboard/projects/\d+$"))
    expect(page.get_by_role("heading", name="ONB · Onboarding")).to_be_visible()
    page.locator(".tab-link", has_text="Add a source").click()
    expect(page).to_have_url(re.compile(r"/dashboard/projects/\d+/sources/new$"))
    expect(page.get_by_role("heading", name="New source")).to_be_visible()
    expect(page.locator("#source-project")).to_have_text("Onboard Industries / ONB - Onboarding")
    page.locator("#name").fill("Onboard Jira")
    page.locator("#base_url").fill(url)
    page.locator("#username").fill(dataset.api_user_email)
    page.locator("#token").fill(dataset.token)
    page.locator("#cfg_project_key").fill("ONB")
    page.locator("#cfg_deployment").select_option("cloud")
    page.locator("#create-source").click()
    expect(page).to_have_url(re.compile(r"/dashboard/sources/\d+$"))
    expect(page.get_by_role("heading", name="Onboard Jira")).to_be_visible()
    assert dataset.token not in page.content()
    source_page = page.url

    # Test connection: who we are.
    page.locator("#test-connection").click()
    expect(page.locator("#test-result-ok")).to_contain_text(f"Connected as {dataset.people[0]['name']}", timeout=30_000)
    page.get_by_role("link", name="Back to the source").click()
    expect(page).to_have_url(source_page)

    # Discover fields and accept the proposed mapping.
    page.locator("#discover-fields").click()
    expect(page.get_by_text("fields found")).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Use the proposals in the mapping").click()
    expect(page.locator("input[name='map_story_points']")).to_have_value("customfield_10016")
    page.locator("#save-mapping").click()
    expect(page.get_by_text("Field mapping saved")).to_be_visible()

    # Sync now: the real worker runs it; the page follows live and the run history shows it.
    page.locator("#sync-now").click()
    expect(page.locator("#sync-progress")).to_be_visible()  # the live progress bar appears at once
    history = page.get_by_role("row").filter(has_text="incremental")
    try:
        expect(history.filter(has_text="succeeded").first).to_contain_text(f"{SIZE} / {SIZE}", timeout=SYNC_TIMEOUT_MS)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nworker log:\n{celery_worker.read_text(errors='replace')[-4000:]}") from exc
    expect(page.locator("#sync-progress")).to_be_visible()
    expect(page.get_by_text("sync succeeded")).to_be_visible()
    page.get_by_text("Synchronisation").scroll_into_view_if_needed()
    _shot(page, "admin-onboarding-synced")

    # The new tech lead signs in to the company portal and sees ONB's data.
    other = page.context.browser.new_context(viewport={"width": 1440, "height": 900})
    other.set_default_timeout(20_000)
    try:
        lead = other.new_page()
        sign_in(lead, company_portal, lead_email, lead_password)
        expect(lead.locator("#signed-in-user")).to_have_text("Tess Techlead")

        open_page(lead, company_portal, "/compliance/flags")
        expect(lead.locator(".flag-row").first).to_be_visible()
        expect(lead.locator(".flag-row").first).to_contain_text("ONB-")
        _shot(lead, "company-onboarding-compliance")

        open_page(lead, company_portal, "/team")
        lead.locator("#current-sprint").click()
        expect(lead).to_have_url(re.compile(r"/team/sprint/"))
        wait_for_company_data(lead, lead.url.split(company_portal.url, 1)[1])
        expect(lead.locator("#sprint-picker")).to_contain_text("ONB")
        expect(lead.locator("table").get_by_text(re.compile(r"ONB-\d+")).first).to_be_visible()
        _shot(lead, "company-onboarding-team")
    finally:
        other.close()
