"""Notifications delivered by email (a real SMTP server on loopback), Slack and Teams (fake webhooks on
loopback): preferences per kind, one digest per user and day, one chat post per event, retries with
backoff, dead letters, and in-app notifications that never depend on any of it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from celery import Celery
from sqlmodel import col, select

from core.errors import NotFound, ValidationFailed
from core.settings import reset_settings_cache
from models.base import utcnow
from models.db import public_session
from models.public import ChatChannel, Notification, NotificationDelivery, TaskOutbox, User
from services import chat_channels, delivery, outbox
from services import notifications as svc
from services.audit import Actor
from services.housekeeping import prune_control_plane
from services.secrets_rotation import rotate_all_secrets
from tests import celery_worker
from tests.fakes import chat_webhooks
from tests.fakes.chat_webhooks import ChatRecorder
from tests.fakes.server import free_port, serve
from tests.fakes.smtp import SmtpCatcher, smtp_catcher
from tests.integration.test_compliance_support import make_project, make_user
from tests.waiting import wait_until

ADMIN = Actor(user_id=None, email="admin@test")


@pytest.fixture
def queue(redis_url: str, monkeypatch) -> Iterator[str]:
    """A private Celery queue for this test's delivery tasks (removed from Redis afterwards)."""
    import redis

    name = f"dmt_test_notify_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("NOTIFICATION_QUEUE", name)
    reset_settings_cache()
    yield name
    redis.Redis.from_url(redis_url).delete(name)
    monkeypatch.undo()  # the environment as it was, then settings read from it again
    reset_settings_cache()


@pytest.fixture
def smtp(queue: str, monkeypatch) -> Iterator[SmtpCatcher]:
    """A real SMTP server on 127.0.0.1, configured as the platform's."""
    with smtp_catcher() as catcher:
        monkeypatch.setenv("SMTP_HOST", catcher.host)
        monkeypatch.setenv("SMTP_PORT", str(catcher.port))
        monkeypatch.setenv("SMTP_STARTTLS", "false")
        monkeypatch.setenv("SMTP_FROM", "DMT-SLDP <dmt@test.example>")
        reset_settings_cache()
        yield catcher


@pytest.fixture
def chat() -> Iterator[tuple[str, ChatRecorder]]:
    recorder = ChatRecorder()
    with serve(chat_webhooks.create_app(recorder)) as base_url:
        yield base_url, recorder


@pytest.fixture
def team(make_tenant):
    tenant = make_tenant("dlv")
    project = make_project(tenant)
    lead = make_user(tenant, project, "tech_lead", email=f"lead{uuid.uuid4().hex[:6]}@acme.example")
    pm = make_user(tenant, project, "project_manager", email=f"pm{uuid.uuid4().hex[:6]}@acme.example")
    dev = make_user(tenant, project, "developer", email=f"dev{uuid.uuid4().hex[:6]}@acme.example")
    return tenant, project, lead, pm, dev


def _prefer(tenant, user_id: int, **modes: str) -> None:
    for kind, mode in modes.items():
        svc.set_preference(user_id, tenant.id, kind, mode)


def _email_of(user_id: int) -> str:
    with public_session() as session:
        return session.get(User, user_id).email


def _deliveries(tenant_id: int) -> list[NotificationDelivery]:
    with public_session() as session:
        return list(
            session.exec(
                select(NotificationDelivery)
                .where(NotificationDelivery.tenant_id == tenant_id)
                .order_by(NotificationDelivery.id)
            ).all()
        )


def _deliver_all(tenant_id: int) -> list[str]:
    return [delivery.deliver(d.id).status for d in _deliveries(tenant_id) if d.status == "pending"]


# --------------------------------------------------------------------------- preferences
def test_preferences_default_to_in_app_and_refuse_unknown_values(team) -> None:
    tenant, _project, lead, *_ = team
    prefs = {p.kind: p.mode for p in svc.list_preferences(lead, tenant.id)}
    assert set(prefs) == set(svc.NOTIFICATION_KINDS) and set(prefs.values()) == {"in_app"}
    svc.set_preference(lead, tenant.id, "critical_flags", "immediate")
    svc.set_preference(lead, tenant.id, "critical_flags", "digest")  # changes, no second row
    assert {p.kind: p.mode for p in svc.list_preferences(lead, tenant.id)}["critical_flags"] == "digest"
    with pytest.raises(ValidationFailed):
        svc.set_preference(lead, tenant.id, "critical_flags", "sms")
    with pytest.raises(ValidationFailed):
        svc.set_preference(lead, tenant.id, "no_such_kind", "digest")


