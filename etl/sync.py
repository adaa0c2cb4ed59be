"""One sync of one source: extract -> normalise -> load, with a run record, cursor and breaker.

    run = run_sync("acme", source_id=7, kind="incremental")

- The source row (public) gives the connector settings; the token is decrypted
  just before use and never logged.
- A source whose breaker is open (or that failed `failure_threshold` times in a
  row) is refused until an admin resets it (`services.sources.reset_circuit`).
- Pages stream from the connector; each record is normalised on its own: one
  that raises becomes a SyncItemError row (raw payload kept) and the run ends
  "partial". Records are loaded in batches, each batch in its own transaction,
  so memory holds at most one batch and a crash loses at most the open batch
  (re-fetched next time: the load is idempotent).
- The cursor (newest updated-at seen) moves only after the stream's data is
  committed; incremental syncs start `CURSOR_OVERLAP` before it.
- Progress is published as live events; the source row keeps status, last
  sync and success times, consecutive failures and the breaker.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import gc
import json
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from core.crypto import decrypt_secret
from core.realtime import publish_event, redis_client
from etl.compliance import evaluate_compliance
from etl.connectors.base import BaseConnector, FieldMapping, SourceError, SourceSettings
from etl.connectors.registry import get_connector
from etl.deployment_loader import load_deployments
from etl.loader import DimensionCache, LoadResult, _dumps, load_batch
from etl.metrics import rebuild_metrics
from etl.project_figures import compliance_counts_deferred, invalidate, refresh_compliance_counts, refresh_pr_health
from models import tenant as tenant_models
from models.base import utcnow
from models.db import public_session, tenant_schema_of, tenant_session
from models.enums import ProjectRole, SourceStatus, SyncKind, SyncStatus
from models.public import Notification, SourceConfig, Tenant, User, UserProjectRole
from models.tenant import SyncCursor, SyncItemError, SyncRun

log = logging.getLogger(__name__)

#: Records per batch. Each batch costs a fixed handful of statements and commits, but two loaders keep
#: both cores busier with batches of 1,000 than of 2,000 (load path 44.5-50k against 37.7-45.4k rows/s),
#: and hold half the memory in flight.
BATCH_SIZE = 1000
#: Records per batch of each stream, as a share of the batch size. A pull request carries its reviews,
#: commits, comments and checks: ~22 KB of raw payload on the GitHub fake against ~2.8 KB for a Jira
#: issue, so its batches are 250 records, which keeps a batch's memory (and the sync's peak RSS with
#: two batches in flight) about the same whatever the tool.
BATCH_SHARE = {"work_items": 1.0, "pull_requests": 0.25, "deployments": 0.25}
#: Batches written at the same time, each in its own transaction on its own connection: while one
#: waits for PostgreSQL (most of a load), the other is prepared or written on the other core.
LOAD_CONNECTIONS = 2
#: Tries of one batch whose transaction PostgreSQL aborted as a deadlock or serialisation failure
#: (two concurrent batches holding the same record, which a tool can return twice).
WRITE_ATTEMPTS = 3
#: Items loaded between two compliance evaluations during a stream. A set-based pass has a fixed cost
#: (~30 ms), so passes cover several batches; they run in the background (see _flush_compliance), and
#: flags appear while a long backfill runs instead of all at its end.
COMPLIANCE_EVERY = 2000
CURSOR_OVERLAP = timedelta(minutes=10)
STREAMS = ("work_items", "pull_requests", "deployments")
RAW_PAYLOAD_LIMIT = 200_000  # characters of a failed record's payload kept in sync_item_errors


class SyncRefused(SourceError):
    """The sync was not started: breaker open, source inactive, or another sync of it is running."""


class CircuitOpen(SyncRefused):
    pass


class SyncAlreadyRunning(SyncRefused):
    pass


# --------------------------------------------------------------------------- settings
def build_source_settings(source: SourceConfig) -> SourceSettings:
    """Connector settings from a source row, with the token decrypted (keep it server-side).

    The stored field mapping is read with the parser that validated it when it was saved
    (a mapping that no longer parses raises FieldMappingError, a SourceConfigError).
    """
    config = dict(source.config_json or {})
    return SourceSettings(
        source_type=source.source_type,
        base_url=source.base_url,
        token=decrypt_secret(source.token_encrypted),
        username=source.username,
        config_json=config,
        field_mappings=FieldMapping.parse(source.field_mappings),
        request_budget_per_minute=source.request_budget_per_minute,
        source_id=source.id,
        project_key=config.get("project_key"),
    )


# --------------------------------------------------------------------------- lock
def lock_ttl_seconds() -> int:
    return int(os.environ.get("DMT_SYNC_LOCK_TTL", "60"))


@contextlib.contextmanager
def source_lock(tenant_slug: str, source_id: int, *, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the per-source Redis lock for the duration of a sync.

    The lock has a short TTL renewed by a heartbeat thread, so a worker killed
    mid-sync releases it within `DMT_SYNC_LOCK_TTL` seconds. Raises
    SyncAlreadyRunning when another process holds it after `wait_seconds`.
    """
    client = redis_client()
    key = f"dmt:sync-lock:{tenant_slug}:{source_id}"
    token = uuid.uuid4().hex
    ttl = lock_ttl_seconds()
    deadline = time.monotonic() + wait_seconds
    while not client.set(key, token, nx=True, ex=ttl):
        if time.monotonic() >= deadline:
            raise SyncAlreadyRunning(f"a sync of source {source_id} is already running; this one was skipped")
        time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(ttl / 3):
            with contextlib.suppress(Exception):
                # Extend only while we still own it.
                if client.get(key) == token:
                    client.expire(key, ttl)

    beat = threading.Thread(target=heartbeat, name=f"sync-lock-{source_id}", daemon=True)
    beat.start()
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            if client.get(key) == token:
                client.delete(key)


