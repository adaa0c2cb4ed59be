"""Slack and Microsoft Teams channels of a tenant or one of its projects (platform admins manage them).

A channel is an incoming-webhook URL. The URL is a credential (anyone holding it
can post), so it is stored encrypted and shown only as scheme, host and its last
characters. It is tenant-supplied, so it passes the SSRF guard when saved and
every post goes through the pinned client (services.delivery.post_to_webhook).
Plain http is accepted only for hosts the operator allowed on a private network
(ALLOWED_PRIVATE_HOSTS): on the internet the URL would travel in clear.
One channel per type per scope: saving a Slack URL for a project replaces its
previous Slack URL. Every change writes an audit row.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

import httpcore
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from core.crypto import decrypt_secret, encrypt_secret
from core.errors import NotFound, ValidationFailed
from etl.connectors.errors import SourceConfigError
from etl.connectors.http import OutboundGuard, Resolver, validate_base_url
from models.base import utcnow
from models.db import public_session
from models.public import ChatChannel, Project, Tenant
from services import audit
from services.audit import Actor
from services.delivery import DeliveryFailed, chat_payload, post_to_webhook, url_hint
from services.notifications import NOTIFICATION_KINDS

CHANNEL_TYPES = {"slack": "Slack", "teams": "Microsoft Teams"}


class ChatChannelSave(BaseModel):
    """A Slack or Teams webhook for the tenant (project_id None) or one of its projects."""

    tenant_id: int
    project_id: int | None = None
    channel_type: Literal["slack", "teams"]
    webhook_url: str = Field(min_length=1, max_length=2000)
    name: str = Field(default="", max_length=200)
    kinds: list[str] = Field(default_factory=list)


class ChatChannelPublic(BaseModel):
    id: int
    tenant_id: int
    project_id: int | None
    scope: str  # "whole company" or the project's key and name
    channel_type: str
    name: str
    url_hint: str
    kinds: list[str]
    is_active: bool
    last_test_at: str | None
    last_test_ok: bool | None
    last_test_message: str | None


class TestResult(BaseModel):
    ok: bool
    message: str


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _public(channel: ChatChannel, projects: dict[int, Project]) -> ChatChannelPublic:
    project = projects.get(channel.project_id) if channel.project_id is not None else None
    scope = f"{project.key} · {project.name}" if project else "whole company"
    return ChatChannelPublic(
        id=channel.id or 0,
        tenant_id=channel.tenant_id,
        project_id=channel.project_id,
        scope=scope,
        channel_type=channel.channel_type,
        name=channel.name,
        url_hint=channel.url_hint,
        kinds=list(channel.kinds or []),
        is_active=channel.is_active,
        last_test_at=_iso(channel.last_test_at),
        last_test_ok=channel.last_test_ok,
        last_test_message=channel.last_test_message,
    )


def _projects(session: Session, tenant_id: int) -> dict[int, Project]:
    return {p.id or 0: p for p in session.exec(select(Project).where(Project.tenant_id == tenant_id)).all()}


def _audit_view(channel: ChatChannel) -> dict[str, object]:
    """What the audit log keeps of a channel: never the URL, only its hint."""
    return {
        "project_id": channel.project_id,
        "channel_type": channel.channel_type,
        "name": channel.name,
        "url_hint": channel.url_hint,
        "kinds": list(channel.kinds or []),
        "is_active": channel.is_active,
    }


def list_channels(tenant_id: int) -> list[ChatChannelPublic]:
    """The tenant's channels, company-wide first, then by project."""
    with public_session() as session:
        projects = _projects(session, tenant_id)
        rows = session.exec(
            select(ChatChannel)
            .where(ChatChannel.tenant_id == tenant_id)
            .order_by(col(ChatChannel.project_id).nulls_first(), col(ChatChannel.channel_type))
        ).all()
        return [_public(c, projects) for c in rows]


def check_webhook_url(url: str, *, guard: OutboundGuard | None = None, resolver: Resolver | None = None) -> str:
    """Validate a webhook URL (SSRF guard; https unless the host is an allowed private one); return it normalised."""
    try:
        normalised = validate_base_url(url, guard=guard, resolver=resolver)
    except SourceConfigError as exc:
        raise ValidationFailed(str(exc).replace("base URL", "webhook URL"), field="webhook_url") from None
    parts = urlsplit(normalised)
    if parts.scheme != "https":
        guard = guard or OutboundGuard.from_settings(resolver)
        try:
            addresses = guard.checked_addresses(parts.hostname or "", parts.port or 80)
        except SourceConfigError as exc:
            raise ValidationFailed(str(exc), field="webhook_url") from None
        if any(ipaddress.ip_address(a).is_global for a in addresses):
            raise ValidationFailed(
                "the webhook URL must start with https://: it is a credential and would travel in clear",
                field="webhook_url",
            )
    return normalised


