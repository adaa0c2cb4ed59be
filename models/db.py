"""Engines, sessions and tenant lookups. The only door into a tenant's data is `tenant_session`.

Tenant tables are declared in the placeholder schema `tenant`; a tenant-scoped
engine carries `schema_translate_map={"tenant": "tenant_<slug>"}`, which rewrites
the SQL itself, so no `search_path` can leak across pooled connections. The
placeholder schema does not exist, so tenant-table SQL outside a tenant session
fails with relation "tenant.<table>" does not exist.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.errors import NotFound
from core.settings import require_database_url
from models.enums import TenantStatus
from models.public import Tenant
from models.tenant import TENANT

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
RESERVED_SLUGS = {"public", "tenant", "admin", "api", "pg", "information"}

_engine: Engine | None = None
_engine_lock = threading.Lock()
_tenant_engines: dict[str, Engine] = {}


class HasSlug(Protocol):
    slug: str


class InvalidTenantSlug(ValueError):
    pass


def validate_slug(slug: str) -> str:
    """Return the slug if it can name a schema safely, else raise with the rule."""
    if not SLUG_PATTERN.match(slug or "") or slug in RESERVED_SLUGS or slug.startswith("pg_"):
        raise InvalidTenantSlug(
            f"invalid tenant slug {slug!r}: use 2-31 characters, lowercase letters, digits and "
            "underscores, starting with a letter (reserved: " + ", ".join(sorted(RESERVED_SLUGS)) + ")"
        )
    return slug


def schema_for(tenant: HasSlug | str) -> str:
    slug = tenant if isinstance(tenant, str) else tenant.slug
    return f"tenant_{validate_slug(slug)}"


def get_engine() -> Engine:
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = sa.create_engine(
                require_database_url(),
                pool_pre_ping=True,
                pool_size=10,
                max_overflow=20,
                future=True,
            )
        return _engine


def dispose_engines() -> None:
    """Close pooled connections (after fork, or when the database URL changes)."""
    global _engine
    with _engine_lock:
        if _engine is not None:
            _engine.dispose()
        _engine = None
        _tenant_engines.clear()


def tenant_engine(tenant: HasSlug | str) -> Engine:
    schema = schema_for(tenant)
    engine = _tenant_engines.get(schema)
    if engine is None:
        engine = get_engine().execution_options(schema_translate_map={TENANT: schema})
        _tenant_engines[schema] = engine
    return engine


@contextmanager
def public_session() -> Iterator[Session]:
    """A session on the control plane. Tenant tables are unreachable from it."""
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


@contextmanager
def tenant_session(tenant: HasSlug | str) -> Iterator[Session]:
    """A session whose tenant tables resolve to the tenant's own schema.

    `tenant` must come from the authenticated user or a trusted server-side
    record, never from a value the browser sends.
    """
    schema = schema_for(tenant)
    with Session(tenant_engine(tenant), expire_on_commit=False) as session:
        session.info["tenant_schema"] = schema
        yield session


def tenant_schema_of(session: Session) -> str:
    """The real schema of a tenant session, for the few raw-SQL statements.

    Raw `text()` SQL is not rewritten by schema_translate_map, so set-based
    statements format the (validated) schema name in: f'"{schema}".work_items'.
    """
    schema = session.info.get("tenant_schema")
    if not schema:
        raise RuntimeError("not a tenant session: use models.db.tenant_session(tenant)")
    return schema


def get_tenant(session: Session, tenant_id: int) -> Tenant:
    """The tenant with this id, or NotFound."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id} not found")
    return tenant


def get_tenant_by_slug(session: Session, slug: str) -> Tenant:
    """The tenant with this slug, or NotFound."""
    tenant = session.exec(select(Tenant).where(Tenant.slug == slug)).first()
    if tenant is None:
        raise NotFound(f"tenant {slug!r} not found")
    return tenant


def active_tenant_slugs() -> list[str]:
    """Slugs of the tenants whose data is processed (not deactivated)."""
    with public_session() as session:
        return list(session.exec(select(Tenant.slug).where(Tenant.status == TenantStatus.ACTIVE)).all())


def all_tenant_slugs() -> list[str]:
    """Slugs of every tenant, oldest first (migrations run on all of them)."""
    with public_session() as session:
        return list(session.exec(select(Tenant.slug).order_by(Tenant.id)).all())
