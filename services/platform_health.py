"""Read models of the platform's operational health: per-source ETL status, Celery queues and workers.

Served by `GET /api/admin/health/etl` and `/health/queues`, pushed by the
`/ws/admin/health` channel, and usable by the admin portal's overview.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlmodel import col, select

from core.queue import app as celery_app
from core.realtime import redis_client
from models.db import public_session, tenant_session
from models.enums import SyncStatus
from models.public import Project, SourceConfig, Tenant
from models.tenant import SyncRun

#: Priority sub-queues of Kombu's Redis transport: messages of priority 3, 6 and 9
#: wait in "<queue>\x06\x16<priority>" lists beside the queue's own list.
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)
#: Kombu's Redis transport keeps delivered, not yet acknowledged messages in this hash.
_UNACKED_KEY = "unacked"


class RunSummary(BaseModel):
    id: int
    kind: str
    status: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    items_fetched: int = 0
    items_upserted: int = 0
    prs_fetched: int = 0
    prs_upserted: int = 0
    errors_count: int = 0
    error: str | None = None

    @classmethod
    def of(cls, run: SyncRun) -> RunSummary:
        return cls(
            id=run.id or 0,
            kind=run.kind,
            status=run.status,
            started_at=run.started_at,
            finished_at=run.finished_at,
            items_fetched=run.items_fetched,
            items_upserted=run.items_upserted,
            prs_fetched=run.prs_fetched,
            prs_upserted=run.prs_upserted,
            errors_count=run.errors_count,
            error=run.error,
        )


class SourceEtlStatus(BaseModel):
    source_id: int
    tenant_id: int
    tenant_slug: str
    tenant_name: str
    project_id: int
    project_key: str
    name: str
    source_type: str
    status: str
    is_active: bool
    circuit_open: bool
    consecutive_failures: int
    last_error: str | None = None
    last_sync_at: datetime | None = None
    last_success_at: datetime | None = None
    running: RunSummary | None = Field(default=None, description="the sync in progress, if any")
    last_run: RunSummary | None = Field(default=None, description="the latest finished or failed run")


class EtlStatus(BaseModel):
    total: int = 0
    by_status: dict[str, int] = Field(default_factory=dict)
    running: int = 0
    circuits_open: int = 0
    sources: list[SourceEtlStatus] = Field(default_factory=list)


class QueueDepth(BaseModel):
    name: str
    depth: int = Field(description="messages waiting for a worker")


class WorkerState(BaseModel):
    name: str
    active_tasks: int


class SourceCounts(BaseModel):
    total: int = 0
    by_status: dict[str, int] = Field(default_factory=dict)
    circuits_open: int = 0


class QueueStatus(BaseModel):
    ok: bool
    queues: list[QueueDepth] = Field(default_factory=list)
    unacknowledged: int = Field(default=0, description="messages delivered to a worker and not yet finished")
    workers: list[WorkerState] = Field(default_factory=list)
    error: str = ""


# --------------------------------------------------------------------------- ETL
def _runs_of(slug: str, source_ids: list[int]) -> tuple[dict[int, SyncRun], dict[int, SyncRun]]:
    """The run in progress and the latest ended run of each source of one tenant."""
    running: dict[int, SyncRun] = {}
    ended: dict[int, SyncRun] = {}
    with tenant_session(slug) as session:
        for status_filter, into in (
            (col(SyncRun.status) == SyncStatus.RUNNING, running),
            (col(SyncRun.status) != SyncStatus.RUNNING, ended),
        ):
            rows = session.exec(
                select(SyncRun)
                .where(col(SyncRun.source_id).in_(source_ids), status_filter)
                .order_by(col(SyncRun.source_id), col(SyncRun.started_at).desc())
                .distinct(col(SyncRun.source_id))
            ).all()
            into.update({run.source_id: run for run in rows})
    return running, ended


def etl_status(tenant_id: int | None = None, status: str | None = None) -> EtlStatus:
    """Every source (optionally of one tenant, or in one status) with its breaker, last and current run."""
    query = (
        select(SourceConfig, Tenant, Project)
        .join(Tenant, col(Tenant.id) == SourceConfig.tenant_id)
        .join(Project, col(Project.id) == SourceConfig.project_id)
        .order_by(col(Tenant.name), col(SourceConfig.name), col(SourceConfig.id))
    )
    if tenant_id is not None:
        query = query.where(SourceConfig.tenant_id == tenant_id)
    if status:
        query = query.where(SourceConfig.status == status)
    with public_session() as session:
        rows = session.exec(query).all()
    by_tenant: dict[str, list[int]] = {}
    for source, tenant, _project in rows:
        by_tenant.setdefault(tenant.slug, []).append(source.id or 0)
    running: dict[int, SyncRun] = {}
    ended: dict[int, SyncRun] = {}
    for slug, ids in by_tenant.items():
        now_running, last = _runs_of(slug, ids)
        running.update(now_running)
        ended.update(last)
    sources = [
        SourceEtlStatus(
            source_id=source.id or 0,
            tenant_id=tenant.id or 0,
            tenant_slug=tenant.slug,
            tenant_name=tenant.name,
            project_id=project.id or 0,
            project_key=project.key,
            name=source.name,
            source_type=source.source_type,
            status=source.status,
            is_active=source.is_active,
            circuit_open=source.circuit_open,
            consecutive_failures=source.consecutive_failures,
            last_error=source.last_error,
            last_sync_at=source.last_sync_at,
            last_success_at=source.last_success_at,
            running=RunSummary.of(running[source.id]) if source.id in running else None,
            last_run=RunSummary.of(ended[source.id]) if source.id in ended else None,
        )
        for source, tenant, project in rows
    ]
    return EtlStatus(
        total=len(sources),
        by_status=dict(Counter(s.status for s in sources)),
        running=sum(1 for s in sources if s.running),
        circuits_open=sum(1 for s in sources if s.circuit_open),
        sources=sources,
    )


def source_status_counts() -> dict[str, int]:
    """How many sources are in each status (one aggregate query; for frequent health pushes)."""
    with public_session() as session:
        rows = session.execute(
            sa.select(SourceConfig.status, sa.func.count()).group_by(SourceConfig.status)
        ).all()
    return {status: int(count) for status, count in rows}


def source_counts() -> SourceCounts:
    """Sources in total, by status, and with an open circuit breaker."""
    by_status = source_status_counts()
    with public_session() as session:
        open_circuits = session.execute(
            sa.select(sa.func.count()).select_from(SourceConfig).where(SourceConfig.circuit_open.is_(True))
        ).scalar_one()
    return SourceCounts(total=sum(by_status.values()), by_status=by_status, circuits_open=int(open_circuits))


# --------------------------------------------------------------------------- queues
def queue_names() -> list[str]:
    """The configured queues: the default one, declared ones and those tasks are routed to."""
    conf = celery_app.conf
    names = {conf.task_default_queue or "celery"}
    for queue in conf.task_queues or ():
        names.add(queue.name)
    routes = conf.task_routes or {}
    if isinstance(routes, dict):
        names.update(r["queue"] for r in routes.values() if isinstance(r, dict) and r.get("queue"))
    return sorted(names)


def _depth(client: Any, name: str) -> int:
    pipe = client.pipeline()
    pipe.llen(name)
    for priority in _PRIORITY_STEPS:
        pipe.llen(f"{name}{_PRIORITY_SEPARATOR}{priority}")
    return sum(int(n) for n in pipe.execute())


def queue_status(timeout: float = 1.0, *, workers: bool = True) -> QueueStatus:
    """Depth of every Celery queue and the workers answering within `timeout` s (blocking: run in a thread).

    With `workers=False` only Redis is asked (no broadcast to the workers, no wait).
    """
    try:
        active = (celery_app.control.inspect(timeout=timeout).active() or {}) if workers else {}
        client = redis_client()
        queues = [QueueDepth(name=name, depth=_depth(client, name)) for name in queue_names()]
        unacked = int(client.hlen(_UNACKED_KEY))
    except Exception as exc:  # noqa: BLE001 - a health check reports, it does not raise
        return QueueStatus(ok=False, error=f"the broker is not reachable ({type(exc).__name__})")
    workers = [WorkerState(name=name, active_tasks=len(tasks or [])) for name, tasks in sorted(active.items())]
    return QueueStatus(ok=True, queues=queues, unacknowledged=unacked, workers=workers)
