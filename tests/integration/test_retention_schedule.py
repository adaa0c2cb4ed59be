"""Retention on schedule: the nightly plan, archive and verify on a real Celery worker with live progress,
and a hard delete that removes exactly the rows the verified archive holds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import func, select

from core.errors import Conflict
from core.realtime import latest_event_id, read_events
from core.settings import reset_settings_cache
from models.db import public_session, tenant_session
from models.enums import RetentionStatus
from models.public import AuditLog, RetentionJob, TaskOutbox, Tenant
from models.tenant import ComplianceFlag, PullRequest, WorkItem, WorkItemPullRequest
from services import admin_queries, retention
from services.archive import FileStore
from services.projects import ProjectCreate, create_project
from services.retention import (
    RETENTION_ARCHIVE,
    archive_job,
    confirmation_phrase,
    create_job,
    delete_job_data,
    plan_retention,
    queue_archive,
    restore_job,
    verify_job,
)
from tests.celery_worker import start_worker, stop_worker, wait_until_ready
from tests.integration.test_retention_and_backup import ACTOR, Q1, write_quarter_history
from tests.waiting import wait_until
from worker import app as celery_app
from worker import retention as retention_tasks


@pytest.fixture
def archives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """ARCHIVE_DIR in a temporary folder, for this process and the workers it starts."""
    folder = tmp_path / "archives"
    monkeypatch.setenv("ARCHIVE_DIR", str(folder))
    reset_settings_cache()
    yield folder
    monkeypatch.delenv("ARCHIVE_DIR")
    reset_settings_cache()


@pytest.fixture
def history(make_tenant) -> tuple[Any, Any]:
    """A tenant with work items, pull requests, links and flags in 2025Q1 and 2025Q2."""
    tenant = make_tenant("rets")
    project = create_project(ProjectCreate(tenant_id=tenant.id, key="RET", name="Retention"), ACTOR)
    write_quarter_history(tenant, project.id)
    return tenant, project


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Outbox rows the retention service asked to send, recorded instead of reaching a broker."""
    sent: list[int] = []
    monkeypatch.setattr(retention, "dispatch", lambda ids: sent.extend(ids))
    return sent


def counts(tenant: Any) -> dict[str, int]:
    with tenant_session(tenant) as s:
        return {
            name: s.exec(select(func.count()).select_from(model)).one()
            for name, model in (("items", WorkItem), ("prs", PullRequest), ("links", WorkItemPullRequest))
        }


def q1_items(tenant: Any) -> list[WorkItem]:
    with tenant_session(tenant) as s:
        return list(s.exec(select(WorkItem).where(WorkItem.source_item_id.like("q1-%")).order_by(WorkItem.id)).all())


def job_status(job_id: int) -> str:
    with public_session() as s:
        job = s.get(RetentionJob, job_id)
        assert job is not None
        return str(job.status)


