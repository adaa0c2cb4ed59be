"""The portals' page routes of product spec 6.1 and 6.2: each works on a fresh load and as a shared link.

* every spec route opens on a full page load (a new tab, a reload) and stays at its URL;
* a signed-out visitor following a deep link signs in and lands on that page;
* the routes of earlier versions redirect to the spec's (query string kept);
* the sign-in never sends the browser off-site, whatever `next` says.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Portal, Seed, open_page, sign_in, wait_for_company_data

pytestmark = pytest.mark.e2e


def _sprint_name(demo: Seed) -> str:
    """The name of one of the demo's closed sprints (not the current one)."""
    from sqlmodel import select

    from models.db import tenant_session
    from models.tenant import Sprint

    with tenant_session(demo.tenant_slug) as session:
        names = session.exec(
            select(Sprint.name)
            .where(Sprint.project_id == demo.project_id, Sprint.state == "closed")
            .order_by(Sprint.id)
        ).all()
    assert names, "the demo history has closed sprints"
    return names[0]


def _developer_id(demo: Seed) -> int:
    from sqlmodel import select

    from models.db import tenant_session
    from models.tenant import WorkItem

    with tenant_session(demo.tenant_slug) as session:
        ident = session.exec(
            select(WorkItem.assignee_identity_id)
            .where(WorkItem.project_id == demo.project_id, WorkItem.assignee_identity_id.is_not(None))
            .limit(1)
        ).first()
    assert ident is not None
    return int(ident)


def _arrive(page: Page, portal: Portal, path: str, name: str) -> None:
    """Wait until the page at `path` is signed in and, on the company portal, shows that path's data.

    The generous deadline covers a Reflex trait: a full page load that interrupts
    the previous page's loading events waits for that page's state lock (up to 10 s).
    """
    expect(page.locator("#signed-in-user")).to_have_text(name, timeout=20_000)
    if portal.app == "dmt_app":
        wait_for_company_data(page, path)


def _reload_and_check(page: Page, portal: Portal, path: str, name: str, check) -> None:
    """Open `path` as a new tab would, check it, reload, check again: the URL never changes."""
    page.goto(f"{portal.url}{path}")
    _arrive(page, portal, path, name)
    check()
    expect(page).to_have_url(f"{portal.url}{path}")
    page.reload()
    _arrive(page, portal, path, name)
    check()
    expect(page).to_have_url(f"{portal.url}{path}")


# --------------------------------------------------------------------------- company portal
def test_every_company_route_of_the_spec_loads_on_a_fresh_tab(page: Page, company_portal: Portal, demo: Seed) -> None:
    sprint = _sprint_name(demo)
    developer = _developer_id(demo)
    sign_in(page, company_portal, demo.company_email, demo.company_password)
    expect(page.locator("#signed-in-user")).to_have_text(demo.company_name)

    def heading(text: str):
        return lambda: expect(page.get_by_role("heading", name=text, exact=True).first).to_be_visible()

    routes = {
        "/dashboard": lambda: expect(page.locator("[data-kpi=velocity]")).to_contain_text("pts"),
        "/dashboard/velocity": heading("Committed vs completed"),
        "/dashboard/throughput": heading("Completed items by type"),
        "/dashboard/quality": heading("Flags by rule"),
        "/dashboard/pr-health": heading("Per repository"),
        "/team": heading("All sprints"),
        f"/team/sprint/{quote(sprint, safe='')}?project={demo.project_id}": lambda: expect(
            page.locator("#sprint-name")
        ).to_have_text(sprint),
        "/developers": lambda: expect(page.locator(".developer-row").first).to_be_visible(),
        f"/developers/{developer}?project={demo.project_id}": heading("Points completed vs team average"),
        "/me": heading("Points completed vs team average"),
        "/compliance": heading("Open flags by rule"),
        "/compliance/flags": lambda: expect(page.locator(".flag-row").first).to_be_visible(),
        "/ai-insights": lambda: expect(page.locator(".insight-card").first).to_be_visible(),
        "/notifications": lambda: expect(page.locator(".notification").first).to_be_visible(),
        "/exports": lambda: expect(page.locator("#start-export")).to_be_visible(),
    }
    for path, check in routes.items():
        _reload_and_check(page, company_portal, path, demo.company_name, check)
        if path != "/dashboard":
            expect(page.get_by_role("alert")).to_have_count(0)  # no "could not load" callout


