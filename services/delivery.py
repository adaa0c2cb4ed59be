"""Notifications delivered where teams work: email (at once or in a daily digest), Slack and Microsoft Teams.

In-app notifications are written first (services.notifications); everything
here happens afterwards, on the worker, and can only delay or lose an email or
a chat post, never the notification:

1. `plan_pending_deliveries` (every few seconds) takes the notifications not
   yet planned, and in one transaction writes a `NotificationDelivery` per
   message to send (an email for a user whose preference for that kind is
   "immediate"; one post per event to the project's Slack/Teams channel, or
   the tenant's where the project has none), queues one `DELIVER` task per
   delivery through the task outbox, and marks the notifications planned. A
   broker outage leaves the tasks in the outbox; the dispatcher sends them
   later.
2. `plan_digests` (hourly; the digest is due at NOTIFICATION_DIGEST_HOUR_UTC)
   writes one digest email per user and day (a unique index holds it to one)
   with the day's notifications of the kinds the user wants in the digest.
3. `deliver` sends one delivery. A failure that a retry may fix (SMTP 4xx,
   connection errors, HTTP 429/5xx) is retried by the task with exponential
   backoff (Retry-After honoured); after NOTIFICATION_MAX_ATTEMPTS, or at once
   for a failure no retry fixes (a refused address, a removed webhook), the
   delivery is dead: the dead-letter list on the admin health page, where an
   admin can send it again.

Chat webhook URLs are tenant-supplied, so they pass the same SSRF guard and
pinned HTTP client as source URLs (etl.connectors.http).
"""

from __future__ import annotations

import logging
import random
import re
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import unquote, urlsplit

import httpcore
import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import Session, col, select

from core.crypto import SecretDecryptionError, decrypt_secret
from core.errors import NotFound, ValidationFailed
from core.settings import get_settings
from etl.connectors.errors import SourceError, SourceRateLimited, SourceUnavailable
from etl.connectors.http import OutboundGuard, SourceHttpClient
from models.base import utcnow
from models.db import public_session
from models.public import ChatChannel, Notification, NotificationDelivery, NotificationPreference, Tenant, User
from services import audit
from services.audit import Actor
from services.notification_messages import (
    NoteView,
    RenderedMessage,
    content_key,
    render_digest,
    render_immediate,
    slack_payload,
    teams_payload,
)
from services.outbox import add_task, dispatch

log = logging.getLogger(__name__)

#: Task names (the worker registers them; they are queued through the outbox by name).
PLAN_DELIVERIES = "dmt.notifications.plan_deliveries"
PLAN_DIGESTS = "dmt.notifications.plan_digests"
DELIVER = "dmt.notifications.deliver"
#: How often beat plans the deliveries of new notifications.
PLAN_INTERVAL_SECONDS = 10.0
#: The same chat post (same text, same channel) within this window is an event already posted.
CHAT_REPEAT_WINDOW = timedelta(minutes=10)
#: Answers of a chat webhook are a few bytes; anything large is refused.
CHAT_MAX_RESPONSE_BYTES = 64 * 1024
CHAT_TIMEOUT_SECONDS = 15.0

PENDING, SENT, DEAD = "pending", "sent", "dead"


class DeliveryFailed(Exception):
    """A send failed; `permanent` when no retry can fix it, `retry_after` when the receiver said when."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after


@dataclass
class PlanReport:
    notifications: int = 0
    deliveries: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one attempt did: status "sent", "retry" (after `retry_in` seconds), "dead", or "skipped"."""

    status: str
    error: str | None = None
    retry_in: float | None = None


# --------------------------------------------------------------------------- sending
def email_enabled() -> bool:
    """Email goes out only where the platform has an SMTP server (SMTP_HOST)."""
    return bool(get_settings().smtp_host)


def build_email(to_address: str, message: RenderedMessage) -> EmailMessage:
    """A multipart (text and HTML) email from the platform's sender."""
    settings = get_settings()
    email = EmailMessage()
    email["Subject"] = message.subject
    email["From"] = settings.smtp_from
    email["To"] = to_address
    email["Date"] = formatdate(usegmt=True)
    email["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2].strip("> ") or "localhost")
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message.text)
    if message.html:
        email.add_alternative(message.html, subtype="html")
    return email