# --------------------------------------------------------------------------- email
def test_immediate_email_goes_to_those_who_chose_it_only(team, smtp: SmtpCatcher) -> None:
    tenant, project, lead, pm, _dev = team
    _prefer(tenant, lead, etl_failure="immediate")
    _prefer(tenant, pm, etl_failure="digest")
    svc.create_for_project_roles(
        tenant.id,
        project.id,
        kind="etl_failure",
        severity="critical",
        title="Sync of Jira paused <after> 3 failures",
        body="Last error: 401",
        link="/sources",
        tenant_slug=tenant.slug,
    )
    report = delivery.plan_pending_deliveries()
    mine = _deliveries(tenant.id)
    assert [(d.channel, d.user_id) for d in mine] == [("email", lead)]
    assert mine[0].id in report.deliveries
    assert _deliver_all(tenant.id) == ["sent"]
    [message] = smtp.wait_for(1)
    assert message["To"] == _email_of(lead)
    assert message["Subject"] == "[DMT-SLDP] Sync of Jira paused <after> 3 failures"
    text = message.get_body(("plain",)).get_content()
    markup = message.get_body(("html",)).get_content()
    assert "Last error: 401" in text and "http://localhost:3000/sources" in text
    assert "&lt;after&gt;" in markup and "<after>" not in markup  # the title is escaped in HTML
    # Planned once: a second run finds nothing new.
    delivery.plan_pending_deliveries()
    assert len(_deliveries(tenant.id)) == 1


def test_without_smtp_nothing_is_queued_and_in_app_notifications_are_still_there(team, queue, monkeypatch) -> None:
    monkeypatch.setenv("SMTP_HOST", "")
    reset_settings_cache()
    tenant, _project, lead, *_ = team
    _prefer(tenant, lead, new_insight="immediate")
    [note] = svc.create_for_users(tenant.id, [lead], kind="new_insight", title="Velocity dropped")
    delivery.plan_pending_deliveries()
    assert _deliveries(tenant.id) == []
    with public_session() as session:
        assert session.get(Notification, note.id).delivery_planned_at is not None
    assert svc.unread_count(lead, tenant.id) == 1


def test_daily_digest_is_one_email_per_user_and_day(team, smtp: SmtpCatcher, monkeypatch) -> None:
    tenant, _project, lead, pm, _dev = team
    monkeypatch.setenv("NOTIFICATION_DIGEST_HOUR_UTC", "7")
    reset_settings_cache()
    _prefer(tenant, lead, sprint_ending="digest", new_insight="digest", critical_flags="in_app")
    now = utcnow().replace(hour=9, minute=0, second=0, microsecond=0)
    in_window = now - timedelta(hours=10)  # 23:00 the day before: inside [yesterday 07:00, today 07:00)
    too_old = now - timedelta(days=2)
    created = [
        svc.create_for_users(tenant.id, [lead], kind="sprint_ending", title="Sprint 7 ends in 2 days")[0],
        svc.create_for_users(tenant.id, [lead], kind="new_insight", title="Cycle time rose 30 %")[0],
        svc.create_for_users(tenant.id, [lead], kind="critical_flags", title="4 new critical DMT flags")[0],
        svc.create_for_users(tenant.id, [lead], kind="sprint_ending", title="Sprint 5 ends tomorrow")[0],
        svc.create_for_users(tenant.id, [pm], kind="sprint_ending", title="not wanted in a digest")[0],
    ]
    with public_session() as session:
        for note, when in zip(created, [in_window, in_window, in_window, too_old, in_window], strict=True):
            session.execute(sa.update(Notification).where(Notification.id == note.id).values(created_at=when))
        session.commit()
    preview = delivery.preview_digest(lead, tenant.id, now=now - timedelta(hours=9))  # before today's send
    assert preview.count == 2 and preview.digest_kinds == ["new_insight", "sprint_ending"]
    # plan_digests covers every tenant: other tests' digest notifications made in the real last hours fall in
    # the same window when the suite runs between 00:00 and 09:00 UTC, so only this tenant's digests are counted.
    first = delivery.plan_digests(now)
    again = delivery.plan_digests(now + timedelta(minutes=30))
    ours = [d for d in _deliveries(tenant.id) if d.purpose == "digest"]
    assert len(ours) == 1 and ours[0].id in first and ours[0].id not in again
    [digest] = ours
    assert (digest.user_id, digest.digest_date) == (lead, now.date())
    assert sorted(digest.notification_ids) == sorted([created[0].id, created[1].id])
    assert delivery.deliver(digest.id).status == "sent"
    [message] = smtp.wait_for(1)
    assert message["To"] == _email_of(lead)
    assert "daily digest" in message["Subject"].lower() and "2 notifications" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    assert "Sprint 7 ends in 2 days" in text and "Cycle time rose 30 %" in text
    assert "4 new critical DMT flags" not in text and "Sprint 5" not in text


