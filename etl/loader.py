"""Set-based load of normalised records into a tenant's schema.

One batch (about 1,000 records) costs a fixed handful of statements whatever
its size: sprints are upserted by (project, name), people resolved by
`etl.identity`, the records upserted on their natural key with one
`INSERT ... SELECT ... ON CONFLICT DO UPDATE ... WHERE row IS DISTINCT FROM`,
then pull-request links are written. An unchanged record is not rewritten, so
a repeated load changes nothing; rows not in the batch are never touched.

Three ways to ship the batch to PostgreSQL are available (see bench/README.md):

- ``copy`` (default): a binary COPY of the rows into a temporary staging
  table, then the upsert from it. psycopg formats binary COPY rows in C, so
  this is the cheapest for our process (measured 8 against 12-17 us of Python
  per row) and for the server (it parses no JSON but the JSON columns).
- ``arrays``: one typed array per column in PostgreSQL's binary format,
  unpacked by ``unnest`` inside the upsert: one round trip, but psycopg
  builds binary arrays in Python, element by element.
- ``json``: the batch travels as one JSONB document unpacked by
  ``jsonb_to_recordset`` (the server parses every value out of JSON text).

The caller owns the transaction (commit per batch in etl/sync.py).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import repeat
from operator import attrgetter
from typing import Any, Literal

import orjson
import sqlalchemy as sa
from psycopg.rows import namedtuple_row
from sqlmodel import Session

from etl.connectors.base import NormalizedPullRequest, NormalizedWorkItem
from etl.identity import PersonRef, person, resolve_identities
from etl.project_figures import invalidate
from models.db import tenant_schema_of
from models.tenant import PullRequest, WorkItem

Strategy = Literal["copy", "arrays", "json"]
DEFAULT_STRATEGY: Strategy = "copy"
STRATEGIES: tuple[Strategy, ...] = ("copy", "arrays", "json")

_PG_TYPES = {str: "text", int: "integer", float: "double precision", bool: "boolean", datetime: "timestamptz"}


def _pg_type(column: sa.Column) -> str:
    if column.type.__class__.__name__ == "JSONB":
        return "jsonb"
    if isinstance(column.type, sa.String | sa.types.TypeDecorator):  # sqlmodel's AutoString is a String decorator
        return "text"
    try:
        return _PG_TYPES[column.type.python_type]
    except (KeyError, NotImplementedError):
        raise TypeError(f"no staging type for {column.name} ({column.type})") from None


@dataclass(frozen=True)
class _TableSpec:
    table: str
    key: str  # natural key column besides source_id
    data_columns: tuple[str, ...]  # filled from the normalised record
    defaults: dict[str, Any]
    types: dict[str, str]
    lengths: dict[str, int]
    json_columns: frozenset[str]


def _spec(model: type, key: str, normalised: Iterable[str], extra: Sequence[str], defaults: dict[str, Any]) -> _TableSpec:
    table = model.__table__  # type: ignore[attr-defined]
    columns = [c for c in normalised if c in table.c] + list(extra)
    types = {c: _pg_type(table.c[c]) for c in columns}
    lengths = {c: table.c[c].type.length for c in columns if getattr(table.c[c].type, "length", None)}
    return _TableSpec(
        table=table.name,
        key=key,
        data_columns=tuple(columns),
        defaults=defaults,
        types=types,
        lengths=lengths,
        json_columns=frozenset(c for c, t in types.items() if t == "jsonb"),
    )


WORK_ITEMS = _spec(
    WorkItem,
    "source_item_id",
    NormalizedWorkItem.__annotations__,
    ("source_id", "project_id", "source_type", "sprint_id", "assignee_identity_id"),
    {
        "item_type": "story",
        "title": "",
        "status": "",
        "status_category": "todo",
        "labels": [],
        "sprint_history": [],
        "reopened_count": 0,
        "is_blocked": False,
        "blocked_hours": 0.0,
        "pr_links": [],
        "links": [],
    },
)
PULL_REQUESTS = _spec(
    PullRequest,
    "source_pr_id",
    NormalizedPullRequest.__annotations__,
    ("source_id", "project_id", "source_type", "author_identity_id"),
    {
        "repository": "",
        "title": "",
        "state": "open",
        "is_draft": False,
        "reviewers": [],
        "review_count": 0,
        "approvals_count": 0,
        "comments_count": 0,
        "commits_count": 0,
        "dmt_signoff": False,
        "linked_keys": [],
    },
)


@dataclass
class LoadResult:
    """What one load did. `touched_*` lists what changed, for compliance and metrics."""

    received: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    sprints_upserted: int = 0
    links_created: int = 0
    touched_work_item_ids: list[int] = field(default_factory=list)
    touched_sprint_ids: list[int] = field(default_factory=list)

    def add(self, other: LoadResult) -> None:
        self.received += other.received
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.sprints_upserted += other.sprints_upserted
        self.links_created += other.links_created
        self.touched_work_item_ids.extend(other.touched_work_item_ids)
        self.touched_sprint_ids.extend(other.touched_sprint_ids)


# --------------------------------------------------------------------------- helpers
def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | tuple):
        return list(value)
    return str(value)


def _text(value: Any, limit: int | None) -> str:
    """Text PostgreSQL accepts (no NUL bytes), clipped to its column's length."""
    text = value if type(value) is str else str(value)
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text[:limit] if limit and len(text) > limit else text