def _smtp_failure(exc: Exception) -> DeliveryFailed:
    """SMTP's own verdict: 4xx and lost connections are worth a retry, 5xx are not."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(f"{addr}: {code} {msg!r}" for addr, (code, msg) in exc.recipients.items())
        return DeliveryFailed(f"recipient refused ({detail})"[:500], permanent=all(c >= 500 for c in codes))
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return DeliveryFailed(
            f"SMTP login refused ({exc.smtp_code}): check SMTP_USER and SMTP_PASSWORD", permanent=True
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryFailed(f"the SMTP server does not support it: {exc} (check SMTP_STARTTLS)", permanent=True)
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return DeliveryFailed(f"SMTP server answered {exc.smtp_code} {text}"[:500], permanent=exc.smtp_code >= 500)
    return DeliveryFailed(f"SMTP server unreachable ({type(exc).__name__}: {exc})"[:500])


def send_email(email: EmailMessage) -> None:
    """Hand one email to the platform's SMTP server (STARTTLS and login as configured)."""
    settings = get_settings()
    if not settings.smtp_host:
        raise DeliveryFailed("email is not configured on this platform (SMTP_HOST is empty)", permanent=True)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds) as smtp:
            smtp.ehlo()
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            refused = smtp.send_message(email)
    except (smtplib.SMTPException, OSError) as exc:
        raise _smtp_failure(exc) from exc
    if refused:
        raise _smtp_failure(smtplib.SMTPRecipientsRefused(refused))


def chat_payload(channel_type: str, subject: str, text: str, link: str | None, severity: str) -> dict[str, Any]:
    """The JSON body a Slack or Teams incoming webhook takes."""
    if channel_type == "slack":
        return slack_payload(subject, text, link, severity)
    if channel_type == "teams":
        return teams_payload(subject, text, link, severity)
    raise ValueError(f"unknown chat channel type {channel_type!r}")


def post_to_webhook(
    url: str,
    payload: dict[str, Any],
    *,
    guard: OutboundGuard | None = None,
    network_backend: httpcore.NetworkBackend | None = None,
) -> int:
    """POST one message to an incoming-webhook URL (SSRF-guarded, pinned, one attempt); returns the status.

    Raises DeliveryFailed: retryable for 429 (with its Retry-After), 5xx and
    unreachable hosts; permanent for everything else (a refused address, a
    removed or revoked webhook answering 4xx).
    """
    try:
        with SourceHttpClient(
            url,
            guard=guard,
            network_backend=network_backend,
            max_retries=0,
            timeout=CHAT_TIMEOUT_SECONDS,
            max_response_bytes=CHAT_MAX_RESPONSE_BYTES,
            source_label="chat webhook",
        ) as client:
            response = client.request("POST", client.base_url, json=payload)
    except SourceRateLimited as exc:
        raise DeliveryFailed(redact_url(str(exc), url)[:500], retry_after=exc.retry_after) from None
    except SourceUnavailable as exc:
        raise DeliveryFailed(redact_url(str(exc), url)[:500]) from None
    except SourceError as exc:
        raise DeliveryFailed(redact_url(str(exc), url)[:500], permanent=True) from None
    return response.status_code


def redact_url(text: str, url: str) -> str:
    """`text` without the secret parts of a webhook URL (its path and query carry the credential)."""
    parts = urlsplit(url)
    for secret in sorted({parts.path, unquote(parts.path), parts.query, unquote(parts.query)}, key=len, reverse=True):
        if len(secret) > 1:
            text = text.replace(secret, "/…" if secret.startswith("/") else "…")
    return re.sub(r"\?[^\s)]+", "?…", text)