def test_smtp_refusals_and_outages_are_retried_or_dead(team, smtp: SmtpCatcher, monkeypatch) -> None:
    tenant, _project, lead, pm, _dev = team
    _prefer(tenant, lead, new_insight="immediate")
    _prefer(tenant, pm, new_insight="immediate")
    smtp.refuse_recipients.add(_email_of(pm).lower())
    smtp.temporary_failures = 1
    svc.create_for_users(tenant.id, [lead, pm], kind="new_insight", title="Throughput doubled")
    delivery.plan_pending_deliveries()
    by_user = {d.user_id: d.id for d in _deliveries(tenant.id)}
    first = delivery.deliver(by_user[lead])
    assert first.status == "retry" and "451" in first.error and first.retry_in > 0
    assert delivery.deliver(by_user[lead]).status == "sent"
    refused = delivery.deliver(by_user[pm])
    assert refused.status == "dead" and "550" in refused.error  # a 5xx is final: no retry
    # The server gone: worth a retry, not a dead letter.
    _prefer(tenant, lead, sprint_ending="immediate")
    svc.create_for_users(tenant.id, [lead], kind="sprint_ending", title="Sprint ends")
    delivery.plan_pending_deliveries()
    monkeypatch.setenv("SMTP_PORT", str(free_port()))
    reset_settings_cache()
    [pending] = [d for d in _deliveries(tenant.id) if d.status == "pending"]
    outcome = delivery.deliver(pending.id)
    assert outcome.status == "retry" and "unreachable" in outcome.error


# --------------------------------------------------------------------------- chat
def _channel(tenant, base_url: str, path: str, channel_type: str, project_id: int | None = None, **kw) -> int:
    saved = chat_channels.save_channel(
        chat_channels.ChatChannelSave(
            tenant_id=tenant.id, project_id=project_id, channel_type=channel_type, webhook_url=base_url + path, **kw
        ),
        ADMIN,
    )
    return saved.id


def test_one_chat_post_per_event_to_the_projects_channel_else_the_tenants(team, chat, queue) -> None:
    tenant, project, lead, _pm, _dev = team
    base_url, recorder = chat
    project_slack = _channel(tenant, base_url, chat_webhooks.SLACK_PATH, "slack", project.id)
    company_slack = _channel(tenant, base_url, chat_webhooks.SLACK_PATH, "slack")  # for what has no project channel
    teams = _channel(tenant, base_url, chat_webhooks.TEAMS_PATH, "teams", kinds=["critical_flags"])
    # One event for three people: one post per channel, not three.
    svc.create_for_project_roles(
        tenant.id,
        project.id,
        kind="critical_flags",
        severity="critical",
        title="3 new critical DMT flags",
        body="Open the compliance page",
        link="/compliance",
        roles=["tech_lead", "project_manager", "developer"],
    )
    svc.create_for_users(tenant.id, [lead], kind="new_insight", title="A company-wide <insight>")
    delivery.plan_pending_deliveries()
    planned = _deliveries(tenant.id)
    assert sorted((d.channel, d.chat_channel_id, d.subject) for d in planned) == sorted(
        [
            ("slack", project_slack, "3 new critical DMT flags"),
            ("teams", teams, "3 new critical DMT flags"),
            ("slack", company_slack, "A company-wide <insight>"),
        ]
    )
    [flags_post] = [d for d in planned if d.channel == "slack" and d.subject.startswith("3")]
    assert len(flags_post.notification_ids) == 3
    assert _deliver_all(tenant.id) == ["sent", "sent", "sent"]
    slack_posts = recorder.accepted("slack")
    assert len(slack_posts) == 2 and len(recorder.accepted("teams")) == 1
    texts = [p.body["blocks"][0]["text"]["text"] for p in slack_posts]
    assert any("*A company-wide &lt;insight&gt;*" in t for t in texts)  # no mention or link can be injected
    [card] = recorder.accepted("teams")[0].body["attachments"]
    assert card["content"]["actions"][0]["url"] == "http://localhost:3000/compliance"
    # The same event again a minute later (a retrying job) is not posted twice.
    svc.create_for_users(tenant.id, [lead], kind="new_insight", title="A company-wide <insight>")
    delivery.plan_pending_deliveries()
    assert len(_deliveries(tenant.id)) == 3


