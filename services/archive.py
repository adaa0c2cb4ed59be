"""Tenant data archives: JSON lines per table plus a manifest with row counts and checksums.

Used by data retention (one quarter of a tenant's data), by `dmt backup-tenant`
/ `dmt restore-tenant` (a whole tenant) and by `dmt restore-archive`.

Rows are serialised by PostgreSQL itself (`row_to_json`, ordered by id), so a
re-read of the same rows gives the same bytes and the checksum can be
verified against the live database. Restores go through
`jsonb_populate_recordset`, which turns each JSON row back into the table's
own column types.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.settings import get_settings
from models.db import get_engine, schema_for
from models.migrate import head_revision

FORMAT_VERSION = 1
#: Rows between two progress reports inside one table.
PROGRESS_EVERY_ROWS = 10_000
#: How many ids of changed or added rows a hard-delete report names per table.
REPORT_SAMPLE_IDS = 20

#: progress(table, tables_done, tables_total, rows_in_table): called as a long step advances.
Progress = Callable[[str, int, int, int], None]


def _no_progress(table: str, done: int, total: int, rows: int) -> None:
    """The default progress callback: nobody is watching."""


#: Tenant tables in restore order (parents before children); deletes run in reverse.
TENANT_TABLES = [
    "developer_identities",
    "identity_aliases",
    "sprints",
    "sync_runs",
    "sync_item_errors",
    "sync_cursors",
    "pull_requests",
    "work_items",
    "work_item_pull_requests",
    "dmt_exceptions",
    "compliance_flags",
    "coverage_evidence",
    "sprint_metrics",
    "developer_metrics",
    "ai_predictions",
    "export_jobs",
]


@dataclass
class TableSelection:
    """Which rows of which tables: a SQL condition per table ({s} is the schema), None = all rows."""

    conditions: dict[str, str | None]
    params: dict[str, Any] = field(default_factory=dict)

    def tables(self) -> list[str]:
        return [t for t in TENANT_TABLES if t in self.conditions]

    def query(self, schema: str, table: str, columns: str = "row_to_json(t)::text") -> str:
        where = self.conditions[table]
        sql = f'SELECT {columns} FROM "{schema}".{table} t'
        if where:
            sql += " WHERE " + where.format(s=f'"{schema}"')
        return sql + " ORDER BY t.id"


def whole_tenant() -> TableSelection:
    return TableSelection({t: None for t in TENANT_TABLES})


def quarter_selection(start: datetime, end: datetime) -> TableSelection:
    """A quarter of delivery data: items finished (else created) and PRs merged/closed (else opened) in it.

    Derived read models (metrics) and configuration-like rows (identities,
    sprints, cursors) stay: metrics are rebuilt after a delete or restore.
    """
    items = "COALESCE(t.done_at, t.created_at_source, t.first_seen_at) >= :start AND COALESCE(t.done_at, t.created_at_source, t.first_seen_at) < :end"
    prs = "COALESCE(t.merged_at, t.closed_at, t.created_at_source, t.first_seen_at) >= :start AND COALESCE(t.merged_at, t.closed_at, t.created_at_source, t.first_seen_at) < :end"
    item_ids = f"SELECT t.id FROM {{s}}.work_items t WHERE {items}"
    pr_ids = f"SELECT t.id FROM {{s}}.pull_requests t WHERE {prs}"
    return TableSelection(
        {
            "sync_runs": "t.started_at >= :start AND t.started_at < :end",
            "sync_item_errors": "t.sync_run_id IN (SELECT t.id FROM {s}.sync_runs t WHERE t.started_at >= :start AND t.started_at < :end)",
            "pull_requests": prs,
            "work_items": items,
            "work_item_pull_requests": f"t.work_item_id IN ({item_ids}) OR t.pull_request_id IN ({pr_ids})",
            "dmt_exceptions": f"t.work_item_id IN ({item_ids})",
            "compliance_flags": f"t.work_item_id IN ({item_ids})",
            "coverage_evidence": f"t.work_item_id IN ({item_ids}) OR t.pull_request_id IN ({pr_ids})",
        },
        {"start": start, "end": end},
    )


# --------------------------------------------------------------------------- file store
class FileStore:
    """Where archives live: a local folder by default (ARCHIVE_DIR)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root or get_settings().archive_dir)

    def path_for(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"archive key {key!r} leaves the archive folder")
        return path

    def uri(self, key: str) -> str:
        return f"file://{self.path_for(key)}"

    def open_write(self, key: str) -> io.BufferedWriter:
        path = self.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("wb")

    def open_read(self, key: str) -> io.BufferedReader:
        return self.path_for(key).open("rb")

    def exists(self, key: str) -> bool:
        return self.path_for(key).exists()


