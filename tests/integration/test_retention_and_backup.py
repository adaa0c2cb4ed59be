"""Retention archive -> verify -> typed hard delete -> restore; per-tenant backup and restore."""

from __future__ import annotations

import gzip
import io
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import func, select

from core.errors import Conflict, ValidationFailed
from models.db import get_engine, public_session, tenant_session
from models.public import AuditLog
from models.tenant import ComplianceFlag, PullRequest, WorkItem, WorkItemPullRequest
from services.archive import FileStore
from services.audit import Actor
from services.projects import ProjectCreate, create_project
from services.retention import archive_job, confirmation_phrase, create_job, delete_job_data, restore_job, verify_job
from services.tenant_backup import backup_tenant, restore_tenant

ACTOR = Actor(user_id=None, email="ops@example.com", ip_address="127.0.0.1")
Q1 = datetime(2025, 2, 10, 12, tzinfo=UTC)
Q2 = datetime(2025, 5, 10, 12, tzinfo=UTC)


def write_quarter_history(tenant, project_id: int, per_quarter: int = 5, *, with_flags: bool = True) -> None:
    """Work items, pull requests and their links in 2025Q1 and 2025Q2 (also used by the retention browser test)."""
    with tenant_session(tenant) as session:
        for quarter, when in (("q1", Q1), ("q2", Q2)):
            for i in range(per_quarter):
                item = WorkItem(
                    source_id=1, project_id=project_id, source_type="jira", source_item_id=f"{quarter}-{i}",
                    item_key=f"RET-{quarter}{i}", title=f"{quarter} item {i}", status="Done", status_category="done",
                    created_at_source=when, done_at=when, raw_data={"key": f"RET-{i}", "nested": {"n": i}},
                    labels=["a", "b"],
                )  # fmt: skip
                session.add(item)
                session.flush()
                pr = PullRequest(
                    source_id=2, project_id=project_id, source_type="github", source_pr_id=f"{quarter}-pr{i}",
                    title=f"RET-{quarter}{i} change", created_at_source=when, merged_at=when, state="merged",
                )  # fmt: skip
                session.add(pr)
                session.flush()
                session.add(WorkItemPullRequest(work_item_id=item.id, pull_request_id=pr.id))
                if with_flags:
                    session.add(
                        ComplianceFlag(
                            work_item_id=item.id,
                            project_id=project_id,
                            rule_id="low_coverage",
                            severity="high",
                            message="m",
                        )
                    )
        session.commit()


@pytest.fixture
def tenant_with_history(make_tenant):
    tenant = make_tenant("ret")
    project = create_project(ProjectCreate(tenant_id=tenant.id, key="RET", name="Retention"), ACTOR)
    write_quarter_history(tenant, project.id)
    return tenant, project


def _counts(tenant) -> dict[str, int]:
    with tenant_session(tenant) as session:
        return {
            "items": session.exec(select(func.count()).select_from(WorkItem)).one(),
            "prs": session.exec(select(func.count()).select_from(PullRequest)).one(),
            "links": session.exec(select(func.count()).select_from(WorkItemPullRequest)).one(),
        }