def save_channel(
    data: ChatChannelSave, actor: Actor, *, guard: OutboundGuard | None = None, resolver: Resolver | None = None
) -> ChatChannelPublic:
    """Create the tenant's (or project's) channel of that type, or replace its URL, name and kinds."""
    unknown = sorted(set(data.kinds) - set(NOTIFICATION_KINDS))
    if unknown:
        raise ValidationFailed(f"unknown notification kinds: {', '.join(unknown)}", field="kinds")
    url = check_webhook_url(data.webhook_url, guard=guard, resolver=resolver)
    with public_session() as session:
        if session.get(Tenant, data.tenant_id) is None:
            raise NotFound(f"tenant {data.tenant_id} not found")
        projects = _projects(session, data.tenant_id)
        if data.project_id is not None and data.project_id not in projects:
            raise NotFound(f"project {data.project_id} is not a project of this company")
        channel = session.exec(
            select(ChatChannel)
            .where(
                ChatChannel.tenant_id == data.tenant_id,
                ChatChannel.channel_type == data.channel_type,
                col(ChatChannel.project_id).is_(None)
                if data.project_id is None
                else ChatChannel.project_id == data.project_id,
            )
            .with_for_update()
        ).first()
        old = _audit_view(channel) if channel else None
        if channel is None:
            channel = ChatChannel(
                tenant_id=data.tenant_id,
                project_id=data.project_id,
                channel_type=data.channel_type,
                webhook_url_encrypted="",
                created_by=actor.user_id,
            )
        channel.webhook_url_encrypted = encrypt_secret(url) or ""
        channel.url_hint = url_hint(url)
        channel.name = data.name.strip() or CHANNEL_TYPES[data.channel_type]
        channel.kinds = sorted(set(data.kinds))
        channel.is_active = True
        channel.updated_at = utcnow()
        channel.last_test_at = channel.last_test_ok = channel.last_test_message = None
        session.add(channel)
        session.flush()
        audit.record(
            session,
            actor,
            "chat_channel.update" if old else "chat_channel.create",
            "chat_channel",
            channel.id,
            old=old,
            new=_audit_view(channel),
            tenant_id=data.tenant_id,
        )
        session.commit()
        return _public(channel, projects)


def _own_channel(session: Session, tenant_id: int, channel_id: int) -> ChatChannel:
    channel = session.get(ChatChannel, channel_id, with_for_update=True)
    if channel is None or channel.tenant_id != tenant_id:
        raise NotFound(f"chat channel {channel_id} not found")
    return channel


def set_channel_active(tenant_id: int, channel_id: int, active: bool, actor: Actor) -> ChatChannelPublic:
    """Switch a channel on or off (off: nothing is posted there; its pending posts become dead letters)."""
    with public_session() as session:
        channel = _own_channel(session, tenant_id, channel_id)
        old = _audit_view(channel)
        channel.is_active = active
        channel.updated_at = utcnow()
        session.add(channel)
        audit.record(
            session,
            actor,
            "chat_channel.update",
            "chat_channel",
            channel_id,
            old=old,
            new=_audit_view(channel),
            tenant_id=tenant_id,
        )
        session.commit()
        return _public(channel, _projects(session, tenant_id))


def delete_channel(tenant_id: int, channel_id: int, actor: Actor) -> None:
    """Remove a channel (its past deliveries stay, without it)."""
    with public_session() as session:
        channel = _own_channel(session, tenant_id, channel_id)
        audit.record(
            session,
            actor,
            "chat_channel.delete",
            "chat_channel",
            channel_id,
            old=_audit_view(channel),
            tenant_id=tenant_id,
        )
        session.delete(channel)
        session.commit()


def send_test_message(
    tenant_id: int,
    channel_id: int,
    actor: Actor,
    *,
    guard: OutboundGuard | None = None,
    network_backend: httpcore.NetworkBackend | None = None,
) -> TestResult:
    """Post a test message to the channel now and say what the webhook answered (recorded on the channel)."""
    with public_session() as session:
        channel = _own_channel(session, tenant_id, channel_id)
        tenant = session.get(Tenant, tenant_id)
        url = decrypt_secret(channel.webhook_url_encrypted) or ""
        where = CHANNEL_TYPES.get(channel.channel_type, channel.channel_type)
        payload = chat_payload(
            channel.channel_type,
            "DMT-SLDP test message",
            f"Notifications of {tenant.name if tenant else 'this company'} will be posted here "
            f"(sent by {actor.email}).",
            None,
            "info",
        )
        try:
            status = post_to_webhook(url, payload, guard=guard, network_backend=network_backend)
        except DeliveryFailed as exc:
            result = TestResult(ok=False, message=f"{where} refused the test message: {exc.message}")
        else:
            result = TestResult(ok=True, message=f"{where} accepted the test message ({status})")
        channel.last_test_at = utcnow()
        channel.last_test_ok = result.ok
        channel.last_test_message = result.message[:500]
        session.add(channel)
        audit.record(
            session,
            actor,
            "chat_channel.test",
            "chat_channel",
            channel_id,
            new={"ok": result.ok},
            tenant_id=tenant_id,
        )
        session.commit()
        return result