def _number(value: Any, kind: type, column: str) -> Any:
    if isinstance(value, str):
        value = value.strip()
    try:
        return kind(float(value)) if kind is int and isinstance(value, str) else kind(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{column}: {value!r} is not a number") from None


_TRUE = frozenset({"true", "t", "yes", "y", "on", "1"})


def _boolean(value: Any) -> bool:
    return value.strip().lower() in _TRUE if isinstance(value, str) else bool(value)


def _instant(value: Any, column: str) -> datetime:
    """An aware datetime; naive ones and ISO strings are read as UTC, as the server would."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{column}: {value!r} is not a date and time") from None
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        raise ValueError(f"{column}: {value!r} is not a date and time")
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


_NONE = type(None)
_TZINFO = attrgetter("tzinfo")
_CLEAN = {  # column kind -> the Python types its values may already have (checked per column, in C)
    "integer": frozenset({int, _NONE}),
    "double precision": frozenset({float, _NONE}),
    "boolean": frozenset({bool, _NONE}),
    "timestamptz": frozenset({datetime, _NONE}),
    "text": frozenset({str, _NONE}),
}


def _already_clean(kind: str, values: list[Any], limit: int | None) -> bool:
    """True when a column needs no conversion: one C-level pass over its types (and its text, for NULs and length)."""
    if not set(map(type, values)) <= _CLEAN[kind]:
        return False
    if kind == "text":
        present = [v for v in values if v]
        return "\x00" not in "".join(present) and (not limit or max(map(len, present), default=0) <= limit)
    if kind == "timestamptz":
        return None not in map(_TZINFO, filter(None, values))
    return True


def _column(spec: _TableSpec, column: str, values: list[Any], json_text: bool = True) -> list[Any]:
    """One column of the batch in its PostgreSQL type (JSON columns as JSON text unless `json_text` is false)."""
    kind = spec.types[column]
    if kind == "jsonb":
        return _json_column(values) if json_text else values
    limit = spec.lengths.get(column)
    if _already_clean(kind, values, limit):
        return values
    if kind == "text":
        return [
            v if v is None or (type(v) is str and (not limit or len(v) <= limit) and "\x00" not in v) else _text(v, limit)
            for v in values
        ]
    if kind == "integer":
        return [v if v is None or type(v) is int else _number(v, int, column) for v in values]
    if kind == "double precision":
        return [v if v is None or type(v) is float else _number(v, float, column) for v in values]
    if kind == "boolean":
        return [v if v is None or type(v) is bool else _boolean(v) for v in values]
    if kind == "timestamptz":
        return [v if v is None or (type(v) is datetime and v.tzinfo is not None) else _instant(v, column) for v in values]
    raise TypeError(f"no conversion for {column} ({kind})")


def _json_column(values: list[Any]) -> list[str | None]:
    """A column's values as JSON text (see `_dumps`), in one pass of orjson when it takes them all."""
    try:  # orjson writes datetimes itself; sets, tuples, odd keys and huge integers take the slow path
        texts = [None if v is None else _orjson_dumps(v).decode() for v in values]
    except (TypeError, orjson.JSONEncodeError):
        return [None if v is None else _dumps(v) for v in values]
    if "\\u0000" in "".join(filter(None, texts)):
        return [None if t is None else _JSON_NUL.sub(r"\1", t) for t in texts]
    return texts


def _columns(
    spec: _TableSpec,
    records: Sequence[dict[str, Any]],
    json_text: bool = True,
    fixed: dict[str, Any] | None = None,
    derived: dict[str, Callable[[dict[str, Any]], Any]] | None = None,
) -> list[list[Any]]:
    """The batch as one list per data column: one row per key (the last wins), defaults filled, values typed.

    `fixed` columns hold one value for the whole batch (source, project); `derived` ones are computed from
    each kept record (its sprint id, its assignee's identity): neither needs a copy of every record.
    """
    key_limit = spec.lengths.get(spec.key)
    keys = list(map(dict.get, records, repeat(spec.key)))
    if not all(keys):
        raise ValueError(f"record without {spec.key}")
    if not _already_clean("text", keys, key_limit):
        keys = [_text(key, key_limit) for key in keys]
    by_key = dict(zip(keys, records, strict=True))
    unique = list(by_key.values())
    fixed, derived = fixed or {}, derived or {}
    columns: list[list[Any]] = []
    for column in spec.data_columns:
        if column == spec.key:
            columns.append(list(by_key))
            continue
        if column in fixed:
            values = [fixed[column]] * len(unique)
        elif column in derived:
            values = list(map(derived[column], unique))
        else:
            values = list(map(dict.get, unique, repeat(column)))
        default = spec.defaults.get(column)
        if default is not None and None in values:
            values = [default if v is None else v for v in values]
        columns.append(_column(spec, column, values, json_text))
    return columns


def _rows(spec: _TableSpec, records: Sequence[dict[str, Any]], **derived: Any) -> list[dict[str, Any]]:
    """The batch as one dict per row (see `_columns`), for the json strategy."""
    columns = _columns(spec, records, json_text=False, **derived)
    names = spec.data_columns
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def _upsert_sql(schema: str, spec: _TableSpec, source_relation: str, select_list: str | None = None) -> str:
    cols = spec.data_columns
    col_list = ", ".join(cols)
    updatable = [c for c in cols if c not in ("source_id", spec.key)]
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in updatable)
    old = ", ".join(f"t.{c}" for c in updatable)
    new = ", ".join(f"EXCLUDED.{c}" for c in updatable)
    return f"""
        INSERT INTO "{schema}".{spec.table} AS t ({col_list}, is_deleted, deleted_at, first_seen_at, last_synced_at)
        SELECT {select_list or col_list}, false, NULL, now(), now() FROM {source_relation}
        ON CONFLICT (source_id, {spec.key}) DO UPDATE
           SET {sets}, is_deleted = false, deleted_at = NULL, last_synced_at = now()
         WHERE ({old}, t.is_deleted) IS DISTINCT FROM ({new}, false)
        RETURNING t.id, (t.xmax = 0) AS inserted"""


