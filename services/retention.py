"""Data retention: archive a quarter of a tenant's data, verify the archive, then (only then) delete it.

Steps, each audited: create job -> archive -> verify -> hard delete (needs a
verified archive and the typed confirmation "DELETE <tenant> <quarter>") ->
restore (from the archive, any time later).

* **On schedule.** Each night `plan_retention` finds, per active tenant, the
  quarters that ended more than `Tenant.retention_days` ago and still hold
  data, creates a job for each (by the system) and queues its archive and
  verification on the worker. Hard delete always stays a person's decision.
* **On the worker.** Archive and verify run as Celery tasks
  (`RETENTION_ARCHIVE`, `RETENTION_VERIFY`), queued through the task outbox so
  a broker outage delays them but never loses them; a portal or API call only
  queues. Progress goes out as live events (`retention.progress`, then
  `retention.finished`) and the last one is kept in Redis for a page opened later.
  One step per job at a time (a PostgreSQL advisory lock).
* **Exact delete.** The hard delete removes exactly the rows the verified
  archive holds, unchanged; rows changed or added since stay and are reported
  (`manifest["hard_delete"]`, the audit row and the page).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import redis
import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Session, col, select

from core.errors import Conflict, NotFound, ValidationFailed
from core.realtime import publish_event, redis_client
from etl.forecast import forecast_tenant
from etl.metrics import rebuild_metrics
from models.base import utcnow
from models.db import get_engine, public_session, schema_for
from models.enums import RetentionStatus, TenantStatus
from models.public import RetentionJob, Tenant
from services import audit
from services.alerts import evaluate_and_alert
from services.archive import (
    FileStore,
    Progress,
    S3FileStore,
    default_store,
    delete_archived_rows,
    quarter_selection,
    restore_rows,
    verify_archive,
    write_archive,
)
from services.audit import Actor
from services.outbox import add_task, dispatch

log = logging.getLogger(__name__)

QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
#: Task names (the worker registers its tasks under them).
RETENTION_ARCHIVE = "dmt.retention_archive"
RETENTION_VERIFY = "dmt.retention_verify"
RETENTION_SCHEDULE = "dmt.retention_schedule"
#: How long the last progress of a job stays readable for a page opened later.
PROGRESS_TTL_SECONDS = 24 * 3600
SCHEDULE_ACTOR = Actor.system("retention schedule")
#: What the tenant forms promise about `Tenant.retention_days`: exactly what `plan_retention` and the
#: hard delete do.
RETENTION_PROMISE = (
    "Each night, quarters that ended more than this many days ago are archived and verified; "
    "an administrator then hard-deletes them on the Data retention page (30-3650)."
)

_ARCHIVABLE = (RetentionStatus.PENDING, RetentionStatus.FAILED, RetentionStatus.RESTORED, RetentionStatus.ARCHIVING)
_VERIFIABLE = (RetentionStatus.ARCHIVED, RetentionStatus.VERIFIED, RetentionStatus.VERIFYING)
#: Jobs that still have work ahead of them (the nightly plan creates no second job for their quarter).
_OPEN = (
    RetentionStatus.PENDING,
    RetentionStatus.ARCHIVING,
    RetentionStatus.ARCHIVED,
    RetentionStatus.VERIFYING,
    RetentionStatus.VERIFIED,
    RetentionStatus.FAILED,
)


class JobBusy(Conflict):
    """Another step of the same job is running (its advisory lock is held)."""


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


# =========================================================================== quarters
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


def quarter_of(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def quarters_between(first: date, last_end: date) -> list[str]:
    """The quarters from the one holding `first` to the last one ending on or before `last_end`."""
    quarters: list[str] = []
    current = quarter_of(first)
    while True:
        _, end = quarter_bounds(current)
        if end > last_end:
            return quarters
        quarters.append(current)
        current = quarter_of(end)


def _as_datetime(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


# =========================================================================== jobs
def _job(session: Session, job_id: int, *, lock: bool = False) -> tuple[RetentionJob, Tenant]:
    job = session.get(RetentionJob, job_id, with_for_update=lock)
    if job is None:
        raise NotFound(f"retention job {job_id} not found")
    tenant = session.get(Tenant, job.tenant_id)
    assert tenant is not None
    return job, tenant


def _claim(session: Session, job_id: int) -> None:
    """One long step per job at a time: a transaction-scoped advisory lock, released if the worker dies."""
    held = session.execute(
        sa.text("SELECT pg_try_advisory_xact_lock(hashtext('dmt:retention-job'), CAST(:id AS int))"), {"id": job_id}
    ).scalar_one()
    if not held:
        raise JobBusy(f"retention job {job_id} is being processed right now")


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


def _jobs_in(session: Session, tenant_id: int | None = None) -> list[RetentionJob]:
    query = select(RetentionJob).order_by(RetentionJob.created_at.desc())
    if tenant_id is not None:
        query = query.where(RetentionJob.tenant_id == tenant_id)
    return list(session.exec(query).all())


def list_jobs(tenant_id: int | None = None) -> list[RetentionJob]:
    """Retention jobs, newest first; with tenant_id, only that tenant's."""
    with public_session() as session:
        return _jobs_in(session, tenant_id)


