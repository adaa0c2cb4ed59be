"""Two Alembic streams: `public` (control plane, once) and `tenant` (every tenant schema).

The tenant stream's scripts name the placeholder schema `tenant`; each run binds
it to a real schema through the connection's schema_translate_map and keeps its
`alembic_version` table inside that schema. The tenant stream is rendered to
SQL once (Alembic offline mode) and replayed per schema. Each tenant migrates in one
transaction under an advisory lock, so a run is atomic and safe to repeat or to
run from two processes at once.
"""

from __future__ import annotations

import functools
import io
import re
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from alembic import context
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

import models  # noqa: F401  (registers every table on SQLModel.metadata)
from core.settings import require_database_url
from models.db import get_engine, schema_for
from models.tenant import TENANT

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


@functools.lru_cache(maxsize=2)
def alembic_config(stream: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR / stream))
    return cfg


@functools.lru_cache(maxsize=2)
def script_directory(stream: str) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(stream))


def head_revision(stream: str) -> str:
    head = script_directory(stream).get_current_head()
    assert head, f"no revisions in the {stream} stream"
    return head


def _run_upgrade(connection: Connection, stream: str, version_schema: str | None) -> None:
    script = script_directory(stream)

    def upgrade(rev, _context):
        return script._upgrade_revs("head", rev)

    with EnvironmentContext(alembic_config(stream), script, fn=upgrade, destination_rev="head") as env:
        env.configure(
            connection=connection,
            version_table_schema=version_schema,
            transactional_ddl=True,
        )
        env.run_migrations()


def upgrade_public(engine: Engine | None = None) -> None:
    """Bring the control plane to the newest revision (idempotent)."""
    engine = engine or get_engine()
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('dmt:migrate:public'))"))
        _run_upgrade(conn, "public", "public")


def upgrade_tenant_schema(slug: str, engine: Engine | None = None) -> bool:
    """Create the tenant's schema if needed and migrate it to head, atomically.

    Returns True when something was applied, False when it was already current.
    """
    engine = engine or get_engine()
    schema = schema_for(slug)
    with engine.begin() as conn:
        conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
            {"k": f"dmt:migrate:{schema}"},
        )
        current = _tenant_version(conn, schema)
        if current == head_revision("tenant"):
            return False
        conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}";\n' + tenant_upgrade_sql(current, schema))
    return True


_PLACEHOLDER_REF = re.compile(r"\btenant\.")


@functools.lru_cache(maxsize=16)
def _tenant_upgrade_sql_template(from_revision: str | None) -> str:
    """The tenant stream from `from_revision` to head, rendered once by Alembic's offline mode.

    Tenant migrations are therefore written as DDL/SQL that renders offline (no
    reads through op.get_bind()): with thousands of schemas, rendering once and
    replaying the SQL per schema is what keeps `dmt migrate` fast.
    """
    buffer = io.StringIO()
    cfg = Config(output_buffer=buffer)
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR / "tenant"))
    script = script_directory("tenant")

    def upgrade(rev, _context):
        return script._upgrade_revs("head", rev)

    with EnvironmentContext(
        cfg,
        script,
        fn=upgrade,
        as_sql=True,
        starting_rev=from_revision,
        destination_rev="head",
    ) as env:
        env.configure(
            dialect_name="postgresql",
            output_buffer=buffer,
            version_table_schema=TENANT,
            transactional_ddl=False,
            literal_binds=True,
        )
        env.run_migrations()
    return buffer.getvalue()


def tenant_upgrade_sql(from_revision: str | None, schema: str) -> str:
    return _PLACEHOLDER_REF.sub(f'"{schema}".', _tenant_upgrade_sql_template(from_revision))


def _tenant_version(conn: Connection, schema: str) -> str | None:
    exists = conn.execute(
        sa.text("SELECT 1 FROM information_schema.tables WHERE table_schema = :s AND table_name = 'alembic_version'"),
        {"s": schema},
    ).first()
    if not exists:
        return None
    return conn.execute(sa.text(f'SELECT version_num FROM "{schema}".alembic_version')).scalar()


