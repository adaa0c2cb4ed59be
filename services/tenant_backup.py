"""Per-tenant backup and restore (`dmt backup-tenant`, `dmt restore-tenant`).

A backup is an archive (services/archive.py) of every tenant table plus the
tenant's control-plane rows (tenant, projects, users, project roles, sources),
so one company can be restored alone, onto this platform or another one.
Secrets stay encrypted: restoring elsewhere needs the same FERNET_KEYS.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from core.errors import Conflict, NotFound, ValidationFailed
from models.db import get_engine, public_session, schema_for
from models.migrate import upgrade_tenant_schema
from services import audit
from services.archive import FileStore, read_manifest, restore_rows, whole_tenant, write_archive
from services.audit import Actor

#: Control-plane tables of one tenant, in restore order, with the condition selecting its rows.
PUBLIC_TABLES = {
    "tenants": "id = :tid",
    "projects": "tenant_id = :tid",
    "users": "tenant_id = :tid",
    "user_project_roles": "project_id IN (SELECT id FROM public.projects WHERE tenant_id = :tid)",
    "source_configs": "tenant_id = :tid",
}


def _tenant_id(slug: str) -> int:
    with get_engine().connect() as conn:
        tid = conn.execute(sa.text("SELECT id FROM public.tenants WHERE slug = :s"), {"s": slug}).scalar()
    if tid is None:
        raise NotFound(f"tenant {slug!r} not found")
    return tid


def backup_tenant(slug: str, path: Path, actor: Actor) -> dict[str, Any]:
    """Write the tenant's backup to `path` (tar.gz); return the manifest."""
    schema_for(slug)
    tid = _tenant_id(slug)
    with get_engine().connect() as conn:
        control = {
            table: [
                row[0]
                for row in conn.execute(
                    sa.text(f"SELECT row_to_json(t) FROM public.{table} t WHERE {cond} ORDER BY id"), {"tid": tid}
                )
            ]
            for table, cond in PUBLIC_TABLES.items()
        }
    path = path.resolve()
    store = FileStore(path.parent)
    manifest = write_archive(
        slug, whole_tenant(), store, path.name, {"kind": "tenant_backup", "control_plane": control}
    )
    with public_session() as session:
        rows = {t: m["rows"] for t, m in manifest["tables"].items()}
        audit.record(
            session, actor, "tenant.backup", "tenant", tid, new={"path": str(path), "rows": rows}, tenant_id=tid
        )
        session.commit()
    return manifest


def restore_tenant(path: Path, actor: Actor, *, replace: bool = False) -> dict[str, int]:
    """Restore a tenant from its backup.

    If the tenant no longer exists, its control-plane rows come back with their
    ids. If it exists, `replace=True` drops its schema and reloads it; without
    it the restore is refused rather than mixing two states.
    """
    path = path.resolve()
    if not path.exists():
        raise NotFound(f"backup file {path} not found")
    store = FileStore(path.parent)
    manifest = read_manifest(store, path.name)
    if manifest.get("kind") != "tenant_backup":
        raise ValidationFailed(f"{path} is not a tenant backup (kind {manifest.get('kind')!r})")
    slug = manifest["tenant"]
    schema = schema_for(slug)
    control: dict[str, list[dict[str, Any]]] = manifest["control_plane"]
    with get_engine().connect() as conn:
        exists = conn.execute(sa.text("SELECT id FROM public.tenants WHERE slug = :s"), {"s": slug}).scalar()
    if exists and not replace:
        raise Conflict(f"tenant {slug!r} exists: use --replace to drop its data and restore the backup")
    with get_engine().begin() as conn:
        if exists:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        else:
            for table in PUBLIC_TABLES:
                rows = control.get(table) or []
                if rows:
                    conn.execute(
                        sa.text(
                            f"INSERT INTO public.{table} SELECT * FROM jsonb_populate_recordset(NULL::public.{table}, CAST(:rows AS jsonb)) "
                            "ON CONFLICT DO NOTHING"
                        ),
                        {"rows": json.dumps(rows)},
                    )
                conn.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('public.{table}', 'id'), "
                        f"GREATEST((SELECT COALESCE(MAX(id), 0) FROM public.{table}), 1))"
                    )
                )
    upgrade_tenant_schema(slug)
    with get_engine().begin() as conn:
        restored = restore_rows(conn, slug, store, path.name)
    tid = _tenant_id(slug)
    with public_session() as session:
        audit.record(
            session, actor, "tenant.restore", "tenant", tid, new={"path": str(path), "rows": restored}, tenant_id=tid
        )
        session.commit()
    return restored
