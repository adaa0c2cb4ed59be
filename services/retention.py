"""Data retention: archive a quarter of a tenant's data, verify the archive, then (only then) delete it.

Steps, each audited: create job -> archive -> verify -> hard delete (needs a
verified archive and the typed confirmation "DELETE <tenant> <quarter>") ->
restore (from the archive, any time later).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from pydantic import BaseModel
from sqlmodel import Session, select

from core.errors import Conflict, NotFound, ValidationFailed
from etl.metrics import rebuild_metrics
from models.base import utcnow
from models.db import get_engine, public_session
from models.enums import RetentionStatus
from models.public import RetentionJob, Tenant
from services import audit
from services.alerts import evaluate_and_alert
from services.archive import (
    FileStore,
    S3FileStore,
    default_store,
    delete_rows,
    quarter_selection,
    restore_rows,
    verify_archive,
    write_archive,
)
from services.audit import Actor

QUARTER = re.compile(r"^(\d{4})Q([1-4])$")


class RetentionJobPublic(BaseModel):
    id: int
    tenant_id: int
    quarter: str
    status: str
    archive_uri: str | None
    manifest: dict | None
    error: str | None
    created_at: datetime
    archived_at: datetime | None
    verified_at: datetime | None
    deleted_at: datetime | None
    restored_at: datetime | None

    @classmethod
    def of(cls, job: RetentionJob) -> RetentionJobPublic:
        return cls(**job.model_dump(include=set(cls.model_fields)))


def quarter_bounds(quarter: str) -> tuple[date, date]:
    match = QUARTER.match(quarter.strip().upper())
    if not match:
        raise ValidationFailed(f"quarter {quarter!r} must look like 2025Q1", field="quarter")
    year, q = int(match.group(1)), int(match.group(2))
    if not 1970 <= year <= 2999:
        raise ValidationFailed(f"quarter {quarter!r}: the year must be between 1970 and 2999", field="quarter")
    start = date(year, 3 * (q - 1) + 1, 1)
    end = date(year + (q == 4), (3 * q) % 12 + 1, 1)
    return start, end


def _as_datetime(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def _job(session: Session, job_id: int) -> tuple[RetentionJob, Tenant]:
    job = session.get(RetentionJob, job_id)
    if job is None:
        raise NotFound(f"retention job {job_id} not found")
    tenant = session.get(Tenant, job.tenant_id)
    assert tenant is not None
    return job, tenant


def _key(tenant: Tenant, job: RetentionJob) -> str:
    return f"{tenant.slug}/{job.quarter}-job{job.id}.tar.gz"


def create_job(tenant_id: int, quarter: str, actor: Actor) -> RetentionJob:
    start, end = quarter_bounds(quarter)
    if end > date.today():
        raise ValidationFailed(f"{quarter} has not ended yet: only past quarters can be archived", field="quarter")
    with public_session() as session:
        tenant = session.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        job = RetentionJob(
            tenant_id=tenant_id, quarter=quarter.upper(), period_start=start, period_end=end, created_by=actor.user_id
        )
        session.add(job)
        session.flush()
        audit.record(
            session, actor, "retention.create", "retention_job", job.id, new=audit.snapshot(job), tenant_id=tenant_id
        )
        session.commit()
        return job


def list_jobs(session: Session, tenant_id: int | None = None) -> list[RetentionJob]:
    query = select(RetentionJob).order_by(RetentionJob.created_at.desc())
    if tenant_id is not None:
        query = query.where(RetentionJob.tenant_id == tenant_id)
    return list(session.exec(query).all())


def archive_job(job_id: int, actor: Actor, store: FileStore | S3FileStore | None = None) -> RetentionJob:
    store = store or default_store()
    with public_session() as session:
        job, tenant = _job(session, job_id)
        if job.status not in (RetentionStatus.PENDING, RetentionStatus.FAILED, RetentionStatus.RESTORED):
            raise Conflict(f"job {job_id} is {job.status}: archive only a pending job")
        selection = quarter_selection(_as_datetime(job.period_start), _as_datetime(job.period_end))
        key = _key(tenant, job)
        try:
            manifest = write_archive(tenant.slug, selection, store, key, {"quarter": job.quarter, "job_id": job.id})
        except Exception as exc:
            job.status, job.error = RetentionStatus.FAILED, f"archive failed: {exc}"
            audit.record(
                session,
                actor,
                "retention.archive_failed",
                "retention_job",
                job.id,
                new={"error": job.error},
                tenant_id=tenant.id,
            )
            session.commit()
            raise
        job.status, job.error = RetentionStatus.ARCHIVED, None
        job.archive_uri, job.manifest, job.archived_at = store.uri(key), manifest, utcnow()
        rows = {t: m["rows"] for t, m in manifest["tables"].items()}
        audit.record(
            session,
            actor,
            "retention.archive",
            "retention_job",
            job.id,
            new={"uri": job.archive_uri, "rows": rows},
            tenant_id=tenant.id,
        )
        session.commit()
        return job


def verify_job(job_id: int, actor: Actor, store: FileStore | S3FileStore | None = None) -> RetentionJob:
    store = store or default_store()
    with public_session() as session:
        job, tenant = _job(session, job_id)
        if job.status not in (RetentionStatus.ARCHIVED, RetentionStatus.VERIFIED):
            raise Conflict(f"job {job_id} is {job.status}: verify needs an archived job")
        selection = quarter_selection(_as_datetime(job.period_start), _as_datetime(job.period_end))
        report = verify_archive(tenant.slug, selection, store, _key(tenant, job))
        if report.ok:
            job.status, job.verified_at, job.error = RetentionStatus.VERIFIED, utcnow(), None
        else:
            job.error = "verification failed: " + "; ".join(report.problems())
        audit.record(
            session,
            actor,
            "retention.verify",
            "retention_job",
            job.id,
            new={"ok": report.ok, "tables": report.tables},
            tenant_id=tenant.id,
        )
        session.commit()
        if not report.ok:
            raise Conflict(job.error)
        return job


def confirmation_phrase(tenant_slug: str, quarter: str) -> str:
    return f"DELETE {tenant_slug} {quarter}"


def delete_job_data(job_id: int, confirmation: str, actor: Actor) -> RetentionJob:
    """Hard delete the quarter's rows: only after a verified archive and the exact typed phrase."""
    with public_session() as session:
        job, tenant = _job(session, job_id)
        if job.status != RetentionStatus.VERIFIED:
            raise Conflict(f"job {job_id} is {job.status}: hard delete needs a verified archive first")
        expected = confirmation_phrase(tenant.slug, job.quarter)
        if confirmation.strip() != expected:
            raise ValidationFailed(f"type exactly {expected!r} to confirm the hard delete", field="confirmation")
        selection = quarter_selection(_as_datetime(job.period_start), _as_datetime(job.period_end))
        with get_engine().begin() as conn:
            deleted = delete_rows(conn, tenant.slug, selection)
        job.status, job.deleted_at = RetentionStatus.DELETED, utcnow()
        audit.record(
            session, actor, "retention.delete", "retention_job", job.id, new={"deleted": deleted}, tenant_id=tenant.id
        )
        session.commit()
    _rebuild_read_models(tenant.slug)
    return job


def restore_job(job_id: int, actor: Actor, store: FileStore | S3FileStore | None = None) -> dict[str, int]:
    store = store or default_store()
    with public_session() as session:
        job, tenant = _job(session, job_id)
        if job.archive_uri is None:
            raise Conflict(f"job {job_id} has no archive to restore")
        with get_engine().begin() as conn:
            restored = restore_rows(conn, tenant.slug, store, _key(tenant, job))
        job.status, job.restored_at = RetentionStatus.RESTORED, utcnow()
        audit.record(
            session,
            actor,
            "retention.restore",
            "retention_job",
            job.id,
            new={"restored": restored},
            tenant_id=tenant.id,
        )
        session.commit()
    _rebuild_read_models(tenant.slug)
    return restored


def _rebuild_read_models(tenant_slug: str) -> None:
    """Metrics and compliance are derived: recompute them after rows left or came back."""
    evaluate_and_alert(tenant_slug)
    rebuild_metrics(tenant_slug)