def tenant_versions(engine: Engine | None = None) -> dict[str, str | None]:
    """Current tenant-stream revision of every tenant schema that exists."""
    engine = engine or get_engine()
    with engine.connect() as conn:
        schemas = (
            conn.execute(sa.text("SELECT n.nspname FROM pg_namespace n WHERE n.nspname LIKE 'tenant\\_%'"))
            .scalars()
            .all()
        )
        versioned = set(
            conn.execute(
                sa.text(
                    "SELECT table_schema FROM information_schema.tables "
                    "WHERE table_name = 'alembic_version' AND table_schema LIKE 'tenant\\_%'"
                )
            ).scalars()
        )
        result: dict[str, str | None] = {}
        for schema in schemas:
            result[schema] = (
                conn.execute(sa.text(f'SELECT version_num FROM "{schema}".alembic_version')).scalar()
                if schema in versioned
                else None
            )
        return result


@dataclass
class MigrationReport:
    tenants: int = 0
    applied: int = 0
    already_current: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def migrate_tenants(
    slugs: Iterable[str],
    *,
    parallel: int = 4,
    chunk_size: int = 10,
    on_progress: Callable[[str, bool, str | None], None] | None = None,
) -> MigrationReport:
    """Migrate many tenant schemas in parallel; schemas already at head cost one query.

    A failure in one tenant is reported and does not stop the others.
    """
    slugs = list(slugs)
    report = MigrationReport(tenants=len(slugs))
    started = time.perf_counter()
    head = head_revision("tenant")
    current = tenant_versions()
    todo = [s for s in slugs if current.get(schema_for(s)) != head]
    report.already_current = len(slugs) - len(todo)
    if on_progress:
        for slug in set(slugs) - set(todo):
            on_progress(slug, False, None)

    chunks = [todo[i : i + chunk_size] for i in range(0, len(todo), chunk_size)]
    for rev in {current.get(schema_for(s)) for s in todo}:
        _tenant_upgrade_sql_template(rev)  # render once, before the threads start
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = [pool.submit(_migrate_chunk, chunk) for chunk in chunks]
        _consume((f.result() for f in as_completed(futures)), report, on_progress)
    report.seconds = time.perf_counter() - started
    return report


def _migrate_chunk(slugs: list[str]) -> list[tuple[str, bool, str | None]]:
    results = []
    for slug in slugs:
        try:
            results.append((slug, upgrade_tenant_schema(slug), None))
        except Exception as exc:  # noqa: BLE001 - one bad tenant must not stop the rest
            results.append((slug, False, f"{type(exc).__name__}: {exc}"))
    return results


def _consume(
    chunk_results: Iterable[list[tuple[str, bool, str | None]]],
    report: MigrationReport,
    on_progress: Callable[[str, bool, str | None], None] | None,
) -> None:
    for results in chunk_results:
        for slug, applied, error in results:
            if error:
                report.failed[slug] = error
            elif applied:
                report.applied += 1
            else:
                report.already_current += 1
            if on_progress:
                on_progress(slug, applied, error)


def run_env_for_cli(stream: str) -> None:
    """Entry point of env.py when a developer runs the `alembic` command itself.

    Use: `alembic -c models/alembic.ini -n public upgrade head`, or for the
    tenant stream `-n tenant -x schema=tenant_acme`.
    """
    engine = sa.create_engine(require_database_url())
    x_args = context.get_x_argument(as_dictionary=True)
    with engine.begin() as conn:
        if stream == "tenant":
            schema = x_args.get("schema") or "tenant"
            conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            conn = conn.execution_options(schema_translate_map={TENANT: schema})
        else:
            schema = "public"


        def include(obj, name, type_, reflected, compare_to):
            table_schema = getattr(obj, "schema", None) if type_ == "table" else None
            if type_ == "table":
                return (table_schema == "public") == (stream == "public")
            return True

        context.configure(
            connection=conn,
            target_metadata=SQLModel.metadata,
            version_table_schema=schema,
            include_schemas=True,
            include_object=include,
        )
        with context.begin_transaction():
            context.run_migrations()