# =========================================================================== progress
def _progress_key(job_id: int) -> str:
    return f"dmt:retention-progress:{job_id}"


def _announce(event_type: str, job: RetentionJob, tenant: Tenant, **fields: Any) -> None:
    """A live event for the admin portal (not a tenant's dashboards: no tenant, no cache bump), kept in Redis."""
    payload = {"job_id": job.id, "tenant_id": tenant.id, "tenant_slug": tenant.slug, "quarter": job.quarter, **fields}
    publish_event(event_type, None, **payload)
    try:
        redis_client().set(_progress_key(job.id or 0), json.dumps({"type": event_type, **payload}, default=str),
                           ex=PROGRESS_TTL_SECONDS)  # fmt: skip
    except redis.RedisError as exc:
        log.warning("retention job %s: progress not stored: %s", job.id, exc)


def _reporter(job: RetentionJob, tenant: Tenant, phase: str) -> Progress:
    def report(table: str, done: int, total: int, rows: int) -> None:
        _announce(
            "retention.progress", job, tenant, phase=phase, table=table, tables_done=done, tables_total=total,
            rows=rows, percent=round(100 * done / total) if total else 100,
        )  # fmt: skip

    return report


def job_progress(job_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The last live event of each job (queued, progress or finished) still kept, by job id."""
    if not job_ids:
        return {}
    try:
        values = redis_client().mget([_progress_key(i) for i in job_ids])
    except redis.RedisError as exc:
        log.warning("retention progress unavailable: %s", exc)
        return {}
    return {job_id: json.loads(v) for job_id, v in zip(job_ids, values, strict=True) if v}


# =========================================================================== queue on the worker
def _queue(
    job_id: int, actor: Actor, *, allowed: tuple[str, ...], status: str, task: str, args: list[Any]
) -> RetentionJob:
    with public_session() as session:
        job, tenant = _job(session, job_id, lock=True)
        if job.status not in allowed:
            step = "archive" if task == RETENTION_ARCHIVE else "verify"
            need = "a pending, failed or restored job" if step == "archive" else "an archived job"
            raise Conflict(f"job {job_id} is {job.status}: {step} needs {need}")
        old = job.status
        job.status, job.error = status, None
        row = add_task(
            session, task, [job_id, actor.user_id, actor.email, actor.ip_address, *args], f"retention job {job_id}"
        )
        audit.record(
            session, actor, f"retention.queue_{'archive' if task == RETENTION_ARCHIVE else 'verify'}",
            "retention_job", job.id, old={"status": old}, new={"status": status}, tenant_id=tenant.id,
        )  # fmt: skip
        session.commit()
        session.refresh(job)
        outbox_id = row.id or 0
    _announce("retention.queued", job, tenant, phase="archive" if task == RETENTION_ARCHIVE else "verify")
    dispatch([outbox_id])  # sent now if the broker answers; otherwise the outbox dispatcher retries
    return job


def queue_archive(job_id: int, actor: Actor, *, then_verify: bool = False) -> RetentionJob:
    """Queue the archive of a job on the worker (and its verification right after, when `then_verify`)."""
    return _queue(job_id, actor, allowed=_ARCHIVABLE, status=RetentionStatus.ARCHIVING, task=RETENTION_ARCHIVE,
                  args=[then_verify])  # fmt: skip


def queue_verify(job_id: int, actor: Actor) -> RetentionJob:
    """Queue the verification of an archived job on the worker."""
    return _queue(job_id, actor, allowed=_VERIFIABLE, status=RetentionStatus.VERIFYING, task=RETENTION_VERIFY,
                  args=[])  # fmt: skip


# =========================================================================== the steps
def archive_job(job_id: int, actor: Actor, store: FileStore | S3FileStore | None = None) -> RetentionJob:
    """Write the quarter's rows to the archive store (the worker runs this; live progress events)."""
    store = store or default_store()
    with public_session() as session:
        _claim(session, job_id)
        job, tenant = _job(session, job_id)
        if job.status not in _ARCHIVABLE:
            raise Conflict(f"job {job_id} is {job.status}: archive only a pending job")
        job.status = RetentionStatus.ARCHIVING
        selection = quarter_selection(_as_datetime(job.period_start), _as_datetime(job.period_end))
        key = _key(tenant, job)
        try:
            manifest = write_archive(
                tenant.slug, selection, store, key, {"quarter": job.quarter, "job_id": job.id},
                progress=_reporter(job, tenant, "archive"),
            )  # fmt: skip
        except Exception as exc:
            job.status, job.error = RetentionStatus.FAILED, f"archive failed: {exc}"
            audit.record(
                session, actor, "retention.archive_failed", "retention_job", job.id,
                new={"error": job.error}, tenant_id=tenant.id,
            )  # fmt: skip
            session.commit()
            _announce("retention.finished", job, tenant, phase="archive", status=job.status, error=job.error)
            raise
        job.status, job.error = RetentionStatus.ARCHIVED, None
        job.archive_uri, job.manifest, job.archived_at = store.uri(key), manifest, utcnow()
        rows = {t: m["rows"] for t, m in manifest["tables"].items()}
        audit.record(
            session, actor, "retention.archive", "retention_job", job.id,
            new={"uri": job.archive_uri, "rows": rows}, tenant_id=tenant.id,
        )  # fmt: skip
        session.commit()
        _announce("retention.finished", job, tenant, phase="archive", status=job.status, rows=sum(rows.values()))
        return job


def verify_job(job_id: int, actor: Actor, store: FileStore | S3FileStore | None = None) -> RetentionJob:
    """Compare the archive with the live rows it claims to hold; only a match makes the job verified."""
    store = store or default_store()
    with public_session() as session:
        _claim(session, job_id)
        job, tenant = _job(session, job_id)
        if job.status not in _VERIFIABLE:
            raise Conflict(f"job {job_id} is {job.status}: verify needs an archived job")
        selection = quarter_selection(_as_datetime(job.period_start), _as_datetime(job.period_end))
        try:
            report = verify_archive(
                tenant.slug, selection, store, _key(tenant, job), progress=_reporter(job, tenant, "verify")
            )
        except Exception as exc:
            job.status, job.error = RetentionStatus.ARCHIVED, f"verification failed: {exc}"
            session.commit()
            _announce("retention.finished", job, tenant, phase="verify", status=job.status, error=job.error)
            raise
        if report.ok:
            job.status, job.verified_at, job.error = RetentionStatus.VERIFIED, utcnow(), None
        else:
            job.status = RetentionStatus.ARCHIVED
            job.error = "verification failed: " + "; ".join(report.problems())
        audit.record(
            session, actor, "retention.verify", "retention_job", job.id,
            new={"ok": report.ok, "tables": report.tables}, tenant_id=tenant.id,
        )  # fmt: skip
        session.commit()
        _announce("retention.finished", job, tenant, phase="verify", status=job.status, error=job.error or "")
        if not report.ok:
            raise Conflict(job.error)
        return job


def confirmation_phrase(tenant_slug: str, quarter: str) -> str:
    return f"DELETE {tenant_slug} {quarter}"


def delete_job_data(
    job_id: int, confirmation: str, actor: Actor, store: FileStore | S3FileStore | None = None
) -> RetentionJob:
    """Hard delete exactly the rows the verified archive holds: only after the exact typed phrase.

    Rows changed or added after the verification stay; the job's
    `manifest["hard_delete"]` and the audit row report them per table.
    """
    store = store or default_store()
    with public_session() as session:
        _claim(session, job_id)
        job, tenant = _job(session, job_id)
        if job.status != RetentionStatus.VERIFIED:
            raise Conflict(f"job {job_id} is {job.status}: hard delete needs a verified archive first")
        expected = confirmation_phrase(tenant.slug, job.quarter)
        if confirmation.strip() != expected:
            raise ValidationFailed(f"type exactly {expected!r} to confirm the hard delete", field="confirmation")
        selection = quarter_selection(_as_datetime(job.period_start), _as_datetime(job.period_end))
        with get_engine().begin() as conn:
            tables = delete_archived_rows(
                conn, tenant.slug, selection, store, _key(tenant, job), progress=_reporter(job, tenant, "delete")
            )
        report = {t: d.as_dict() for t, d in tables.items()}
        kept = {t: d for t, d in report.items() if d.get("changed") or d.get("added") or d.get("referenced")}
        job.status, job.deleted_at = RetentionStatus.DELETED, utcnow()
        job.manifest = {**(job.manifest or {}), "hard_delete": {"at": job.deleted_at.isoformat(), "tables": report}}
        audit.record(
            session, actor, "retention.delete", "retention_job", job.id,
            new={"deleted": {t: d["deleted"] for t, d in report.items()}, "kept": kept}, tenant_id=tenant.id,
        )  # fmt: skip
        session.commit()
        _announce("retention.finished", job, tenant, phase="delete", status=job.status,
                  deleted=sum(d["deleted"] for d in report.values()), kept=kept_rows(report))  # fmt: skip
    _rebuild_read_models(tenant.slug)
    return job


def kept_rows(report: dict[str, dict[str, Any]]) -> int:
    """Rows a hard delete left in place: changed or added after verification, or still referenced."""
    return sum(int(d.get("changed", 0)) + int(d.get("added", 0)) + int(d.get("referenced", 0)) for d in report.values())


def restore_job(job_id: int, actor: Actor, store: FileStore | S3FileStore | None = None) -> dict[str, int]:
    store = store or default_store()
    with public_session() as session:
        _claim(session, job_id)
        job, tenant = _job(session, job_id)
        if job.archive_uri is None:
            raise Conflict(f"job {job_id} has no archive to restore")
        with get_engine().begin() as conn:
            restored = restore_rows(conn, tenant.slug, store, _key(tenant, job))
        job.status, job.restored_at = RetentionStatus.RESTORED, utcnow()
        audit.record(
            session, actor, "retention.restore", "retention_job", job.id,
            new={"restored": restored}, tenant_id=tenant.id,
        )  # fmt: skip
        session.commit()
    _rebuild_read_models(tenant.slug)
    return restored


def _rebuild_read_models(tenant_slug: str) -> None:
    """Metrics, compliance and forecasts are derived: recompute them after rows left or came back."""
    evaluate_and_alert(tenant_slug)
    rebuild_metrics(tenant_slug)
    forecast_tenant(tenant_slug)


# =========================================================================== worker entry points
def _job_outcome(job_id: int, work: Callable[[], RetentionJob]) -> dict[str, Any]:
    """A worker task's result: the job's status after `work`, or skipped (busy) / failed (conflict)."""
    try:
        job = work()
    except JobBusy as exc:
        return {"job_id": job_id, "status": "skipped", "error": str(exc)}
    except Conflict as exc:
        return {"job_id": job_id, "status": "failed", "error": str(exc)}
    return {"job_id": job_id, "status": str(job.status)}


def run_archive(job_id: int, actor: Actor, *, then_verify: bool = False) -> dict[str, Any]:
    """The worker's archive task: archive (and verify) one job; a job already being processed is skipped."""

    def archive_then_verify() -> RetentionJob:
        job = archive_job(job_id, actor)
        return verify_job(job_id, actor) if then_verify else job

    return _job_outcome(job_id, archive_then_verify)


def run_verify(job_id: int, actor: Actor) -> dict[str, Any]:
    """The worker's verify task; a mismatch leaves the job archived with the problems as its error."""
    return _job_outcome(job_id, lambda: verify_job(job_id, actor))


# =========================================================================== nightly plan
@dataclass
class RetentionPlan:
    """What one nightly pass did for one tenant."""

    tenant_slug: str
    cutoff: date
    created: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)


