"""run_sync end to end against a fake tool API: counts, cursor, idempotence, errors, breaker, reconcile."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from bench._fake_tracker import EPOCH, TOKEN, TrackerData, create_app, register_fake_connectors
from core.crypto import encrypt_secret
from etl.connectors import registry
from etl.sync import CircuitOpen, SyncAlreadyRunning, run_sync, source_lock
from models.db import public_session, tenant_schema_of, tenant_session
from models.public import Notification, Project, SourceConfig, User, UserProjectRole
from models.tenant import SyncCursor, SyncItemError, SyncRun
from tests.fakes.server import FaultControls, serve


@pytest.fixture
def fake_connectors() -> Iterator[None]:
    saved = dict(registry._REGISTRY)
    register_fake_connectors()
    try:
        yield
    finally:
        registry._REGISTRY.clear()
        registry._REGISTRY.update(saved)


@dataclass
class Env:
    slug: str
    tenant_id: int
    project_id: int
    source_id: int
    pr_source_id: int
    data: TrackerData
    controls: FaultControls
    url: str


def make_source(tenant_id: int, project_id: int, source_type: str, url: str, **kw) -> int:
    with public_session() as s:
        src = SourceConfig(
            tenant_id=tenant_id,
            project_id=project_id,
            name=f"{source_type} source",
            source_type=source_type,
            base_url=url,
            token_encrypted=encrypt_secret(TOKEN),
            historical_import_days=3650,
            **kw,
        )
        s.add(src)
        s.commit()
        return src.id or 0


@pytest.fixture
def env(make_tenant, fake_connectors) -> Iterator[Env]:
    tenant = make_tenant("sy")
    data = TrackerData(size=450)
    controls = FaultControls()
    with serve(create_app(data, controls)) as url:
        with public_session() as s:
            project = Project(tenant_id=tenant.id, key="PROJ", name="Project")
            s.add(project)
            s.commit()
            project_id = project.id or 0
        yield Env(
            slug=tenant.slug,
            tenant_id=tenant.id,
            project_id=project_id,
            source_id=make_source(tenant.id, project_id, "jira", url),
            pr_source_id=make_source(tenant.id, project_id, "github", url),
            data=data,
            controls=controls,
            url=url,
        )


def scalar(slug: str, sql: str, **params) -> int:
    with tenant_session(slug) as s:
        schema = tenant_schema_of(s)
        return s.execute(sa.text(sql.replace("S.", f'"{schema}".')), params).scalar_one()


def test_sync_loads_every_item_and_pr_and_links_them(env: Env) -> None:
    run = run_sync(env.slug, env.source_id, "incremental", batch_size=100)
    assert run.status == "succeeded"
    assert (run.items_fetched, run.items_upserted, run.errors_count) == (450, 450, 0)
    assert run.pages == 3
    pr_run = run_sync(env.slug, env.pr_source_id)
    assert (pr_run.prs_fetched, pr_run.prs_upserted) == (225, 225)
    assert scalar(env.slug, "SELECT count(*) FROM S.work_items") == 450
    assert scalar(env.slug, "SELECT count(*) FROM S.pull_requests") == 225
    assert scalar(env.slug, "SELECT count(*) FROM S.work_item_pull_requests") == 225
    assert scalar(env.slug, "SELECT count(*) FROM S.sprints") == 13
    # Jira accounts and GitHub logins of the same people joined up by e-mail.
    assert scalar(env.slug, "SELECT count(*) FROM S.developer_identities") == 12
    with public_session() as s:
        source = s.get(SourceConfig, env.source_id)
        assert source.status == "ok" and source.last_success_at is not None and source.consecutive_failures == 0


def test_repeated_sync_changes_nothing_and_cursor_limits_the_window(env: Env) -> None:
    run_sync(env.slug, env.source_id)
    with tenant_session(env.slug) as s:
        cursor = s.exec(select(SyncCursor).where(SyncCursor.source_id == env.source_id)).one()
        assert cursor.updated_since == EPOCH + timedelta(minutes=449)
    before = scalar(env.slug, "SELECT max(last_synced_at)::text FROM S.work_items")
    again = run_sync(env.slug, env.source_id)
    # Only the 10-minute overlap before the cursor is fetched again, and nothing changes.
    assert again.items_fetched == 11
    assert again.items_upserted == 0
    assert scalar(env.slug, "SELECT max(last_synced_at)::text FROM S.work_items") == before
    assert scalar(env.slug, "SELECT count(*) FROM S.work_items") == 450
    # A change after the cursor is picked up and moves the cursor on.
    env.data.item_overrides[3] = {"title": "Changed", "updated": (EPOCH + timedelta(minutes=900)).isoformat()}
    changed = run_sync(env.slug, env.source_id)
    assert (changed.items_fetched, changed.items_upserted) == (12, 1)
    assert scalar(env.slug, "SELECT count(*) FROM S.work_items WHERE title = 'Changed'") == 1
    with tenant_session(env.slug) as s:
        cursor = s.exec(select(SyncCursor).where(SyncCursor.source_id == env.source_id)).one()
        assert cursor.updated_since == EPOCH + timedelta(minutes=900)


def test_malformed_record_is_kept_with_its_payload_and_the_rest_loads(env: Env) -> None:
    env.data.malformed_items = {7, 300}
    run = run_sync(env.slug, env.source_id, batch_size=100)
    assert run.status == "partial"
    assert (run.items_fetched, run.items_upserted, run.errors_count) == (450, 448, 2)
    with tenant_session(env.slug) as s:
        errors = s.exec(select(SyncItemError).where(SyncItemError.sync_run_id == run.id)).all()
    assert sorted(e.source_record_id for e in errors) == ["100007", "100300"]
    assert all(e.raw_payload["updated"] == "not-a-date" and "timestamp" in e.error for e in errors)
    assert scalar(env.slug, "SELECT count(*) FROM S.work_items") == 448


def test_three_failed_syncs_open_the_breaker_and_notify_the_leads(env: Env) -> None:
    with public_session() as s:
        lead = User(email=f"lead-{env.slug}@acme.test", password_hash="x", tenant_id=env.tenant_id)
        dev = User(email=f"dev-{env.slug}@acme.test", password_hash="x", tenant_id=env.tenant_id)
        s.add(lead)
        s.add(dev)
        s.flush()
        s.add(UserProjectRole(user_id=lead.id, project_id=env.project_id, role="tech_lead"))
        s.add(UserProjectRole(user_id=dev.id, project_id=env.project_id, role="developer"))
        s.commit()
        lead_id, dev_id = lead.id, dev.id
    env.controls.fail_next(3, status=503)
    for _ in range(3):
        with pytest.raises(Exception, match="503"):
            run_sync(env.slug, env.source_id)
    with public_session() as s:
        source = s.get(SourceConfig, env.source_id)
        assert (source.circuit_open, source.consecutive_failures, source.status) == (True, 3, "circuit_open")
        assert "503" in source.last_error
        notes = s.exec(select(Notification).where(Notification.tenant_id == env.tenant_id)).all()
    assert [(n.user_id, n.kind) for n in notes] == [(lead_id, "etl_failure")]
    assert dev_id not in {n.user_id for n in notes}
    with pytest.raises(CircuitOpen, match="reset"):
        run_sync(env.slug, env.source_id)
    with tenant_session(env.slug) as s:
        runs = s.exec(select(SyncRun).where(SyncRun.source_id == env.source_id)).all()
    assert [r.status for r in runs] == ["failed"] * 3

    from services.audit import Actor
    from services.sources import reset_circuit

    reset_circuit(env.source_id, Actor.system("test"))
    assert run_sync(env.slug, env.source_id).status == "succeeded"


def test_reconcile_soft_deletes_vanished_items_and_restores_returning_ones(env: Env) -> None:
    run_sync(env.slug, env.source_id)
    env.data.deleted_items = {1, 2, 3}
    run = run_sync(env.slug, env.source_id, "reconcile")
    assert run.items_deleted == 3
    assert scalar(env.slug, "SELECT count(*) FROM S.work_items WHERE is_deleted AND deleted_at IS NOT NULL") == 3
    env.data.deleted_items = {1}
    run = run_sync(env.slug, env.source_id, "reconcile")
    assert run.items_deleted == 0
    assert scalar(env.slug, "SELECT count(*) FROM S.work_items WHERE is_deleted") == 1
    assert scalar(env.slug, "SELECT count(*) FROM S.work_items") == 450


def test_reconcile_refuses_to_delete_everything_when_the_source_lists_nothing(env: Env) -> None:
    run_sync(env.slug, env.source_id)
    env.data.deleted_items = set(range(450))
    with pytest.raises(Exception, match="refusing"):
        run_sync(env.slug, env.source_id, "reconcile")
    assert scalar(env.slug, "SELECT count(*) FROM S.work_items WHERE is_deleted") == 0


def test_a_second_sync_of_the_same_source_is_skipped(env: Env) -> None:
    with source_lock(env.slug, env.source_id), pytest.raises(SyncAlreadyRunning):
        run_sync(env.slug, env.source_id)
    assert run_sync(env.slug, env.source_id).status == "succeeded"


def test_a_sync_that_fails_half_way_still_judges_what_it_loaded(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    import etl.loader as loader_module

    real_load = loader_module.load_work_items
    calls = {"n": 0}

    def load_then_fail(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise sa.exc.OperationalError("INSERT", {}, Exception("the database went away"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(loader_module, "load_work_items", load_then_fail)
    with pytest.raises(sa.exc.OperationalError):
        run_sync(env.slug, env.source_id, "incremental", batch_size=100)
    loaded = scalar(env.slug, "SELECT count(*) FROM S.work_items")
    assert 0 < loaded < 450  # the first batch committed, the rest did not
    judged = "status_category IN ('done', 'in_progress') AND NOT is_deleted"
    assert scalar(env.slug, f"SELECT count(*) FROM S.work_items WHERE {judged}") > 0
    assert scalar(env.slug, f"SELECT count(*) FROM S.work_items WHERE {judged} AND compliance_evaluated_at IS NULL") == 0


def test_a_batch_aborted_as_a_deadlock_is_written_again_and_nothing_is_lost_or_doubled(
    env: Env, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Two loaders write batches at once; if PostgreSQL aborts one as a deadlock, that batch runs again."""
    import psycopg

    import etl.loader as loader_module

    real_load = loader_module.load_work_items
    calls = {"n": 0}

    lock = threading.Lock()

    def deadlock_once(*args, **kwargs):
        with lock:  # two loader threads
            calls["n"] += 1
            this_call = calls["n"]
        result = real_load(*args, **kwargs)  # written, then aborted before commit, as PostgreSQL would
        if this_call == 2:
            raise psycopg.errors.DeadlockDetected("deadlock detected")
        return result

    monkeypatch.setattr(loader_module, "load_work_items", deadlock_once)
    run = run_sync(env.slug, env.source_id, "incremental", batch_size=100)
    assert run.status == "succeeded"
    assert (run.items_fetched, run.items_upserted, run.errors_count) == (450, 450, 0)
    assert scalar(env.slug, "SELECT count(*) FROM S.work_items") == 450
    assert calls["n"] == 4  # three batches (one per page of 200), one of them twice
    assert "aborted by DeadlockDetected, writing it again" in caplog.text


