"""Company portal in a real browser: every page with demo data, drill-down, resolve a flag, download an export.

The demo data is the session's `demo` fixture (tests/e2e/conftest.py).

Each page is also saved to a temporary folder (SCREENSHOTS) at 1440x900; docs/screenshots come from
`make screenshots` on the demo.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import SCREENSHOTS, Portal, Seed, open_page, sign_in, wait_for_company_data
from tests.e2e.page_waits import LiveTab, settle

pytestmark = pytest.mark.e2e

SHOTS = SCREENSHOTS  # a temporary folder: docs/screenshots come from `make screenshots` (the demo)


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    settle(page)  # the charts' entry animation is over
    page.screenshot(path=str(SHOTS / f"company-{name}.png"))


def test_every_page_shows_the_demo_data(page: Page, company_portal: Portal, demo: Seed) -> None:
    sign_in(page, company_portal, demo.company_email, demo.company_password)
    expect(page.locator("#signed-in-user")).to_have_text(demo.company_name)

    open_page(page, company_portal, "/dashboard")
    expect(page.locator("[data-kpi=velocity]")).to_contain_text("pts")
    expect(page.locator("[data-kpi=compliance_rate]")).to_contain_text("%")
    expect(page.locator("#notification-bell")).to_have_text(re.compile(r"\d+"))
    _shot(page, "dashboard")

    open_page(page, company_portal, "/dashboard/velocity")
    expect(page.get_by_role("heading", name="Committed vs completed", exact=True)).to_be_visible()
    expect(page.get_by_text("Next sprint P50")).to_be_visible()
    expect(page.locator(".recharts-bar-rectangle").first).to_be_visible()
    _shot(page, "velocity")

    open_page(page, company_portal, "/dashboard/throughput")
    expect(page.get_by_role("heading", name="Completed items by type", exact=True)).to_be_visible()
    _shot(page, "throughput")

    open_page(page, company_portal, "/dashboard/quality")
    expect(page.get_by_role("heading", name="Flags by rule", exact=True)).to_be_visible()
    _shot(page, "quality")

    open_page(page, company_portal, "/dashboard/pr-health")
    expect(page.get_by_role("heading", name="Per repository", exact=True)).to_be_visible()
    _shot(page, "pr-health")

    open_page(page, company_portal, "/team")
    expect(page.locator(".sprint-link").first).to_be_visible()
    _shot(page, "team")
    page.locator("#current-sprint").click()  # the current sprint's deep-dive, at its own URL
    expect(page).to_have_url(re.compile(r"/team/sprint/[^/?]+\?project=\d+$"))
    wait_for_company_data(page, page.url.split(company_portal.url, 1)[1])
    expect(page.get_by_role("heading", name="Burndown (points remaining)", exact=True)).to_be_visible()
    links = page.locator("table a[href*='demo'], table a[href^='http']")
    expect(links.first).to_be_visible()
    _shot(page, "sprint")

    open_page(page, company_portal, "/developers")
    expect(page.locator(".developer-row").first).to_be_visible()
    expect(page.get_by_text("You see names because")).to_be_visible()
    _shot(page, "developers")
    page.locator(".developer-row").first.click()  # the developer's own page
    expect(page).to_have_url(re.compile(r"/developers/\d+\?project=\d+$"))
    wait_for_company_data(page, page.url.split(company_portal.url, 1)[1])
    expect(page.get_by_role("heading", name="Points completed vs team average", exact=True)).to_be_visible()
    _shot(page, "developer")

    open_page(page, company_portal, "/me")
    expect(page.get_by_role("heading", name="Points completed vs team average", exact=True)).to_be_visible()
    _shot(page, "me")

    open_page(page, company_portal, "/compliance")
    expect(page.locator(".rule-link").first).to_be_visible()
    _shot(page, "compliance")

    open_page(page, company_portal, "/compliance/flags")
    expect(page.locator(".flag-row").first).to_be_visible()
    _shot(page, "compliance-flags")

    open_page(page, company_portal, "/ai-insights")
    expect(page.locator(".insight-card").first).to_be_visible()
    _shot(page, "insights")

    open_page(page, company_portal, "/notifications")
    expect(page.get_by_text("New critical DMT flags in WEB")).to_be_visible()
    _shot(page, "notifications")

    open_page(page, company_portal, "/exports")
    expect(page.locator("#start-export")).to_be_visible()
    _shot(page, "exports")


def test_drill_down_lists_the_items_behind_a_sprint_figure(page: Page, company_portal: Portal, demo: Seed) -> None:
    sign_in(page, company_portal, demo.company_email, demo.company_password)
    open_page(page, company_portal, "/dashboard/velocity")
    page.locator(".drill").nth(1).click()  # completed points of the oldest sprint shown
    dialog = page.locator("#drill-dialog")
    expect(dialog).to_contain_text("Items completed")
    expect(dialog.locator("tbody tr").first).to_be_visible()
    expect(dialog.locator("a[href^='http']").first).to_be_visible()
    page.keyboard.press("Escape")
    open_page(page, company_portal, "/dashboard")
    page.locator("[data-kpi=blocked_items]").click()
    expect(dialog).to_contain_text("Items blocked during the sprint")


def test_a_reload_shows_the_page_without_the_drill_down(page: Page, company_portal: Portal, demo: Seed) -> None:
    """The dialog's open flag belongs to the page view that opened it: F5 shows the page, not the dialog."""
    sign_in(page, company_portal, demo.company_email, demo.company_password)
    open_page(page, company_portal, "/dashboard/velocity")
    dialog = page.locator("#drill-dialog")
    page.locator(".drill").nth(1).click()
    expect(dialog.locator("tbody tr").first).to_be_visible()

    page.reload()
    wait_for_company_data(page, "/dashboard/velocity")  # the restored state has arrived
    expect(page.locator(".drill").nth(1)).to_be_visible()  # and the page's own data
    expect(dialog).to_have_count(0)
    expect(page.get_by_role("dialog")).to_have_count(0)

    page.locator(".drill").nth(1).click()  # the page works: the drill-down opens again, Escape closes it
    expect(dialog.locator("tbody tr").first).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)


