"""Audit rows for changes, and a database that refuses to rewrite history."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from models.db import get_engine, public_session
from models.public import AuditLog
from services.audit import Actor
from services.tenants import TenantUpdate, update_tenant


def test_tenant_change_writes_old_and_new_values(make_tenant) -> None:
    tenant = make_tenant("aud")
    actor = Actor(user_id=None, email="ops@example.com", ip_address="203.0.113.9")
    update_tenant(tenant.id, TenantUpdate(name="Renamed", ai_api_key="sk-secret-value"), actor)
    with public_session() as session:
        rows = session.exec(select(AuditLog).where(AuditLog.tenant_id == tenant.id).order_by(AuditLog.id)).all()
    assert [r.action for r in rows] == ["tenant.create", "tenant.update"]
    change = rows[-1]
    assert change.actor_email == "ops@example.com" and change.ip_address == "203.0.113.9"
    assert change.old_values["name"] == tenant.name and change.new_values["name"] == "Renamed"
    assert change.new_values["ai_api_key_encrypted"] == "(set)"  # never the secret itself
    assert "sk-secret-value" not in str(change.new_values)


@pytest.mark.parametrize(
    "statement",
    ["UPDATE public.audit_log SET action = 'tampered'", "DELETE FROM public.audit_log", "TRUNCATE public.audit_log"],
)
def test_database_refuses_update_and_delete_of_audit_rows(make_tenant, statement: str) -> None:
    make_tenant("aud2")
    with get_engine().connect() as conn:
        with pytest.raises(DBAPIError, match="append-only"):
            conn.execute(sa.text(statement))
        conn.rollback()
        assert conn.execute(sa.text("SELECT count(*) FROM public.audit_log WHERE action = 'tampered'")).scalar() == 0
