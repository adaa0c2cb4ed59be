"""Sources through the admin UI against the fake Jira: test connection, discover fields, mapping, live progress."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Portal, Seed, sign_in
from tests.e2e.test_admin_pages import shoot
from tests.fakes import jira as fake_jira
from tests.fakes.server import serve

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def jira_site() -> Iterator[tuple[str, fake_jira.JiraDataset]]:
    dataset = fake_jira.generate_dataset(seed=7, size=30, project_key="WEB")
    with serve(fake_jira.create_app(dataset)) as url:
        yield url, dataset


def add_jira_source(page, portal: Portal, seed: Seed, url: str, email: str, token: str, name: str) -> int:
    page.goto(f"{portal.url}/dashboard/projects/{seed.project_id}/sources/new")
    page.locator("#name").fill(name)
    page.locator("#base_url").fill(url)
    page.locator("#username").fill(email)
    page.locator("#token").fill(token)
    page.locator("#cfg_project_key").fill("WEB")
    page.locator("#cfg_deployment").select_option("cloud")
    page.locator("#create-source").click()
    expect(page).to_have_url(re.compile(r"/dashboard/sources/\d+$"))
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


def test_source_checks_mapping_and_live_sync_progress(page, admin_portal: Portal, seed: Seed, jira_site) -> None:
    url, dataset = jira_site
    sign_in(page, admin_portal, seed.admin_email, seed.admin_password)
    expect(page.locator("#signed-in-user")).to_have_text(seed.admin_name)

    source_id = add_jira_source(page, admin_portal, seed, url, dataset.api_user_email, dataset.token, "Acme Jira")
    expect(page.get_by_role("heading", name="Acme Jira")).to_be_visible()
    assert dataset.token not in page.content()  # write-only: only the masked form is shown

    page.locator("#test-connection").click()  # the test page runs the check as it opens
    expect(page).to_have_url(f"{admin_portal.url}/dashboard/sources/{source_id}/test")
    expect(page.locator("#test-result-ok")).to_contain_text("Connected as", timeout=30_000)
    page.get_by_role("link", name="Back to the source").click()
    expect(page).to_have_url(f"{admin_portal.url}/dashboard/sources/{source_id}")

    page.locator("#discover-fields").click()
    expect(page.get_by_text("fields found")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("cell", name="customfield_10016")).to_be_visible()
    page.get_by_role("button", name="Use the proposals in the mapping").click()
    expect(page.locator("input[name='map_story_points']")).to_have_value("customfield_10016")
    page.locator("#save-mapping").click()
    expect(page.get_by_text("Field mapping saved")).to_be_visible()

    # Live progress: events published on the Redis stream reach the open page.
    from core.realtime import publish_event

    publish_event("sync.started", seed.tenant_slug, source_id=source_id, run_id=999, kind="incremental")
    publish_event(
        "sync.progress",
        seed.tenant_slug,
        source_id=source_id,
        run_id=999,
        stream="work_items",
        items_fetched=40,
        items_upserted=38,
        prs_fetched=0,
        prs_upserted=0,
        errors_count=1,
        pages=2,
    )
    expect(page.get_by_text("40 records read, 38 saved")).to_be_visible(timeout=10_000)
    expect(page.locator("#sync-progress")).to_be_visible()
    page.get_by_role("heading", name="Field mapping", exact=True).scroll_into_view_if_needed()
    shoot(page, "source-checks")


def test_wrong_token_shows_the_tools_error(page, admin_portal: Portal, seed: Seed, jira_site) -> None:
    url, dataset = jira_site
    sign_in(page, admin_portal, seed.admin_email, seed.admin_password)
    expect(page.locator("#signed-in-user")).to_have_text(seed.admin_name)
    add_jira_source(page, admin_portal, seed, url, dataset.api_user_email, "wrong-token", "Jira with a bad token")
    page.locator("#test-connection").click()
    expect(page).to_have_url(re.compile(r"/dashboard/sources/\d+/test$"))
    expect(page.locator("#test-result-error")).to_contain_text("Connection failed", timeout=30_000)
