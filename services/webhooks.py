"""Webhook deliveries from Jira, GitHub and Azure DevOps: verify, refuse replays, refresh the source.

Verification:
- GitHub: `X-Hub-Signature-256: sha256=<HMAC-SHA256(secret, body)>`, delivery id `X-GitHub-Delivery`.
- Jira: the same HMAC header when a secret is configured on the Jira webhook
  (`X-Hub-Signature: sha256=...`), or the shared secret in `X-DMT-Webhook-Secret`;
  delivery id `X-Atlassian-Webhook-Identifier`; the body's `timestamp` (ms).
- Azure DevOps service hooks: the shared secret as the basic-auth password or in
  `X-DMT-Webhook-Secret`; delivery id = the event's `id`; the body's `createdDate`.

Replays. A delivery is keyed on what its signature covers, the SHA-256 of the
body, together with its delivery id (public.webhook_deliveries). The same id
with the same body again is the tool retrying: it is answered as a duplicate
and queues nothing twice. The same body under another id (GitHub's id header is
not signed), or a known id with another body, is refused as a replay. Where the
tool sends a timestamp, a delivery older than WEBHOOK_MAX_AGE_SECONDS (or from
more than five minutes in the future) is refused too.

A verified delivery is recorded together with an outbox row for an incremental
sync of its source, in one transaction (`services.outbox`): if the broker is
down the sync waits in the outbox instead of being lost, and the tool is not
asked to retry. The changed item is then fetched through the normal path
(changelog, reviews, field mapping) and compliance and metrics recomputed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from core.crypto import decrypt_secret, encrypt_secret
from core.errors import AuthenticationFailed, Conflict, NotFound, PermissionDenied, ServiceError, ValidationFailed
from core.queue import SYNC_SOURCE
from core.settings import get_settings
from models.base import utcnow
from models.db import public_session
from models.public import SourceConfig, Tenant, WebhookDelivery
from services import audit
from services.audit import Actor
from services.outbox import add_task, dispatch, task_id_of
from services.security import new_secret

SUPPORTED = {"jira", "github", "azure_boards", "azure_devops_git"}


#: A delivery may claim a send time this far ahead of our clock.
CLOCK_SKEW = timedelta(minutes=5)


class PayloadTooLarge(ServiceError):
    status_code = 413
    code = "payload_too_large"


@dataclass
class Delivery:
    source_id: int
    tenant_slug: str
    source_type: str
    delivery_id: str
    event: str
    outbox_id: int | None = None
    duplicate: bool = False


@dataclass(frozen=True)
class _Claims:
    """What a delivery says about itself, once its signature or secret checked out."""

    delivery_id: str
    event: str
    sent_at: datetime | None


def _header(headers: dict[str, str], name: str) -> str:
    return headers.get(name.lower(), "")


def _hmac_ok(secret: str, body: bytes, signature: str) -> bool:
    if not signature.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.removeprefix("sha256="))


def _shared_secret_ok(secret: str, headers: dict[str, str]) -> bool:
    given = _header(headers, "x-dmt-webhook-secret")
    if given and hmac.compare_digest(given, secret):
        return True
    auth = _header(headers, "authorization")
    if auth.lower().startswith("basic "):
        try:
            _user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return hmac.compare_digest(password, secret)
    return False


def _sent_at(value: Any) -> datetime | None:
    """The tool's send time: epoch milliseconds (Jira) or an ISO date (Azure DevOps)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _claims(source_type: str, secret: str, headers: dict[str, str], body: bytes, payload: dict[str, Any]) -> _Claims:
    """Check the signature or shared secret; return the delivery's id, event and send time."""
    if source_type == "github":
        ok = _hmac_ok(secret, body, _header(headers, "x-hub-signature-256"))
        claims = _Claims(_header(headers, "x-github-delivery"), _header(headers, "x-github-event"), None)
    elif source_type == "jira":
        signature = _header(headers, "x-hub-signature") or _header(headers, "x-hub-signature-256")
        ok = _hmac_ok(secret, body, signature) if signature else _shared_secret_ok(secret, headers)
        delivery_id = _header(headers, "x-atlassian-webhook-identifier") or str(payload.get("timestamp", ""))
        claims = _Claims(delivery_id, str(payload.get("webhookEvent", "")), _sent_at(payload.get("timestamp")))
    else:
        ok = _shared_secret_ok(secret, headers)
        claims = _Claims(
            str(payload.get("id", "")), str(payload.get("eventType", "")), _sent_at(payload.get("createdDate"))
        )
    if not ok:
        raise AuthenticationFailed("the webhook signature or secret does not match: delivery refused")
    if not claims.delivery_id:
        raise ValidationFailed(
            "the delivery has no id (X-GitHub-Delivery, X-Atlassian-Webhook-Identifier or the event id)"
        )
    return claims