# --------------------------------------------------------------------------- exact hard delete
def test_hard_delete_removes_exactly_the_verified_rows_and_reports_what_changed_since(
    history, tmp_path: Path
) -> None:
    tenant, project = history
    store = FileStore(tmp_path)
    job = create_job(tenant.id, "2025Q1", ACTOR)
    archive_job(job.id, ACTOR, store)
    verify_job(job.id, ACTOR, store)
    changed, referenced, untouched = q1_items(tenant)[:3]

    # After the verification: one archived item changes, one item of the quarter is added, and a new flag
    # (a row the archive does not hold) points at an archived, unchanged item.
    with tenant_session(tenant) as s:
        s.execute(sa.update(WorkItem).where(WorkItem.id == changed.id).values(title="renamed after verification"))
        late = WorkItem(
            source_id=1, project_id=project.id, source_type="jira", source_item_id="q1-late", item_key="RET-late",
            title="loaded late", status="Done", status_category="done", created_at_source=Q1, done_at=Q1,
        )  # fmt: skip
        s.add(late)
        s.flush()
        s.add(ComplianceFlag(work_item_id=referenced.id, project_id=project.id, rule_id="missing_dmt_signoff",
                             severity="medium", message="new since"))  # fmt: skip
        s.commit()
        late_id = late.id

    job = delete_job_data(job.id, confirmation_phrase(tenant.slug, "2025Q1"), ACTOR, store)
    report = job.manifest["hard_delete"]["tables"]
    assert report["work_items"]["archived"] == 5
    assert report["work_items"]["deleted"] == 3  # 5 archived - changed - still referenced
    assert report["work_items"]["changed"] == 1 and report["work_items"]["changed_ids"] == [changed.id]
    assert report["work_items"]["added"] == 1 and report["work_items"]["added_ids"] == [late_id]
    assert report["work_items"]["referenced"] == 1
    assert report["compliance_flags"]["added"] == 1  # the new flag stays
    assert report["pull_requests"]["deleted"] == 5 and report["work_item_pull_requests"]["deleted"] == 5
    assert retention.kept_rows(report) == 4

    remaining = {w.id: w for w in q1_items(tenant)}
    assert set(remaining) == {changed.id, referenced.id, late_id}
    assert untouched.id not in remaining
    assert remaining[changed.id].title == "renamed after verification"
    with tenant_session(tenant) as s:
        assert s.exec(
            select(ComplianceFlag).where(ComplianceFlag.work_item_id == referenced.id,
                                         ComplianceFlag.rule_id == "missing_dmt_signoff")
        ).first() is not None  # fmt: skip
    with public_session() as s:
        audit = s.exec(
            select(AuditLog).where(AuditLog.action == "retention.delete", AuditLog.entity_id == str(job.id))
        ).one()
    assert audit.new_values["kept"]["work_items"]["changed"] == 1
    [row] = admin_queries.retention_jobs(tenant.id)
    assert row["deletion"].startswith("18 rows deleted; 4 kept")  # items 3, PRs 5, links 5, flags 5
    assert "work_items: 1 changed, 1 added, 1 still referenced" in row["deletion"]

    # Restoring puts the deleted rows back and keeps the changed one as it is now.
    restore_job(job.id, ACTOR, store)
    assert counts(tenant) == {"items": 11, "prs": 10, "links": 10}
    with tenant_session(tenant) as s:
        assert s.get(WorkItem, changed.id).title == "renamed after verification"


def test_a_job_changed_between_archive_and_verify_is_not_verified(history, tmp_path: Path) -> None:
    tenant, _ = history
    store = FileStore(tmp_path)
    job = archive_job(create_job(tenant.id, "2025Q1", ACTOR).id, ACTOR, store)
    with tenant_session(tenant) as s:
        s.execute(sa.update(WorkItem).where(WorkItem.source_item_id == "q1-0").values(title="changed"))
        s.commit()
    with pytest.raises(Conflict, match="verification failed"):
        verify_job(job.id, ACTOR, store)
    assert job_status(job.id) == "archived"
    with pytest.raises(Conflict, match="verified archive"):
        delete_job_data(job.id, confirmation_phrase(tenant.slug, "2025Q1"), ACTOR, store)


# --------------------------------------------------------------------------- nightly plan
def set_retention(tenant: Any, days: int) -> None:
    with public_session() as s:
        row = s.get(Tenant, tenant.id)
        row.retention_days = days
        s.commit()


def jobs_of(tenant: Any) -> dict[str, list[RetentionJob]]:
    result: dict[str, list[RetentionJob]] = {}
    for job in retention.list_jobs(tenant.id):
        result.setdefault(job.quarter, []).append(job)
    return result


def test_the_nightly_plan_creates_and_queues_jobs_for_quarters_older_than_the_retention(
    history, queued: list[int]
) -> None:
    tenant, _ = history  # data in 2025Q1 and 2025Q2
    today = date(2025, 12, 1)
    set_retention(tenant, (today - date(2025, 4, 1)).days)  # 2025Q1 ended exactly that long ago; Q2 did not
    plan = plan_retention(tenant.id, today)
    assert plan.cutoff == date(2025, 4, 1)
    jobs = jobs_of(tenant)
    assert set(jobs) == {"2025Q1"} and plan.created == [jobs["2025Q1"][0].id]
    assert jobs["2025Q1"][0].status == "archiving" and jobs["2025Q1"][0].created_by is None
    with public_session() as s:
        outbox = s.exec(select(TaskOutbox).where(TaskOutbox.id.in_(queued))).all()
    assert [(o.task_name, o.args[0], o.args[-1]) for o in outbox] == [(RETENTION_ARCHIVE, plan.created[0], True)]
    # What the tenant form promises: archived and verified each night, deleted only by an administrator.
    assert "archived and verified" in retention.RETENTION_PROMISE and "hard-deletes" in retention.RETENTION_PROMISE
    assert counts(tenant)["items"] == 10

    # The next night changes nothing for a quarter whose job is under way; a longer span brings Q2 in.
    assert plan_retention(tenant.id, today).created == []
    assert plan_retention(tenant.id, today + timedelta(days=91)).created == [jobs_of(tenant)["2025Q2"][0].id]

    # A failed job is queued again; a restored quarter is left alone; a deleted quarter with rows again gets a job.
    with public_session() as s:
        q1, q2 = s.get(RetentionJob, plan.created[0]), s.get(RetentionJob, jobs_of(tenant)["2025Q2"][0].id)
        q1.status, q2.status = RetentionStatus.FAILED, RetentionStatus.RESTORED
        s.commit()
    again = plan_retention(tenant.id, today + timedelta(days=91))
    assert again.requeued == [plan.created[0]] and again.created == []
    with public_session() as s:
        s.get(RetentionJob, plan.created[0]).status = RetentionStatus.DELETED
        s.commit()
    assert len(plan_retention(tenant.id, today + timedelta(days=91)).created) == 1
    assert len(jobs_of(tenant)["2025Q1"]) == 2