def test_tech_lead_resolves_a_flag_with_a_note(page: Page, company_portal: Portal, demo: Seed) -> None:
    sign_in(page, company_portal, demo.company_email, demo.company_password)
    open_page(page, company_portal, "/compliance/flags")
    total_before = page.get_by_text(re.compile(r"^Flags \(\d+\)$")).inner_text()
    page.locator(".resolve-flag").first.click()
    expect(page.get_by_role("alertdialog")).to_contain_text("Resolve this flag?")
    page.locator("#resolve-note").fill("Covered by the end-to-end suite; approved in review")
    page.locator("#confirm-resolve").click()
    expect(page.get_by_text(re.compile(r"resolved; the note is recorded"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Flags \(\d+\)$"))).not_to_have_text(total_before)


def test_export_builds_with_progress_and_downloads(
    page: Page, company_portal: Portal, demo: Seed, tmp_path: Path
) -> None:
    sign_in(page, company_portal, demo.company_email, demo.company_password)
    open_page(page, company_portal, "/exports")
    page.locator("#start-export").click()
    link = page.locator(".download-export").first
    expect(link).to_be_visible(timeout=60_000)
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    from openpyxl import load_workbook

    sheet = load_workbook(path)["Sprints"]
    assert sheet.max_row > 5  # header + the demo's sprints


def test_open_page_refreshes_live_when_a_flag_is_resolved_elsewhere(
    page: Page, company_portal: Portal, demo: Seed
) -> None:
    """A flag resolved by someone else (another tab, the API) leaves this page's table within ~2 s."""
    from models.db import tenant_session
    from models.tenant import ComplianceFlag
    from services.audit import Actor
    from services.flags import resolve_flag

    live = LiveTab(page)
    sign_in(page, company_portal, demo.company_email, demo.company_password)
    open_page(page, company_portal, "/compliance/flags")
    heading = page.get_by_text(re.compile(r"^Flags \(\d+\)$"))
    live.wait_until_following(demo.tenant_slug)
    before = int(re.findall(r"\d+", heading.inner_text())[0])
    with tenant_session(demo.tenant_slug) as session:
        flag = session.exec(
            ComplianceFlag.__table__.select()  # type: ignore[attr-defined]
            .where(
                ComplianceFlag.__table__.c.status == "open", ComplianceFlag.__table__.c.project_id == demo.project_id
            )  # type: ignore[attr-defined]
            .limit(1)
        ).first()
    assert flag is not None
    resolve_flag(demo.tenant_slug, flag.id, Actor.system("e2e"), "resolved from another place")
    expect(heading).to_have_text(f"Flags ({before - 1})", timeout=4_000)
