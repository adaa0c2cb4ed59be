"""Schema-per-tenant isolation through schema_translate_map."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import ProgrammingError
from sqlmodel import Session, select

from core.errors import Conflict, ValidationFailed
from models.db import InvalidTenantSlug, get_engine, public_session, schema_for, tenant_session, validate_slug
from models.tenant import WorkItem
from services.audit import Actor
from services.tenants import TenantCreate, create_tenant


def _item(source_item_id: str, title: str) -> WorkItem:
    return WorkItem(source_id=1, project_id=1, source_type="jira", source_item_id=source_item_id, title=title)


def test_creating_a_tenant_provisions_its_schema(make_tenant) -> None:
    tenant = make_tenant("prov")
    with get_engine().connect() as conn:
        tables = set(
            conn.execute(
                sa.text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
                {"s": tenant.schema_name},
            ).scalars()
        )
    assert {"work_items", "pull_requests", "compliance_flags", "sprint_metrics", "alembic_version"} <= tables


def test_tenant_session_never_sees_another_tenants_rows(make_tenant) -> None:
    a, b = make_tenant("iso_a"), make_tenant("iso_b")
    with tenant_session(a) as session:
        session.add(_item("A-1", "only in A"))
        session.commit()
    with tenant_session(b) as session:
        session.add(_item("B-1", "only in B"))
        session.commit()
    with tenant_session(a) as session:
        assert [w.title for w in session.exec(select(WorkItem)).all()] == ["only in A"]
    with tenant_session(b) as session:
        assert [w.title for w in session.exec(select(WorkItem)).all()] == ["only in B"]
        # Even asking for A's primary key from B's session finds B's row or nothing, never A's.
        assert all(w.title != "only in A" for w in session.exec(select(WorkItem)).all())


def test_pooled_connections_do_not_leak_the_tenant(make_tenant) -> None:
    a, b = make_tenant("pool_a"), make_tenant("pool_b")
    with tenant_session(a) as session:
        session.add(_item("X", "a-row"))
        session.commit()
    for _ in range(5):  # interleave sessions on the same pool
        with tenant_session(b) as session:
            assert session.exec(select(WorkItem)).all() == []
        with tenant_session(a) as session:
            assert len(session.exec(select(WorkItem)).all()) == 1


def test_tenant_table_query_without_tenant_context_fails_loudly(database_url: str) -> None:
    with public_session() as session, pytest.raises(ProgrammingError, match=r'"tenant\.work_items" does not exist'):
        session.exec(select(WorkItem)).all()
    with Session(get_engine()) as session, pytest.raises(ProgrammingError):
        session.exec(select(WorkItem)).all()


def test_duplicate_slug_is_refused_and_nothing_half_written(make_tenant) -> None:
    tenant = make_tenant("dup")
    with pytest.raises(Conflict, match="already exists"):
        create_tenant(TenantCreate(name="Again", slug=tenant.slug), Actor.system("test"))


@pytest.mark.parametrize("slug", ["", "A", "Bad-Slug", "1abc", "public", "tenant", "pg_x", "x" * 40, "a;drop"])
def test_invalid_slugs_are_refused_with_the_rule(database_url: str, slug: str) -> None:
    with pytest.raises(ValidationFailed, match="invalid tenant slug"):
        create_tenant(TenantCreate(name="Bad", slug=slug), Actor.system("test"))


def test_schema_name_is_derived_from_a_validated_slug() -> None:
    assert schema_for("acme") == "tenant_acme"
    with pytest.raises(InvalidTenantSlug):
        validate_slug('acme"; drop schema public; --')