class S3FileStore:
    """Archives in an S3-compatible bucket (AWS S3, MinIO, Ceph): the same interface as FileStore.

    Archives are streamed through a local temporary file, so memory stays flat.
    """

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
    ) -> None:
        # Imported here: boto3 is heavy and only an S3 archive store needs it (the default is a folder).
        import boto3

        self.bucket = bucket
        self.prefix = prefix
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or None,
            aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None,
        )

    def _object(self, key: str) -> str:
        if ".." in key.split("/"):
            raise ValueError(f"archive key {key!r} leaves the archive prefix")
        return f"{self.prefix}{key}"

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._object(key)}"

    @contextlib.contextmanager
    def open_write(self, key: str) -> Iterator[IO[bytes]]:
        with tempfile.TemporaryFile() as spool:
            yield spool
            spool.seek(0)
            self.client.upload_fileobj(spool, self.bucket, self._object(key))

    @contextlib.contextmanager
    def open_read(self, key: str) -> Iterator[IO[bytes]]:
        with tempfile.TemporaryFile() as spool:
            self.client.download_fileobj(self.bucket, self._object(key), spool)
            spool.seek(0)
            yield spool

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError  # with boto3: only for an S3 store

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._object(key))
        except ClientError:
            return False
        return True


def default_store() -> FileStore | S3FileStore:
    """The configured archive store: S3-compatible when ARCHIVE_S3_BUCKET is set, else ARCHIVE_DIR."""
    s = get_settings()
    if s.archive_s3_bucket:
        return S3FileStore(
            s.archive_s3_bucket,
            prefix=s.archive_s3_prefix,
            endpoint_url=s.archive_s3_endpoint_url,
            region=s.archive_s3_region,
            access_key=s.archive_s3_access_key,
            secret_key=s.archive_s3_secret_key,
        )
    return FileStore()


# --------------------------------------------------------------------------- write / read
def _rows(conn: Connection, selection: TableSelection, schema: str, table: str) -> Iterator[str]:
    result = conn.execution_options(stream_results=True, yield_per=5000).execute(
        sa.text(selection.query(schema, table)), selection.params
    )
    for (line,) in result:
        yield line


def write_archive(
    tenant_slug: str,
    selection: TableSelection,
    store: FileStore | S3FileStore,
    key: str,
    meta: dict[str, Any],
    progress: Progress = _no_progress,
) -> dict[str, Any]:
    """Stream the selected rows into store[key] (tar.gz); return the manifest. `progress` hears each table."""
    schema = schema_for(tenant_slug)
    manifest: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "tenant": tenant_slug,
        "tenant_revision": head_revision("tenant"),
        "created_at": datetime.now(UTC).isoformat(),
        **meta,
        "tables": {},
    }
    with get_engine().connect() as conn, store.open_write(key) as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
        # One snapshot for all tables: REPEATABLE READ inside one transaction.
        conn.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        tables = selection.tables()
        for done, table in enumerate(tables):
            progress(table, done, len(tables), 0)
            digest, count, buffer = hashlib.sha256(), 0, io.BytesIO()
            with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:
                for line in _rows(conn, selection, schema, table):
                    data = line.encode() + b"\n"
                    digest.update(data)
                    gz.write(data)
                    count += 1
                    if count % PROGRESS_EVERY_ROWS == 0:
                        progress(table, done, len(tables), count)
            info = tarfile.TarInfo(f"tables/{table}.jsonl.gz")
            info.size = buffer.tell()
            buffer.seek(0)
            tar.addfile(info, buffer)
            manifest["tables"][table] = {"rows": count, "sha256": digest.hexdigest()}
        progress("", len(tables), len(tables), 0)
        body = json.dumps(manifest, indent=2).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
        conn.rollback()
    return manifest


def read_manifest(store: FileStore | S3FileStore, key: str) -> dict[str, Any]:
    with store.open_read(key) as raw, tarfile.open(fileobj=raw, mode="r:gz") as tar:
        member = tar.extractfile("manifest.json")
        if member is None:
            raise ValueError("archive has no manifest.json")
        return json.loads(member.read())