def _recordset(spec: _TableSpec) -> str:
    defs = ", ".join(f"{c} {spec.types[c]}" for c in spec.data_columns)
    return f"jsonb_to_recordset(CAST(:rows AS jsonb)) AS r({defs})"


def _wire_types(spec: _TableSpec) -> list[str]:
    """Each column's type as the batch ships it: JSON columns travel as JSON text and are cast by the upsert."""
    return ["text" if spec.types[c] == "jsonb" else spec.types[c] for c in spec.data_columns]


def _cast_select(spec: _TableSpec) -> str:
    return ", ".join(f"CAST(r.{c} AS jsonb)" if c in spec.json_columns else f"r.{c}" for c in spec.data_columns)


def _arrays_sql(schema: str, spec: _TableSpec) -> str:
    """The upsert reading one binary array parameter per column."""
    arrays = ", ".join(f"%b::{kind}[]" for kind in _wire_types(spec))
    return _upsert_sql(schema, spec, f"unnest({arrays}) AS r({', '.join(spec.data_columns)})", _cast_select(spec))


def _stage_sql(spec: _TableSpec) -> str:
    """A per-connection staging table, emptied by every commit."""
    defs = ", ".join(f"{c} {t}" for c, t in zip(spec.data_columns, _wire_types(spec), strict=True))
    return f"CREATE TEMP TABLE IF NOT EXISTS _stage_{spec.table} ({defs}) ON COMMIT DELETE ROWS"


def _staged_upsert_sql(schema: str, spec: _TableSpec) -> str:
    return _upsert_sql(schema, spec, f"_stage_{spec.table} AS r", _cast_select(spec))


