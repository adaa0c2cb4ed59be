"""Audit trail: every change to tenants, users, projects and sources writes one row.

The row is written in the caller's transaction, so a change and its audit row
commit or roll back together. The table is append-only (database trigger).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, SQLModel

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
