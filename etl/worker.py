"""The Celery app: every background task and the beat schedule.

    celery -A etl.worker worker --loglevel=info
    celery -A etl.worker beat --loglevel=info        # exactly one

Broker and result backend are settings.redis_url. Tasks are acknowledged
after they finish (`task_acks_late`) and re-queued if the worker dies
(`task_reject_on_worker_lost`; with the Redis broker an unacknowledged message
comes back after `broker_transport_options.visibility_timeout`, env
DMT_VISIBILITY_TIMEOUT, default one hour). A sync that is delivered twice is
harmless: the load is idempotent and a per-source lock keeps two syncs of one
source from running at once.

Other modules keep their own tasks (`@shared_task`): they are imported at the
bottom of this file, each guarded so a missing module never stops the worker,
and may add beat entries with `register_periodic`.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import random
from datetime import datetime, timedelta
from typing import Any

from celery import Celery, signals
from celery.schedules import crontab
from sqlmodel import select

from core.settings import get_settings
from etl.connectors.base import SourceError
from etl.sync import SyncAlreadyRunning, SyncRefused, lock_ttl_seconds, run_sync
from models.base import utcnow
from models.enums import SourceStatus, SyncKind, TenantStatus

log = logging.getLogger(__name__)

SYNC_MAX_RETRIES = int(os.environ.get("DMT_SYNC_MAX_RETRIES", "3"))
RETRY_BASE_SECONDS = float(os.environ.get("DMT_SYNC_RETRY_BASE_SECONDS", "30"))
RETRY_MAX_SECONDS = 15 * 60
STALE_SYNCING = timedelta(hours=6)


def _redis_url() -> str:
    return get_settings().redis_url or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


app = Celery("dmt", broker=_redis_url(), backend=_redis_url())
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_track_started=True,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=7 * 24 * 3600,
    timezone="UTC",
    enable_utc=True,
    broker_connection_retry_on_startup=True,
    broker_transport_options={"visibility_timeout": int(os.environ.get("DMT_VISIBILITY_TIMEOUT", "3600"))},
    result_backend_transport_options={"visibility_timeout": int(os.environ.get("DMT_VISIBILITY_TIMEOUT", "3600"))},
    beat_schedule={
        "schedule-due-syncs": {"task": "dmt.schedule_due_syncs", "schedule": 60.0},
        "reconcile-sources-daily": {"task": "dmt.reconcile_all_sources", "schedule": crontab(hour=3, minute=30)},
    },
)


def register_periodic(name: str, task: str, schedule: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None) -> None:
    """Add a beat entry (seconds, timedelta or crontab) for a task by name."""
    app.conf.beat_schedule = {
        **app.conf.beat_schedule,
        name: {"task": task, "schedule": schedule, "args": args, "kwargs": kwargs or {}},
    }


@signals.worker_process_init.connect
def _after_fork(**_: Any) -> None:
    """A forked pool process must not reuse its parent's sockets; its malloc is tuned before any sync thread."""
    from core.realtime import reset_client
    from etl.sync import tune_allocator
    from models.db import dispose_engines

    dispose_engines()
    reset_client()
    tune_allocator()


def _load_plugins() -> None:
    """DMT_CONNECTOR_PLUGINS="module:function,...": extra connector registrations (tests, bench)."""
    for spec in filter(None, (s.strip() for s in os.environ.get("DMT_CONNECTOR_PLUGINS", "").split(","))):
        module, _, function = spec.partition(":")
        target = importlib.import_module(module)
        if function:
            getattr(target, function)()


_load_plugins()


# --------------------------------------------------------------------------- sync tasks
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
    return {
        "source_id": source_id,
        "run_id": run.id,
        "status": run.status,
        "items_upserted": run.items_upserted,
        "prs_upserted": run.prs_upserted,
        "items_deleted": run.items_deleted,
        "errors_count": run.errors_count,
    }