def iter_archive_rows(store: FileStore | S3FileStore, key: str, table: str) -> Iterator[bytes]:
    with store.open_read(key) as raw, tarfile.open(fileobj=raw, mode="r:gz") as tar:
        member = tar.extractfile(f"tables/{table}.jsonl.gz")
        if member is None:
            return
        with gzip.GzipFile(fileobj=member) as gz:
            yield from gz


@dataclass
class VerifyReport:
    ok: bool
    tables: dict[str, dict[str, Any]]

    def problems(self) -> list[str]:
        return [f"{t}: {d['problem']}" for t, d in self.tables.items() if d.get("problem")]


def verify_archive(
    tenant_slug: str,
    selection: TableSelection,
    store: FileStore | S3FileStore,
    key: str,
    progress: Progress = _no_progress,
) -> VerifyReport:
    """Re-read the archive (its own checksums) and compare it with the live rows it claims to hold."""
    manifest = read_manifest(store, key)
    schema = schema_for(tenant_slug)
    tables: dict[str, dict[str, Any]] = {}
    total = len(manifest["tables"])
    with get_engine().connect() as conn:
        for done, (table, expected) in enumerate(manifest["tables"].items()):
            progress(table, done, total, 0)
            file_digest, file_rows = hashlib.sha256(), 0
            for line in iter_archive_rows(store, key, table):
                file_digest.update(line)
                file_rows += 1
            db_digest, db_rows = hashlib.sha256(), 0
            for line in _rows(conn, selection, schema, table):
                db_digest.update(line.encode() + b"\n")
                db_rows += 1
            entry = {"rows": expected["rows"], "archive_rows": file_rows, "database_rows": db_rows}
            if file_rows != expected["rows"] or file_digest.hexdigest() != expected["sha256"]:
                entry["problem"] = "the archive file does not match its manifest (corrupted)"
            elif db_rows != expected["rows"] or db_digest.hexdigest() != expected["sha256"]:
                entry["problem"] = (
                    f"the database now holds {db_rows} matching rows, the archive {file_rows}, or they differ"
                )
            tables[table] = entry
    progress("", total, total, 0)
    return VerifyReport(ok=all("problem" not in e for e in tables.values()), tables=tables)


def restore_rows(
    conn: Connection, tenant_slug: str, store: FileStore | S3FileStore, key: str, batch: int = 2000
) -> dict[str, int]:
    """Insert the archive's rows back (rows that still exist are kept); reset id sequences."""
    schema = schema_for(tenant_slug)
    manifest = read_manifest(store, key)
    restored: dict[str, int] = {}
    for table in [t for t in TENANT_TABLES if t in manifest["tables"]]:
        sql = sa.text(
            f'INSERT INTO "{schema}".{table} SELECT * FROM jsonb_populate_recordset(NULL::"{schema}".{table}, CAST(:rows AS jsonb)) '
            "ON CONFLICT DO NOTHING"
        )
        pending: list[str] = []
        count = 0
        for line in iter_archive_rows(store, key, table):
            pending.append(line.decode().rstrip("\n"))
            if len(pending) >= batch:
                count += conn.execute(sql, {"rows": "[" + ",".join(pending) + "]"}).rowcount
                pending = []
        if pending:
            count += conn.execute(sql, {"rows": "[" + ",".join(pending) + "]"}).rowcount
        conn.execute(
            sa.text(
                f"SELECT setval(pg_get_serial_sequence('\"{schema}\".{table}', 'id'), "
                f'GREATEST((SELECT COALESCE(MAX(id), 0) FROM "{schema}".{table}), 1))'
            )
        )
        restored[table] = count
    return restored


@dataclass
class TableDeletion:
    """What a hard delete did to one table, against the archive's rows."""

    archived: int = 0
    deleted: int = 0
    #: Archived rows whose content changed since (kept).
    changed: int = 0
    #: Archived rows already gone from the database.
    missing: int = 0
    #: Rows of the selection that the archive does not hold: added since (kept).
    added: int = 0
    #: Unchanged archived rows kept because a row that stays still references them.
    referenced: int = 0
    changed_ids: list[int] = field(default_factory=list)
    added_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v or k in ("archived", "deleted")}


def _referencing_columns(conn: Connection, schema: str, table: str) -> list[tuple[str, str]]:
    """(table, column) pairs of the schema whose foreign key references `table`."""
    rows = conn.execute(
        sa.text(
            "SELECT child.relname, a.attname FROM pg_constraint c "
            "JOIN pg_class child ON child.oid = c.conrelid "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey) "
            "WHERE c.contype = 'f' AND c.confrelid = CAST(:t AS regclass)"
        ),
        {"t": f'"{schema}".{table}'},
    ).all()
    return [(str(child), str(column)) for child, column in rows]