# --------------------------------------------------------------------------- memory
#: glibc's malloc settings for a process that syncs (mallopt parameters M_ARENA_MAX and M_MMAP_THRESHOLD).
MALLOC_ARENA_MAX = 2
MALLOC_MMAP_THRESHOLD = 128 * 1024
_allocator_tuned = False


def tune_allocator() -> bool:
    """Keep a syncing process's memory flat under glibc's malloc; True when applied (once per process).

    A sync decodes half-megabyte pages in several threads at once. By default
    glibc gives each thread its own arena and raises its mmap threshold after
    the first large free, so page buffers land in per-thread heaps that fill
    with holes: extracting 50,000 Jira issues, resident memory kept growing,
    149 -> 194 MB between the 6,000th and the 45,000th issue. Two arenas and a
    fixed 128 KB threshold (big buffers mapped and unmapped, as before the
    first free) held it at 135-150 MB. Elsewhere than glibc it does nothing.
    """
    global _allocator_tuned
    if _allocator_tuned:
        return True
    try:
        libc = ctypes.CDLL("libc.so.6")
        applied = libc.mallopt(-8, MALLOC_ARENA_MAX) == 1 and libc.mallopt(-3, MALLOC_MMAP_THRESHOLD) == 1
    except (OSError, AttributeError):
        return False
    _allocator_tuned = applied
    return applied


# --------------------------------------------------------------------------- garbage collector
#: Allocations between two young-generation collections while a sync runs (CPython's default is 700).
SYNC_GC_THRESHOLD = 10_000
_gc_guard = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, ...] = ()


@contextlib.contextmanager
def bulk_allocation_gc() -> Iterator[None]:
    """Run the cyclic garbage collector less often while pages of records stream through.

    A page of decoded JSON is thousands of new dicts and lists, so at the
    default threshold (700 allocations) the collector runs every few records,
    and its full passes walk every object of the process (modules, ORM
    metadata) to free almost nothing: records form no cycles and are freed by
    reference counting. Measured over a 5,000-issue Jira backfill: 0.47 s of
    collection at the default, 0.10-0.14 s at 10,000. A higher threshold
    (100,000) saved little more and let the sessions' cyclic garbage pile up
    (peak RSS +40 % at 20,000 issues). Process-wide, so nested or concurrent
    syncs share it; the last one out restores the previous thresholds.
    """
    global _gc_users, _gc_saved
    tune_allocator()
    with _gc_guard:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(max(SYNC_GC_THRESHOLD, _gc_saved[0]), *_gc_saved[1:])
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_guard:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_saved)


# --------------------------------------------------------------------------- run
@dataclass
class _Context:
    tenant_slug: str
    tenant_id: int
    source: SourceConfig
    run_id: int
    kind: str
    batch_size: int
    touched_sprints: set[int]
    #: Evaluates the DMT rules for the loaded items: (tenant slug, work item ids).
    compliance: Callable[[str, list[int]], object]
    on_batch: Callable[[SyncRun], None] | None = None
    #: Items loaded since the last compliance evaluation (evaluated every COMPLIANCE_EVERY and at stream end).
    pending_compliance: list[int] = field(default_factory=list)
    #: Runs the evaluations one after the other, beside the loaders (created on first use).
    judge: ThreadPoolExecutor | None = None
    #: A pass since the stream's last one left the project's compliance counts unstored.
    counts_deferred: bool = False
    #: Rows inserted per stream, and how many of them the planner's statistics have seen.
    inserted: dict[str, int] = field(default_factory=dict)
    analysed: dict[str, int] = field(default_factory=dict)
    #: Guards the fields above against the concurrent loader threads.
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Progress last published (fetched + pages), so concurrent loaders never publish it going backwards.
    published: int = -1
    #: Sprints and people this run already wrote: later batches naming only those skip their transaction.
    dimensions: DimensionCache = field(default_factory=DimensionCache)


