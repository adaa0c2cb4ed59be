"""The platform at a glance for the admin portal's /dashboard: tenants, sources, syncs per day, queue depth."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select

from models.db import public_session, tenant_session
from models.enums import SourceStatus, SyncStatus, TenantStatus
from models.public import Project, SourceConfig, Tenant, User
from models.tenant import SyncRun
from services.admin_queries import celery_queue_depth

OVERVIEW_DAYS = 14


class StatusCount(BaseModel):
    status: str
    sources: int


class SyncDay(BaseModel):
    """Sync runs started on one UTC day, over every tenant."""

    day: str  # YYYY-MM-DD
    syncs: int = 0
    failures: int = 0


class SystemOverview(BaseModel):
    tenants_active: int = 0
    tenants_inactive: int = 0
    projects: int = 0
    users: int = 0
    sources: int = 0
    sources_active: int = 0
    circuits_open: int = 0
    sources_by_status: list[StatusCount] = Field(default_factory=list)
    sync_days: list[SyncDay] = Field(default_factory=list)
    syncs_total: int = 0
    failures_total: int = 0
    queue_ok: bool = False
    queue_depth: int = 0
    queue_error: str = ""
    #: Tenants whose sync history could not be read (e.g. a schema behind on migrations).
    unreadable_tenants: list[str] = Field(default_factory=list)
    checked_at: str = ""


def _count(session, statement) -> int:
    return int(session.exec(statement).one())


def _sync_counts(slug: str, since: datetime) -> dict[date, tuple[int, int]]:
    """Runs started and runs failed per UTC day in one tenant's schema since `since`."""
    day = sa.func.date(sa.func.timezone("UTC", col(SyncRun.started_at)))
    failed = sa.func.count().filter(col(SyncRun.status) == SyncStatus.FAILED)
    with tenant_session(slug) as session:
        rows = session.exec(
            select(day, sa.func.count(), failed).where(col(SyncRun.started_at) >= since).group_by(day)
        ).all()
    return {d: (int(n), int(f)) for d, n, f in rows}


def system_overview(days: int = OVERVIEW_DAYS, now: datetime | None = None) -> SystemOverview:
    """Counts of tenants, projects, users and sources; sources by status; syncs and failures per day; queue depth."""
    now = now or datetime.now(UTC)
    first_day = (now - timedelta(days=days - 1)).date()
    since = datetime.combine(first_day, datetime.min.time(), tzinfo=UTC)
    with public_session() as session:
        tenants = session.exec(select(Tenant.slug, Tenant.status).order_by(Tenant.slug)).all()
        by_status = dict(session.exec(select(SourceConfig.status, sa.func.count()).group_by(SourceConfig.status)).all())
        overview = SystemOverview(
            tenants_active=sum(1 for _, status in tenants if status == TenantStatus.ACTIVE),
            tenants_inactive=sum(1 for _, status in tenants if status != TenantStatus.ACTIVE),
            projects=_count(session, select(sa.func.count()).select_from(Project)),
            users=_count(session, select(sa.func.count()).select_from(User)),
            sources=sum(by_status.values()),
            sources_active=_count(
                session, select(sa.func.count()).select_from(SourceConfig).where(col(SourceConfig.is_active))
            ),
            circuits_open=_count(
                session, select(sa.func.count()).select_from(SourceConfig).where(col(SourceConfig.circuit_open))
            ),
        )
    known = [s.value for s in SourceStatus]
    overview.sources_by_status = [StatusCount(status=s, sources=int(by_status.get(s, 0))) for s in known] + [
        StatusCount(status=s, sources=int(n)) for s, n in sorted(by_status.items()) if s not in known
    ]
    totals: dict[date, list[int]] = {first_day + timedelta(days=i): [0, 0] for i in range(days)}
    for slug, _status in tenants:
        try:
            counts = _sync_counts(slug, since)
        except SQLAlchemyError:
            overview.unreadable_tenants.append(slug)
            continue
        for day, (runs, failures) in counts.items():
            if day in totals:
                totals[day][0] += runs
                totals[day][1] += failures
    overview.sync_days = [SyncDay(day=d.isoformat(), syncs=n, failures=f) for d, (n, f) in sorted(totals.items())]
    overview.syncs_total = sum(d.syncs for d in overview.sync_days)
    overview.failures_total = sum(d.failures for d in overview.sync_days)
    queue = celery_queue_depth()
    overview.queue_ok = bool(queue["ok"])
    overview.queue_depth = int(queue.get("depth", 0))
    overview.queue_error = str(queue.get("error", ""))
    overview.checked_at = now.strftime("%Y-%m-%d %H:%M:%S UTC")
    return overview
