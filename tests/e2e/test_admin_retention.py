"""Retention in the admin UI (create, archive and verify on a real worker with live progress, typed hard delete
of exactly the verified rows, restore); webhook secret shown once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlmodel import func, select

from tests.celery_worker import start_worker, stop_worker, wait_until_ready
from tests.e2e.conftest import Portal, Seed, sign_in
from tests.e2e.test_admin_pages import shoot

pytestmark = pytest.mark.e2e

ITEMS_PER_QUARTER = 4


def seed_history() -> tuple[object, str]:
    """A tenant with work items, pull requests and their links in 2025Q1 and 2025Q2."""
    from services.audit import Actor
    from services.projects import ProjectCreate, create_project
    from services.tenants import TenantCreate, create_tenant
    from tests.integration.test_retention_and_backup import write_quarter_history

    actor = Actor.system("e2e-retention")
    slug = f"ret_{uuid.uuid4().hex[:6]}"
    name = f"Retention {slug[-6:]}"
    tenant = create_tenant(TenantCreate(name=name, slug=slug), actor)
    project = create_project(ProjectCreate(tenant_id=tenant.id or 0, key="RET", name="Retention"), actor)
    write_quarter_history(tenant, project.id or 0, ITEMS_PER_QUARTER, with_flags=False)
    return tenant, name


@pytest.fixture
def retention_worker(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[Path]:
    """A real worker on the default queue: archive and verify run there, never in the portal."""
    from core.queue import app as celery_app

    celery_app.control.purge()  # tasks other tests of this Redis database left queued
    log = tmp_path / "worker.log"
    proc = start_worker(database_url, redis_url, queue="celery", name=f"retention-{uuid.uuid4().hex[:6]}", log=log)
    try:
        wait_until_ready(proc, log)
        yield log
    finally:
        stop_worker(proc)


def counts(tenant) -> dict[str, int]:
    from models.db import tenant_session
    from models.tenant import PullRequest, WorkItem

    with tenant_session(tenant) as session:
        return {
            "items": session.exec(select(func.count()).select_from(WorkItem)).one(),
            "prs": session.exec(select(func.count()).select_from(PullRequest)).one(),
        }


def test_retention_archive_verify_typed_delete_and_restore(
    page, admin_portal: Portal, seed: Seed, retention_worker: Path
) -> None:
    from services.retention import list_jobs

    tenant, name = seed_history()
    full = {"items": 2 * ITEMS_PER_QUARTER, "prs": 2 * ITEMS_PER_QUARTER}
    assert counts(tenant) == full

    sign_in(page, admin_portal, seed.admin_email, seed.admin_password)
    expect(page.locator("#signed-in-user")).to_have_text(seed.admin_name)
    page.get_by_role("link", name="Retention").first.click()
    expect(page.get_by_role("heading", name="Data retention")).to_be_visible()

    # A quarter that has not ended is refused, in words.
    page.locator("#retention-tenant").select_option(label=name)
    page.locator("#retention-quarter").fill("2999Q4")
    page.locator("#create-job").click()
    expect(page.get_by_role("alert")).to_contain_text("has not ended yet")

    page.locator("#retention-quarter").fill("2025Q1")
    page.locator("#create-job").click()
    expect(page.get_by_text("created for 2025Q1")).to_be_visible()
    jobs = list_jobs(tenant.id)
    assert len(jobs) == 1
    job_id = jobs[0].id

    page.locator("#retention-filter").select_option(label=name)
    status = page.locator(f"#status-{job_id}")
    expect(status).to_have_text("pending")

    page.locator(f"#archive-{job_id}").click()
    expect(status).to_have_text("archived", timeout=60_000)  # on the worker; the page hears it live
    expect(page.locator(f"#progress-{job_id}")).to_contain_text("archive finished: archived")
    rows = page.locator(f"#rows-{job_id}")
    expect(rows).to_contain_text(f"work_items: {ITEMS_PER_QUARTER}")
    expect(rows).to_contain_text(f"pull_requests: {ITEMS_PER_QUARTER}")
    expect(page.locator(f"#delete-{job_id}")).to_be_disabled()  # only a verified archive may be deleted

    page.locator(f"#verify-{job_id}").click()
    expect(status).to_have_text("verified", timeout=60_000)
    expect(page.get_by_text("the archive matches the database")).to_be_visible()

    # A row of the quarter changes after the verification: the hard delete keeps it and says so.
    from sqlalchemy import update

    from models.db import tenant_session
    from models.tenant import WorkItem

    with tenant_session(tenant) as session:
        session.execute(update(WorkItem).where(WorkItem.source_item_id == "q1-0").values(title="changed late"))
        session.commit()

    # Hard delete: the button stays disabled until the exact phrase is typed.
    phrase = f"DELETE {tenant.slug} 2025Q1"
    page.locator(f"#delete-{job_id}").click()
    expect(page.locator("#delete-phrase")).to_have_text(phrase)
    confirm = page.locator("#confirm-delete")
    expect(confirm).to_be_disabled()
    page.locator("#delete-confirmation").fill(f"DELETE {tenant.slug} 2025Q2")
    expect(confirm).to_be_disabled()
    # No implicit submit past a disabled button: the browser fires no submit event (it would, at once, on Enter).
    page.locator("#delete-confirmation").evaluate(
        "(field) => { window.__submits = 0; field.form.addEventListener('submit', () => window.__submits++, true); }"
    )
    page.locator("#delete-confirmation").press("Enter")
    assert page.evaluate("() => window.__submits") == 0
    assert counts(tenant) == full
    page.locator("#delete-confirmation").fill(phrase)
    expect(confirm).to_be_enabled()
    shoot(page, "retention-delete")
    confirm.click()
    expect(status).to_have_text("deleted", timeout=60_000)
    expect(page.locator(f"#deletion-{job_id}")).to_contain_text("work_items: 1 changed")
    # 2025Q2, and the 2025Q1 item changed after the verification
    assert counts(tenant) == {"items": ITEMS_PER_QUARTER + 1, "prs": ITEMS_PER_QUARTER}

    page.locator(f"#restore-{job_id}").click()
    expect(status).to_have_text("restored", timeout=60_000)
    expect(page.get_by_text("rows are back")).to_be_visible()
    assert counts(tenant) == full
    shoot(page, "retention")


def test_webhook_secret_is_shown_once(page, admin_portal: Portal, seed: Seed) -> None:
    from models.db import public_session
    from models.public import SourceConfig

    with public_session() as session:
        source = SourceConfig(
            tenant_id=seed.tenant_id,
            project_id=seed.project_id,
            name="Hooked GitHub",
            source_type="github",
            base_url="https://api.github.com",
            config_json={"owner": "acme", "repo": "web"},
        )
        session.add(source)
        session.commit()
        source_id = source.id

    sign_in(page, admin_portal, seed.admin_email, seed.admin_password)
    expect(page.locator("#signed-in-user")).to_have_text(seed.admin_name)
    page.goto(f"{admin_portal.url}/dashboard/sources/{source_id}")
    expect(page.get_by_role("heading", name="Hooked GitHub")).to_be_visible()
    page.locator("#generate-webhook-secret").click()
    secret = page.locator("#webhook-secret")
    expect(secret).to_be_visible()
    value = secret.inner_text().strip()
    assert len(value) >= 20
    expect(page.locator("#webhook-url")).to_have_text(f"{admin_portal.url}/api/webhooks/{source_id}")
    page.locator("#generate-webhook-secret").evaluate("e => e.scrollIntoView({block: 'center'})")
    shoot(page, "source-webhooks")
    with public_session() as session:
        stored = session.get(SourceConfig, source_id)
        assert stored is not None and stored.webhook_secret_encrypted and value not in stored.webhook_secret_encrypted
    page.reload()
    expect(page.get_by_role("heading", name="Hooked GitHub")).to_be_visible()
    expect(page.locator("#generate-webhook-secret")).to_be_visible()
    # The page's on_load empties it; until that event lands the tab may still show the state it had.
    expect(page.locator("#webhook-secret")).to_have_count(0)
    assert value not in page.content()  # shown once: gone after a reload


def test_ci_token_is_shown_once_and_can_be_revoked(page, admin_portal: Portal, seed: Seed) -> None:
    from models.db import public_session
    from models.public import ApiToken

    sign_in(page, admin_portal, seed.admin_email, seed.admin_password)
    expect(page.locator("#signed-in-user")).to_have_text(seed.admin_name)
    page.goto(f"{admin_portal.url}/dashboard/tenants/{seed.tenant_id}")
    expect(page.get_by_role("heading", name="CI tokens")).to_be_visible()
    page.locator("#token-name").fill("GitHub Actions main")
    page.locator("#create-token").click()
    token = page.locator("#new-token")
    expect(token).to_contain_text("dmt_ci_")
    value = token.inner_text().strip()
    expect(page.locator("#curl-example")).to_contain_text(
        f'curl -X POST {admin_portal.url}/api/evidence -H "Authorization: Bearer {value}"'
    )
    page.get_by_role("heading", name="CI tokens").evaluate("e => e.scrollIntoView({block: 'center'})")
    shoot(page, "ci-tokens")
    row = page.get_by_role("row").filter(has_text="GitHub Actions main")
    row.get_by_role("button", name="Revoke").click()
    expect(row).to_contain_text("revoked")
    with public_session() as session:
        stored = session.exec(select(ApiToken).where(ApiToken.tenant_id == seed.tenant_id)).all()
        assert [t.name for t in stored] == ["GitHub Actions main"] and stored[0].revoked_at is not None
        assert value not in stored[0].token_hash
    page.reload()
    expect(page.get_by_role("heading", name="CI tokens")).to_be_visible()
    # The page's on_load empties it; until that event lands the tab may still show the state it had.
    expect(page.locator("#new-token")).to_have_count(0, timeout=20_000)
    assert value not in page.content()
