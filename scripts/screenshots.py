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
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
COMPANY_USER = "lead@acme.example"
ADMIN_USER = "admin@dmt.local"
#: A chart counts as drawn when its SVG has not changed for this many animation frames in a row
#: (recharts animates its entry for 1.5 s; plotly draws once).
STILL_FRAMES = 20
#: The longest a page may take to settle, and an archive to be verified, before the script gives up.
SETTLE_TIMEOUT_MS = 30_000
VERIFY_TIMEOUT_S = 180

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
                sid = sources[0]["id"]
                pages.append(("source-detail", f"/dashboard/sources/{sid}", sources[0]["name"]))
                pages.append(("source-checks", f"/dashboard/sources/{sid}/test", "Test connection"))
        job = _verified_retention_job(admin_url, token, tid)
        pages.append(("retention-delete", f"/dashboard/data-retention#delete-{job}", "Data retention"))
    return pages


def _verified_retention_job(admin_url: str, token: str, tenant_id: int) -> int:
    """A verified retention job of the demo tenant (for the typed-confirmation picture), made if there is none.

    Archiving and verifying copy a quarter out and compare it; nothing is deleted (that needs the typed phrase).
    """
    jobs = _api(admin_url, f"/api/admin/data-retention?tenant_id={tenant_id}", token)
    job = next((j for j in jobs if j["status"] == "verified"), None)
    if job is None:
        today = datetime.now(UTC).date()
        back = today.year * 4 + (today.month - 1) // 3 - 2  # two quarters ago: the demo has data there
        quarter = f"{back // 4}Q{back % 4 + 1}"
        job = next((j for j in jobs if j["quarter"] == quarter), None) or _api(
            admin_url, "/api/admin/data-retention", token, {"tenant_id": tenant_id, "quarter": quarter}
        )
        if job["status"] != "verified":
            _api(admin_url, f"/api/admin/data-retention/{job['id']}/archive?then_verify=true", token, {})
        deadline = time.monotonic() + VERIFY_TIMEOUT_S
        while job["status"] != "verified":
            if time.monotonic() > deadline or job["status"] == "failed":
                raise SystemExit(f"retention job {job['id']} did not verify: {job.get('error') or job['status']}")
            time.sleep(1)  # polling the worker's progress (a script, not a test)
            job = next(j for j in _api(admin_url, "/api/admin/data-retention", token) if j["id"] == job["id"])
    return int(job["id"])


def _open_delete_dialog(page: Any, route: str) -> None:
    """`...#delete-<id>`: open that job's hard-delete dialog (the typed confirmation), type nothing."""
    job = route.rsplit("#delete-", 1)[1]
    page.locator(f"#delete-{job}").click()
    page.locator("#delete-confirmation").wait_for(timeout=30_000)


#: Polled on every animation frame: true once every chart's SVG (recharts and plotly) has stayed the same
#: for `frames` frames in a row, i.e. the entry animations are over and nothing is being redrawn.
_CHARTS_STILL = """
(frames) => {
  const plots = [...document.querySelectorAll('.js-plotly-plot')];
  if (!plots.every(p => p.querySelector('.main-svg'))) return false;
  const now = [...document.querySelectorAll('.recharts-surface, .js-plotly-plot .main-svg')]
    .map(svg => svg.innerHTML).join('|');
  const w = window.__dmtStill || (window.__dmtStill = {last: null, same: 0});
  w.same = now === w.last ? w.same + 1 : 0;
  w.last = now;
  return w.same >= frames;
}
"""


def _settle(page: Any) -> None:
    """Wait until the page is still: no requests in flight, every chart drawn and no longer animating."""
    page.wait_for_load_state("networkidle")
    page.evaluate("() => { window.__dmtStill = null; }")
    page.wait_for_function(_CHARTS_STILL, arg=STILL_FRAMES, polling="raf", timeout=SETTLE_TIMEOUT_MS)
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
    if "#delete-" in route:
        _open_delete_dialog(page, route)


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