def _upsert(
    session: Session,
    spec: _TableSpec,
    records: Sequence[dict[str, Any]],
    strategy: Strategy,
    returning_extra: str = "",
    **derived: Any,
) -> tuple[int, list[Any]]:
    """Upsert the batch; return (distinct records, the rows inserted or changed).

    `derived`: the `fixed` and `derived` columns of `_columns`."""
    schema = tenant_schema_of(session)
    if strategy == "arrays":
        columns = _columns(spec, records, **derived)
        raw = session.connection().connection.driver_connection
        with raw.cursor(row_factory=namedtuple_row) as cur:
            cur.execute(_arrays_sql(schema, spec) + returning_extra, columns)
            return len(columns[0]), cur.fetchall()
    if strategy == "json":
        rows = _rows(spec, records, **derived)
        sql = _upsert_sql(schema, spec, _recordset(spec)) + returning_extra
        return len(rows), list(session.execute(sa.text(sql), {"rows": _dumps(rows)}).all())
    if strategy == "copy":
        columns = _columns(spec, records, **derived)
        raw = session.connection().connection.driver_connection
        with raw.cursor(row_factory=namedtuple_row) as cur:
            # One round trip; the DELETE empties what an earlier batch of this transaction staged (free when empty).
            cur.execute(f"{_stage_sql(spec)}; DELETE FROM _stage_{spec.table}")
            with cur.copy(f"COPY _stage_{spec.table} FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(_wire_types(spec))
                for row in zip(*columns, strict=True):
                    copy.write_row(row)
            cur.execute(_staged_upsert_sql(schema, spec) + returning_extra)
            return len(columns[0]), cur.fetchall()
    raise ValueError(f"unknown load strategy {strategy!r}")


_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS
_orjson_dumps = orjson.dumps


def _dumps(value: Any) -> str:
    """JSON text PostgreSQL accepts: jsonb refuses \\u0000, so NUL characters are dropped.

    orjson writes a 1,000-record batch several times faster than the standard
    library; what it refuses (integers beyond 64 bits, exotic types) goes
    through `json.dumps` with the same defaults.
    """
    try:
        text = orjson.dumps(value, default=_json_default, option=_ORJSON_OPTIONS).decode()
    except (TypeError, orjson.JSONEncodeError):
        text = json.dumps(value, default=_json_default, separators=(",", ":"))
    return _JSON_NUL.sub(r"\1", text) if "\\u0000" in text else text


def _no_jit(session: Session) -> None:
    """JIT compiling the per-row probe plans costs more than running them (this transaction only)."""
    _driver(session).execute("SET LOCAL jit = off")


def _driver(session: Session) -> Any:
    """The session's psycopg connection, in its transaction: for statements too simple for SQLAlchemy's overhead."""
    return session.connection().connection.driver_connection


# --------------------------------------------------------------------------- sprints
_SPRINT_DETAILS = (("source_sprint_id", "sprint_source_id"), ("state", "sprint_state"), ("start_date", "sprint_start"), ("end_date", "sprint_end"), ("complete_date", "sprint_complete"))  # fmt: skip
_SPRINT_FIELDS = ("sprint_name", *(theirs for _, theirs in _SPRINT_DETAILS))


def _batch_sprints(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The sprints a batch names (current sprint and history), with what the batch says about each.

    A detail comes from the last record that states it. A batch of 1,000 items names a few sprints, so each
    distinct (sprint, details) is read once, in the order of its last record (which keeps that rule)."""
    sprints: dict[str, dict[str, Any]] = {}
    histories = [tuple(map(str, filter(None, h))) for h in map(dict.get, records, repeat("sprint_history")) if h]
    for history in dict.fromkeys(histories):
        for name in history:
            sprints.setdefault(name[:200], {"name": name[:200]})
    stated = [tuple(map(record.get, _SPRINT_FIELDS)) for record in records]
    try:
        distinct: Iterable[tuple[Any, ...]] = reversed(dict.fromkeys(reversed(stated)))
    except TypeError:  # a detail that cannot be hashed (a malformed record): every record, in order
        distinct = stated
    for name, *details in distinct:
        if name:
            name = str(name)[:200]
            info = sprints.setdefault(name, {"name": name})
            for (ours, _), value in zip(_SPRINT_DETAILS, details, strict=True):
                if value is not None:
                    info[ours] = value
    return sprints


def _upsert_sprints(session: Session, project_id: int, source_id: int, sprints: dict[str, dict[str, Any]]) -> tuple[dict[str, int], int]:
    """Upsert the batch's sprints (see `_batch_sprints`); return name -> sprint id and how many rows changed."""
    if not sprints:
        return {}, 0
    schema = tenant_schema_of(session)
    params = {
        "rows": _dumps(list(sprints.values())),
        "project_id": project_id,
        "source_id": source_id,
    }
    recordset = (
        "jsonb_to_recordset(CAST(:rows AS jsonb)) "
        "AS r(name text, source_sprint_id text, state text, start_date timestamptz, end_date timestamptz, complete_date timestamptz)"
    )
    inserted = session.execute(
        sa.text(
            f"""INSERT INTO "{schema}".sprints (project_id, source_id, source_sprint_id, name, state, start_date, end_date, complete_date)
                SELECT :project_id, :source_id, left(r.source_sprint_id, 100), r.name, coalesce(left(r.state, 20), 'closed'),
                       r.start_date, r.end_date, r.complete_date
                FROM {recordset}
                ON CONFLICT (project_id, name) DO NOTHING"""
        ),
        params,
    ).rowcount
    # Known sprints: take what the batch says, keep what it does not say.
    updated = session.execute(
        sa.text(
            f"""UPDATE "{schema}".sprints s SET
                    source_sprint_id = coalesce(left(r.source_sprint_id, 100), s.source_sprint_id),
                    state = coalesce(left(r.state, 20), s.state),
                    start_date = coalesce(r.start_date, s.start_date),
                    end_date = coalesce(r.end_date, s.end_date),
                    complete_date = coalesce(r.complete_date, s.complete_date)
                FROM {recordset}
                WHERE s.project_id = :project_id AND s.name = r.name
                  AND (s.source_sprint_id, s.state, s.start_date, s.end_date, s.complete_date) IS DISTINCT FROM
                      (coalesce(left(r.source_sprint_id, 100), s.source_sprint_id), coalesce(left(r.state, 20), s.state),
                       coalesce(r.start_date, s.start_date), coalesce(r.end_date, s.end_date),
                       coalesce(r.complete_date, s.complete_date))"""
        ),
        params,
    ).rowcount
    changed = int(inserted or 0) + int(updated or 0)
    ids = session.execute(
        sa.text(f'SELECT name, id FROM "{schema}".sprints WHERE project_id = :p AND name = ANY(CAST(:names AS text[]))'),
        {"p": project_id, "names": list(sprints)},
    ).all()
    return {name: sprint_id for name, sprint_id in ids}, int(changed)


# --------------------------------------------------------------------------- dimensions
@dataclass
class Dimensions:
    """What a batch's records point at: sprint ids by name and identity ids by person key."""

    sprint_ids: dict[str, int] = field(default_factory=dict)
    sprints_upserted: int = 0
    identities: dict[tuple[str, str], int] = field(default_factory=dict)
    #: What the batch named (for `DimensionCache.remember`, once the transaction committed).
    named_sprints: dict[str, dict[str, Any]] = field(default_factory=dict)
    named_people: list[PersonRef] = field(default_factory=list)
    from_cache: bool = False
    manual_aliases: str | None = None  # the cache's view of the manual mappings when the batch was resolved
    #: A work-item batch's distinct assignees by their raw fields (see `_assignees`), for the loader.
    assignees: dict[tuple[Any, Any, Any], PersonRef | None] = field(default_factory=dict)


#: How stale a sync's view of the manual identity mappings may get (an admin's mapping applies within this).
MANUAL_ALIAS_CHECK_SECONDS = 1.0


@dataclass
class DimensionCache:
    """The sprints and people one sync has already written, shared by its loader threads.

    A backfill names the same few sprints and developers in batch after
    batch. Only sprints not yet written with the batch's details and people
    not yet resolved go through the dimension transaction; a batch naming
    none skips it (its tenant lock, four statements and a commit). Manual
    identity mappings win over automatic ones, so the people are forgotten
    when the tenant's manual aliases change (at most one cheap query a second).
    """

    sprints: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    people: dict[PersonRef, int] = field(default_factory=dict)
    manual_aliases: str | None = None
    checked_at: float = float("-inf")
    lock: threading.Lock = field(default_factory=threading.Lock)

    def split(
        self, sprints: dict[str, dict[str, Any]], refs: Sequence[PersonRef]
    ) -> tuple[Dimensions, dict[str, dict[str, Any]], list[PersonRef]]:
        """(the batch's dimensions already known as the batch states them, the sprints and people to write)."""
        known = Dimensions(from_cache=True)
        new_sprints: dict[str, dict[str, Any]] = {}
        new_people: list[PersonRef] = []
        with self.lock:
            for name, info in sprints.items():
                cached = self.sprints.get(name)
                if cached is None or any(cached[1].get(k) != v for k, v in info.items()):
                    new_sprints[name] = info
                else:
                    known.sprint_ids[name] = cached[0]
            for ref in refs:
                identity_id = self.people.get(ref)
                if identity_id is None:
                    new_people.append(ref)
                    continue
                known.identities[ref.key] = identity_id  # type: ignore[index]
                if ref.email:
                    known.identities.setdefault(("email", ref.email), identity_id)
        return known, new_sprints, new_people

    def remember(self, dims: Dimensions) -> None:
        """Keep what a batch's dimension transaction wrote; call it after that transaction committed."""
        if dims.from_cache:
            return
        with self.lock:
            for name, info in dims.named_sprints.items():
                if name in dims.sprint_ids:
                    previous = self.sprints.get(name, (0, {}))[1]
                    self.sprints[name] = (dims.sprint_ids[name], {**previous, **info})
            if dims.manual_aliases != self.manual_aliases:
                return  # a manual mapping changed while this batch was resolved: its people may be stale
            for ref in dims.named_people:
                identity_id = dims.identities.get(ref.key)  # type: ignore[arg-type]
                if identity_id is not None:
                    self.people[ref] = identity_id

    def check_manual_aliases(self, session: Session) -> None:
        """Forget the people when a manual mapping was added or changed (looked at once a second at most)."""
        now = time.monotonic()
        if now - self.checked_at < MANUAL_ALIAS_CHECK_SECONDS:
            return
        self.checked_at = now
        schema = tenant_schema_of(session)
        signature = _driver(session).execute(
            f"""SELECT count(*) || ':' || coalesce(md5(string_agg(alias_type || '/' || alias_value || '=' || identity_id,
                                                                 ',' ORDER BY id)), '')
                FROM "{schema}".identity_aliases WHERE source = 'manual'"""
        ).fetchone()[0]
        with self.lock:
            if signature != self.manual_aliases:
                self.people.clear()
                self.manual_aliases = signature


def _assignee_fields(record: dict[str, Any]) -> tuple[Any, Any, Any]:
    return (record.get("assignee_account_id"), record.get("assignee_email"), record.get("assignee_name"))


def _assignees(source_type: str, records: Sequence[dict[str, Any]]) -> dict[tuple[Any, Any, Any], PersonRef | None]:
    """Each distinct assignee of a batch (a dozen for 1,000 items) as a PersonRef, by its raw fields."""
    refs: dict[tuple[Any, Any, Any], PersonRef | None] = {}
    for record in records:
        fields = _assignee_fields(record)
        if fields not in refs:
            refs[fields] = person(source_type, *fields)
    return refs


def _pr_people(source_type: str, record: dict[str, Any]) -> list[PersonRef]:
    refs = [person(source_type, record.get("author_login"), record.get("author_email"), record.get("author_name"))]
    for reviewer in record.get("reviewers") or []:
        refs.append(person(source_type, reviewer.get("login"), reviewer.get("email"), reviewer.get("name")))
    return [r for r in refs if r is not None]


def resolve_dimensions(
    session: Session,
    stream: str,
    records: Sequence[dict[str, Any]],
    *,
    source_id: int,
    project_id: int,
    source_type: str,
    cache: DimensionCache | None = None,
) -> Dimensions:
    """Upsert the sprints and people a batch of `stream` ("work_items" or "pull_requests") names.

    Runs under one tenant-wide advisory lock held to the end of the
    transaction, so concurrent loaders create each sprint and person once and
    never wait on each other's rows in opposite orders. Committing right after
    (as etl/sync.py does) keeps that lock short, and lets loaders write their
    records in parallel. With a `cache` (one per sync), only the sprints and
    people it does not know yet are written (none at all for most batches of
    a backfill); the caller remembers them once committed
    (`DimensionCache.remember`).
    """
    if not records:
        return Dimensions()
    sprints = _batch_sprints(records) if stream == "work_items" else {}
    assignees = _assignees(source_type, records) if stream == "work_items" else {}
    if stream == "work_items":
        refs = [ref for ref in assignees.values() if ref is not None and ref.key]
    else:
        refs = [ref for r in records for ref in _pr_people(source_type, r) if ref.key]
    known = Dimensions()
    if cache is not None:
        cache.check_manual_aliases(session)
        known, sprints, refs = cache.split(sprints, refs)
        known.assignees = assignees
        if not sprints and not refs:
            return known
    dims = Dimensions(
        named_sprints=sprints, named_people=refs, manual_aliases=cache.manual_aliases if cache else None, assignees=assignees
    )
    schema = tenant_schema_of(session)
    session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"dmt:dimensions:{schema}"})
    if sprints:
        dims.sprint_ids, dims.sprints_upserted = _upsert_sprints(session, project_id, source_id, sprints)
    if refs:
        dims.identities = resolve_identities(session, refs)
    dims.sprint_ids.update(known.sprint_ids)
    for key, identity_id in known.identities.items():
        dims.identities.setdefault(key, identity_id)
    return dims


