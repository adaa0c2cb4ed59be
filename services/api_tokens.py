"""Tenant-scoped API tokens for CI pipelines (posting coverage evidence). Shown once, stored hashed."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel
from sqlmodel import select

from core.errors import AuthenticationFailed, NotFound, ValidationFailed
from models.base import utcnow
from models.db import public_session
from models.public import ApiToken, Tenant
from services import audit
from services.audit import Actor
from services.security import hash_secret, new_secret

TOKEN_PREFIX = "dmt_ci_"
SCOPE_EVIDENCE = "evidence:write"


@dataclass(frozen=True)
class ApiClient:
    """A CI pipeline authenticated by an API token."""

    token_id: int
    name: str
    tenant_id: int
    tenant_slug: str
    scopes: tuple[str, ...]


class ApiTokenPublic(BaseModel):
    id: int
    name: str
    scopes: list[str]
    created_at: str
    last_used_at: str | None
    revoked: bool


def create_api_token(tenant_id: int, name: str, actor: Actor, scopes: list[str] | None = None) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the secret, which is never shown again."""
    if not name.strip():
        raise ValidationFailed("give the token a name (e.g. the CI pipeline it is for)", field="name")
    secret = TOKEN_PREFIX + new_secret()
    with public_session() as session:
        if session.get(Tenant, tenant_id) is None:
            raise NotFound(f"tenant {tenant_id} not found")
        row = ApiToken(
            tenant_id=tenant_id,
            name=name.strip(),
            token_hash=hash_secret(secret),
            scopes=scopes or [SCOPE_EVIDENCE],
            created_by=actor.user_id,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor,
            "api_token.create",
            "api_token",
            row.id,
            new={"name": row.name, "scopes": row.scopes},
            tenant_id=tenant_id,
        )
        session.commit()
        return row, secret


def revoke_api_token(token_id: int, tenant_id: int, actor: Actor) -> None:
    with public_session() as session:
        row = session.get(ApiToken, token_id)
        if row is None or row.tenant_id != tenant_id:
            raise NotFound(f"API token {token_id} not found")
        row.revoked_at = utcnow()
        audit.record(session, actor, "api_token.revoke", "api_token", row.id, tenant_id=tenant_id)
        session.commit()


def authenticate_api_token(secret: str, scope: str) -> ApiClient:
    with public_session() as session:
        row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_secret(secret))).first()
        if row is None or row.revoked_at is not None:
            raise AuthenticationFailed("unknown or revoked API token")
        if scope not in (row.scopes or []):
            raise AuthenticationFailed(f"this API token lacks the {scope!r} scope")
        tenant = session.get(Tenant, row.tenant_id)
        if tenant is None or tenant.status != "active":
            raise AuthenticationFailed("the token's company is deactivated")
        row.last_used_at = utcnow()
        session.commit()
        return ApiClient(row.id, row.name, tenant.id, tenant.slug, tuple(row.scopes))
