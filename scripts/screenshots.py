"""Regenerate docs/screenshots/*.png from a running demo (`make run`): the demo tenant's data, never test fixtures.

    make run                                   # in one terminal (company :3000, admin :3001)
    make screenshots                           # in another: .venv/bin/python scripts/screenshots.py

Options: --company-url, --admin-url, --out (default docs/screenshots), --password
(default the demo password, DMT_DEMO_PASSWORD), --only company|admin, --pages a,b.
Each page is opened in headless chromium at 1440x900, signed in as the demo's
tech lead (company) or platform admin; the script waits until the page shows its
own data (`data-loaded-for` on company pages, the page heading on admin pages),
then until every chart has finished drawing (recharts animations, plotly
renders) before it takes the picture. Ids of tenants, projects and sources are
read from the admin REST API, so the script works on any demo database.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
COMPANY_USER = "lead@acme.example"
ADMIN_USER = "admin@dmt.local"
#: Recharts animates for 1.5 s after data arrives; wait past it, then for the page to be still.
ANIMATION_MS = 1800

#: Company pages: (file name, route, a text the page shows once it is there).
COMPANY_PAGES = [
    ("dashboard", "/dashboard", "DMT compliance"),
    ("velocity", "/dashboard/velocity", "Committed vs completed"),
    ("throughput", "/dashboard/throughput", "Completed items by type"),
    ("quality", "/dashboard/quality", "Flags by rule"),
    ("pr-health", "/dashboard/pr-health", "Per repository"),
    ("dora", "/dashboard/dora", "DORA"),
    ("team", "/team", "Team"),
    ("developers", "/developers", "Developers"),
    ("me", "/me", "My metrics"),
    ("compliance", "/compliance", "Compliance"),
    ("compliance-flags", "/compliance/flags", "Flags"),
    ("exceptions", "/compliance/exceptions", "DMT exceptions"),
    ("insights", "/ai-insights", "AI insights"),
    ("notifications", "/notifications", "Notifications"),
    ("exports", "/exports", "Exports"),
]


def _api(base: str, path: str, token: str | None = None, body: dict[str, Any] | None = None) -> Any:
    if not base.startswith(("http://", "https://")):
        raise SystemExit(f"not a portal URL: {base}")
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        f"{base}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})},
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the demo's own loopback URL
        return json.loads(response.read())


def admin_pages(admin_url: str, password: str) -> list[tuple[str, str, str]]:
    """Admin pages with the ids of the demo's first tenant, project and source (read through the API)."""
    token = _api(admin_url, "/api/auth/login", body={"email": ADMIN_USER, "password": password})["tokens"]["access"]
    tenants = _api(admin_url, "/api/admin/tenants", token)
    tenants = tenants.get("items", tenants) if isinstance(tenants, dict) else tenants
    tenant = next(t for t in tenants if t.get("slug") == "acme") if tenants else None
    pages = [
        ("overview", "/dashboard", "System overview"),
        ("tenants", "/dashboard/tenants", "Tenants"),
        ("tenant-new", "/dashboard/tenants/new", "New tenant"),
        ("health", "/dashboard/health", "Health"),
        ("audit", "/dashboard/audit-logs", "Audit log"),
        ("retention", "/dashboard/data-retention", "Data retention"),
    ]
    if tenant:
        tid = tenant["id"]
        pages += [
            ("tenant-detail", f"/dashboard/tenants/{tid}", tenant["name"]),
            ("tenant-projects", f"/dashboard/tenants/{tid}/projects", "Projects"),
            ("tenant-users", f"/dashboard/tenants/{tid}/users", "Company users"),
        ]
        projects = _api(admin_url, f"/api/admin/tenants/{tid}/projects", token)
        projects = projects.get("items", projects) if isinstance(projects, dict) else projects
        if projects:
            pid = projects[0]["id"]
            pages += [
                ("project-detail", f"/dashboard/projects/{pid}", projects[0]["name"]),
                ("project-sources", f"/dashboard/projects/{pid}/sources", "Sources"),
                ("sources", f"/dashboard/projects/{pid}/sources/new", "Add a source"),
            ]
            sources = _api(admin_url, f"/api/admin/projects/{pid}/sources", token)
            sources = sources.get("items", sources) if isinstance(sources, dict) else sources
            if sources:
                pages.append(("source-detail", f"/dashboard/sources/{sources[0]['id']}", sources[0]["name"]))
    return pages