def run_sync(
    tenant_slug: str,
    source_id: int,
    kind: str = SyncKind.INCREMENTAL,
    task_id: str | None = None,
    *,
    batch_size: int = BATCH_SIZE,
    count_failure: bool | Callable[[Exception], bool] = True,
    lock: bool = True,
    lock_wait_seconds: float = 0.0,
    on_batch: Callable[[SyncRun], None] | None = None,
    evaluate: Callable[[str, list[int]], object] = evaluate_compliance,
) -> SyncRun:
    """Run one sync of a source and return its SyncRun.

    Loaded items are judged by `evaluate` (the DMT evaluation by default; a
    worker passes `services.alerts.evaluate_and_alert` so new critical flags
    are also announced).

    On failure the run, the source row and (after the threshold) the breaker
    and notifications are recorded, then the error is raised again so a worker
    can retry it. `count_failure=False` (or a function of the error returning
    False) records the failed run without counting it towards the breaker: a
    retry is coming.
    """
    if kind not in (SyncKind.INCREMENTAL, SyncKind.BACKFILL, SyncKind.RECONCILE):
        raise ValueError(f"unknown sync kind {kind!r} (incremental, backfill, reconcile)")
    guard = source_lock(tenant_slug, source_id, wait_seconds=lock_wait_seconds) if lock else contextlib.nullcontext()
    with guard, bulk_allocation_gc():
        return _run_locked(tenant_slug, source_id, str(kind), task_id, batch_size, count_failure, on_batch, evaluate)


def _load_source(tenant_slug: str, source_id: int) -> tuple[SourceConfig, Tenant]:
    with public_session() as session:
        source = session.get(SourceConfig, source_id)
        tenant = session.exec(select(Tenant).where(Tenant.slug == tenant_slug)).first()
        if source is None or tenant is None or source.tenant_id != tenant.id:
            raise SyncRefused(f"source {source_id} does not belong to tenant {tenant_slug!r}")
        return source, tenant


def _run_locked(
    tenant_slug: str,
    source_id: int,
    kind: str,
    task_id: str | None,
    batch_size: int,
    count_failure: bool | Callable[[Exception], bool],
    on_batch: Callable[[SyncRun], None] | None,
    evaluate: Callable[[str, list[int]], object],
) -> SyncRun:
    source, tenant = _load_source(tenant_slug, source_id)
    if not source.is_active:
        raise SyncRefused(f"source {source.name!r} is inactive")
    if source.circuit_open or source.consecutive_failures >= source.failure_threshold:
        raise CircuitOpen(
            f"source {source.name!r} failed {source.consecutive_failures} times in a row "
            f"(last error: {source.last_error or 'unknown'}); syncs are paused until an admin resets it"
        )
    now = utcnow()
    with tenant_session(tenant_slug) as session:
        if task_id:
            # A task redelivered after its worker died: close the interrupted run.
            for stale in session.exec(
                select(SyncRun).where(SyncRun.task_id == task_id, SyncRun.status == SyncStatus.RUNNING)
            ).all():
                stale.status = SyncStatus.FAILED
                stale.finished_at = now
                stale.error = "interrupted (worker lost); the task was delivered again"
        run = SyncRun(source_id=source_id, kind=kind, status=SyncStatus.RUNNING, task_id=task_id, started_at=now, window_end=now)
        session.add(run)
        session.commit()
        run_id = run.id
    assert run_id is not None
    _update_source(source_id, status=SourceStatus.SYNCING, last_sync_at=now)
    publish_event("sync.started", tenant_slug, source_id=source_id, run_id=run_id, kind=kind)

    ctx = _Context(
        tenant_slug=tenant_slug,
        tenant_id=tenant.id or 0,
        source=source,
        run_id=run_id,
        kind=kind,
        batch_size=batch_size,
        touched_sprints=set(),
        compliance=evaluate,
        on_batch=on_batch,
    )
    connector: BaseConnector | None = None
    try:
        connector = get_connector(source.source_type, build_source_settings(source))
        if kind == SyncKind.RECONCILE:
            _reconcile(ctx, connector)
        else:
            provided = {
                "work_items": connector.provides_work_items,
                "pull_requests": connector.provides_pull_requests,
                "deployments": connector.provides_deployments,
            }
            for stream in STREAMS:
                if provided[stream]:
                    _sync_stream(ctx, connector, stream)
            _rebuild_metrics(ctx)
            _refresh_pr_health(ctx, connector)
    except Exception as exc:
        _fail(ctx, exc, count_failure(exc) if callable(count_failure) else count_failure)
        raise
    finally:
        if ctx.judge is not None:
            ctx.judge.shutdown(wait=True)
        if connector is not None:
            with contextlib.suppress(Exception):
                connector.close()
    return _succeed(ctx, connector_state(connector))


def connector_state(connector: BaseConnector | None) -> dict[str, Any]:
    """What a connector asks us to keep in the source's config after a successful run (GitHub ETags)."""
    etags = getattr(connector, "etags", None)
    return {"etags": dict(etags)} if isinstance(etags, dict) and etags else {}