def test_quarter_archive_verify_delete_and_restore(tenant_with_history, tmp_path: Path) -> None:
    tenant, _ = tenant_with_history
    store = FileStore(tmp_path)
    job = create_job(tenant.id, "2025Q1", ACTOR)
    with pytest.raises(Conflict, match="verified archive"):
        delete_job_data(job.id, confirmation_phrase(tenant.slug, "2025Q1"), ACTOR)

    job = archive_job(job.id, ACTOR, store)
    assert job.manifest["tables"]["work_items"]["rows"] == 5
    assert job.manifest["tables"]["pull_requests"]["rows"] == 5
    assert len(job.manifest["tables"]["work_items"]["sha256"]) == 64
    job = verify_job(job.id, ACTOR, store)
    assert job.status == "verified"

    with pytest.raises(ValidationFailed, match="type exactly"):
        delete_job_data(job.id, "yes", ACTOR)
    delete_job_data(job.id, confirmation_phrase(tenant.slug, "2025Q1"), ACTOR, store)
    assert _counts(tenant) == {"items": 5, "prs": 5, "links": 5}  # only Q2 is left

    restored = restore_job(job.id, ACTOR, store)
    assert restored["work_items"] == 5 and restored["pull_requests"] == 5
    assert _counts(tenant) == {"items": 10, "prs": 10, "links": 10}
    with tenant_session(tenant) as session:
        back = session.exec(select(WorkItem).where(WorkItem.source_item_id == "q1-3")).one()
        assert back.raw_data == {"key": "RET-3", "nested": {"n": 3}} and back.labels == ["a", "b"]
        assert back.done_at == Q1
        session.add(WorkItem(source_id=1, project_id=1, source_type="jira", source_item_id="new-after-restore"))
        session.commit()  # the id sequence was moved past the restored ids

    with public_session() as session:
        actions = session.exec(
            select(AuditLog.action).where(AuditLog.tenant_id == tenant.id, AuditLog.action.like("retention.%"))
        ).all()
    assert {
        "retention.create",
        "retention.archive",
        "retention.verify",
        "retention.delete",
        "retention.restore",
    } <= set(actions)


def test_verify_detects_a_corrupted_archive(tenant_with_history, tmp_path: Path) -> None:
    tenant, _ = tenant_with_history
    store = FileStore(tmp_path)
    job = archive_job(create_job(tenant.id, "2025Q1", ACTOR).id, ACTOR, store)
    path = Path(job.archive_uri.removeprefix("file://"))
    # Rewrite the work_items member with one row changed.
    with tarfile.open(path, "r:gz") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    lines = gzip.decompress(members["tables/work_items.jsonl.gz"]).replace(b"q1 item 0", b"q1 item X")
    members["tables/work_items.jsonl.gz"] = gzip.compress(lines)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(Conflict, match="does not match its manifest"):
        verify_job(job.id, ACTOR, store)


def test_future_quarter_and_bad_names_are_refused(tenant_with_history) -> None:
    tenant, _ = tenant_with_history
    with pytest.raises(ValidationFailed, match="must look like"):
        create_job(tenant.id, "2025-1", ACTOR)
    with pytest.raises(ValidationFailed, match="has not ended"):
        create_job(tenant.id, f"{datetime.now().year + 1}Q1", ACTOR)


def test_backup_and_restore_a_whole_tenant(tenant_with_history, tmp_path: Path) -> None:
    tenant, project = tenant_with_history
    path = tmp_path / "backup.tar.gz"
    manifest = backup_tenant(tenant.slug, path, ACTOR)
    assert manifest["tables"]["work_items"]["rows"] == 10
    assert manifest["control_plane"]["projects"][0]["key"] == "RET"

    with pytest.raises(Conflict, match="--replace"):
        restore_tenant(path, ACTOR)
    with tenant_session(tenant) as session:
        session.execute(sa.delete(WorkItem).where(WorkItem.source_item_id.like("q2-%")))
        session.commit()
    assert _counts(tenant)["items"] == 5
    restored = restore_tenant(path, ACTOR, replace=True)
    assert restored["work_items"] == 10
    assert _counts(tenant) == {"items": 10, "prs": 10, "links": 10}

    # Disaster recovery: the tenant is gone entirely (schema and control-plane rows).
    with get_engine().begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{tenant.schema_name}" CASCADE'))
        conn.execute(sa.text("DELETE FROM public.projects WHERE tenant_id = :t"), {"t": tenant.id})
        conn.execute(sa.text("DELETE FROM public.tenants WHERE id = :t"), {"t": tenant.id})
    restore_tenant(path, ACTOR)
    assert _counts(tenant) == {"items": 10, "prs": 10, "links": 10}
    with public_session() as session:
        assert (
            session.exec(sa.text("SELECT key FROM public.projects WHERE id = :p").bindparams(p=project.id)).scalar()
            == "RET"
        )