def load_batch(
    session: Session,
    stream: str,
    records: Sequence[dict[str, Any]],
    *,
    source_id: int,
    project_id: int,
    source_type: str,
    strategy: Strategy = DEFAULT_STRATEGY,
    cache: DimensionCache | None = None,
) -> LoadResult:
    """One batch as a sync writes it: its sprints and people resolved and committed first (a short
    transaction under the tenant lock, skipped when `cache` knows them all), then its records upserted in
    a transaction the caller commits."""
    where = {"source_id": source_id, "project_id": project_id, "source_type": source_type}
    dimensions = resolve_dimensions(session, stream, records, cache=cache, **where)
    if not dimensions.from_cache:  # nothing written (at most the manual-mapping check): one transaction
        session.commit()
        if cache is not None:
            cache.remember(dimensions)
    loader = load_work_items if stream == "work_items" else load_pull_requests
    return loader(session, records, strategy=strategy, dimensions=dimensions, **where)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- work items
def load_work_items(
    session: Session,
    records: Sequence[NormalizedWorkItem],
    *,
    source_id: int,
    project_id: int,
    source_type: str,
    strategy: Strategy = DEFAULT_STRATEGY,
    dimensions: Dimensions | None = None,
) -> LoadResult:
    """Upsert one batch of normalised work items (with their sprints, people and PR links).

    `dimensions` are the batch's sprints and people resolved beforehand by
    `resolve_dimensions` (in an earlier transaction); without them they are
    resolved here, in the caller's transaction.
    """
    result = LoadResult(received=len(records))
    if not records:
        return result
    _no_jit(session)
    if dimensions is None:
        dimensions = resolve_dimensions(
            session, "work_items", records, source_id=source_id, project_id=project_id, source_type=source_type  # type: ignore[arg-type]
        )
    result.sprints_upserted = dimensions.sprints_upserted
    sprint_ids, identities = dimensions.sprint_ids, dimensions.identities
    assignees = dimensions.assignees or _assignees(source_type, records)  # resolve_dimensions computed them
    assignee_ids = {fields: identities.get(ref.key) if ref and ref.key else None for fields, ref in assignees.items()}

    def sprint_id(record: dict[str, Any]) -> int | None:
        sprint_name = (record.get("sprint_name") or "")[:200]
        return sprint_ids.get(sprint_name) if sprint_name else None

    distinct, returned = _upsert(
        session, WORK_ITEMS, records, strategy,  # type: ignore[arg-type]
        returning_extra=", t.sprint_id, t.item_key, NULLIF(t.pr_links, '[]'::jsonb) AS pr_links",  # [] is not parsed
        fixed={"source_id": source_id, "project_id": project_id, "source_type": source_type},
        derived={"sprint_id": sprint_id, "assignee_identity_id": lambda record: assignee_ids[_assignee_fields(record)]},
    )  # fmt: skip
    inserted = sum(1 for r in returned if r.inserted)
    result.inserted = inserted
    result.updated = len(returned) - inserted
    result.unchanged = distinct - len(returned)
    result.touched_work_item_ids = [r.id for r in returned]
    result.touched_sprint_ids = sorted({r.sprint_id for r in returned if r.sprint_id is not None})
    if returned:
        result.links_created = _link_items_to_prs(session, returned, project_id)
        invalidate(session.connection(), tenant_schema_of(session), project_id, "work_items")
    return result


