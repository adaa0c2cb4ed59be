"""WCAG 2.1 AA on every page of both portals, audited with axe-core in headless chromium.

axe-core comes from the npm registry (`scripts/setup.sh` installs it into `.tools`). Each page is
opened on a full page load, signed in with the role it is meant for (a company tech lead, a platform
admin; the sign-in and first-run registration pages signed out), given time to show its data, and
then audited with the WCAG 2.0/2.1 A and AA rules (plus 2.5.3, label in name). Any critical or serious
violation fails the test, and so does a click action the keyboard cannot reach or a focus that does not show;
the message lists every page's violations (rule id, the elements, what to fix) at once. The dialogs
opened over the pages (drill-down, resolve a flag, rate an insight, reset a password) are audited open.

Every route constant of `dmt_app.routes` and `admin_app.routes` is audited: a new page is covered
as soon as its route is declared there (a route with a `[placeholder]` needs a value in `_fill`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from urllib.parse import quote, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ROOT, Portal, Seed, open_page, sign_in, wait_for_company_data

pytestmark = pytest.mark.e2e

AXE_JS = ROOT / ".tools" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FAILING_IMPACTS = ("critical", "serious")
_PLACEHOLDER = re.compile(r"\[([a-z_]+)\]")


@dataclass(frozen=True)
class Violation:
    page: str
    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def describe(self) -> str:
        shown = ", ".join(self.targets[:5]) + (f" (+{len(self.targets) - 5} more)" if len(self.targets) > 5 else "")
        return f"  [{self.impact}] {self.rule}: {self.help}\n      {shown}"


def audit(page: Page, label: str) -> list[Violation]:
    """Run axe-core's WCAG 2.1 A/AA rules on the page as it is now; the critical and serious violations."""
    assert AXE_JS.is_file(), f"{AXE_JS.relative_to(ROOT)} is missing: run `bash scripts/setup.sh` (or `make setup`)"
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate(
        """async (tags) => {
            const r = await axe.run(document, {
                runOnly: {type: 'tag', values: tags},
                // WCAG 2.5.3 (label in name): axe files it as experimental, so it is switched on by name.
                rules: {'label-content-name-mismatch': {enabled: true}},
                resultTypes: ['violations'],
            });
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map(n => n.target.join(' ')),
            }));
        }""",
        WCAG_TAGS,
    )
    return [
        Violation(label, v["id"], v["impact"] or "", v["help"], tuple(v["targets"]))
        for v in result
        if v["impact"] in FAILING_IMPACTS
    ]


#: Elements with a React click handler that the keyboard cannot reach (not focusable, not inside a focusable
#: element or a label): the action exists for the mouse only (WCAG 2.1.1).
_MOUSE_ONLY_JS = """() => {
    const focusable = 'a[href], button, input, select, textarea, summary, label, [tabindex]:not([tabindex="-1"])';
    const describe = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
        + [...el.classList].filter(c => !c.startsWith('css-')).slice(0, 3).map(c => '.' + c).join('')
        + ' "' + (el.textContent || '').trim().slice(0, 40) + '"';
    const found = [];
    for (const el of document.querySelectorAll('body *')) {
        const key = Object.keys(el).find(k => k.startsWith('__reactProps$'));
        const handler = key && el[key] && el[key].onClick;
        if (typeof handler !== 'function' || el.getClientRects().length === 0) continue;
        if (el.closest(focusable)) continue;
        if (el.querySelector(focusable)) continue;  // a wrapper whose click comes from the control inside
        found.push(describe(el));
    }
    return found;
}"""

