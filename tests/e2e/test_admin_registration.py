"""First-run registration of the admin portal, on a database with no users."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Portal
from tests.e2e.test_admin_pages import shoot

pytestmark = pytest.mark.e2e


def test_first_run_registration_creates_the_admin_then_disappears(page, fresh_admin_portal: Portal) -> None:
    portal = fresh_admin_portal
    page.goto(f"{portal.url}/login")
    expect(page).to_have_url(re.compile(r"/register"))  # no admin yet: the login sends you to registration
    expect(page.locator("#register")).to_be_visible()
    shoot(page, "register")

    page.locator("#full_name").fill("First Admin")
    page.locator("#email").fill("first@platform-e2e.com")
    page.locator("#password").fill("short")
    page.locator("#password").evaluate("el => el.removeAttribute('minlength')")
    page.locator("#register").click()
    expect(page.get_by_role("alert")).to_contain_text("at least 10 characters")

    expect(page.locator("#email")).to_have_value("first@platform-e2e.com")  # kept after the error
    page.locator("#full_name").fill("First Admin")
    page.locator("#password").fill("first-admin-password")
    page.locator("#register").click()
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_role("status")).to_contain_text("administrator created")

    page.locator("#password").fill("first-admin-password")
    page.locator("#sign-in").click()
    expect(page.locator("#signed-in-user")).to_have_text("First Admin")

    page.goto(f"{portal.url}/register")  # once an admin exists, registration is gone
    # /register sends to /login, which sends a signed-in admin on home (/dashboard):
    # which of the two the browser shows when checked is a race, so accept either.
    expect(page).to_have_url(re.compile(r"/(login|dashboard)"))
    expect(page.locator("#register")).to_have_count(0)