# --------------------------------------------------------------------------- streams
def _window_start(session: Session, ctx: _Context, stream: str) -> tuple[datetime | None, SyncCursor | None]:
    cursor = session.exec(
        select(SyncCursor).where(SyncCursor.source_id == ctx.source.id, SyncCursor.stream == stream)
    ).first()
    history_start = utcnow() - timedelta(days=ctx.source.historical_import_days)
    if ctx.kind == SyncKind.BACKFILL or cursor is None or cursor.updated_since is None:
        return history_start, cursor
    return cursor.updated_since - CURSOR_OVERLAP, cursor


def _sync_stream(ctx: _Context, connector: BaseConnector, stream: str) -> None:
    source = ctx.source
    with tenant_session(ctx.tenant_slug) as session:
        start, _cursor = _window_start(session, ctx, stream)
        run = session.get(SyncRun, ctx.run_id)
        assert run is not None
        if run.window_start is None or (start and start < run.window_start):
            run.window_start = start
            session.commit()
    if stream == "work_items":
        pages = connector.extract_work_items(start, None)
        normalise: Callable[[dict[str, Any]], dict[str, Any]] = connector.normalize_work_item  # type: ignore[assignment]
        id_field, record_type = "source_item_id", "work_item"
    elif stream == "pull_requests":
        pages = connector.extract_pull_requests(start, None)
        normalise = connector.normalize_pull_request  # type: ignore[assignment]
        id_field, record_type = "source_pr_id", "pull_request"
    else:
        pages = connector.extract_deployments(start, None)
        normalise = connector.normalize_deployment  # type: ignore[assignment]
        id_field, record_type = "source_deployment_id", "deployment"

    try:
        newest = _stream_batches(ctx, stream, prefetch(pages), normalise, id_field, record_type)
    finally:
        # The statistics are refreshed while the last items are judged (two connections, two cores).
        analyse = threading.Thread(target=call_quietly, args=(_refresh_statistics, ctx, stream), name="sync-analyze")
        analyse.start()
        _flush_compliance(ctx, wait=True)  # what was loaded is judged, even when the stream failed half-way
        analyse.join()
    _advance_cursor(ctx, stream, newest)
    log.info("source %s %s: stream done", source.id, stream)


def _stream_batches(
    ctx: _Context,
    stream: str,
    pages: Iterator[Any],
    normalise: Callable[[dict[str, Any]], dict[str, Any]],
    id_field: str,
    record_type: str,
) -> datetime | None:
    """Normalise the pages and load them in batches; return the newest updated-at seen.

    Up to LOAD_CONNECTIONS batches are written by loader threads while this
    thread normalises the next one (most of a load is PostgreSQL's time, so
    they overlap). A failed load is raised here at a later hand-off or at the
    end. Batches may commit out of order; the cursor moves only after the
    whole stream committed, so a failed sync is read again from the same
    point and the idempotent load makes the repeat harmless.
    """
    with ThreadPoolExecutor(max_workers=LOAD_CONNECTIONS, thread_name_prefix="sync-load") as loader:
        writing: collections.deque[Future[None]] = collections.deque()

        def hand_off(*batch_args: Any) -> None:
            while len(writing) >= LOAD_CONNECTIONS:
                writing.popleft().result()
            writing.append(loader.submit(_commit_batch, ctx, stream, *batch_args))

        size = max(1, int(ctx.batch_size * BATCH_SHARE.get(stream, 1.0)))
        newest = _normalised_batches(ctx, pages, normalise, id_field, record_type, hand_off, size)
        while writing:
            writing.popleft().result()
    return newest