def _settle(page: Any) -> None:
    """Wait until the charts are drawn: recharts' entry animation is over and plotly has rendered."""
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(ANIMATION_MS)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot')].every(p => p.querySelector('.main-svg'))",
        timeout=15_000,
    )
    page.evaluate("() => document.fonts.ready")


def _sign_in(page: Any, url: str, email: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.locator("#sign-in").click()
    page.wait_for_url(lambda u: "/login" not in u, timeout=30_000)


def shoot(
    url: str,
    email: str,
    password: str,
    pages: list[tuple[str, str, str]],
    out: Path,
    prefix: str,
    ready: Callable[[Any, str, str], None],
    phone: list[tuple[str, str, str]] | None = None,
) -> list[Path]:
    """Sign in once, then open each page, wait for its data and charts, and save `<prefix>-<name>.png`.

    `phone` pages are taken afterwards at a phone's width (390x844).
    """
    from playwright.sync_api import sync_playwright

    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
        page = context.new_page()
        page.goto(f"{url}/login")
        _settle(page)
        page.screenshot(path=str(out / f"{prefix}-login.png"))
        written.append(out / f"{prefix}-login.png")
        _sign_in(page, url, email, password)
        for n, (name, route, text) in enumerate(pages + (phone or [])):
            if n == len(pages):
                page.set_viewport_size(PHONE)
            page.goto(f"{url}{route}")
            ready(page, route, text)
            _settle(page)
            target = out / f"{prefix}-{name}.png"
            page.screenshot(path=str(target))
            written.append(target)
            print(f"  {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}", flush=True)
        browser.close()
    return written


def _company_ready(page: Any, route: str, text: str) -> None:
    path = unquote(route.split("?", 1)[0])  # the page names its data by the decoded path
    page.locator(f'[data-loaded-for="{path}"]').first.wait_for(timeout=60_000)
    page.get_by_text(text).first.wait_for(timeout=30_000)


def _admin_ready(page: Any, route: str, text: str) -> None:
    page.get_by_role("heading", name=text).first.wait_for(timeout=60_000)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--company-url", default=os.environ.get("COMPANY_PORTAL_URL", "http://localhost:3000"))
    parser.add_argument("--admin-url", default=os.environ.get("ADMIN_PORTAL_URL", "http://localhost:3001"))
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--password", default=os.environ.get("DMT_DEMO_PASSWORD", "demo-pass-2026"))
    parser.add_argument("--only", choices=["company", "admin"])
    parser.add_argument("--pages", default="", help="comma-separated page names (default: all)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    wanted = {p for p in args.pages.split(",") if p}

    def pick(pages: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
        return [p for p in pages if not wanted or p[0] in wanted]

    if args.only != "admin":
        print(f"company portal {args.company_url}:", flush=True)
        pages = pick(COMPANY_PAGES + company_detail_pages(args.company_url, args.password))
        shoot(args.company_url, COMPANY_USER, args.password, pages, args.out, "company", _company_ready)
    if args.only != "company":
        print(f"admin portal {args.admin_url}:", flush=True)
        pages = pick(admin_pages(args.admin_url, args.password))
        phone = pick([("tenants-phone", "/dashboard/tenants", "Tenants")])
        shoot(args.admin_url, ADMIN_USER, args.password, pages, args.out, "admin", _admin_ready, phone=phone)
    return 0


def company_detail_pages(company_url: str, password: str) -> list[tuple[str, str, str]]:
    """The tech lead's current sprint deep-dive and the first developer's page (names read through the API)."""
    token = _api(company_url, "/api/auth/login", body={"email": COMPANY_USER, "password": password})["tokens"]["access"]
    pages = []
    sprint = _api(company_url, "/api/dashboard/summary", token).get("sprint_name")
    if sprint:
        pages.append(("sprint", f"/team/sprint/{quote(sprint, safe='')}", "Burndown"))
    developers = _api(company_url, "/api/developers", token)
    rows = developers.get("developers", []) if isinstance(developers, dict) else developers
    if rows:
        pages.append(("developer", f"/developers/{rows[0]['identity_id']}", "Points completed vs team average"))
    return pages


if __name__ == "__main__":
    sys.exit(main())