def _link_items_to_prs(session: Session, changed: Sequence[sa.Row], project_id: int) -> int:
    """Link changed work items to the PRs that name their key, or whose URL the item lists."""
    keys = sorted({r.item_key for r in changed if r.item_key})
    urls = sorted({u for r in changed for u in (r.pr_links or []) if isinstance(u, str)})
    if not (keys or urls):
        return 0
    schema = tenant_schema_of(session)
    sql = f'SELECT EXISTS (SELECT 1 FROM "{schema}".pull_requests WHERE project_id = %s)'
    if not _driver(session).execute(sql, (project_id,)).fetchone()[0]:
        return 0  # no PR to link to yet (a tracker's first backfill): skip the 1,000-key probe (~5 ms per batch)
    return _link(session, item_ids=[r.id for r in changed], item_keys=keys, item_urls=urls)


def _link(
    session: Session,
    *,
    item_ids: Sequence[int] = (),
    item_keys: Sequence[str] = (),
    item_urls: Sequence[str] = (),
    pr_ids: Sequence[int] = (),
    pr_keys: Sequence[str] = (),
    pr_urls: Sequence[str] = (),
) -> int:
    """Link work items and pull requests of the same project; returns the links created.

    The one PR<->item linking statement, for either side of a load: the changed
    work items (`item_ids`, with their keys and listed PR URLs) or the changed
    pull requests (`pr_ids`, with the keys they name and their URLs). A PR that
    names an item's key links by 'key'; an item that lists a PR's URL links by
    'tool' (by 'key' when both hold). Existing links stay as they are.

    Plans are pinned on purpose: the candidates on each side come from one
    bitmap scan over all of the batch's ids, keys or URLs (`?|` on a jsonb_ops
    GIN index: 2.6 ms per 1,000 keys where `@> ANY` took 17 ms with one scan
    per key), materialised, then joined on equality of key or URL. A
    correlated probe per item let the planner fall back to a filter over every
    PR per item (measured 13 s per 1,000 items at 25k PRs), and joining the
    two sides on the project before expanding the keys and URLs made
    PostgreSQL's generic plan (the one a prepared statement ends up with)
    compare every pair: over 30 s per batch. The GIN indexes have fastupdate
    off, so fresh entries are not rescanned per probe.
    """
    schema = tenant_schema_of(session)
    params = {
        "item_ids": list(item_ids), "item_keys": list(item_keys), "item_urls": list(item_urls),
        "pr_ids": list(pr_ids), "pr_keys": list(pr_keys), "pr_urls": list(pr_urls),
    }  # fmt: skip
    driver = _driver(session)
    driver.execute("SET LOCAL enable_seqscan = off")
    created = driver.execute(
        f"""WITH pr AS MATERIALIZED (
                SELECT p.id, p.project_id, p.url, p.linked_keys FROM "{schema}".pull_requests p
                WHERE p.id = ANY(CAST(%(pr_ids)s AS int[]))
                   OR p.linked_keys ?| CAST(%(item_keys)s AS text[])
                   OR p.url = ANY(CAST(%(item_urls)s AS text[]))
            ), wi AS MATERIALIZED (
                SELECT w.id, w.project_id, w.item_key, w.pr_links FROM "{schema}".work_items w
                WHERE w.id = ANY(CAST(%(item_ids)s AS int[]))
                   OR w.item_key = ANY(CAST(%(pr_keys)s AS text[]))
                   OR w.pr_links ?| CAST(%(pr_urls)s AS text[])
            ), named_keys AS MATERIALIZED (
                SELECT pr.id, pr.project_id, k.item_key FROM pr, jsonb_array_elements_text(pr.linked_keys) AS k(item_key)
            ), listed_urls AS MATERIALIZED (
                SELECT wi.id, wi.project_id, u.url FROM wi, jsonb_array_elements_text(wi.pr_links) AS u(url)
            ), pairs AS (
                SELECT wi.id AS work_item_id, nk.id AS pull_request_id, 'key' AS link_source
                FROM named_keys nk JOIN wi ON wi.item_key = nk.item_key AND wi.project_id = nk.project_id
                UNION ALL
                SELECT lu.id, pr.id, 'tool'
                FROM listed_urls lu JOIN pr ON pr.url = lu.url AND pr.project_id = lu.project_id
            )
            INSERT INTO "{schema}".work_item_pull_requests (work_item_id, pull_request_id, link_source)
            SELECT DISTINCT ON (work_item_id, pull_request_id) work_item_id, pull_request_id, link_source
            FROM pairs
            WHERE work_item_id = ANY(CAST(%(item_ids)s AS int[])) OR pull_request_id = ANY(CAST(%(pr_ids)s AS int[]))
            ORDER BY work_item_id, pull_request_id, link_source  -- 'key' before 'tool'
            ON CONFLICT (work_item_id, pull_request_id) DO NOTHING""",
        params,
    ).rowcount
    driver.execute("SET LOCAL enable_seqscan = on")
    return int(created or 0)