#: Tab through the page: every element that takes the keyboard focus must show it (WCAG 2.4.7): an
#: outline or a box shadow on it or on the field wrapper around it.
_FOCUS_WALK_JS = """() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const shows = (node) => {
        const st = getComputedStyle(node);
        const outline = st.outlineStyle !== 'none' && parseFloat(st.outlineWidth) > 0
            && st.outlineColor !== 'transparent' && !st.outlineColor.endsWith(', 0)');
        return outline || (st.boxShadow && st.boxShadow !== 'none');
    };
    const visible = shows(el) || (el.parentElement && shows(el.parentElement));
    const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
        + ' "' + (el.getAttribute('aria-label') || el.textContent || '').trim().slice(0, 40) + '"';
    return {name, visible};
}"""
FOCUS_STEPS = 60


def keyboard_problems(page: Page, label: str) -> list[Violation]:
    """Actions the keyboard cannot reach and focused elements with no visible focus, as violations."""
    problems: list[Violation] = []
    mouse_only = page.evaluate(_MOUSE_ONLY_JS)
    if mouse_only:
        problems.append(
            Violation(
                label,
                "keyboard-unreachable",
                "serious",
                "A click action must be reachable by keyboard",
                tuple(mouse_only),
            )
        )
    page.locator("body").focus()
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    unseen: list[str] = []
    seen: set[str] = set()
    for _ in range(FOCUS_STEPS):
        page.keyboard.press("Tab")
        focused = page.evaluate(_FOCUS_WALK_JS)
        if focused is None:
            break
        if focused["name"] in seen:
            continue
        seen.add(focused["name"])
        if not focused["visible"]:
            unseen.append(focused["name"])
    if unseen:
        problems.append(
            Violation(label, "focus-not-visible", "serious", "Keyboard focus must be visible", tuple(unseen))
        )
    if not seen:
        problems.append(Violation(label, "no-keyboard-focus", "critical", "Tab must reach the page's controls", ()))
    return problems


def report(found: dict[str, list[Violation]]) -> str:
    """Per page: how many critical/serious violations (by rule and element), then each one."""
    lines = ["critical/serious violations per page, axe and keyboard (rules, elements):"]
    for label, violations in found.items():
        nodes = sum(len(v.targets) for v in violations)
        lines.append(f"{label}: {len(violations)} rules, {nodes} elements")
        lines.extend(v.describe() for v in violations)
    return "\n".join(lines)


def assert_clean(found: dict[str, list[Violation]]) -> None:
    text = report(found)
    print(text)  # the per-page counts, also when every page passes (pytest -s)
    if any(found.values()):
        pytest.fail(text, pytrace=False)


def route_constants(module: ModuleType) -> list[str]:
    """The page routes a portal's `routes` module declares (its upper-case string constants)."""
    return [
        value
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, str) and value.startswith("/")
    ]


def _fill(route: str, values: dict[str, str], query: str = "") -> str:
    """`route` with its `[name]` placeholders replaced by `values` (a value is required for each)."""
    missing = [name for name in _PLACEHOLDER.findall(route) if name not in values]
    assert not missing, f"the accessibility test has no value for {missing} of the route {route}: add one"
    path = _PLACEHOLDER.sub(lambda m: quote(values[m.group(1)], safe=""), route)
    return f"{path}?{query}" if query and _PLACEHOLDER.search(route) else path


def _sprint_name(demo: Seed) -> str:
    from sqlmodel import select

    from models.db import tenant_session
    from models.tenant import Sprint

    with tenant_session(demo.tenant_slug) as session:
        name = session.exec(
            select(Sprint.name).where(Sprint.project_id == demo.project_id).order_by(Sprint.id.desc())
        ).first()
    assert name, "the demo history has sprints"
    return name


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


def _admin_source(seed: Seed) -> int:
    """A GitHub source of the seed project whose connection test fails (nothing listens on its port)."""
    from services.audit import Actor
    from services.sources import SourceCreate, create_source, list_sources

    found = [s for s in list_sources(tenant_id=seed.tenant_id) if s.name == "Accessible GitHub"]
    if found:
        return found[0].id
    created = create_source(
        seed.tenant_id,
        SourceCreate(
            project_id=seed.project_id,
            name="Accessible GitHub",
            source_type="github",
            base_url="http://127.0.0.1:9",
            token="ghp_example_token_1234",
            config_json={"repositories": ["acme/web"]},
        ),
        Actor.system("e2e"),
    )
    return created.id


