"""Sync tasks: one source's sync or reconciliation, the nightly schedule and the daily reconciliation."""

from __future__ import annotations

import logging
import os
import random
from datetime import datetime, timedelta
from typing import Any

from celery.schedules import crontab
from sqlmodel import select

from core.queue import RECONCILE_SOURCE, SYNC_SOURCE, app, register_periodic
from core.realtime import redis_client
from etl.connectors.base import SourceError
from etl.sync import SyncAlreadyRunning, SyncRefused, lock_ttl_seconds, run_sync
from models.base import utcnow
from models.db import public_session
from models.enums import SourceStatus, SyncKind, SyncStatus, TenantStatus
from models.public import SourceConfig, Tenant
from services.alerts import evaluate_and_alert
from worker.derived import queue_forecasts, task_queue

log = logging.getLogger(__name__)

SYNC_MAX_RETRIES = int(os.environ.get("DMT_SYNC_MAX_RETRIES", "3"))
RETRY_BASE_SECONDS = float(os.environ.get("DMT_SYNC_RETRY_BASE_SECONDS", "30"))
RETRY_MAX_SECONDS = 15 * 60
STALE_SYNCING = timedelta(hours=6)


def retry_countdown(retries: int) -> float:
    """Exponential backoff with jitter: 30 s, 60 s, 120 s ... capped at 15 minutes."""
    delay = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * (2**retries))
    return delay * random.uniform(0.8, 1.2)


def _run(task: Any, tenant_slug: str, source_id: int, kind: str) -> dict[str, Any]:
    retries_left = task.request.retries < task.max_retries

    def counts_as_failure(exc: Exception) -> bool:
        # A retryable error with retries left is not a failure yet.
        return not (isinstance(exc, SourceError) and exc.retryable and retries_left)

    try:
        run = run_sync(
            tenant_slug,
            source_id,
            kind,
            task_id=task.request.id,
            count_failure=counts_as_failure,
            lock_wait_seconds=lock_ttl_seconds() + 5,
            evaluate=evaluate_and_alert,
        )
    except SyncAlreadyRunning as exc:
        log.info("source %s: %s", source_id, exc)
        return {"source_id": source_id, "status": "skipped", "message": str(exc)}
    except SyncRefused as exc:
        log.warning("source %s: sync refused: %s", source_id, exc)
        return {"source_id": source_id, "status": "refused", "message": str(exc)}
    except SourceError as exc:
        if exc.retryable and retries_left:
            countdown = retry_countdown(task.request.retries)
            retry_after = getattr(exc, "retry_after", None)
            if retry_after:
                countdown = max(countdown, float(retry_after))
            log.warning("source %s: %s; retry %d in %.0f s", source_id, exc, task.request.retries + 1, countdown)
            raise task.retry(exc=exc, countdown=countdown) from exc
        raise
    if run.status in (SyncStatus.SUCCEEDED, SyncStatus.PARTIAL):
        queue_forecasts(tenant_slug, task_queue(task))  # the load rebuilt the metrics of the sprints it touched
    return {
        "source_id": source_id,
        "run_id": run.id,
        "status": run.status,
        "items_upserted": run.items_upserted,
        "prs_upserted": run.prs_upserted,
        "items_deleted": run.items_deleted,
        "errors_count": run.errors_count,
    }


@app.task(bind=True, name=SYNC_SOURCE, max_retries=SYNC_MAX_RETRIES)
def sync_source(self: Any, tenant_slug: str, source_id: int, kind: str = SyncKind.INCREMENTAL) -> dict[str, Any]:
    """Incremental sync or historical backfill of one source."""
    return _run(self, tenant_slug, source_id, kind)


@app.task(bind=True, name=RECONCILE_SOURCE, max_retries=SYNC_MAX_RETRIES)
def reconcile_source(self: Any, tenant_slug: str, source_id: int) -> dict[str, Any]:
    """Soft-delete records that vanished at the source (and restore those that came back)."""
    return _run(self, tenant_slug, source_id, SyncKind.RECONCILE)


def _active_sources() -> list[tuple[SourceConfig, str]]:
    with public_session() as session:
        rows = session.exec(
            select(SourceConfig, Tenant.slug)
            .join(Tenant, Tenant.id == SourceConfig.tenant_id)
            .where(SourceConfig.is_active == True, Tenant.status == TenantStatus.ACTIVE)  # noqa: E712
            .order_by(SourceConfig.id)
        ).all()
        return [(source, slug) for source, slug in rows]


@app.task(name="dmt.schedule_due_syncs")
def schedule_due_syncs(now: datetime | None = None) -> list[int]:
    """Every minute: queue the nightly sync of each active source whose time (UTC) has passed today.

    A source is due when today's "HH:MM" is past and it has not succeeded since.
    A Redis marker (one hour) keeps the minute-by-minute check from queueing
    it again while it runs; a failed nightly is retried hourly until it
    succeeds or its breaker opens.
    """
    now = now or utcnow()
    queued: list[int] = []
    for source, slug in _active_sources():
        running = source.status == SourceStatus.SYNCING and (
            source.last_sync_at is not None and now - source.last_sync_at < STALE_SYNCING
        )  # a "syncing" left behind by a killed worker does not block the schedule for ever
        if source.circuit_open or running:
            continue
        try:
            hour, minute = (int(x) for x in (source.sync_time or "02:00").split(":"))
        except ValueError:
            log.warning("source %s: bad sync_time %r", source.id, source.sync_time)
            continue
        due = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if due > now or (source.last_success_at is not None and source.last_success_at >= due):
            continue
        marker = f"dmt:sync-scheduled:{slug}:{source.id}:{due.date().isoformat()}"
        if not redis_client().set(marker, now.isoformat(), nx=True, ex=3600):
            continue
        sync_source.apply_async(args=[slug, source.id, str(SyncKind.INCREMENTAL)])
        queued.append(source.id)
    if queued:
        log.info("queued nightly syncs for sources %s", queued)
    return queued


@app.task(name="dmt.reconcile_all_sources")
def reconcile_all_sources() -> list[int]:
    """Daily: queue a deletion reconciliation for every active source whose breaker is closed."""
    queued = []
    for source, slug in _active_sources():
        if not source.circuit_open and source.last_success_at is not None:
            reconcile_source.apply_async(args=[slug, source.id], countdown=random.uniform(0, 600))
            queued.append(source.id)
    return queued


register_periodic("schedule-due-syncs", "dmt.schedule_due_syncs", 60.0)
register_periodic("reconcile-sources-daily", "dmt.reconcile_all_sources", crontab(hour=3, minute=30))