def test_a_batch_retried_after_a_deadlock_keeps_its_item_errors(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    """PostgreSQL aborts the batch when it locks the run row, after its error rows were flushed (as in the
    deadlock two loaders once ran into): the retry must insert them again."""
    import psycopg
    from sqlalchemy.orm import Session as OrmSession

    env.data.malformed_items = {7}
    fired = threading.Event()

    def abort_once(state) -> None:
        locks_run = state.is_select and state.statement._for_update_arg is not None
        has_errors = any(isinstance(o, SyncItemError) for o in state.session.new)
        if locks_run and has_errors and not fired.is_set():
            fired.set()
            state.session.flush()  # the error rows are inserted in the transaction about to be aborted
            raise psycopg.errors.DeadlockDetected("deadlock detected")

    sa.event.listen(OrmSession, "do_orm_execute", abort_once)
    try:
        run = run_sync(env.slug, env.source_id, "incremental", batch_size=100)
    finally:
        sa.event.remove(OrmSession, "do_orm_execute", abort_once)
    assert fired.is_set() and "aborted by DeadlockDetected" in caplog.text
    assert (run.status, run.items_upserted, run.errors_count) == ("partial", 449, 1)
    with tenant_session(env.slug) as s:
        errors = s.exec(select(SyncItemError).where(SyncItemError.sync_run_id == run.id)).all()
    assert [e.source_record_id for e in errors] == ["100007"]


def test_a_batch_failing_for_another_reason_is_not_retried(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    import etl.loader as loader_module
    import etl.sync as sync_module

    calls = {"n": 0}
    batches: list[str] = []

    def broken(session, records, **kwargs):
        calls["n"] += 1
        batches.append(records[0]["source_item_id"])
        raise sa.exc.IntegrityError("INSERT", {}, Exception("violates a constraint"))

    monkeypatch.setattr(loader_module, "load_work_items", broken)
    with pytest.raises(sa.exc.IntegrityError):
        run_sync(env.slug, env.source_id, "incremental", batch_size=100)
    assert calls["n"] <= sync_module.LOAD_CONNECTIONS + 1  # the batches in flight, once each
    assert len(batches) == len(set(batches))  # no batch was written twice


def test_a_bulk_load_refreshes_the_planner_statistics(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without it, statements after a first backfill are planned for an empty table (17 s per batch measured)."""
    import etl.sync as sync_module

    monkeypatch.setattr(sync_module, "ANALYZE_AFTER_INSERTS", 100)
    reltuples = "SELECT reltuples::int FROM pg_class WHERE oid = CAST(:t AS regclass)"
    with tenant_session(env.slug) as s:
        table = f'"{tenant_schema_of(s)}".work_items'
    assert scalar(env.slug, reltuples, t=table) == -1  # never analysed
    run_sync(env.slug, env.source_id, "incremental", batch_size=100)
    assert scalar(env.slug, reltuples, t=table) == 450


def test_the_passes_made_while_loading_leave_the_project_count_to_the_last_one(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A whole-project count per compliance pass made a backfill quadratic (25 counts of up to 0.35 s at 50,000 items):
    the passes made while the stream loads only clear the stored figure, the stream's last pass stores it."""
    import etl.project_figures as figures
    import etl.sync as sync_module
    from etl.compliance import evaluate_compliance

    monkeypatch.setattr(sync_module, "COMPLIANCE_EVERY", 100)  # several passes while the 450 items load
    passes: list[bool] = []
    counted: list[int] = []
    real_count = figures.compliance_counts

    def evaluate(slug: str, ids: list[int]) -> object:
        passes.append(getattr(figures._deferral, "active", False))
        return evaluate_compliance(slug, ids)

    def count(conn, schema, project_ids):
        counted.append(len(project_ids))
        return real_count(conn, schema, project_ids)

    monkeypatch.setattr(figures, "compliance_counts", count)
    run_sync(env.slug, env.source_id, "incremental", batch_size=100, evaluate=evaluate)
    assert passes.count(True) >= 2 and passes[-1] is False  # passes while loading, then the last one
    assert counted == [1]  # one whole-project count for the stream
    with tenant_session(env.slug) as s:
        conn, schema = s.connection(), tenant_schema_of(s)
        assert figures.stored_compliance_counts(conn, schema, env.project_id) == real_count(
            conn, schema, [env.project_id]
        )[env.project_id]


def test_the_last_pass_stores_the_count_even_with_nothing_left_to_judge(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    import etl.project_figures as figures
    import etl.sync as sync_module

    monkeypatch.setattr(sync_module, "COMPLIANCE_EVERY", 50)  # 450 items in batches of 50: nothing left at the end
    run_sync(env.slug, env.source_id, "incremental", batch_size=50)
    with tenant_session(env.slug) as s:
        conn, schema = s.connection(), tenant_schema_of(s)
        stored = figures.stored_compliance_counts(conn, schema, env.project_id)
        assert stored is not None and stored == figures.compliance_counts(conn, schema, [env.project_id])[env.project_id]