def _audit_all(
    page: Page, portal: Portal, paths: Iterable[str], ready: Callable[[str], None]
) -> dict[str, list[Violation]]:
    found: dict[str, list[Violation]] = {}
    for path in paths:
        page.goto(f"{portal.url}{path}")
        ready(path)
        label = f"{portal.app} {path}"
        found[label] = audit(page, label) + keyboard_problems(page, label)
    return found


# --------------------------------------------------------------------------- company portal
def test_every_company_page_meets_wcag_2_1_aa(page: Page, company_portal: Portal, demo: Seed) -> None:
    from dmt_app import routes

    values = {"sprint_name": _sprint_name(demo), "developer_id": str(_developer_id(demo))}
    paths = [_fill(r, values, query=f"project={demo.project_id}") for r in route_constants(routes)]
    sign_in(page, company_portal, demo.company_email, demo.company_password)
    expect(page.locator("#signed-in-user")).to_have_text(demo.company_name)

    def ready(path: str) -> None:
        expect(page.locator("#signed-in-user")).to_have_text(demo.company_name, timeout=20_000)
        wait_for_company_data(page, urlsplit(path).path)

    assert_clean(_audit_all(page, company_portal, paths, ready))


# --------------------------------------------------------------------------- admin portal
def test_every_admin_page_meets_wcag_2_1_aa(page: Page, admin_portal: Portal, seed: Seed) -> None:
    from admin_app import routes

    source_id = _admin_source(seed)
    values = {"tenant_id": str(seed.tenant_id), "project_id": str(seed.project_id), "source_id": str(source_id)}
    paths = [_fill(r, values) for r in route_constants(routes)]
    # What shows that a page has its data (pages not listed: their first heading).
    shown: dict[str, Callable[[], None]] = {
        routes.OVERVIEW: lambda: expect(page.locator("#sync-totals")).to_contain_text("syncs"),
        routes.TENANTS: lambda: expect(page.get_by_role("row").filter(has_text=seed.tenant_slug)).to_be_visible(),
        routes.TENANT_NEW: lambda: expect(page.locator("#create-tenant")).to_be_visible(),
        routes.TENANT: lambda: expect(page.locator("#save-tenant")).to_be_visible(),
        routes.TENANT_PROJECTS: lambda: expect(page.locator("#create-project")).to_be_visible(),
        routes.TENANT_USERS: lambda: expect(
            page.get_by_role("row").filter(has_text=seed.company_email)
        ).to_be_visible(),
        routes.PROJECT: lambda: expect(page.locator("#save-settings")).to_be_visible(),
        routes.PROJECT_SOURCES: lambda: expect(page.get_by_role("link", name="Accessible GitHub")).to_be_visible(),
        routes.PROJECT_SOURCE_NEW: lambda: expect(page.locator("#create-source")).to_be_visible(),
        routes.SOURCE: lambda: expect(page.get_by_role("heading", name="Accessible GitHub").first).to_be_visible(),
        routes.SOURCE_TEST: lambda: expect(page.locator("#test-result-error")).to_contain_text(
            "Connection failed", timeout=30_000
        ),
        routes.HEALTH: lambda: expect(page.get_by_role("heading", name="Health", exact=True).first).to_be_visible(),
        routes.AUDIT_LOGS: lambda: expect(page.get_by_role("row").nth(1)).to_be_visible(),
        routes.DATA_RETENTION: lambda: expect(
            page.get_by_role("heading", name="Data retention", exact=True).first
        ).to_be_visible(),
    }
    by_path = {_fill(r, values): shown.get(r) for r in route_constants(routes)}
    sign_in(page, admin_portal, seed.admin_email, seed.admin_password)
    expect(page.locator("#signed-in-user")).to_have_text(seed.admin_name)

    def ready(path: str) -> None:
        expect(page.locator("#signed-in-user")).to_have_text(seed.admin_name, timeout=20_000)
        check = by_path.get(path)
        if check is None:
            expect(page.get_by_role("heading").first).to_be_visible()
        else:
            check()

    assert_clean(_audit_all(page, admin_portal, paths, ready))