def _check_age(sent_at: datetime | None) -> None:
    if sent_at is None:
        return
    now = utcnow()
    max_age = timedelta(seconds=get_settings().webhook_max_age_seconds)
    if sent_at < now - max_age:
        raise Conflict(
            f"the delivery was sent at {sent_at.isoformat(timespec='seconds')}, more than "
            f"{int(max_age.total_seconds())} s ago: replay refused"
        )
    if sent_at > now + CLOCK_SKEW:
        raise Conflict(f"the delivery claims to be sent in the future ({sent_at.isoformat(timespec='seconds')})")


def _seen(session: Session, source_id: int, delivery_id: str, digest: str) -> WebhookDelivery | None:
    return session.exec(
        select(WebhookDelivery).where(
            WebhookDelivery.source_id == source_id,
            sa.or_(WebhookDelivery.delivery_id == delivery_id, WebhookDelivery.body_digest == digest),
        )
    ).first()


def _duplicate_or_replay(seen: WebhookDelivery, delivery_id: str, digest: str) -> None:
    """Accept the tool's retry of a delivery we have (same id, same body); refuse anything else."""
    if seen.delivery_id == delivery_id and seen.body_digest == digest:
        return
    if seen.delivery_id == delivery_id:
        raise Conflict(f"delivery {delivery_id} was already received with another body: replay refused")
    raise Conflict(f"this body was already delivered as {seen.delivery_id}: replay refused")


def verify_delivery(source_id: int, headers: dict[str, str], body: bytes) -> Delivery:
    """Check the signature, the send time and replays; record the delivery and queue its sync in one step.

    Raises with a clear reason. The tool's retry of a delivery already recorded
    comes back as a Delivery with `duplicate=True` (nothing queued again).
    """
    headers = {k.lower(): v for k, v in headers.items()}
    digest = hashlib.sha256(body).hexdigest()
    with public_session() as session:
        source = session.get(SourceConfig, source_id)
        if source is None:
            raise NotFound(f"source {source_id} not found")
        tenant = session.get(Tenant, source.tenant_id)
        if source.source_type not in SUPPORTED:
            raise ValidationFailed(f"{source.source_type} sources do not send webhooks here")
        if not source.webhook_secret_encrypted:
            raise PermissionDenied(
                "webhooks are not enabled for this source: generate a webhook secret in the admin portal"
            )
        if not source.is_active or tenant is None or tenant.status != "active":
            raise PermissionDenied("this source or its company is deactivated")
        secret = decrypt_secret(source.webhook_secret_encrypted) or ""
        try:
            payload: dict[str, Any] = json.loads(body or b"{}")
        except ValueError as exc:
            raise ValidationFailed("the delivery body is not JSON") from exc
        if not isinstance(payload, dict):
            raise ValidationFailed("the delivery body is not a JSON object")
        claims = _claims(source.source_type, secret, headers, body, payload)
        delivery_id = claims.delivery_id[:200]
        delivery = Delivery(source_id, tenant.slug, source.source_type, delivery_id, claims.event[:100])
        seen = _seen(session, source_id, delivery_id, digest)
        if seen is not None:
            _duplicate_or_replay(seen, delivery_id, digest)
            return replace(delivery, outbox_id=seen.outbox_id, duplicate=True)
        _check_age(claims.sent_at)
        outbox = add_task(
            session, SYNC_SOURCE, [tenant.slug, source_id, "incremental"], origin=f"webhook:{source_id}:{delivery_id}"
        )
        session.add(
            WebhookDelivery(
                source_id=source_id,
                delivery_id=delivery_id,
                event=delivery.event,
                body_digest=digest,
                outbox_id=outbox.id,
            )
        )
        try:
            session.commit()
        except sa.exc.IntegrityError:
            session.rollback()  # the same delivery arriving twice at once: the other request recorded it
            seen = _seen(session, source_id, delivery_id, digest)
            if seen is None:
                raise
            _duplicate_or_replay(seen, delivery_id, digest)
            return replace(delivery, outbox_id=seen.outbox_id, duplicate=True)
        return replace(delivery, outbox_id=outbox.id)


def enqueue_refresh(delivery: Delivery) -> str | None:
    """Send the delivery's queued sync to the broker now if it can be; returns its task id, or None.

    None means the broker could not take it yet: the outbox keeps the sync and
    the periodic dispatcher sends it when the broker is back.
    """
    if delivery.outbox_id is None:
        return None
    if not delivery.duplicate:
        dispatch([delivery.outbox_id])
    return task_id_of(delivery.outbox_id)


def rotate_webhook_secret(source_id: int, actor: Actor) -> str:
    """Create (or replace) a source's webhook secret; returned once for the tool's webhook settings."""
    secret = new_secret()
    with public_session() as session:
        source = session.get(SourceConfig, source_id)
        if source is None:
            raise NotFound(f"source {source_id} not found")
        source.webhook_secret_encrypted = encrypt_secret(secret)
        audit.record(
            session,
            actor,
            "source.webhook_secret",
            "source",
            source.id,
            new={"webhook_secret": "(set)"},
            tenant_id=source.tenant_id,
        )
        session.commit()
    return secret