def test_a_signed_out_visitor_lands_on_the_sprint_the_link_named(
    page: Page, company_portal: Portal, demo: Seed
) -> None:
    sprint = _sprint_name(demo)
    link = f"/team/sprint/{quote(sprint, safe='')}?project={demo.project_id}"
    page.goto(f"{company_portal.url}{link}")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.locator("#sign-in")).to_be_visible()
    page.locator("#email").fill(demo.company_email)
    page.locator("#password").fill("a wrong password")  # a failed attempt keeps the destination
    page.locator("#sign-in").click()
    expect(page.get_by_role("alert")).to_contain_text("wrong email or password")
    page.locator("#password").fill(demo.company_password)
    page.locator("#sign-in").click()
    expect(page).to_have_url(f"{company_portal.url}{link}")
    _arrive(page, company_portal, link, demo.company_name)
    expect(page.locator("#sprint-name")).to_have_text(sprint)


def test_old_company_routes_redirect_to_the_spec_routes(page: Page, company_portal: Portal, demo: Seed) -> None:
    sign_in(page, company_portal, demo.company_email, demo.company_password)
    expect(page.locator("#signed-in-user")).to_have_text(demo.company_name)
    moved = {
        f"/velocity?project={demo.project_id}": f"/dashboard/velocity?project={demo.project_id}",
        "/throughput": "/dashboard/throughput",
        "/quality": "/dashboard/quality",
        "/pr-health": "/dashboard/pr-health",
        "/insights": "/ai-insights",
        "/sprints": "/team",
    }
    for old, new in moved.items():
        page.goto(f"{company_portal.url}{old}")
        expect(page).to_have_url(f"{company_portal.url}{new}")
        _arrive(page, company_portal, new, demo.company_name)
    # A link stored in an older notification, followed from inside the app (no page load).
    _notify(demo, "An insight from before the new routes", "/insights")
    open_page(page, company_portal, "/notifications")
    row = page.locator(".notification").filter(has_text="An insight from before the new routes")
    row.get_by_role("link", name="Open").click()
    expect(page).to_have_url(f"{company_portal.url}/ai-insights")
    wait_for_company_data(page, "/ai-insights")
    expect(page.locator(".insight-card").first).to_be_visible()


def _notify(demo: Seed, title: str, link: str) -> None:
    from sqlmodel import select

    from models.db import public_session
    from models.public import User
    from services.notifications import create_for_users

    with public_session() as session:
        carol = session.exec(select(User).where(User.email == demo.company_email)).one()
    create_for_users(
        demo.tenant_id, [carol.id or 0], kind="insight", title=title, link=link, tenant_slug=demo.tenant_slug
    )


def test_the_sign_in_never_leaves_the_site(page: Page, company_portal: Portal, demo: Seed) -> None:
    for target in ("https://evil.example/x", "//evil.example/x", "/\\evil.example/x", "/\t/evil.example"):
        page.context.clear_cookies()
        page.goto(f"{company_portal.url}/login?next={quote(target, safe='')}")
        page.locator("#email").fill(demo.company_email)
        page.locator("#password").fill(demo.company_password)
        page.locator("#sign-in").click()
        expect(page).to_have_url(f"{company_portal.url}/dashboard")  # "/" is home: the first sidebar page
        _arrive(page, company_portal, "/dashboard", demo.company_name)


# --------------------------------------------------------------------------- admin portal
def _admin_source(seed: Seed) -> int:
    from services.audit import Actor
    from services.sources import SourceCreate, create_source, list_sources

    found = [s for s in list_sources(tenant_id=seed.tenant_id) if s.name == "Routes GitHub"]
    if found:
        return found[0].id
    created = create_source(
        seed.tenant_id,
        SourceCreate(
            project_id=seed.project_id,
            name="Routes GitHub",
            source_type="github",
            base_url="http://127.0.0.1:9",  # nothing listens: the connection test fails in words
            token="ghp_example_token_1234",
            config_json={"repositories": ["acme/web"]},
        ),
        Actor.system("e2e"),
    )
    return created.id


