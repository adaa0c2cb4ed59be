"""An open company page updates by itself when a sync of its tenant finishes (no reload)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Portal, Seed, open_page, sign_in
from tests.e2e.page_waits import LiveTab

pytestmark = pytest.mark.e2e


def test_open_compliance_page_shows_new_flags_after_a_sync_without_reload(
    page: Page, company_portal: Portal, seed: Seed
) -> None:
    from core.crypto import encrypt_secret
    from etl.sync import run_sync
    from models.db import public_session
    from models.public import SourceConfig
    from tests.fakes import jira
    from tests.fakes.server import serve

    dataset = jira.generate_dataset(seed=11, size=40, project_key="LIVE")
    live = LiveTab(page)
    sign_in(page, company_portal, seed.company_email, seed.company_password)
    open_page(page, company_portal, "/compliance/flags")
    heading = page.get_by_text(re.compile(r"^Flags \(\d+\)$"))
    expect(heading).to_be_visible(timeout=15_000)
    live.wait_until_following(seed.tenant_slug)
    before = int(re.findall(r"\d+", heading.inner_text())[0])
    with serve(jira.create_app(dataset)) as url:
        with public_session() as session:
            source = SourceConfig(
                tenant_id=seed.tenant_id,
                project_id=seed.project_id,
                name="Live Jira",
                source_type="jira",
                base_url=f"{url}",
                username=dataset.api_user_email,
                token_encrypted=encrypt_secret(dataset.token),
                config_json={"project_key": "LIVE", "deployment": "cloud"},
                historical_import_days=3650,
            )
            session.add(source)
            session.commit()
            source_id = source.id or 0
        run = run_sync(seed.tenant_slug, source_id, "backfill")
    assert run.status == "succeeded", run.error
    # The sync's own event updates the open page, with no reload.
    expect(heading).not_to_have_text(f"Flags ({before})", timeout=10_000)
    after = int(re.findall(r"\d+", heading.inner_text())[0])
    assert after > before