def _first_data_day(tenant_slug: str) -> date | None:
    """The earliest day a quarter selection could hold rows of (items, pull requests, sync runs)."""
    s = f'"{schema_for(tenant_slug)}"'
    with get_engine().connect() as conn:
        first = conn.execute(
            sa.text(
                f"SELECT least((SELECT min(COALESCE(done_at, created_at_source, first_seen_at)) FROM {s}.work_items), "
                f"(SELECT min(COALESCE(merged_at, closed_at, created_at_source, first_seen_at)) FROM {s}.pull_requests), "
                f"(SELECT min(started_at) FROM {s}.sync_runs))"
            )
        ).scalar()
    return first.astimezone(UTC).date() if first is not None else None


def _quarter_has_rows(tenant_slug: str, quarter: str) -> bool:
    start, end = quarter_bounds(quarter)
    selection = quarter_selection(_as_datetime(start), _as_datetime(end))
    schema = schema_for(tenant_slug)
    probes = " OR ".join(
        f"EXISTS ({selection.query(schema, table, columns='1')})"
        for table in ("work_items", "pull_requests", "sync_runs")
    )
    with get_engine().connect() as conn:
        return bool(conn.execute(sa.text(f"SELECT {probes}"), selection.params).scalar())


def plan_retention(tenant_id: int, today: date | None = None) -> RetentionPlan:
    """Create (and queue archive + verify for) the jobs of the tenant's quarters older than its retention.

    A quarter is due when it ended at least `retention_days` before `today`
    and still holds data. A quarter with a job still in progress, or one an
    administrator restored, gets no new job; a failed job is queued again. A
    quarter whose rows were hard deleted but that holds rows again (changed or
    added after the verification, or loaded late) gets a new job.
    """
    today = today or date.today()
    with public_session() as session:
        tenant = session.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        slug, retention_days = tenant.slug, tenant.retention_days
        jobs = _jobs_in(session, tenant_id)
    plan = RetentionPlan(slug, today - timedelta(days=retention_days))
    first = _first_data_day(slug)
    if first is None:
        return plan
    by_quarter: dict[str, list[RetentionJob]] = {}
    for job in jobs:
        by_quarter.setdefault(job.quarter, []).append(job)
    for quarter in quarters_between(first, plan.cutoff):
        existing = by_quarter.get(quarter, [])
        failed = [j for j in existing if j.status == RetentionStatus.FAILED]
        if failed:
            for job in failed:
                queue_archive(job.id or 0, SCHEDULE_ACTOR, then_verify=True)
                plan.requeued.append(job.id or 0)
            continue
        if any(j.status in _OPEN or j.status == RetentionStatus.RESTORED for j in existing):
            continue
        if not _quarter_has_rows(slug, quarter):
            continue
        job = create_job(tenant_id, quarter, SCHEDULE_ACTOR)
        queue_archive(job.id or 0, SCHEDULE_ACTOR, then_verify=True)
        plan.created.append(job.id or 0)
    return plan