def test_failed_posts_retry_with_backoff_then_become_dead_letters(team, chat, queue, monkeypatch) -> None:
    tenant, project, lead, *_ = team
    base_url, recorder = chat
    monkeypatch.setenv("NOTIFICATION_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("NOTIFICATION_RETRY_BASE_SECONDS", "10")
    reset_settings_cache()
    _channel(tenant, base_url, chat_webhooks.SLACK_PATH, "slack", project.id)
    recorder.controls.rate_limit_next(1, retry_after=120)
    recorder.fail_status = None
    svc.create_for_users(tenant.id, [lead], kind="sprint_ending", title="Sprint 9 ends", project_id=project.id)
    delivery.plan_pending_deliveries()
    [row] = _deliveries(tenant.id)
    limited = delivery.deliver(row.id)
    assert limited.status == "retry" and limited.retry_in >= 120  # the webhook's Retry-After wins
    recorder.fail_status = 500
    second = delivery.deliver(row.id)
    assert second.status == "retry" and 10 <= second.retry_in <= 20  # base * 2 ** 1, half to full jitter
    assert delivery.deliver(row.id).status == "dead"  # the third attempt was the last
    [letter] = [d for d in delivery.dead_letters() if d.id == row.id]
    assert letter.attempts == 3 and "500" in letter.last_error and letter.tenant_name == tenant.name
    assert chat_webhooks.SLACK_SECRET not in letter.last_error and chat_webhooks.SLACK_SECRET not in letter.recipient
    # An admin sends it again once the channel works.
    recorder.fail_status = None
    delivery.retry_dead_letter(row.id, ADMIN)
    with pytest.raises(ValidationFailed):
        delivery.retry_dead_letter(row.id, ADMIN)  # pending now, not dead
    assert delivery.deliver(row.id).status == "sent"
    assert len(recorder.accepted("slack")) == 1


def test_a_removed_or_refused_webhook_is_dead_at_once_without_leaking_its_url(team, chat, queue) -> None:
    tenant, project, lead, *_ = team
    base_url, _recorder = chat
    _channel(tenant, base_url, chat_webhooks.ARCHIVED_SLACK_PATH, "slack", project.id)
    _channel(tenant, base_url, chat_webhooks.TEAMS_PATH.replace("sig=", "sig=wrong"), "teams", project.id)
    svc.create_for_users(tenant.id, [lead], kind="sprint_ending", title="Sprint 3 ends", project_id=project.id)
    delivery.plan_pending_deliveries()
    outcomes = {d.channel: delivery.deliver(d.id) for d in _deliveries(tenant.id)}
    assert outcomes["slack"].status == "dead" and "410" in outcomes["slack"].error
    assert outcomes["teams"].status == "dead" and "401" in outcomes["teams"].error
    for outcome in outcomes.values():
        assert "archivedsecret0000" not in outcome.error and chat_webhooks.TEAMS_SIG not in outcome.error


def test_admin_manages_channels_and_sends_a_test_message(team, make_tenant, chat) -> None:
    tenant, project, *_ = team
    base_url, recorder = chat
    channel_id = _channel(tenant, base_url, chat_webhooks.TEAMS_PATH, "teams", project.id, name="#acme-web")
    [listed] = chat_channels.list_channels(tenant.id)
    assert listed.url_hint.startswith("http://127.0.0.1:") and chat_webhooks.TEAMS_SIG not in listed.url_hint
    assert listed.scope.startswith(project.key) and listed.name == "#acme-web"
    with public_session() as session:
        stored = session.get(ChatChannel, channel_id).webhook_url_encrypted
    assert chat_webhooks.TEAMS_SIG not in stored  # encrypted at rest
    assert rotate_all_secrets()["chat webhook URLs"] >= 1  # `dmt rotate-keys` re-encrypts it too
    ok = chat_channels.send_test_message(tenant.id, channel_id, ADMIN)
    assert ok.ok and "202" in ok.message
    assert recorder.accepted("teams")[0].body["attachments"][0]["content"]["body"][0]["text"] == "DMT-SLDP test message"
    recorder.fail_status = 503
    failed = chat_channels.send_test_message(tenant.id, channel_id, ADMIN)
    assert not failed.ok and "503" in failed.message
    assert chat_channels.list_channels(tenant.id)[0].last_test_ok is False
    # Saving the same scope and type again replaces the URL; another tenant's id is unknown here.
    again = _channel(tenant, base_url, chat_webhooks.TEAMS_PATH, "teams", project.id)
    assert again == channel_id and len(chat_channels.list_channels(tenant.id)) == 1
    other = make_tenant("dlvo")
    with pytest.raises(NotFound):
        chat_channels.send_test_message(other.id, channel_id, ADMIN)
    with pytest.raises(NotFound):
        chat_channels.delete_channel(other.id, channel_id, ADMIN)
    with pytest.raises(NotFound):
        _channel(other, base_url, chat_webhooks.SLACK_PATH, "slack", project.id)  # not the other tenant's project
    chat_channels.set_channel_active(tenant.id, channel_id, False, ADMIN)
    assert chat_channels.list_channels(tenant.id)[0].is_active is False
    chat_channels.delete_channel(tenant.id, channel_id, ADMIN)
    assert chat_channels.list_channels(tenant.id) == []


def test_webhook_urls_pass_the_ssrf_guard_when_saved(team) -> None:
    tenant, *_ = team

    def resolver_to(address: str):
        return lambda host: [address]

    def save(url: str, address: str) -> None:
        chat_channels.save_channel(
            chat_channels.ChatChannelSave(tenant_id=tenant.id, channel_type="slack", webhook_url=url),
            ADMIN,
            resolver=resolver_to(address),
        )

    with pytest.raises(ValidationFailed, match="private network"):
        save("https://hooks.internal.example/services/T/B/x", "10.1.2.3")
    with pytest.raises(ValidationFailed, match="metadata"):
        save("https://hooks.example/services/T/B/x", "169.254.169.254")
    with pytest.raises(ValidationFailed, match="https"):
        save("http://hooks.example/services/T/B/x", "93.184.216.34")  # a public host over plain http
    with pytest.raises(ValidationFailed):
        save("ftp://hooks.example/x", "93.184.216.34")
    assert chat_channels.list_channels(tenant.id) == []


# --------------------------------------------------------------------------- broker outage and the real worker
def test_a_broker_outage_never_loses_the_notification_or_its_delivery(team, smtp, monkeypatch, redis_url) -> None:
    tenant, _project, lead, *_ = team
    _prefer(tenant, lead, critical_flags="immediate")
    real_app = outbox.celery_app
    broken = Celery("broker-down", broker=f"redis://127.0.0.1:{free_port()}/0")
    broken.conf.broker_connection_timeout = 1
    monkeypatch.setattr(outbox, "celery_app", broken)
    [note] = svc.create_for_users(tenant.id, [lead], kind="critical_flags", title="2 new critical DMT flags")
    delivery.plan_pending_deliveries()
    [row] = _deliveries(tenant.id)
    with public_session() as session:
        assert session.get(Notification, note.id) is not None  # in-app first, whatever the broker does
        waiting = session.exec(
            select(TaskOutbox).where(
                TaskOutbox.task_name == delivery.DELIVER, TaskOutbox.origin == f"notification delivery {row.id}"
            )
        ).one()
        assert waiting.sent_at is None and waiting.attempts == 1
    monkeypatch.setattr(outbox, "celery_app", real_app)  # the broker is back
    report = outbox.dispatch([waiting.id])
    assert report.sent == [waiting.id]


def test_the_worker_delivers_retries_and_dead_letters(team, smtp, chat, queue, database_url, redis_url, tmp_path: Path):
    tenant, project, lead, *_ = team
    base_url, recorder = chat
    _prefer(tenant, lead, critical_flags="immediate")
    _channel(tenant, base_url, chat_webhooks.SLACK_PATH, "slack", project.id)
    _channel(tenant, base_url, chat_webhooks.TEAMS_PATH, "teams", project.id)
    recorder.controls.fail_next(2, status=503)  # the first two posts fail: retried with backoff, then sent
    log = tmp_path / "worker.log"
    env = {
        "SMTP_HOST": smtp.host,
        "SMTP_PORT": str(smtp.port),
        "SMTP_STARTTLS": "false",
        "NOTIFICATION_QUEUE": queue,
        "NOTIFICATION_RETRY_BASE_SECONDS": "0.2",
        "NOTIFICATION_RETRY_MAX_SECONDS": "1",
        "NOTIFICATION_MAX_ATTEMPTS": "4",
    }
    worker = celery_worker.start_worker(database_url, redis_url, queue=queue, name=queue, log=log, env=env)
    try:
        celery_worker.wait_until_ready(worker, log)
        svc.create_for_project_roles(
            tenant.id,
            project.id,
            kind="critical_flags",
            severity="critical",
            title="5 new critical DMT flags",
            link="/compliance",
        )
        delivery.plan_pending_deliveries()
        [message] = smtp.wait_for(1, timeout=60)
        assert message["To"] == _email_of(lead)
        _wait(lambda: all(d.status == "sent" for d in _deliveries(tenant.id)), "every delivery sent", log)
        chat_rows = [d for d in _deliveries(tenant.id) if d.channel != "email"]
        assert sum(d.attempts for d in chat_rows) == 4  # two failed attempts, two successful posts
        # A channel that keeps failing ends in the dead-letter list after the last attempt.
        recorder.fail_status = 500
        svc.create_for_users(tenant.id, [lead], kind="sprint_ending", title="Sprint 11 ends", project_id=project.id)
        delivery.plan_pending_deliveries()
        _wait(lambda: sum(d.status == "dead" for d in _deliveries(tenant.id)) == 2, "two dead letters", log)
        dead = [d for d in _deliveries(tenant.id) if d.status == "dead"]
        assert {d.attempts for d in dead} == {4} and {d.channel for d in dead} == {"slack", "teams"}
    finally:
        celery_worker.stop_worker(worker)


def _wait(condition, what: str, log: Path, timeout: float = 60.0) -> None:
    wait_until(condition, timeout=timeout, what=lambda: f"{what}\n{log.read_text(errors='replace')[-3000:]}")


def test_the_nightly_prune_removes_old_finished_deliveries_only(team) -> None:
    tenant, _project, lead, *_ = team
    old = utcnow() - timedelta(days=45)
    with public_session() as session:
        rows = [
            NotificationDelivery(tenant_id=tenant.id, user_id=lead, channel="email", subject=status, status=status,
                                 updated_at=when)
            for status, when in [("sent", old), ("dead", old), ("pending", old), ("sent", utcnow())]
        ]  # fmt: skip
        session.add_all(rows)
        session.commit()
        ids = [r.id for r in rows]
    assert prune_control_plane().notification_deliveries >= 2
    with public_session() as session:
        left = session.exec(select(NotificationDelivery.id).where(col(NotificationDelivery.id).in_(ids))).all()
    assert sorted(left) == sorted(ids[2:])  # a pending delivery is never pruned, nor a recent one


def test_rest_api_preferences_and_digest_preview_are_the_callers_own(make_tenant, redis_url, monkeypatch) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_api
    from services.auth import login
    from services.users import UserCreate, create_user

    monkeypatch.setenv("REDIS_URL", redis_url)
    tenant = make_tenant("dlvapi")
    password = "a-long-test-password-1"
    email = f"api{uuid.uuid4().hex[:6]}@acme.example"
    user = create_user(UserCreate(email=email, password=password, tenant_id=tenant.id), ADMIN)
    client = TestClient(create_api("company"))
    headers = {"Authorization": f"Bearer {login(email, password).tokens.access_token}"}
    listed = client.get("/api/notifications/preferences", headers=headers)
    assert listed.status_code == 200 and {p["mode"] for p in listed.json()} == {"in_app"}
    saved = client.put("/api/notifications/preferences/new_insight", json={"mode": "digest"}, headers=headers)
    assert saved.status_code == 200 and saved.json() == {
        "kind": "new_insight",
        "label": "New AI insights",
        "mode": "digest",
    }
    assert (
        client.put("/api/notifications/preferences/new_insight", json={"mode": "fax"}, headers=headers).status_code
        == 422
    )
    assert (
        client.put("/api/notifications/preferences/nothing", json={"mode": "digest"}, headers=headers).status_code
        == 422
    )
    svc.create_for_users(tenant.id, [user.id], kind="new_insight", title="Lead time fell")
    preview = client.get("/api/notifications/digest-preview", headers=headers).json()
    assert preview["count"] == 1 and "Lead time fell" in preview["text"] and preview["digest_kinds"] == ["new_insight"]
    assert client.get("/api/notifications/preferences").status_code == 401