@app.task(bind=True, name="dmt.sync_source", max_retries=SYNC_MAX_RETRIES)
def sync_source(self: Any, tenant_slug: str, source_id: int, kind: str = SyncKind.INCREMENTAL) -> dict[str, Any]:
    """Incremental sync or historical backfill of one source."""
    return _run(self, tenant_slug, source_id, kind)


@app.task(bind=True, name="dmt.reconcile_source", max_retries=SYNC_MAX_RETRIES)
def reconcile_source(self: Any, tenant_slug: str, source_id: int) -> dict[str, Any]:
    """Soft-delete records that vanished at the source (and restore those that came back)."""
    return _run(self, tenant_slug, source_id, SyncKind.RECONCILE)


def _active_sources() -> list[tuple[Any, str]]:
    from models.db import public_session
    from models.public import SourceConfig, Tenant

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
    from core.realtime import redis_client

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


# --------------------------------------------------------------------------- derived data
def _jsonable(value: Any) -> Any:
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    return json.loads(json.dumps(value, default=str))


def _active_tenant_slugs() -> list[str]:
    from models.db import active_tenant_slugs

    return active_tenant_slugs()


@app.task(name="dmt.evaluate_compliance")
def evaluate_compliance_task(tenant_slug: str, work_item_ids: list[int] | None = None) -> Any:
    """Re-evaluate the DMT rules for a tenant (or some of its items)."""
    from etl.compliance import evaluate_compliance

    return _jsonable(evaluate_compliance(tenant_slug, work_item_ids))


@app.task(name="dmt.rebuild_metrics")
def rebuild_metrics_task(tenant_slug: str, sprint_ids: list[int] | None = None) -> Any:
    """Rebuild the sprint and developer read models of a tenant (or some sprints)."""
    from etl.metrics import rebuild_metrics

    return _jsonable(rebuild_metrics(tenant_slug, sprint_ids))


@app.task(name="dmt.generate_insights")
def generate_insights_task(tenant_slug: str, project_id: int | None = None) -> int:
    """Write the AI (or local statistical) insights of a tenant's projects; returns how many."""
    from etl.insights import generate_insights

    return len(generate_insights(tenant_slug, project_id))


@app.task(name="dmt.refresh_all_tenants")
def refresh_all_tenants() -> list[str]:
    """Daily: compliance (exceptions expire with time), then metrics, for every active tenant."""
    slugs = _active_tenant_slugs()
    for slug in slugs:
        evaluate_compliance_task.apply_async(args=[slug], link=rebuild_metrics_task.si(slug))
    return slugs


@app.task(name="dmt.insights_all_tenants")
def insights_all_tenants() -> list[str]:
    """Daily: fresh insights for every active tenant, one task each."""
    slugs = _active_tenant_slugs()
    for slug in slugs:
        generate_insights_task.apply_async(args=[slug])
    return slugs


@app.task(name="dmt.notify_sprints_ending")
def notify_sprints_ending_task() -> int:
    """Daily: tell leads about sprints ending within their project's notice period."""
    from etl.metrics import notify_sprints_ending

    return sum(notify_sprints_ending(slug) or 0 for slug in _active_tenant_slugs())


register_periodic("refresh-derived-daily", "dmt.refresh_all_tenants", crontab(hour=4, minute=0))
register_periodic("insights-daily", "dmt.insights_all_tenants", crontab(hour=5, minute=0))
register_periodic("sprints-ending-daily", "dmt.notify_sprints_ending", crontab(hour=7, minute=0))


# --------------------------------------------------------------------------- other modules' tasks
#: Modules holding tasks (`@shared_task`) or calling `register_periodic`; each is optional.
TASK_MODULES = (
    "etl.compliance",
    "etl.metrics",
    "etl.forecast",
    "etl.insights",
    "etl.retention",
    "etl.tasks",
    "services.exports",
    "services.notifications",
    "services.archive",
)


def _import_task_modules() -> None:
    for name in TASK_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the module exists but one of its imports is missing
                log.warning("task module %s not loaded: %s", name, exc)
        except Exception:
            log.exception("task module %s failed to import; its tasks are unavailable", name)


_import_task_modules()