def test_a_tenant_without_old_data_gets_no_job_and_the_task_is_scheduled_nightly(make_tenant, queued) -> None:
    tenant = make_tenant("fresh")
    assert plan_retention(tenant.id).created == []
    entry = celery_app.conf.beat_schedule["retention-nightly"]
    assert entry["task"] == retention.RETENTION_SCHEDULE
    result = retention_tasks.schedule_retention.apply(throw=True).get()
    assert any(p["tenant"] == tenant.slug and p["created"] == [] for p in result)


# --------------------------------------------------------------------------- on the worker, live
@pytest.fixture
def retention_worker(database_url: str, redis_url: str, tmp_path: Path, archives: Path) -> Iterator[Path]:
    """A real `celery -A worker worker` on the default queue, writing archives to the test's folder."""
    celery_app.control.purge()  # tasks other tests of this Redis database left queued
    log = tmp_path / "worker.log"
    proc = start_worker(
        database_url, redis_url, queue="celery", name=f"retention-{tmp_path.name}", log=log,
        env={"ARCHIVE_DIR": str(archives)},
    )  # fmt: skip
    try:
        wait_until_ready(proc, log)
        yield log
    finally:
        stop_worker(proc)


def test_archive_and_verify_run_on_the_worker_with_live_progress(history, retention_worker: Path) -> None:
    tenant, _ = history
    job = create_job(tenant.id, "2025Q1", ACTOR)
    since = latest_event_id()
    queued_job = queue_archive(job.id, ACTOR, then_verify=True)
    assert queued_job.status == "archiving"
    try:
        wait_until(lambda: job_status(job.id) == "verified", timeout=90, what="the worker to archive and verify the job")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nworker log:\n{retention_worker.read_text(errors='replace')[-4000:]}") from exc

    events: list[dict[str, Any]] = []
    last = since
    while True:
        batch = list(read_events(last, block_ms=200))
        if not batch:
            break
        last = batch[-1][0]
        events += [e for _, e in batch if e.get("type", "").startswith("retention.") and e.get("job_id") == job.id]
    kinds = [(e["type"], e.get("phase"), e.get("status")) for e in events]
    assert kinds[0] == ("retention.queued", "archive", None)
    assert ("retention.finished", "archive", "archived") in kinds
    assert kinds[-1] == ("retention.finished", "verify", "verified")
    archive_progress = [e for e in events if e["type"] == "retention.progress" and e["phase"] == "archive"]
    assert [e["percent"] for e in archive_progress] == sorted(e["percent"] for e in archive_progress)
    assert archive_progress[-1]["percent"] == 100 and {e["table"] for e in archive_progress} >= {"work_items"}
    assert all(e["tenant"] == "" for e in events)  # admin events: never a tenant's dashboards
    assert retention.job_progress([job.id])[job.id]["status"] == "verified"
    [row] = admin_queries.retention_jobs(tenant.id)
    assert (row["progress"], row["progress_text"]) == (100, "verify finished: verified")
    with public_session() as s:
        actions = s.exec(
            select(AuditLog.action).where(AuditLog.entity_type == "retention_job", AuditLog.entity_id == str(job.id))
        ).all()
    assert {"retention.queue_archive", "retention.archive", "retention.verify"} <= set(actions)