# --------------------------------------------------------------------------- signed out
def test_the_sign_in_pages_meet_wcag_2_1_aa(
    page: Page, company_portal: Portal, admin_portal: Portal, seed: Seed
) -> None:
    found: dict[str, list[Violation]] = {}
    for portal in (company_portal, admin_portal):
        page.context.clear_cookies()
        for path in ("/login", "/login?error=wrong%20email%20or%20password"):
            page.goto(f"{portal.url}{path}")
            expect(page.locator("#sign-in")).to_be_visible()
            if "error" in path:
                expect(page.get_by_role("alert")).to_be_visible()
            label = f"{portal.app} {path}"
            found[label] = audit(page, label) + keyboard_problems(page, label)
    assert_clean(found)


def test_the_first_run_registration_page_meets_wcag_2_1_aa(page: Page, fresh_admin_portal: Portal) -> None:
    page.goto(f"{fresh_admin_portal.url}/register")
    expect(page.locator("#register")).to_be_visible()
    assert_clean({"admin_app /register": audit(page, "admin_app /register")})


# --------------------------------------------------------------------------- dialogs
def test_the_dialogs_meet_wcag_2_1_aa(browser, company_portal: Portal, admin_portal: Portal, demo: Seed) -> None:
    """The dialogs that open over the pages: the drill-down, resolving a flag, rating an insight, a password reset."""
    found: dict[str, list[Violation]] = {}
    company = browser.new_context(viewport={"width": 1440, "height": 900})
    company.set_default_timeout(20_000)
    page = company.new_page()
    sign_in(page, company_portal, demo.company_email, demo.company_password)
    expect(page.locator("#signed-in-user")).to_have_text(demo.company_name)

    open_page(page, company_portal, "/dashboard/velocity")
    page.locator(".drill").nth(1).click()
    expect(page.locator("#drill-dialog").locator("tbody tr").first).to_be_visible()
    found["dmt_app drill-down dialog"] = audit(page, "dmt_app drill-down dialog")
    page.keyboard.press("Escape")  # closes it from the keyboard
    expect(page.locator("#drill-dialog")).to_have_count(0)

    open_page(page, company_portal, "/compliance/flags")
    page.locator(".resolve-flag").first.click()
    expect(page.get_by_role("alertdialog")).to_contain_text("Resolve this flag?")
    found["dmt_app resolve-flag dialog"] = audit(page, "dmt_app resolve-flag dialog")

    open_page(page, company_portal, "/ai-insights")
    page.locator(".thumbs-up").first.click()
    expect(page.locator("#rating-note")).to_be_visible()
    found["dmt_app rating dialog"] = audit(page, "dmt_app rating dialog")
    company.close()

    admin = browser.new_context(viewport={"width": 1440, "height": 900})
    admin.set_default_timeout(20_000)
    page = admin.new_page()
    sign_in(page, admin_portal, demo.admin_email, demo.admin_password)
    expect(page.locator("#signed-in-user")).to_have_text(demo.admin_name)
    page.goto(f"{admin_portal.url}/dashboard/tenants/{demo.tenant_id}/users")
    page.get_by_role("row").filter(has_text=demo.company_email).get_by_role("button", name="Reset password").click()
    expect(page.get_by_role("dialog")).to_contain_text(demo.company_email)
    found["admin_app reset-password dialog"] = audit(page, "admin_app reset-password dialog")
    admin.close()
    assert_clean(found)