def test_every_admin_route_of_the_spec_loads_on_a_fresh_tab(page: Page, admin_portal: Portal, seed: Seed) -> None:
    source_id = _admin_source(seed)
    sign_in(page, admin_portal, seed.admin_email, seed.admin_password)
    expect(page.locator("#signed-in-user")).to_have_text(seed.admin_name)

    def heading(text: str):
        return lambda: expect(page.get_by_role("heading", name=text, exact=True).first).to_be_visible()

    t, p, s = seed.tenant_id, seed.project_id, source_id
    routes = {
        "/dashboard": lambda: expect(page.locator("#sync-totals")).to_contain_text("syncs"),
        "/dashboard/tenants": lambda: expect(page.get_by_role("row").filter(has_text=seed.tenant_slug)).to_be_visible(),
        "/dashboard/tenants/new": lambda: expect(page.locator("#create-tenant")).to_be_visible(),
        f"/dashboard/tenants/{t}": lambda: expect(page.locator("#save-tenant")).to_be_visible(),
        f"/dashboard/tenants/{t}/projects": lambda: expect(page.locator("#create-project")).to_be_visible(),
        f"/dashboard/tenants/{t}/users": lambda: expect(page.locator("#create-user")).to_be_visible(),
        f"/dashboard/projects/{p}": lambda: expect(page.locator("#save-settings")).to_be_visible(),
        f"/dashboard/projects/{p}/sources": lambda: expect(
            page.get_by_role("link", name="Routes GitHub")
        ).to_be_visible(),
        f"/dashboard/projects/{p}/sources/new": lambda: expect(page.locator("#create-source")).to_be_visible(),
        f"/dashboard/sources/{s}": heading("Routes GitHub"),
        f"/dashboard/sources/{s}/test": lambda: expect(page.locator("#test-result-error")).to_contain_text(
            "Connection failed", timeout=30_000
        ),
        "/dashboard/health": heading("Health"),
        "/dashboard/audit-logs": heading("Audit log"),
        "/dashboard/data-retention": heading("Data retention"),
    }
    for path, check in routes.items():
        _reload_and_check(page, admin_portal, path, seed.admin_name, check)


def test_a_signed_out_admin_lands_on_the_page_the_link_named(page: Page, admin_portal: Portal, seed: Seed) -> None:
    link = f"/dashboard/tenants/{seed.tenant_id}/users"
    page.goto(f"{admin_portal.url}{link}")
    expect(page).to_have_url(f"{admin_portal.url}/login?next={quote(link, safe='')}")
    page.locator("#email").fill(seed.admin_email)
    page.locator("#password").fill(seed.admin_password)
    page.locator("#sign-in").click()
    expect(page).to_have_url(f"{admin_portal.url}{link}")
    _arrive(page, admin_portal, link, seed.admin_name)
    expect(page.get_by_role("row").filter(has_text=seed.company_email)).to_be_visible()


def test_old_admin_routes_redirect_to_the_spec_routes(page: Page, admin_portal: Portal, seed: Seed) -> None:
    source_id = _admin_source(seed)
    sign_in(page, admin_portal, seed.admin_email, seed.admin_password)
    expect(page.locator("#signed-in-user")).to_have_text(seed.admin_name)
    moved = {
        "/": "/dashboard",
        "/tenants": "/dashboard/tenants",
        f"/tenants/{seed.tenant_id}": f"/dashboard/tenants/{seed.tenant_id}",
        f"/projects/{seed.project_id}": f"/dashboard/projects/{seed.project_id}",
        f"/sources?project={seed.project_id}": f"/dashboard/projects/{seed.project_id}/sources/new",
        "/sources": "/dashboard/health",
        f"/sources/{source_id}": f"/dashboard/sources/{source_id}",
        "/health": "/dashboard/health",
        "/audit": "/dashboard/audit-logs",
        "/retention": "/dashboard/data-retention",
    }
    for old, new in moved.items():
        page.goto(f"{admin_portal.url}{old}")
        expect(page).to_have_url(f"{admin_portal.url}{new}")
        _arrive(page, admin_portal, new, seed.admin_name)