def plan_all_tenants(today: date | None = None) -> list[RetentionPlan]:
    """The nightly pass: `plan_retention` for every active tenant (one tenant's failure does not stop the rest)."""
    with public_session() as session:
        ids = list(session.exec(select(Tenant.id).where(Tenant.status == TenantStatus.ACTIVE).order_by(col(Tenant.id))))
    plans = []
    for tenant_id in ids:
        try:
            plans.append(plan_retention(tenant_id or 0, today))
        except Exception:  # one tenant's broken schema must not stop the others' retention
            log.exception("retention plan of tenant %s failed", tenant_id)
    return plans


# =========================================================================== words for the admin portal
def deletion_summary(manifest: dict[str, Any] | None) -> str:
    """What a job's hard delete removed and kept, in words ("" before a delete)."""
    report = ((manifest or {}).get("hard_delete") or {}).get("tables") or {}
    if not report:
        return ""
    deleted = sum(int(d.get("deleted", 0)) for d in report.values())
    kept = []
    for table, d in report.items():
        parts = [f"{d[k]} {word}" for k, word in (("changed", "changed"), ("added", "added"),
                                                  ("referenced", "still referenced")) if d.get(k)]  # fmt: skip
        if parts:
            kept.append(f"{table}: {', '.join(parts)}")
    if not kept:
        return f"{deleted} rows deleted, exactly the verified archive."
    reasons = "; ".join(kept)
    return f"{deleted} rows deleted; {kept_rows(report)} kept (changed or added after verification) - {reasons}"


def progress_words(event: dict[str, Any] | None) -> tuple[int, str]:
    """(percent, text) of a job's last live event, for a progress bar; (0, "") when none is kept."""
    if not event:
        return 0, ""
    phase = str(event.get("phase", ""))
    if event.get("type") == "retention.queued":
        return 0, f"{phase} queued: waiting for a worker"
    if event.get("type") == "retention.finished":
        error = str(event.get("error") or "")
        return 100, f"{phase} finished: {event.get('status', '')}" + (f" ({error})" if error else "")
    table, rows = str(event.get("table") or ""), int(event.get("rows") or 0)
    where = f" - {table}" + (f", {rows} rows" if rows else "") if table else ""
    done, total = int(event.get("tables_done") or 0), int(event.get("tables_total") or 0)
    return int(event.get("percent") or 0), f"{phase}: {done}/{total} tables{where}"