def _load_archived_ids(conn: Connection, store: FileStore | S3FileStore, key: str, table: str, batch: int) -> int:
    """Fill `_archived_rows` with (id, sha256 of the archived JSON row) of one table; returns the count."""
    conn.execute(sa.text("TRUNCATE _archived_rows"))
    insert = sa.text(
        "INSERT INTO _archived_rows SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:digests AS bytea[]))"
    )
    ids: list[int] = []
    digests: list[bytes] = []
    count = 0
    for line in iter_archive_rows(store, key, table):
        row = line.rstrip(b"\n")
        ids.append(int(json.loads(row)["id"]))
        digests.append(hashlib.sha256(row).digest())
        if len(ids) >= batch:
            conn.execute(insert, {"ids": ids, "digests": digests})
            count, ids, digests = count + len(ids), [], []
    if ids:
        conn.execute(insert, {"ids": ids, "digests": digests})
        count += len(ids)
    conn.execute(sa.text("ANALYZE _archived_rows"))
    return count


def delete_archived_rows(
    conn: Connection,
    tenant_slug: str,
    selection: TableSelection,
    store: FileStore | S3FileStore,
    key: str,
    progress: Progress = _no_progress,
    batch: int = 5000,
) -> dict[str, TableDeletion]:
    """Delete exactly the rows the archive holds, unchanged, in the caller's transaction (children first).

    A row is deleted only if its id is in the archive and its content
    (PostgreSQL's `row_to_json`, as archived) is byte for byte the archived
    one. Rows changed since the archive, rows of the quarter the archive does
    not hold (added since) and archived rows still referenced by a row that
    stays are kept, counted and reported (with up to REPORT_SAMPLE_IDS ids).
    """
    schema = schema_for(tenant_slug)
    manifest = read_manifest(store, key)
    tables = [t for t in reversed(selection.tables()) if t in manifest["tables"]]
    conn.execute(
        sa.text("CREATE TEMP TABLE _archived_rows (id bigint PRIMARY KEY, digest bytea NOT NULL) ON COMMIT DROP")
    )
    content = "sha256(convert_to(row_to_json(t)::text, 'UTF8'))"
    report: dict[str, TableDeletion] = {}
    for done, table in enumerate(tables):
        progress(table, done, len(tables), 0)
        entry = TableDeletion(archived=_load_archived_ids(conn, store, key, table, batch))
        target = f'"{schema}".{table}'
        entry.changed_ids = [
            int(r)
            for r in conn.execute(
                sa.text(
                    f"SELECT t.id FROM {target} t JOIN _archived_rows a ON a.id = t.id "
                    f"WHERE {content} <> a.digest ORDER BY t.id"
                )
            ).scalars()
        ]
        entry.changed = len(entry.changed_ids)
        entry.missing = int(
            conn.execute(
                sa.text(
                    f"SELECT count(*) FROM _archived_rows a WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE t.id = a.id)"
                )
            ).scalar_one()
        )
        selected = selection.query(schema, table, columns="t.id")
        entry.added_ids = [
            int(r)
            for r in conn.execute(
                sa.text(
                    f"SELECT s.id FROM ({selected}) s "
                    "WHERE NOT EXISTS (SELECT 1 FROM _archived_rows a WHERE a.id = s.id) ORDER BY s.id"
                ),
                selection.params,
            ).scalars()
        ]
        entry.added = len(entry.added_ids)
        still_referenced = " ".join(
            f'AND NOT EXISTS (SELECT 1 FROM "{schema}".{child} r WHERE r.{column} = t.id)'
            for child, column in _referencing_columns(conn, schema, table)
        )
        entry.deleted = conn.execute(
            sa.text(
                f"DELETE FROM {target} t USING _archived_rows a "
                f"WHERE t.id = a.id AND {content} = a.digest {still_referenced}"
            )
        ).rowcount
        entry.referenced = entry.archived - entry.deleted - entry.changed - entry.missing
        entry.changed_ids = entry.changed_ids[:REPORT_SAMPLE_IDS]
        entry.added_ids = entry.added_ids[:REPORT_SAMPLE_IDS]
        report[table] = entry
    progress("", len(tables), len(tables), 0)
    return report
