"""The DORA page in a real browser: the four keys of the seeded project's deployments, the failed-only filter and
the 'what shipped' dialog (the PRs a deployment shipped, by merge commit)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from tests.e2e.conftest import Portal, Seed, open_page, sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def deployed(demo: Seed) -> Seed:
    """Three production deployments of the demo project in the last 30 days; the third hot-fixes the second.

    The first ships two of the demo's merged PRs (their merge commits are set here: the demo history has none).
    """
    from models.db import tenant_session
    from models.tenant import Deployment, DeploymentChange, PullRequest

    now = datetime.now(UTC).replace(microsecond=0)
    with tenant_session(demo.tenant_slug) as session:
        merged = session.exec(
            select(PullRequest)
            .where(PullRequest.project_id == demo.project_id, PullRequest.state == "merged")
            .order_by(PullRequest.id)
            .limit(2)
        ).all()
        for n, pr in enumerate(merged):
            pr.merge_commit_sha = f"e2e-merge-{n}"
            pr.first_commit_at = now - timedelta(days=12, hours=n)
            session.add(pr)
        for name, days_ago, revert in (
            ("e2e-release-1", 10, False),
            ("e2e-release-2", 5, False),
            ("e2e-hotfix", 4.9, True),
        ):
            row = Deployment(
                source_id=0, project_id=demo.project_id, source_type="github_deployments", source_deployment_id=name,
                name=name, repository="acme/web", environment="production", status="success",
                commit_sha=f"{name}-sha", finished_at=now - timedelta(days=days_ago), is_revert=revert,
                changes_count=2 if name == "e2e-release-1" else 1,
            )  # fmt: skip
            session.add(row)
            session.flush()
            shas = [pr.merge_commit_sha for pr in merged] if name == "e2e-release-1" else [f"{name}-sha"]
            session.add_all(DeploymentChange(deployment_id=row.id or 0, sha=sha or "", message=name) for sha in shas)
        session.commit()
    return demo


def test_dora_page_shows_the_keys_the_failures_and_what_shipped(
    page: Page, company_portal: Portal, deployed: Seed
) -> None:
    sign_in(page, company_portal, deployed.company_email, deployed.company_password)
    expect(page.locator("#signed-in-user")).to_have_text(deployed.company_name)
    open_page(page, company_portal, f"/dashboard/dora?project={deployed.project_id}&period=30d")
    expect(page.locator("[data-dora-key=deployment_frequency]")).to_contain_text("3 deployments")
    expect(page.locator("[data-dora-key=change_failure_rate]")).to_contain_text("33%")
    expect(page.locator("[data-dora-key=change_failure_rate]")).to_contain_text("Low")
    expect(page.locator("[data-dora-key=lead_time]")).to_contain_text("2 PRs")
    expect(page.locator("[data-dora-key=time_to_restore]")).to_contain_text("no incident in the period")
    expect(page.locator(".recharts-bar-rectangle").first).to_be_visible()
    rows = page.locator(".dora-deployment")
    expect(rows).to_have_count(3)
    expect(rows.filter(has_text="e2e-release-2")).to_contain_text("failed")
    expect(rows.filter(has_text="e2e-hotfix")).to_contain_text("revert/hotfix")

    page.locator("#dora-failed-only").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("e2e-release-2")
    expect(page).to_have_url(re.compile(r"failed=1"))
    page.locator("#dora-failed-only").click()
    expect(rows).to_have_count(3)

    rows.filter(has_text="e2e-release-1").get_by_role("button", name="What shipped").click()
    dialog = page.locator("#dora-deployment-dialog")
    expect(dialog).to_contain_text("e2e-release-1 · production")
    expect(dialog.locator("tbody tr")).to_have_count(2)