def _normalised_batches(
    ctx: _Context,
    pages: Iterator[Any],
    normalise: Callable[[dict[str, Any]], dict[str, Any]],
    id_field: str,
    record_type: str,
    hand_off: Callable[..., None],
    batch_size: int,
) -> datetime | None:
    newest: datetime | None = None
    batch: list[dict[str, Any]] = []
    errors: list[SyncItemError] = []
    fetched = 0
    pages_seen = 0
    for page in pages:
        pages_seen += 1
        for raw in page:
            fetched += 1
            try:
                record = normalise(raw)
                if not record.get(id_field):
                    raise ValueError(f"normalised record has no {id_field}")
            except Exception as exc:  # noqa: BLE001 - a bad record must not stop the sync
                errors.append(_item_error(ctx, record_type, raw, exc))
                continue
            updated = record.get("updated_at_source")
            if isinstance(updated, datetime) and (newest is None or updated > newest):
                newest = updated
            batch.append(record)
        if len(batch) >= batch_size:
            hand_off(batch, errors, fetched, pages_seen)
            batch, errors, fetched, pages_seen = [], [], 0, 0
    # Nothing overlaps the last batch, so it is written in parts, one per loader connection.
    parts = max(1, min(LOAD_CONNECTIONS, len(batch) // 100))
    for n in range(parts):
        part = batch[n * len(batch) // parts : (n + 1) * len(batch) // parts]
        if n == 0:
            hand_off(part, errors, fetched, pages_seen)  # the counters travel with the first part
        else:
            hand_off(part, [], 0, 0)
    return newest


PREFETCH_PAGES = 3
_DONE = object()


def prefetch(pages: Iterator[Any], depth: int = PREFETCH_PAGES) -> Iterator[Any]:
    """Pull pages from the tool in a background thread while we normalise and load.

    At most `depth` pages wait in the queue, so memory stays bounded. An error
    raised by the connector is re-raised here, in the sync's thread.
    """
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for page in pages:
                if not put(page):
                    return
            put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(exc)

    worker = threading.Thread(target=produce, name="sync-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            while True:
                slots.get_nowait()
        worker.join(timeout=5)


def _item_error(ctx: _Context, record_type: str, raw: Any, exc: Exception) -> SyncItemError:
    payload = raw if isinstance(raw, dict) else {"value": repr(raw)[:RAW_PAYLOAD_LIMIT]}
    record_id = None
    if isinstance(raw, dict):
        for key in ("id", "key", "number", "source_item_id", "source_pr_id"):
            if raw.get(key) is not None:
                record_id = str(raw[key])[:100]
                break
    return SyncItemError(
        sync_run_id=ctx.run_id,
        source_id=ctx.source.id or 0,
        record_type=record_type,
        source_record_id=record_id,
        error=f"{type(exc).__name__}: {exc}"[:2000],
        raw_payload=_json_safe(payload),
    )


def _json_safe(payload: dict[str, Any]) -> dict[str, Any]:
    try:
        text = _dumps(payload)
    except (TypeError, ValueError):
        return {"unserialisable": repr(payload)[:RAW_PAYLOAD_LIMIT]}
    if len(text) > RAW_PAYLOAD_LIMIT:
        return {"truncated": text[:RAW_PAYLOAD_LIMIT]}
    return json.loads(text)


def _commit_batch(
    ctx: _Context, stream: str, batch: list[dict[str, Any]], errors: list[SyncItemError], fetched: int, pages: int
) -> None:
    """Load one batch, its item errors and the run's counters, then update the run's bookkeeping."""
    if not batch and not errors and not fetched and not pages:
        return
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            result, run = _write_batch(ctx, stream, batch, errors, fetched, pages)
            break
        except Exception as exc:
            if attempt == WRITE_ATTEMPTS or not _is_transient_conflict(exc):
                raise
            log.warning(
                "source %s %s: batch aborted by %s, writing it again: %s",
                ctx.source.id, stream, type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "",
            )  # fmt: skip
    with ctx.lock:
        ctx.touched_sprints.update(result.touched_sprint_ids)
        ctx.inserted[stream] = ctx.inserted.get(stream, 0) + result.inserted
        if _digits(ctx.inserted[stream]) > _digits(ctx.analysed.get(stream, 0)):
            call_quietly(_refresh_statistics, ctx, stream)  # 1,000, 10,000, 100,000 ... rows into the stream
        ctx.pending_compliance.extend(result.touched_work_item_ids)
        judge_now = len(ctx.pending_compliance) >= COMPLIANCE_EVERY
        progress = run.items_fetched + run.prs_fetched + run.deployments_fetched + run.pages
        if progress > ctx.published:
            ctx.published = progress
            publish_event(
                "sync.progress",
                ctx.tenant_slug,
                source_id=ctx.source.id,
                run_id=ctx.run_id,
                stream=stream,
                items_fetched=run.items_fetched,
                items_upserted=run.items_upserted,
                prs_fetched=run.prs_fetched,
                prs_upserted=run.prs_upserted,
                deployments_fetched=run.deployments_fetched,
                deployments_upserted=run.deployments_upserted,
                errors_count=run.errors_count,
                pages=run.pages,
            )
        if ctx.on_batch is not None:
            ctx.on_batch(run)
    if judge_now:
        _flush_compliance(ctx)


def _write_batch(
    ctx: _Context, stream: str, batch: list[dict[str, Any]], errors: list[SyncItemError], fetched: int, pages: int
) -> tuple[LoadResult, SyncRun]:
    """Two transactions: the batch's sprints and people (short, under a tenant lock), then its records,
    item errors and the run's counters together."""
    source = ctx.source
    with tenant_session(ctx.tenant_slug) as session:
        where = {"source_id": source.id or 0, "project_id": source.project_id, "source_type": source.source_type}
        if stream == "deployments":
            result = load_deployments(session, batch, **where)  # type: ignore[arg-type]
        else:
            result = load_batch(session, stream, batch, cache=ctx.dimensions, **where)
        # Fresh rows on every attempt: an object flushed in an aborted transaction would not be inserted again.
        session.add_all(SyncItemError(**error.model_dump(exclude={"id"})) for error in errors)
        # Last, and FOR NO KEY UPDATE: the error rows' foreign keys take KEY SHARE locks on the run row, which
        # a plain FOR UPDATE of the other loader would wait on while holding its own (a deadlock, seen in tests).
        run = session.get(SyncRun, ctx.run_id, with_for_update={"key_share": True})
        assert run is not None
        run.pages += pages
        run.errors_count += len(errors)
        if stream == "work_items":
            run.items_fetched += fetched
            run.items_upserted += result.inserted + result.updated
        elif stream == "pull_requests":
            run.prs_fetched += fetched
            run.prs_upserted += result.inserted + result.updated
        else:
            run.deployments_fetched += fetched
            run.deployments_upserted += result.inserted + result.updated
        session.commit()
    return result, run


def _is_transient_conflict(exc: BaseException) -> bool:
    """A deadlock or serialisation failure: PostgreSQL rolled the transaction back and it can simply run again."""
    orig = getattr(exc, "orig", exc)
    return getattr(orig, "sqlstate", None) in ("40P01", "40001")


#: Tables whose statistics a stream's inserts make stale.
STREAM_TABLES = {
    "work_items": ("work_items", "work_item_pull_requests"),
    "pull_requests": ("pull_requests", "work_item_pull_requests"),
    "deployments": ("deployments", "deployment_changes"),
}
#: Columns no statement filters or joins on: ANALYZE skips them (reading each raw payload back out of its
#: compressed storage was most of an ANALYZE's time; autovacuum still covers them later).
UNPLANNED_COLUMNS = frozenset({"raw_data"})


def _analysed_columns(table: str) -> str:
    model = {
        "work_items": tenant_models.WorkItem,
        "pull_requests": tenant_models.PullRequest,
        "deployments": tenant_models.Deployment,
    }.get(table)
    if model is None:
        return ""
    names = [c.name for c in model.__table__.columns if c.name not in UNPLANNED_COLUMNS]  # type: ignore[attr-defined]
    return f" ({', '.join(names)})"


#: A stream that inserted at least this many rows since the last ANALYZE refreshes its tables' statistics.
ANALYZE_AFTER_INSERTS = 1000


def _digits(n: int) -> int:
    return len(str(n)) if n > 0 else 0


def _refresh_statistics(ctx: _Context, stream: str) -> None:
    """ANALYZE the tables a bulk load grew, so the next statements are planned for their real size.

    Autovacuum analyses a table only after a share of it changed and a while
    later; during a first backfill the planner otherwise keeps believing the
    table is nearly empty. Measured: linking 1,000 PRs by key took 17 s per
    batch at 50,000 work items whose statistics predated the load (an index
    scan per PR over every item of the project); with fresh statistics the PR
    sync ran at 234 PRs/s instead of 73. Runs when a stream's inserts grow by
    a power of ten and at the end of a stream.
    """
    if ctx.inserted.get(stream, 0) - ctx.analysed.get(stream, 0) < ANALYZE_AFTER_INSERTS:
        return
    with tenant_session(ctx.tenant_slug) as session:
        schema = tenant_schema_of(session)
        for table in STREAM_TABLES[stream]:
            session.execute(sa.text(f'ANALYZE "{schema}".{table}{_analysed_columns(table)}'))
        session.commit()
    ctx.analysed[stream] = ctx.inserted[stream]


def _flush_compliance(ctx: _Context, *, wait: bool = False) -> None:
    """Evaluate the items loaded since the last evaluation (one set-based pass for several batches).

    Passes run one at a time in the run's judge thread, beside the loaders, so
    a stream never waits for them; `wait` returns once every pass submitted so
    far is done (at the end of a stream, before its metrics are rebuilt).
    """
    with ctx.lock:
        ids, ctx.pending_compliance = ctx.pending_compliance, []
        if ids or (wait and ctx.counts_deferred):
            if ctx.judge is None:
                ctx.judge = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-judge")
            if wait:  # the stream's last pass stores the project's compliance counts
                ctx.counts_deferred = False
                ctx.judge.submit(call_quietly, _judge_last, ctx, ids)
            else:
                ctx.counts_deferred = True
                ctx.judge.submit(call_quietly, _judge_while_loading, ctx, ids)
        judge = ctx.judge
    if wait and judge is not None:
        judge.submit(lambda: None).result()  # one worker, first in first out: every earlier pass is done


def _judge_while_loading(ctx: _Context, ids: list[int]) -> None:
    """A pass made while the stream still loads: the next batch clears the project's figure again, so the
    pass does not recount it (a whole-project count per pass grew the sync quadratically)."""
    with compliance_counts_deferred():
        ctx.compliance(ctx.tenant_slug, ids)


def _judge_last(ctx: _Context, ids: list[int]) -> None:
    """The stream's last pass: it stores the compliance counts, also when it has no items left to judge."""
    if ids:
        ctx.compliance(ctx.tenant_slug, ids)
        return
    with tenant_session(ctx.tenant_slug) as session:
        refresh_compliance_counts(session.connection(), tenant_schema_of(session), [ctx.source.project_id], utcnow())
        session.commit()


def _advance_cursor(ctx: _Context, stream: str, newest: datetime | None) -> None:
    """Move the cursor to the newest updated-at seen (never backwards), after the data committed."""
    if newest is None:
        return
    with tenant_session(ctx.tenant_slug) as session:
        schema = tenant_schema_of(session)
        session.execute(
            sa.text(
                f"""INSERT INTO "{schema}".sync_cursors (source_id, stream, updated_since, state, updated_at)
                    VALUES (:s, :stream, :newest, '{{}}'::jsonb, now())
                    ON CONFLICT (source_id, stream) DO UPDATE
                    SET updated_since = GREATEST(sync_cursors.updated_since, EXCLUDED.updated_since), updated_at = now()"""
            ),
            {"s": ctx.source.id, "stream": stream, "newest": newest},
        )
        session.commit()


# --------------------------------------------------------------------------- reconcile
def _reconcile(ctx: _Context, connector: BaseConnector) -> None:
    """Soft-delete rows whose ids vanished at the source; restore those that came back.

    Ids stream page by page into a temporary table (one transaction), so
    memory holds one page of ids whatever the size.
    """
    plan = []
    if connector.provides_work_items:
        plan.append(("work_items", "source_item_id", connector.list_work_item_ids))
    if connector.provides_pull_requests:
        plan.append(("pull_requests", "source_pr_id", connector.list_pull_request_ids))
    deleted_total = 0
    touched_items: list[int] = []
    with tenant_session(ctx.tenant_slug) as session:
        schema = tenant_schema_of(session)
        pages = 0
        for table, key, lister in plan:
            session.execute(sa.text("CREATE TEMP TABLE IF NOT EXISTS _seen_ids (id text PRIMARY KEY) ON COMMIT DROP"))
            session.execute(sa.text("TRUNCATE _seen_ids"))
            seen = 0
            for page in lister():
                pages += 1
                ids = [str(i) for i in page]
                seen += len(ids)
                session.execute(
                    sa.text("INSERT INTO _seen_ids SELECT unnest(CAST(:ids AS text[])) ON CONFLICT DO NOTHING"), {"ids": ids}
                )
            live = session.execute(
                sa.text(f'SELECT count(*) FROM "{schema}".{table} WHERE source_id = :s AND NOT is_deleted'),
                {"s": ctx.source.id},
            ).scalar_one()
            if seen == 0 and live > 0:
                raise SyncRefused(
                    f"reconcile: the source listed no {table.replace('_', ' ')} while {live} are stored; "
                    "refusing to delete them all (check the source's project/repository settings)"
                )
            gone = session.execute(
                sa.text(
                    f"""UPDATE "{schema}".{table} t SET is_deleted = true, deleted_at = now()
                        WHERE t.source_id = :s AND NOT t.is_deleted
                          AND NOT EXISTS (SELECT 1 FROM _seen_ids i WHERE i.id = t.{key})
                        RETURNING t.id"""
                ),
                {"s": ctx.source.id},
            ).scalars().all()
            back = session.execute(
                sa.text(
                    f"""UPDATE "{schema}".{table} t SET is_deleted = false, deleted_at = NULL
                        WHERE t.source_id = :s AND t.is_deleted
                          AND EXISTS (SELECT 1 FROM _seen_ids i WHERE i.id = t.{key})
                        RETURNING t.id"""
                ),
                {"s": ctx.source.id},
            ).scalars().all()
            deleted_total += len(gone)
            if (gone or back) and table in ("work_items", "pull_requests"):
                invalidate(session.connection(), schema, ctx.source.project_id, table)
            if table == "work_items":
                touched_items = list(gone) + list(back)
                if touched_items:
                    ctx.touched_sprints.update(
                        session.execute(
                            sa.text(
                                f'SELECT DISTINCT sprint_id FROM "{schema}".work_items '
                                "WHERE id = ANY(CAST(:ids AS int[])) AND sprint_id IS NOT NULL"
                            ),
                            {"ids": touched_items},
                        ).scalars().all()
                    )
            log.info("reconcile source %s %s: %d seen, %d deleted, %d restored", ctx.source.id, table, seen, len(gone), len(back))
        run = session.get(SyncRun, ctx.run_id)
        assert run is not None
        run.items_deleted = deleted_total
        run.pages += pages
        session.commit()
    if touched_items:
        call_quietly(ctx.compliance, ctx.tenant_slug, touched_items)
    _rebuild_metrics(ctx)
    _refresh_pr_health(ctx, connector)


# --------------------------------------------------------------------------- after load
def call_quietly(fn: Callable[..., Any], *args: Any) -> None:
    """Post-load steps are derived data: a failure is logged, the loaded data stays."""
    try:
        fn(*args)
    except Exception:
        log.exception("post-load step %s failed", getattr(fn, "__name__", fn))


def _refresh_pr_health(ctx: _Context, connector: BaseConnector) -> None:
    """A PR source was synced or reconciled: its project's stored PR health is computed again."""
    if connector.provides_pull_requests:
        call_quietly(_store_pr_health, ctx.tenant_slug, ctx.source.project_id)


def _store_pr_health(tenant_slug: str, project_id: int) -> None:
    with tenant_session(tenant_slug) as session:
        refresh_pr_health(session.connection(), tenant_schema_of(session), [project_id], utcnow())
        session.commit()


def _rebuild_metrics(ctx: _Context) -> None:
    if not ctx.touched_sprints:
        return
    call_quietly(rebuild_metrics, ctx.tenant_slug, sorted(ctx.touched_sprints))


# --------------------------------------------------------------------------- outcome
def _update_source(source_id: int, **values: Any) -> SourceConfig:
    with public_session() as session:
        source = session.get(SourceConfig, source_id, with_for_update=True)
        assert source is not None
        for name, value in values.items():
            setattr(source, name, value)
        source.updated_at = utcnow()
        session.commit()
        return source


def _succeed(ctx: _Context, state: dict[str, Any] | None = None) -> SyncRun:
    now = utcnow()
    with tenant_session(ctx.tenant_slug) as session:
        run = session.get(SyncRun, ctx.run_id)
        assert run is not None
        run.status = SyncStatus.PARTIAL if run.errors_count else SyncStatus.SUCCEEDED
        run.finished_at = now
        if run.errors_count:
            run.error = f"{run.errors_count} record(s) could not be read; see the item errors"
        session.commit()
    extra: dict[str, Any] = {}
    if state:
        with public_session() as session:
            current = session.get(SourceConfig, ctx.source.id)
            config = dict(current.config_json or {}) if current else {}
        if any(config.get(k) != v for k, v in state.items()):
            extra["config_json"] = {**config, **state}
    _update_source(
        ctx.source.id or 0,
        status=SourceStatus.OK,
        last_success_at=now,
        consecutive_failures=0,
        last_error=None,
        circuit_open=False,
        **extra,
    )
    publish_event(
        "sync.finished",
        ctx.tenant_slug,
        source_id=ctx.source.id,
        run_id=ctx.run_id,
        status=run.status,
        items_fetched=run.items_fetched,
        items_upserted=run.items_upserted,
        prs_fetched=run.prs_fetched,
        prs_upserted=run.prs_upserted,
        deployments_fetched=run.deployments_fetched,
        deployments_upserted=run.deployments_upserted,
        items_deleted=run.items_deleted,
        errors_count=run.errors_count,
        pages=run.pages,
    )
    return run


def _fail(ctx: _Context, exc: Exception, count_failure: bool) -> None:
    message = str(exc) or type(exc).__name__
    if not isinstance(exc, SourceError):
        log.exception("sync of source %s failed", ctx.source.id)
        message = f"{type(exc).__name__}: {message}"
    message = message[:2000]
    with tenant_session(ctx.tenant_slug) as session:
        run = session.get(SyncRun, ctx.run_id)
        assert run is not None
        run.status = SyncStatus.FAILED
        run.finished_at = utcnow()
        run.error = message if count_failure else f"{message} (will retry)"
        session.commit()
    with public_session() as session:
        source = session.get(SourceConfig, ctx.source.id, with_for_update=True)
        assert source is not None
        failures = source.consecutive_failures + (1 if count_failure else 0)
        opening = count_failure and failures >= source.failure_threshold and not source.circuit_open
        source.consecutive_failures = failures
        source.last_error = message
        source.circuit_open = source.circuit_open or failures >= source.failure_threshold
        source.status = SourceStatus.CIRCUIT_OPEN if source.circuit_open else SourceStatus.FAILED
        source.updated_at = utcnow()
        notified = _notify_admins(session, source, message) if opening else []
        session.commit()
    publish_event("sync.failed", ctx.tenant_slug, source_id=ctx.source.id, run_id=ctx.run_id, error=message, circuit_open=opening)
    for user_id in notified:
        publish_event("notification.created", ctx.tenant_slug, user_id=user_id, kind="etl_failure", source_id=ctx.source.id)


def _notify_admins(session: Session, source: SourceConfig, message: str) -> list[int]:
    """Tell the project's tech leads and project managers that syncs are paused."""
    users = session.exec(
        select(User.id)
        .join(UserProjectRole, UserProjectRole.user_id == User.id)
        .where(
            UserProjectRole.project_id == source.project_id,
            UserProjectRole.role.in_([ProjectRole.TECH_LEAD, ProjectRole.PROJECT_MANAGER]),  # type: ignore[attr-defined]
            User.tenant_id == source.tenant_id,
            User.is_active == True,  # noqa: E712
        )
        .distinct()
    ).all()
    for user_id in users:
        session.add(
            Notification(
                tenant_id=source.tenant_id,
                user_id=user_id,
                project_id=source.project_id,
                kind="etl_failure",
                severity="critical",
                title=f"Sync of {source.name} paused after {source.consecutive_failures} failures",
                body=f"Last error: {message}\nAn admin must fix the source and reset it before syncs resume.",
                data={"source_id": source.id},
            )
        )
    return [u for u in users if u is not None]
