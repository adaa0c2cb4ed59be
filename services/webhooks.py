"""Webhook deliveries from Jira, GitHub and Azure DevOps: verify, refuse replays, refresh the source.

Verification:
- GitHub: `X-Hub-Signature-256: sha256=<HMAC-SHA256(secret, body)>`, delivery id `X-GitHub-Delivery`.
- Jira: the same HMAC header when a secret is configured on the Jira webhook
  (`X-Hub-Signature: sha256=...`), or the shared secret in `X-DMT-Webhook-Secret`;
  delivery id `X-Atlassian-Webhook-Identifier`.
- Azure DevOps service hooks: the shared secret as the basic-auth password or in
  `X-DMT-Webhook-Secret`; delivery id = the event's `id`.
Every delivery id is stored once (public.webhook_deliveries): a replay is refused.

A verified delivery enqueues an incremental sync of its source, so the changed
item is fetched through the normal path (changelog, reviews, field mapping),
then compliance and metrics are recomputed for it: flags appear within seconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from core.crypto import decrypt_secret, encrypt_secret
from core.errors import AuthenticationFailed, Conflict, NotFound, PermissionDenied, ValidationFailed
from core.queue import SYNC_SOURCE
from core.queue import app as celery_app
from models.db import public_session
from models.public import SourceConfig, Tenant, WebhookDelivery
from services import audit
from services.audit import Actor
from services.security import new_secret

SUPPORTED = {"jira", "github", "azure_boards", "azure_devops_git"}


@dataclass
class Delivery:
    source_id: int
    tenant_slug: str
    source_type: str
    delivery_id: str
    event: str


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


def verify_delivery(source_id: int, headers: dict[str, str], body: bytes) -> Delivery:
    """Check the signature or secret and the delivery id; record the delivery. Raises with a clear reason."""
    headers = {k.lower(): v for k, v in headers.items()}
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
        if source.source_type == "github":
            ok = _hmac_ok(secret, body, _header(headers, "x-hub-signature-256"))
            delivery_id, event = _header(headers, "x-github-delivery"), _header(headers, "x-github-event")
        elif source.source_type == "jira":
            signature = _header(headers, "x-hub-signature") or _header(headers, "x-hub-signature-256")
            ok = _hmac_ok(secret, body, signature) if signature else _shared_secret_ok(secret, headers)
            delivery_id = _header(headers, "x-atlassian-webhook-identifier") or str(payload.get("timestamp", ""))
            event = str(payload.get("webhookEvent", ""))
        else:
            ok = _shared_secret_ok(secret, headers)
            delivery_id, event = str(payload.get("id", "")), str(payload.get("eventType", ""))
        if not ok:
            raise AuthenticationFailed("the webhook signature or secret does not match: delivery refused")
        if not delivery_id:
            raise ValidationFailed(
                "the delivery has no id (X-GitHub-Delivery, X-Atlassian-Webhook-Identifier or the event id)"
            )
        session.add(WebhookDelivery(source_id=source_id, delivery_id=delivery_id[:200], event=event[:100]))
        try:
            session.commit()
        except sa.exc.IntegrityError as exc:
            raise Conflict(f"delivery {delivery_id} was already received: replay refused") from exc
        return Delivery(source_id, tenant.slug, source.source_type, delivery_id, event)


def enqueue_refresh(delivery: Delivery) -> str:
    """Ask a worker for an incremental sync of the delivery's source; returns the task id."""
    result = celery_app.send_task(SYNC_SOURCE, args=(delivery.tenant_slug, delivery.source_id, "incremental"))
    return result.id


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
