"""Sign-in to both portals through the real HTML form, in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Portal, Seed, sign_in

pytestmark = pytest.mark.e2e


def test_company_user_signs_in_and_sees_the_shell_with_their_name(page, company_portal: Portal, seed: Seed) -> None:
    sign_in(page, company_portal, seed.company_email, seed.company_password)
    expect(page.locator("#signed-in-user")).to_have_text(seed.company_name)
    expect(page.get_by_text("Acme E2E").first).to_be_visible()
    assert "/login" not in page.url


def test_platform_admin_signs_in_to_the_admin_portal(page, admin_portal: Portal, seed: Seed) -> None:
    sign_in(page, admin_portal, seed.admin_email, seed.admin_password)
    expect(page.locator("#signed-in-user")).to_have_text(seed.admin_name)
    expect(page.get_by_role("link", name="Tenants", exact=True)).to_be_visible()


def test_wrong_password_shows_the_message_and_keeps_the_email(page, company_portal: Portal, seed: Seed) -> None:
    sign_in(page, company_portal, seed.company_email, "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("wrong email or password")
    expect(page.locator("#email")).to_have_value(seed.company_email)
    assert "/login" in page.url


def test_company_user_is_refused_by_the_admin_portal(page, admin_portal: Portal, seed: Seed) -> None:
    sign_in(page, admin_portal, seed.company_email, seed.company_password)
    expect(page.get_by_role("alert")).to_contain_text("the admin portal is for platform administrators")
    page.goto(f"{admin_portal.url}/dashboard/tenants")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_platform_admin_is_refused_by_the_company_portal(page, company_portal: Portal, seed: Seed) -> None:
    sign_in(page, company_portal, seed.admin_email, seed.admin_password)
    expect(page.get_by_role("alert")).to_contain_text("platform administrators use the admin portal")


def test_protected_page_without_session_goes_to_login(page, admin_portal: Portal) -> None:
    page.goto(f"{admin_portal.url}/dashboard/audit-logs")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fdashboard%2Faudit-logs$"))
    expect(page.locator("#sign-in")).to_be_visible()


def test_sign_out_ends_the_session(page, admin_portal: Portal, seed: Seed) -> None:
    sign_in(page, admin_portal, seed.admin_email, seed.admin_password)
    expect(page.locator("#signed-in-user")).to_have_text(seed.admin_name)
    page.locator("#sign-out").click()
    expect(page.get_by_role("status")).to_contain_text("signed out")
    page.goto(f"{admin_portal.url}/dashboard/tenants")
    expect(page).to_have_url(re.compile(r"/login"))