# --------------------------------------------------------------------------- pull requests
def load_pull_requests(
    session: Session,
    records: Sequence[NormalizedPullRequest],
    *,
    source_id: int,
    project_id: int,
    source_type: str,
    strategy: Strategy = DEFAULT_STRATEGY,
    dimensions: Dimensions | None = None,
) -> LoadResult:
    """Upsert one batch of normalised pull requests (authors, reviewers and work-item links).

    `dimensions`: the batch's people, resolved beforehand (see `load_work_items`).
    """
    result = LoadResult(received=len(records))
    if not records:
        return result
    _no_jit(session)
    if dimensions is None:
        dimensions = resolve_dimensions(
            session, "pull_requests", records, source_id=source_id, project_id=project_id, source_type=source_type  # type: ignore[arg-type]
        )
    identities = dimensions.identities

    def identity_id(login: Any, email: Any, name: Any) -> int | None:
        ref = person(source_type, login, email, name)
        return identities.get(ref.key) if ref and ref.key else None

    def reviewers(record: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {**r, "identity_id": identity_id(r.get("login"), r.get("email"), r.get("name"))}
            for r in record.get("reviewers") or []
        ]

    distinct, returned = _upsert(
        session, PULL_REQUESTS, records, strategy,  # type: ignore[arg-type]
        returning_extra=", t.url, NULLIF(t.linked_keys, '[]'::jsonb) AS linked_keys",  # [] is not parsed
        fixed={"source_id": source_id, "project_id": project_id, "source_type": source_type},
        derived={
            "author_identity_id": lambda r: identity_id(r.get("author_login"), r.get("author_email"), r.get("author_name")),
            "reviewers": reviewers,
            "linked_keys": lambda r: sorted({str(k) for k in r.get("linked_keys") or [] if k}),
        },
    )  # fmt: skip
    inserted = sum(1 for r in returned if r.inserted)
    result.inserted = inserted
    result.updated = len(returned) - inserted
    result.unchanged = distinct - len(returned)
    if returned:
        links, item_ids, sprint_ids = _link_prs_to_items(session, returned)
        result.links_created = links
        result.touched_work_item_ids = item_ids
        result.touched_sprint_ids = sprint_ids
        # Last, so the figures row is locked after the rows (the compliance evaluation's order too).
        invalidate(session.connection(), tenant_schema_of(session), project_id, "pull_requests")
    return result


