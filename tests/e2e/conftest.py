"""Browser tests against the BUILT portals (scripts/portal.sh run), on free ports, on the test database.

`make test` builds both portals first; a stale build is rebuilt by `portal.sh run`
(slow), so run `make build` after changing portal code. The portals get the test
process's DATABASE_URL/REDIS_URL; one granian worker each keeps the machine free.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.databases import new_database
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
#: Where browser tests save their screenshots (for looking at a failure): never the tracked docs/screenshots,
#: which `make screenshots` (scripts/screenshots.py) regenerates from the demo tenant.
SCREENSHOTS = Path(tempfile.gettempdir()) / "dmt-e2e-screenshots"
#: The browser: $CHROMIUM, else the `chromium` on PATH (Debian's package, installed by scripts/setup.sh).
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
READY_TIMEOUT = float(os.environ.get("E2E_READY_TIMEOUT", "600"))  # a stale build is rebuilt first

ADMIN_EMAIL = "ada.admin@platform-e2e.com"
ADMIN_PASSWORD = "admin-password-e2e"
COMPANY_EMAIL = "carol@acme-e2e.com"
COMPANY_PASSWORD = "carol-password-e2e"


@dataclass(frozen=True)
class Portal:
    app: str
    url: str
    log: Path


@dataclass(frozen=True)
class Seed:
    tenant_id: int
    tenant_slug: str
    project_id: int
    admin_email: str = ADMIN_EMAIL
    admin_password: str = ADMIN_PASSWORD
    company_email: str = COMPANY_EMAIL
    company_password: str = COMPANY_PASSWORD
    admin_name: str = "Ada Admin"
    company_name: str = "Carol Company"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
            return response.status
    except Exception:  # noqa: BLE001 - not up yet
        return 0


@contextlib.contextmanager
def run_portal(app: str, database_url: str, redis_url: str, tmp: Path) -> Iterator[Portal]:
    """Start `scripts/portal.sh run <app> <free port>`; wait until UI and API answer; stop it."""
    port = _free_port()
    log = tmp / f"{app}-{port}.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PORTAL_WORKERS": "1",
        "ALLOWED_PRIVATE_HOSTS": "127.0.0.0/8,::1/128",
        "DMT_ENVIRONMENT": "test",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(ROOT / "scripts" / "portal.sh"), "run", app, str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://localhost:{port}"
    try:

        def ready() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"{app} exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
            return _get(f"{url}/ping") == 200 and _get(f"{url}/api/health") == 200 and _get(f"{url}/login") == 200

        wait_until(ready, timeout=READY_TIMEOUT, interval=0.5, what=lambda: f"{app} ready:\n{log.read_text()[-4000:]}")
        yield Portal(app=app, url=url, log=log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@pytest.fixture(scope="session")
def seed(database_url: str) -> Seed:
    """A platform admin, a tenant with a project, and a company user of that tenant (through services)."""
    from models.enums import ProjectRole, UserRole
    from services.audit import Actor
    from services.projects import ProjectCreate, create_project
    from services.tenants import TenantCreate, create_tenant
    from services.users import UserCreate, create_user, set_project_role

    actor = Actor.system("e2e-seed")
    slug = f"acme_{uuid.uuid4().hex[:6]}"
    tenant = create_tenant(TenantCreate(name="Acme E2E", slug=slug), actor)
    project = create_project(ProjectCreate(tenant_id=tenant.id or 0, key="WEB", name="Web shop"), actor)
    create_user(
        UserCreate(email=ADMIN_EMAIL, password=ADMIN_PASSWORD, full_name="Ada Admin", role=UserRole.PLATFORM_ADMIN),
        actor,
    )
    carol = create_user(
        UserCreate(email=COMPANY_EMAIL, password=COMPANY_PASSWORD, full_name="Carol Company", tenant_id=tenant.id),
        actor,
    )
    set_project_role(carol.id or 0, project.id or 0, ProjectRole.TECH_LEAD, actor)
    return Seed(tenant_id=tenant.id or 0, tenant_slug=slug, project_id=project.id or 0)


@pytest.fixture(scope="session")
def demo(seed: Seed) -> Seed:
    """Demo history (13 sprints, items, PRs, flags, metrics), forecasts, insights and a notification."""
    from sqlmodel import select

    from etl.demo import load_demo_history
    from etl.forecast import forecast_project
    from etl.insights import generate_insights
    from models.db import public_session, tenant_session
    from models.public import SourceConfig, User
    from models.tenant import DeveloperIdentity, WorkItem
    from services.notifications import create_for_users

    with public_session() as session:
        sources = []
        for source_type, name in (("jira", "Jira"), ("github", "GitHub")):
            src = SourceConfig(
                tenant_id=seed.tenant_id,
                project_id=seed.project_id,
                name=f"Demo {name}",
                source_type=source_type,
                base_url=f"https://{source_type}.demo.example",
            )
            session.add(src)
            sources.append(src)
        session.commit()
        ids = [s.id or 0 for s in sources]
        carol = session.exec(select(User).where(User.email == seed.company_email)).one()
    load_demo_history(seed.tenant_slug, seed.project_id, ids[0], ids[1], seed=7)
    forecast_project(seed.tenant_slug, seed.project_id)
    generate_insights(seed.tenant_slug, seed.project_id)
    with tenant_session(seed.tenant_slug) as session:
        # Carol works on the project too: link her account to the busiest identity.
        busiest = session.exec(
            select(WorkItem.assignee_identity_id)
            .where(WorkItem.project_id == seed.project_id, WorkItem.assignee_identity_id.is_not(None))
            .limit(1)
        ).first()
        ident = session.get(DeveloperIdentity, busiest)
        assert ident is not None
        ident.user_id = carol.id
        session.add(ident)
        session.commit()
    create_for_users(
        seed.tenant_id,
        [carol.id or 0],
        kind="critical_flags",
        title="New critical DMT flags in WEB",
        body="Unit testing is not finished on items marked done.",
        severity="critical",
        link="/compliance/flags",
        tenant_slug=seed.tenant_slug,
    )
    return seed


@pytest.fixture(scope="session")
def company_portal(database_url: str, redis_url: str, seed: Seed, tmp_path_factory) -> Iterator[Portal]:
    with run_portal("dmt_app", database_url, redis_url, tmp_path_factory.mktemp("company")) as portal:
        yield portal


@pytest.fixture(scope="session")
def admin_portal(database_url: str, redis_url: str, seed: Seed, tmp_path_factory) -> Iterator[Portal]:
    with run_portal("admin_app", database_url, redis_url, tmp_path_factory.mktemp("admin")) as portal:
        yield portal


@pytest.fixture(scope="session")
def empty_database_url(database_url: str) -> Iterator[str]:
    """A second, migrated database with no users at all (for first-run registration)."""
    from models.migrate import upgrade_public

    with new_database(database_url, "dmt_e2e_empty_") as url:
        engine = sa.create_engine(url)
        try:
            upgrade_public(engine)
            yield url
        finally:
            engine.dispose()


@pytest.fixture(scope="session")
def fresh_admin_portal(empty_database_url: str, redis_url: str, tmp_path_factory) -> Iterator[Portal]:
    with run_portal("admin_app", empty_database_url, redis_url, tmp_path_factory.mktemp("fresh")) as portal:
        yield portal


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import expect, sync_playwright

    # Assertions wait for the page as long as actions do: on a busy CI machine creating a tenant
    # (its schema and migrations) took longer than expect's default 5 s.
    expect.set_options(timeout=20_000)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies) at 1440x900."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(20_000)
    pg = context.new_page()
    yield pg
    context.close()


def sign_in(page, portal: Portal, email: str, password: str) -> None:
    """Fill the sign-in form of a portal and submit it (a real form POST)."""
    page.goto(f"{portal.url}/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.locator("#sign-in").click()


def wait_for_company_data(page, route: str) -> None:
    """Wait until a company page shows the data of `route` (not the state a new tab restored first)."""
    from urllib.parse import unquote, urlsplit

    from playwright.sync_api import expect

    path = unquote(urlsplit(route).path)
    expect(page.locator(f'[data-loaded-for="{path}"]')).to_have_count(1, timeout=30_000)


def open_page(page, portal: Portal, route: str) -> None:
    """Open a company page (a full page load) and wait until its data has loaded."""
    page.goto(f"{portal.url}{route}")
    wait_for_company_data(page, route)