def url_hint(url: str) -> str:
    """What an admin sees of a webhook URL: scheme, host and its last four characters."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…{url.strip()[-4:]}"


# --------------------------------------------------------------------------- planning
def _view(n: Notification) -> NoteView:
    return NoteView(
        id=n.id or 0,
        kind=n.kind,
        severity=n.severity,
        title=n.title,
        body=n.body,
        link=n.link,
        created_at=n.created_at,
    )


def _chat_targets(channels: list[ChatChannel], tenant_id: int, project_id: int | None, kind: str) -> list[ChatChannel]:
    """Per channel type, the project's channel if it has one, else the tenant's; only those taking `kind`."""
    targets = []
    for channel_type in ("slack", "teams"):
        own = [c for c in channels if c.tenant_id == tenant_id and c.channel_type == channel_type]
        chosen = next((c for c in own if project_id is not None and c.project_id == project_id), None)
        chosen = chosen or next((c for c in own if c.project_id is None), None)
        if chosen is not None and chosen.is_active and (not chosen.kinds or kind in chosen.kinds):
            targets.append(chosen)
    return targets


def _queue(session: Session, delivery_ids: list[int]) -> list[int]:
    """One DELIVER task per delivery through the outbox (in the caller's transaction); the outbox ids."""
    return [add_task(session, DELIVER, [i], origin=f"notification delivery {i}").id or 0 for i in delivery_ids]


def _dispatch_now(outbox_ids: list[int]) -> None:
    """Send the just-committed tasks to the broker; one that cannot go waits for the outbox dispatcher."""
    if not outbox_ids:
        return
    try:
        dispatch(outbox_ids)
    except Exception:  # the rows stay in the outbox; the periodic dispatcher retries them
        log.warning("delivery tasks left in the outbox for the dispatcher", exc_info=True)


def plan_pending_deliveries(limit: int = 500, now: datetime | None = None) -> PlanReport:
    """Plan the deliveries of notifications not yet planned (and re-queue forgotten ones); see the module doc."""
    now = now or utcnow()
    settings = get_settings()
    report = PlanReport()
    with public_session() as session:
        notes = session.exec(
            select(Notification)
            .where(col(Notification.delivery_planned_at).is_(None))
            .order_by(col(Notification.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        deliveries: list[NotificationDelivery] = []
        if notes:
            deliveries = _plan(session, list(notes), now, settings.company_portal_url)
            for note in notes:
                note.delivery_planned_at = now
                session.add(note)
            session.add_all(deliveries)
            session.flush()
        requeued = _stale_pending(session, now)
        outbox_ids = _queue(session, [d.id or 0 for d in deliveries + requeued])
        session.commit()
        report.notifications = len(notes)
        report.deliveries = [d.id or 0 for d in deliveries]
        report.requeued = [d.id or 0 for d in requeued]
    _dispatch_now(outbox_ids)
    return report


def _plan(session: Session, notes: list[Notification], now: datetime, portal_url: str) -> list[NotificationDelivery]:
    user_ids = {n.user_id for n in notes}
    immediate = set()
    if email_enabled():
        immediate = set(
            session.exec(
                select(NotificationPreference.user_id, NotificationPreference.kind)
                .join(User, col(User.id) == NotificationPreference.user_id)
                .where(
                    col(NotificationPreference.user_id).in_(user_ids),
                    NotificationPreference.mode == "immediate",
                    NotificationPreference.tenant_id == User.tenant_id,
                    User.is_active == sa.true(),
                )
            ).all()
        )
    deliveries: list[NotificationDelivery] = []
    for note in notes:
        if (note.user_id, note.kind) in immediate:
            message = render_immediate(_view(note), portal_url)
            deliveries.append(
                NotificationDelivery(
                    tenant_id=note.tenant_id,
                    user_id=note.user_id,
                    channel="email",
                    purpose="immediate",
                    notification_ids=[note.id],
                    severity=message.severity,
                    subject=message.subject,
                    body_text=message.text,
                    body_html=message.html,
                    link=message.link,
                )
            )
    deliveries += _plan_chat(session, notes, now, portal_url)
    return deliveries


def _plan_chat(
    session: Session, notes: list[Notification], now: datetime, portal_url: str
) -> list[NotificationDelivery]:
    """One post per event (the notifications one event wrote for several people say the same) per channel."""
    tenant_ids = {n.tenant_id for n in notes}
    channels = list(
        session.exec(
            select(ChatChannel)
            .join(Tenant, col(Tenant.id) == ChatChannel.tenant_id)
            .where(col(ChatChannel.tenant_id).in_(tenant_ids), Tenant.status == "active")
        ).all()
    )
    if not channels:
        return []
    events: dict[tuple[Any, ...], list[Notification]] = {}
    for note in notes:
        events.setdefault((note.tenant_id, note.project_id, note.kind, note.title, note.body), []).append(note)
    deliveries: list[NotificationDelivery] = []
    for (tenant_id, project_id, kind, title, body), group in events.items():
        first = group[0]
        link = render_immediate(_view(first), portal_url).link
        for channel in _chat_targets(channels, tenant_id, project_id, kind):
            key = content_key(channel.id, kind, project_id, title, body)
            seen = session.exec(
                select(NotificationDelivery.id).where(
                    NotificationDelivery.chat_channel_id == channel.id,
                    NotificationDelivery.content_key == key,
                    NotificationDelivery.created_at >= now - CHAT_REPEAT_WINDOW,
                )
            ).first()
            if seen is not None:
                continue
            deliveries.append(
                NotificationDelivery(
                    tenant_id=tenant_id,
                    chat_channel_id=channel.id,
                    channel=channel.channel_type,
                    purpose="immediate",
                    notification_ids=[n.id for n in group],
                    severity=first.severity,
                    subject=title,
                    body_text=body,
                    link=link,
                    content_key=key,
                )
            )
    return deliveries


def _stale_pending(session: Session, now: datetime) -> list[NotificationDelivery]:
    """Pending deliveries nobody touched for longer than the longest retry wait: their task was lost."""
    settings = get_settings()
    cutoff = now - timedelta(seconds=settings.notification_retry_max_seconds + 900)
    rows = session.exec(
        select(NotificationDelivery)
        .where(NotificationDelivery.status == PENDING, NotificationDelivery.updated_at < cutoff)
        .order_by(col(NotificationDelivery.id))
        .limit(200)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        row.updated_at = now
        session.add(row)
    return list(rows)


# --------------------------------------------------------------------------- digests
def digest_window(now: datetime, hour: int | None = None) -> tuple[date, datetime, datetime]:
    """(digest date, start, end) of the last digest due at or before `now`: the 24 hours before its send time."""
    hour = get_settings().notification_digest_hour_utc if hour is None else hour
    end = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if end > now:
        end -= timedelta(days=1)
    return end.date(), end - timedelta(days=1), end


def _digest_notes(
    session: Session, start: datetime, end: datetime, user_id: int | None = None
) -> dict[int, list[Notification]]:
    """{user id: the notifications in [start, end) of the kinds the user wants in the digest}, active users only."""
    query = (
        select(Notification)
        .join(
            NotificationPreference,
            sa.and_(
                NotificationPreference.user_id == Notification.user_id,
                NotificationPreference.kind == Notification.kind,
                NotificationPreference.tenant_id == Notification.tenant_id,
                NotificationPreference.mode == "digest",
            ),
        )
        .join(User, col(User.id) == Notification.user_id)
        .where(
            Notification.created_at >= start,
            Notification.created_at < end,
            User.is_active == sa.true(),
            User.tenant_id == Notification.tenant_id,
        )
        .order_by(col(Notification.user_id), col(Notification.created_at), col(Notification.id))
    )
    if user_id is not None:
        query = query.where(Notification.user_id == user_id)
    grouped: dict[int, list[Notification]] = {}
    for note in session.exec(query).all():
        grouped.setdefault(note.user_id, []).append(note)
    return grouped


def plan_digests(now: datetime | None = None) -> list[int]:
    """Write and queue today's digest for every user who has digest notifications (once per user and day).

    Runs hourly; the digest is due at NOTIFICATION_DIGEST_HOUR_UTC and covers the
    24 hours before it. Returns the new deliveries' ids.
    """
    if not email_enabled():
        return []
    now = now or utcnow()
    digest_date, start, end = digest_window(now)
    portal_url = get_settings().company_portal_url
    with public_session() as session:
        done = set(
            session.exec(
                select(NotificationDelivery.user_id).where(NotificationDelivery.digest_date == digest_date)
            ).all()
        )
        created: list[int] = []
        for user_id, notes in _digest_notes(session, start, end).items():
            if user_id in done:
                continue
            message = render_digest([_view(n) for n in notes], digest_date, portal_url)
            inserted = session.execute(
                pg_insert(NotificationDelivery)
                .values(
                    tenant_id=notes[0].tenant_id,
                    user_id=user_id,
                    channel="email",
                    purpose="digest",
                    notification_ids=[n.id for n in notes],
                    digest_date=digest_date,
                    severity=message.severity,
                    subject=message.subject,
                    body_text=message.text,
                    body_html=message.html,
                    link=message.link,
                    content_key="",
                    status=PENDING,
                    attempts=0,
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing(
                    index_elements=["user_id", "digest_date"], index_where=sa.text("digest_date IS NOT NULL")
                )
                .returning(NotificationDelivery.id)
            ).first()
            if inserted is not None:
                created.append(int(inserted[0]))
        outbox_ids = _queue(session, created)
        session.commit()
    _dispatch_now(outbox_ids)
    return created


class DigestPreview(BaseModel):
    """What the user's next digest says so far (subject, text and HTML as sent)."""

    subject: str
    text: str
    html: str
    count: int
    digest_kinds: list[str]
    window_start: str
    send_at: str
    email_enabled: bool


def preview_digest(user_id: int, tenant_id: int, now: datetime | None = None) -> DigestPreview:
    """The digest the user will get at the next send time, from the notifications so far."""
    now = now or utcnow()
    _, _, last_end = digest_window(now)
    send_at = last_end + timedelta(days=1)
    with public_session() as session:
        kinds = list(
            session.exec(
                select(NotificationPreference.kind).where(
                    NotificationPreference.user_id == user_id,
                    NotificationPreference.tenant_id == tenant_id,
                    NotificationPreference.mode == "digest",
                )
            ).all()
        )
        notes = _digest_notes(session, last_end, send_at, user_id=user_id).get(user_id, [])
    message = render_digest([_view(n) for n in notes], send_at.date(), get_settings().company_portal_url)
    return DigestPreview(
        subject=message.subject,
        text=message.text,
        html=message.html,
        count=len(notes),
        digest_kinds=sorted(kinds),
        window_start=last_end.isoformat(),
        send_at=send_at.isoformat(),
        email_enabled=email_enabled(),
    )


# --------------------------------------------------------------------------- delivering
def retry_delay(attempts: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
    """Seconds before the next attempt: base * 2**(attempts-1) with jitter (half to full), capped; a receiver's
    Retry-After wins when longer."""
    settings = get_settings()
    ceiling = min(
        settings.notification_retry_max_seconds, settings.notification_retry_base_seconds * 2 ** max(0, attempts - 1)
    )
    delay = ceiling * (0.5 + 0.5 * (rng or random).random())
    if retry_after is not None:
        delay = max(delay, min(retry_after, settings.notification_retry_max_seconds))
    return delay


def _send(session: Session, row: NotificationDelivery) -> None:
    if row.channel == "email":
        user = session.get(User, row.user_id) if row.user_id is not None else None
        if user is None or not user.is_active:
            raise DeliveryFailed("the recipient's account is deactivated", permanent=True)
        send_email(
            build_email(user.email, RenderedMessage(row.subject, row.body_text, row.body_html, row.link, row.severity))
        )
        return
    channel = session.get(ChatChannel, row.chat_channel_id) if row.chat_channel_id is not None else None
    if channel is None:
        raise DeliveryFailed("the chat channel was removed", permanent=True)
    if not channel.is_active:
        raise DeliveryFailed("the chat channel is switched off", permanent=True)
    url = decrypt_secret(channel.webhook_url_encrypted) or ""
    post_to_webhook(url, chat_payload(channel.channel_type, row.subject, row.body_text, row.link, row.severity))


def _unexpected(exc: Exception) -> DeliveryFailed:
    """A failure the senders did not classify: a key that cannot decrypt is final, anything else is retried."""
    if isinstance(exc, SecretDecryptionError):
        return DeliveryFailed(f"the webhook URL cannot be decrypted: {exc}", permanent=True)
    log.exception("notification delivery failed unexpectedly")
    return DeliveryFailed(f"{type(exc).__name__}: {exc}"[:500])


def deliver(
    delivery_id: int, *, sender: Callable[[Session, NotificationDelivery], None] | None = None
) -> DeliveryOutcome:
    """Make one attempt at a pending delivery and record it (sent, pending with the error, or dead).

    The row is locked while sending, so a second task for the same delivery
    (the outbox is at-least-once) skips it instead of sending twice.
    """
    settings = get_settings()
    with public_session() as session:
        row = session.exec(
            select(NotificationDelivery).where(NotificationDelivery.id == delivery_id).with_for_update(skip_locked=True)
        ).first()
        if row is None or row.status != PENDING:
            return DeliveryOutcome("skipped", None if row is None else f"already {row.status}")
        now = utcnow()
        row.attempts += 1
        row.updated_at = now
        try:
            (sender or _send)(session, row)
        except Exception as exc:  # noqa: BLE001 - any failure is recorded; only DeliveryFailed says how final it is
            failure = exc if isinstance(exc, DeliveryFailed) else _unexpected(exc)
            row.last_error = failure.message[:500]
            if failure.permanent or row.attempts >= settings.notification_max_attempts:
                row.status, row.dead_at = DEAD, now
                outcome = DeliveryOutcome("dead", row.last_error)
            else:
                outcome = DeliveryOutcome("retry", row.last_error, retry_delay(row.attempts, failure.retry_after))
        else:
            row.status, row.sent_at, row.last_error = SENT, now, None
            outcome = DeliveryOutcome("sent")
        session.add(row)
        session.commit()
    if outcome.status == "dead":
        log.warning(
            "notification delivery %s is dead after %s attempt(s): %s", delivery_id, row.attempts, outcome.error
        )
    return outcome


# --------------------------------------------------------------------------- dead letters
class DeadLetter(BaseModel):
    id: int
    tenant_name: str
    channel: str
    purpose: str
    recipient: str
    subject: str
    attempts: int
    last_error: str
    dead_at: str


def dead_letters(limit: int = 50) -> list[DeadLetter]:
    """The most recent dead deliveries, across tenants (for platform admins' health page)."""
    with public_session() as session:
        rows = session.exec(
            select(NotificationDelivery, Tenant.name, User.email, ChatChannel.name, ChatChannel.url_hint)
            .join(Tenant, col(Tenant.id) == NotificationDelivery.tenant_id)
            .outerjoin(User, col(User.id) == NotificationDelivery.user_id)
            .outerjoin(ChatChannel, col(ChatChannel.id) == NotificationDelivery.chat_channel_id)
            .where(NotificationDelivery.status == DEAD)
            .order_by(col(NotificationDelivery.dead_at).desc(), col(NotificationDelivery.id).desc())
            .limit(limit)
        ).all()
    return [
        DeadLetter(
            id=d.id or 0,
            tenant_name=tenant_name,
            channel=d.channel,
            purpose=d.purpose,
            recipient=email or channel_name or hint or "(removed channel)",
            subject=d.subject,
            attempts=d.attempts,
            last_error=d.last_error or "",
            dead_at=d.dead_at.isoformat() if d.dead_at else "",
        )
        for d, tenant_name, email, channel_name, hint in rows
    ]


def dead_letter_count() -> int:
    with public_session() as session:
        return int(
            session.exec(
                select(sa.func.count()).select_from(NotificationDelivery).where(NotificationDelivery.status == DEAD)
            ).one()
        )


def retry_dead_letter(delivery_id: int, actor: Actor) -> None:
    """Send a dead delivery again (after the cause was fixed): pending with fresh attempts, queued, audited."""
    with public_session() as session:
        row = session.get(NotificationDelivery, delivery_id, with_for_update=True)
        if row is None:
            raise NotFound(f"delivery {delivery_id} not found")
        if row.status != DEAD:
            raise ValidationFailed(f"delivery {delivery_id} is {row.status}, not dead")
        row.status, row.attempts, row.dead_at, row.updated_at = PENDING, 0, None, utcnow()
        session.add(row)
        outbox_ids = _queue(session, [delivery_id])
        audit.record(
            session,
            actor,
            "notification_delivery.retry",
            "notification_delivery",
            delivery_id,
            new={"channel": row.channel, "last_error": row.last_error},
            tenant_id=row.tenant_id,
        )
        session.commit()
    _dispatch_now(outbox_ids)


def delivery_counts() -> dict[str, int]:
    """Deliveries per status (health pages)."""
    with public_session() as session:
        rows = session.exec(
            select(NotificationDelivery.status, sa.func.count()).group_by(NotificationDelivery.status)
        ).all()
    return {PENDING: 0, SENT: 0, DEAD: 0, **{status: int(n) for status, n in rows}}
