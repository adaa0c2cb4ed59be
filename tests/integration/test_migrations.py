"""The two Alembic streams: public once, tenant on every schema, idempotent and parallel."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

import models  # noqa: F401 - registers the tables
from models.db import get_engine
from models.migrate import head_revision, migrate_tenants, tenant_versions, upgrade_public, upgrade_tenant_schema


def test_public_upgrade_is_idempotent(database_url: str) -> None:
    upgrade_public()
    upgrade_public()
    with get_engine().connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM public.alembic_version")).scalar() == head_revision(
            "public"
        )


def test_migrating_200_tenant_schemas_twice(database_url: str) -> None:
    prefix = uuid.uuid4().hex[:6]
    slugs = [f"m{prefix}_{i:03d}" for i in range(200)]
    progress: list[str] = []
    first = migrate_tenants(slugs, parallel=4, on_progress=lambda slug, *_: progress.append(slug))
    assert first.failed == {}
    assert first.applied == 200
    assert sorted(progress) == sorted(slugs)
    second = migrate_tenants(slugs, parallel=4)
    assert second.failed == {}
    assert second.applied == 0 and second.already_current == 200
    versions = tenant_versions()
    assert all(versions[f"tenant_{s}"] == head_revision("tenant") for s in slugs)


def test_concurrent_upgrades_of_one_schema_are_safe(database_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    slug = f"c{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: upgrade_tenant_schema(slug), range(4)))
    assert results.count(True) == 1


def test_tenant_migration_matches_the_models(database_url: str) -> None:
    """Every tenant model column exists in a migrated schema with the same nullability."""
    slug = f"s{uuid.uuid4().hex[:8]}"
    upgrade_tenant_schema(slug)
    inspector = sa.inspect(get_engine())
    for table in SQLModel.metadata.sorted_tables:
        schema = f"tenant_{slug}" if table.schema == "tenant" else table.schema
        columns = {c["name"]: c for c in inspector.get_columns(table.name, schema=schema)}
        for column in table.columns:
            assert column.name in columns, f"{schema}.{table.name}.{column.name} missing from the migration"
            assert columns[column.name]["nullable"] == column.nullable, f"{table.name}.{column.name} nullability"
        assert set(columns) == {c.name for c in table.columns}, f"{table.name}: migration has extra columns"


def test_a_schema_at_an_older_revision_is_brought_to_head(database_url: str) -> None:
    """A tenant migrated to t0001 only (before work_items got its fillfactor) reaches head and keeps its rows."""
    from models.migrate import tenant_upgrade_sql

    slug = f"o{uuid.uuid4().hex[:8]}"
    schema = f"tenant_{slug}"
    with get_engine().begin() as conn:
        conn.exec_driver_sql(
            f'CREATE SCHEMA "{schema}";\n'
            + tenant_upgrade_sql(None, schema).split("-- Running upgrade t0001 -> t0002")[0]
        )
        conn.execute(sa.text(f"INSERT INTO \"{schema}\".developer_identities (display_name) VALUES ('Ann')"))
    assert tenant_versions()[schema] == "t0001"
    report = migrate_tenants([slug])
    assert report.applied == 1 and report.failed == {}
    with get_engine().connect() as conn:
        assert tenant_versions()[schema] == head_revision("tenant")
        options = conn.execute(
            sa.text("SELECT reloptions FROM pg_class WHERE oid = CAST(:t AS regclass)"),
            {"t": f'"{schema}".work_items'},
        ).scalar()
        assert "fillfactor=50" in options
        assert conn.execute(sa.text(f'SELECT count(*) FROM "{schema}".developer_identities')).scalar() == 1


def test_raw_payloads_use_lz4_where_the_server_has_it(database_url: str) -> None:
    slug = f"z{uuid.uuid4().hex[:8]}"
    upgrade_tenant_schema(slug)  # never fails: a server without lz4 keeps pglz (migration t0003)
    with get_engine().connect() as conn:
        try:
            with conn.begin_nested():
                conn.execute(sa.text("CREATE TEMP TABLE lz4_probe (x text COMPRESSION lz4)"))
            has_lz4 = True
        except sa.exc.DBAPIError:
            has_lz4 = False
        methods = conn.execute(
            sa.text(
                "SELECT c.relname, a.attcompression FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :s AND a.attname = 'raw_data'"
            ),
            {"s": f"tenant_{slug}"},
        ).all()
    assert {name for name, _ in methods} == {"work_items", "pull_requests", "deployments"}
    assert all(method == ("l" if has_lz4 else "") for _, method in methods), (has_lz4, methods)


def test_compliance_target_reaches_existing_projects_with_the_old_target(database_url: str) -> None:
    """A control plane at p0004 with a project gets compliance_target 90 (p0005), and the range is enforced."""
    from alembic.runtime.environment import EnvironmentContext

    from models.migrate import alembic_config, script_directory
    from tests.databases import new_database

    def upgrade_to(conn: sa.Connection, revision: str) -> None:
        script = script_directory("public")
        with EnvironmentContext(
            alembic_config("public"),
            script,
            fn=lambda rev, _context: script._upgrade_revs(revision, rev),
            destination_rev=revision,
        ) as env:
            env.configure(connection=conn, version_table_schema="public", transactional_ddl=True)
            env.run_migrations()

    with new_database(database_url, "dmt_p0005_") as url:
        engine = sa.create_engine(url)
        try:
            with engine.begin() as conn:
                upgrade_to(conn, "p0004_deployment_source_types")
                tenant_id = conn.execute(
                    sa.text(
                        "INSERT INTO public.tenants (name, slug, status, retention_days, ai_provider) "
                        "VALUES ('Old', 'old', 'active', 730, 'local') RETURNING id"
                    )
                ).scalar()
                conn.execute(
                    sa.text(
                        "INSERT INTO public.projects (tenant_id, key, name, description, is_active, "
                        "coverage_threshold, exception_warning_days, sprint_ending_days) "
                        "VALUES (:t, 'OLD', 'Old project', '', true, 80, 7, 2)"
                    ),
                    {"t": tenant_id},
                )
            upgrade_public(engine)
            with engine.connect() as conn:
                assert conn.execute(
                    sa.text("SELECT version_num FROM public.alembic_version")
                ).scalar() == head_revision("public")
                assert conn.execute(sa.text("SELECT compliance_target FROM public.projects")).scalar() == 90.0
            for refused in (0, -1, 100.5):
                with (
                    pytest.raises(sa.exc.IntegrityError, match="ck_projects_compliance_target"),
                    engine.begin() as conn,
                ):
                    conn.execute(sa.text("UPDATE public.projects SET compliance_target = :v"), {"v": refused})
            with engine.begin() as conn:
                conn.execute(sa.text("UPDATE public.projects SET compliance_target = 100"))
        finally:
            engine.dispose()