def _link_prs_to_items(session: Session, changed: Sequence[sa.Row]) -> tuple[int, list[int], list[int]]:
    """(Re)link changed PRs to work items by key and by the items' PR URLs.

    Key links a PR no longer names are removed. Returns (links created, work
    item ids linked to these PRs, their sprint ids) so their compliance can be
    re-evaluated.
    """
    schema = tenant_schema_of(session)
    pr_ids = [r.id for r in changed]
    params = {"ids": pr_ids}
    session.execute(
        sa.text(
            f"""DELETE FROM "{schema}".work_item_pull_requests l
                USING "{schema}".pull_requests pr, "{schema}".work_items wi
                WHERE l.pull_request_id = pr.id AND l.work_item_id = wi.id AND l.link_source = 'key'
                  AND pr.id = ANY(CAST(:ids AS int[]))
                  AND NOT (coalesce(pr.linked_keys, '[]'::jsonb) @> jsonb_build_array(wi.item_key))"""
        ),
        params,
    )
    created = _link(
        session,
        pr_ids=pr_ids,
        pr_keys=sorted({k for r in changed for k in (r.linked_keys or [])}),
        pr_urls=sorted({r.url for r in changed if r.url}),
    )
    touched = session.execute(
        sa.text(
            f"""SELECT DISTINCT wi.id, wi.sprint_id FROM "{schema}".work_item_pull_requests l
                JOIN "{schema}".work_items wi ON wi.id = l.work_item_id
                WHERE l.pull_request_id = ANY(CAST(:ids AS int[]))"""
        ),
        params,
    ).all()
    item_ids = sorted({r[0] for r in touched})
    sprint_ids = sorted({r[1] for r in touched if r[1] is not None})
    return created, item_ids, sprint_ids
