"""Tenants: create (provisions the schema), list, update, activate and deactivate."""

from __future__ import annotations

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlmodel import select

from core.crypto import encrypt_secret
from core.errors import Conflict, ValidationFailed
from etl.connectors.base import SourceError
from etl.connectors.http import validate_base_url
from models.base import utcnow
from models.db import InvalidTenantSlug, get_engine, get_tenant, public_session, validate_slug
from models.enums import TenantStatus
from models.migrate import upgrade_tenant_schema
from models.public import Tenant
from services import audit
from services.audit import Actor


class TenantCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    slug: str
    retention_days: int = Field(default=730, ge=30, le=3650)
    ai_provider: str = "local"
    ai_base_url: str | None = None
    ai_model: str | None = None
    ai_api_key: str | None = None


class TenantUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    retention_days: int | None = Field(default=None, ge=30, le=3650)
    ai_provider: str | None = None
    ai_base_url: str | None = None
    ai_model: str | None = None
    ai_api_key: str | None = None  # write-only; "" clears it


class TenantPublic(BaseModel):
    id: int
    name: str
    slug: str
    status: str
    retention_days: int
    ai_provider: str
    ai_base_url: str | None
    ai_model: str | None
    ai_key_set: bool

    @classmethod
    def of(cls, t: Tenant) -> TenantPublic:
        return cls(
            id=t.id or 0,
            name=t.name,
            slug=t.slug,
            status=t.status,
            retention_days=t.retention_days,
            ai_provider=t.ai_provider,
            ai_base_url=t.ai_base_url,
            ai_model=t.ai_model,
            ai_key_set=bool(t.ai_api_key_encrypted),
        )


AI_PROVIDERS = {"local", "openai"}


def _check_ai(provider: str | None) -> None:
    if provider is not None and provider not in AI_PROVIDERS:
        raise ValidationFailed(f"AI provider must be one of {sorted(AI_PROVIDERS)}", field="ai_provider")


def _check_ai_base_url(url: str | None) -> str | None:
    """The AI endpoint passes the same SSRF guard as a source's base URL (ALLOWED_PRIVATE_HOSTS)."""
    if not url or not url.strip():
        return None
    try:
        return validate_base_url(url)
    except SourceError as exc:
        raise ValidationFailed(f"AI endpoint: {exc}", field="ai_base_url") from exc


def create_tenant(data: TenantCreate, actor: Actor) -> Tenant:
    """Create the tenant row and provision its schema; both or neither."""
    try:
        slug = validate_slug(data.slug.strip().lower())
    except InvalidTenantSlug as exc:
        raise ValidationFailed(str(exc), field="slug") from exc
    _check_ai(data.ai_provider)
    with public_session() as session:
        if session.exec(select(Tenant).where(Tenant.slug == slug)).first():
            raise Conflict(f"a tenant with slug {slug!r} already exists", field="slug")
        tenant = Tenant(
            name=data.name.strip(),
            slug=slug,
            retention_days=data.retention_days,
            ai_provider=data.ai_provider,
            ai_base_url=_check_ai_base_url(data.ai_base_url),
            ai_model=data.ai_model,
            ai_api_key_encrypted=encrypt_secret(data.ai_api_key),
        )
        session.add(tenant)
        try:
            session.flush()
        except sa.exc.IntegrityError as exc:
            raise Conflict(f"a tenant with slug {slug!r} already exists", field="slug") from exc
        audit.record(
            session, actor, "tenant.create", "tenant", tenant.id, new=audit.snapshot(tenant), tenant_id=tenant.id
        )
        # Provision the schema before committing the row: if it fails, no tenant
        # row points at a missing schema. (A schema left behind by a failed
        # commit is harmless: provisioning is idempotent.)
        upgrade_tenant_schema(slug, get_engine())
        session.commit()
        session.refresh(tenant)
        return tenant


def list_tenants(*, search: str | None = None, status: str | None = None) -> list[Tenant]:
    """Tenants by name, optionally matching `search` (name or slug) and in one status."""
    query = select(Tenant).order_by(Tenant.name)
    if search:
        like = f"%{search.strip()}%"
        query = query.where(sa.or_(Tenant.name.ilike(like), Tenant.slug.ilike(like)))
    if status:
        query = query.where(Tenant.status == status)
    with public_session() as session:
        return list(session.exec(query).all())


def update_tenant(tenant_id: int, data: TenantUpdate, actor: Actor) -> Tenant:
    _check_ai(data.ai_provider)
    with public_session() as session:
        tenant = get_tenant(session, tenant_id)
        old = audit.snapshot(tenant)
        values = data.model_dump(exclude_unset=True)
        if "ai_api_key" in values:
            key = values.pop("ai_api_key")
            tenant.ai_api_key_encrypted = encrypt_secret(key) if key else None
        if values.get("ai_base_url"):
            values["ai_base_url"] = _check_ai_base_url(values["ai_base_url"])
        for name, value in values.items():
            if value is not None:
                setattr(tenant, name, value.strip() if isinstance(value, str) else value)
        tenant.updated_at = utcnow()
        audit.record(
            session,
            actor,
            "tenant.update",
            "tenant",
            tenant.id,
            old=old,
            new=audit.snapshot(tenant),
            tenant_id=tenant.id,
        )
        session.commit()
        return tenant


def set_tenant_status(tenant_id: int, status: TenantStatus, actor: Actor) -> Tenant:
    """Activate or deactivate (soft delete: the data stays, its users cannot sign in)."""
    with public_session() as session:
        tenant = get_tenant(session, tenant_id)
        old = audit.snapshot(tenant)
        tenant.status = status
        tenant.updated_at = utcnow()
        action = "tenant.activate" if status == TenantStatus.ACTIVE else "tenant.deactivate"
        audit.record(
            session, actor, action, "tenant", tenant.id, old=old, new=audit.snapshot(tenant), tenant_id=tenant.id
        )
        session.commit()
        return tenant

