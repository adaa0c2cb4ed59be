"""Audit trail: every change to tenants, users, projects and sources writes one row.

The row is written in the caller's transaction, so a change and its audit row
commit or roll back together. The table is append-only (database trigger).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Session, SQLModel, func, select

from models.db import public_session
from models.public import AuditLog

#: Columns never copied into the audit log.
SECRET_COLUMNS = {"password_hash", "token_encrypted", "ai_api_key_encrypted", "webhook_secret_encrypted", "token_hash"}


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user, or the system (CLI, worker)."""

    user_id: int | None
    email: str
    ip_address: str | None = None

    @classmethod
    def system(cls, what: str = "system") -> Actor:
        return cls(user_id=None, email=what)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def snapshot(row: SQLModel | None) -> dict[str, Any] | None:
    """The auditable values of a row (secrets replaced by a marker when set)."""
    if row is None:
        return None
    data = row.model_dump()
    for column in SECRET_COLUMNS & data.keys():
        data[column] = "(set)" if data[column] else None
    return _jsonable(data)


def record(
    session: Session,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: Any,
    *,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    tenant_id: int | None = None,
) -> AuditLog:
    """Add an audit row to the session (committed with the caller's change)."""
    if old is not None and new is not None:
        changed = {k for k in set(old) | set(new) if old.get(k) != new.get(k)}
        changed -= {"updated_at"}
        old = {k: old.get(k) for k in sorted(changed)}
        new = {k: new.get(k) for k in sorted(changed)}
    row = AuditLog(
        actor_user_id=actor.user_id,
        actor_email=actor.email,
        ip_address=actor.ip_address,
        tenant_id=tenant_id,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id) if entity_id is not None else None,
        old_values=_jsonable(old),
        new_values=_jsonable(new),
    )
    session.add(row)
    return row


class AuditFilter(BaseModel):
    tenant_id: int | None = None
    actor: str | None = None  # email substring
    action: str | None = None  # prefix, e.g. "tenant." or "source.create"
    entity_type: str | None = None
    entity_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor_email: str | None
    ip_address: str | None
    tenant_id: int | None
    action: str
    entity_type: str
    entity_id: str | None
    old_values: dict[str, Any] | None
    new_values: dict[str, Any] | None


class AuditPage(BaseModel):
    total: int
    page: int
    page_size: int
    entries: list[AuditEntry]


def list_audit(filters: AuditFilter, page: int = 1, page_size: int = 50) -> AuditPage:
    """Audit rows, newest first, filtered and paginated in SQL."""
    with public_session() as session:
        return _audit_page(session, filters, page, page_size)


def _audit_page(session: Session, filters: AuditFilter, page: int, page_size: int) -> AuditPage:
    page, page_size = max(page, 1), min(max(page_size, 1), 500)
    conditions = []
    if filters.tenant_id is not None:
        conditions.append(AuditLog.tenant_id == filters.tenant_id)
    if filters.actor:
        conditions.append(AuditLog.actor_email.ilike(f"%{filters.actor.strip()}%"))
    if filters.action:
        conditions.append(AuditLog.action.startswith(filters.action.strip()))
    if filters.entity_type:
        conditions.append(AuditLog.entity_type == filters.entity_type)
    if filters.entity_id:
        conditions.append(AuditLog.entity_id == filters.entity_id.strip())
    if filters.since:
        conditions.append(AuditLog.at >= filters.since)
    if filters.until:
        conditions.append(AuditLog.at < filters.until)
    where = sa.and_(sa.true(), *conditions)
    total = session.exec(select(func.count()).select_from(AuditLog).where(where)).one()
    rows = session.exec(
        select(AuditLog)
        .where(where)
        .order_by(AuditLog.at.desc(), AuditLog.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return AuditPage(
        total=total,
        page=page,
        page_size=page_size,
        entries=[AuditEntry.model_validate(r, from_attributes=True) for r in rows],
    )
