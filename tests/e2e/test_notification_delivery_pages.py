"""Notification delivery in the browser: a user's delivery mode per kind and digest preview (company
Notifications page); Slack/Teams webhooks with a test message (admin tenant page, fake webhooks on
loopback); dead letters sent again (admin Health page)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from tests.e2e.conftest import Portal, Seed, open_page, sign_in
from tests.fakes import chat_webhooks
from tests.fakes.server import serve

pytestmark = pytest.mark.e2e


def _carol_id(seed: Seed) -> int:
    from models.db import public_session
    from models.public import User

    with public_session() as session:
        return session.exec(select(User.id).where(User.email == seed.company_email)).one()


def test_a_user_chooses_delivery_per_kind_and_sees_the_digest_preview(page, company_portal: Portal, seed: Seed):
    from services import notifications

    carol = _carol_id(seed)
    notifications.create_for_users(
        seed.tenant_id, [carol], kind="sprint_ending", title="Sprint 42 ends in 2 days", link="/dashboard/velocity"
    )
    sign_in(page, company_portal, seed.company_email, seed.company_password)
    expect(page.locator("#signed-in-user")).to_be_visible()
    open_page(page, company_portal, "/notifications")
    section = page.locator("#delivery-preferences")
    expect(section).to_contain_text("Sprints ending soon")
    section.get_by_role("combobox", name="Sprints ending soon").click()
    page.get_by_role("option", name="Daily digest email").click()
    preview = page.locator("#digest-preview")
    expect(preview).to_contain_text("Sprint 42 ends in 2 days")
    expect(section.get_by_role("combobox", name="Sprints ending soon")).to_contain_text("Daily digest email")
    chosen = {p.kind: p.mode for p in notifications.list_preferences(carol, seed.tenant_id)}
    assert chosen["sprint_ending"] == "digest" and chosen["critical_flags"] == "in_app"


def test_admin_adds_a_slack_webhook_sends_a_test_and_retries_a_dead_letter(page, admin_portal: Portal, seed: Seed):
    from models.db import public_session
    from models.public import NotificationDelivery

    recorder = chat_webhooks.ChatRecorder()
    with serve(chat_webhooks.create_app(recorder)) as base_url:
        sign_in(page, admin_portal, seed.admin_email, seed.admin_password)
        expect(page.locator("#signed-in-user")).to_have_text(seed.admin_name)
        page.goto(f"{admin_portal.url}/dashboard/tenants/{seed.tenant_id}")
        channels = page.locator("#chat-channels")
        expect(channels).to_contain_text("No Slack or Teams channel yet.")
        channels.locator("#channel_type").select_option("slack")
        channels.locator("#chat-project").select_option(label="WEB - Web shop")
        channels.locator("#chat-name").fill("#web-shop")
        channels.locator("#chat-webhook-url").fill(base_url + chat_webhooks.SLACK_PATH)
        channels.get_by_label("New critical DMT flags").check()
        channels.locator("#save-chat-channel").click()
        row = channels.locator(".chat-channel-row")
        expect(row).to_contain_text("WEB · Web shop")
        expect(row).to_contain_text("New critical DMT flags")
        assert chat_webhooks.SLACK_SECRET not in page.content()  # only the host and the last characters
        row.get_by_role("button", name="Send test message").click()
        expect(channels).to_contain_text("Slack accepted the test message (200)")
        assert len(recorder.accepted("slack")) == 1

    with public_session() as session:
        letter = NotificationDelivery(
            tenant_id=seed.tenant_id, channel="slack", subject="Sprint 8 ends", status="dead", attempts=6,
            last_error="hooks.example answered 500 after 1 attempts",
        )
        session.add(letter)
        session.commit()
        letter_id = letter.id
    page.goto(f"{admin_portal.url}/dashboard/health")
    dead = page.locator("#dead-letters .dead-letter-row").filter(has_text="Sprint 8 ends")
    expect(dead).to_contain_text("answered 500")
    dead.get_by_role("button", name="Send again").click()
    expect(page.locator("#dead-letters .dead-letter-row").filter(has_text="Sprint 8 ends")).to_have_count(0)
    with public_session() as session:
        assert session.get(NotificationDelivery, letter_id).status in ("pending", "dead")
        assert session.get(NotificationDelivery, letter_id).attempts <= 1
