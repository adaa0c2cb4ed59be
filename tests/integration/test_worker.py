"""Worker tasks run in-process: nightly scheduling, retries of retryable errors, skipped duplicates."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from celery.exceptions import Retry

from bench._fake_tracker import TOKEN, TrackerData, create_app, register_fake_connectors
from core.crypto import encrypt_secret
from etl.connectors import registry
from etl.sync import source_lock
from models.base import utcnow
from models.db import public_session
from models.public import Project, SourceConfig
from tests.fakes.server import FaultControls, serve
from worker import app, derived, syncs


@pytest.fixture
def fake_connectors():
    saved = dict(registry._REGISTRY)
    register_fake_connectors()
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(saved)


def add_source(tenant_id: int, url: str = "http://127.0.0.1:9", **kw: Any) -> int:
    with public_session() as s:
        project = Project(tenant_id=tenant_id, key=f"P{kw.pop('n', 1)}", name="P")
        s.add(project)
        s.flush()
        source = SourceConfig(
            tenant_id=tenant_id, project_id=project.id or 0, name="src", source_type="jira", base_url=url,
            token_encrypted=encrypt_secret(TOKEN), historical_import_days=3650, **kw,
        )  # fmt: skip
        s.add(source)
        s.commit()
        return source.id or 0


def test_nightly_scheduler_queues_due_sources_once(make_tenant, monkeypatch) -> None:
    tenant = make_tenant("wk")
    now = utcnow().replace(hour=12, minute=0, second=0, microsecond=0)  # the scheduler's clock, mid-day
    past = (now - timedelta(minutes=5)).strftime("%H:%M")
    future = (now + timedelta(minutes=30)).strftime("%H:%M")
    due = add_source(tenant.id, sync_time=past, n=1)
    not_yet = add_source(tenant.id, sync_time=future, n=2)
    done_today = add_source(tenant.id, sync_time=past, last_success_at=now, n=3)
    broken = add_source(tenant.id, sync_time=past, circuit_open=True, n=4)
    inactive = add_source(tenant.id, sync_time=past, is_active=False, n=5)
    running = add_source(tenant.id, sync_time=past, status="syncing", last_sync_at=now - timedelta(minutes=3), n=6)
    stale = add_source(tenant.id, sync_time=past, status="syncing", last_sync_at=now - timedelta(hours=7), n=7)
    sent: list[list[Any]] = []
    monkeypatch.setattr(syncs.sync_source, "apply_async", lambda args, **kw: sent.append(args))
    queued = syncs.schedule_due_syncs(now)
    assert due in queued and stale in queued
    assert not {not_yet, done_today, broken, inactive, running} & set(queued)
    assert [tenant.slug, due, "incremental"] in sent
    # The next minute's check does not queue it again.
    assert due not in syncs.schedule_due_syncs(now)


def test_retryable_error_is_retried_without_counting_towards_the_breaker(make_tenant, fake_connectors) -> None:
    tenant = make_tenant("wk")
    controls = FaultControls()
    with serve(create_app(TrackerData(size=50), controls)) as url:
        source_id = add_source(tenant.id, url)
        controls.fail_next(1, status=503)
        with pytest.raises(Retry):
            syncs.sync_source.apply(args=[tenant.slug, source_id, "incremental"], throw=True)
        with public_session() as s:
            source = s.get(SourceConfig, source_id)
            assert (source.consecutive_failures, source.circuit_open) == (0, False)
            assert "503" in source.last_error
        result = syncs.sync_source.apply(args=[tenant.slug, source_id, "incremental"], throw=True).get()
        assert result["status"] == "succeeded" and result["items_upserted"] == 50


def test_second_sync_of_a_running_source_is_skipped_with_a_message(make_tenant, fake_connectors, monkeypatch) -> None:
    tenant = make_tenant("wk")
    source_id = add_source(tenant.id)
    monkeypatch.setenv("DMT_SYNC_LOCK_TTL", "1")
    with source_lock(tenant.slug, source_id):
        monkeypatch.setattr(syncs, "lock_ttl_seconds", lambda: -4)  # do not wait in the test
        result = syncs.sync_source.apply(args=[tenant.slug, source_id, "incremental"], throw=True).get()
    assert result["status"] == "skipped" and "already running" in result["message"]


def test_open_breaker_refuses_the_task_without_retrying(make_tenant, fake_connectors) -> None:
    tenant = make_tenant("wk")
    source_id = add_source(tenant.id, circuit_open=True, consecutive_failures=3, last_error="boom")
    result = syncs.sync_source.apply(args=[tenant.slug, source_id, "backfill"], throw=True).get()
    assert result["status"] == "refused" and "reset" in result["message"]


def test_derived_data_tasks_run_for_a_tenant(make_tenant) -> None:
    tenant = make_tenant("wk")
    compliance = derived.evaluate_compliance_task.apply(args=[tenant.slug], throw=True).get()
    metrics = derived.rebuild_metrics_task.apply(args=[tenant.slug], throw=True).get()
    assert isinstance(compliance, dict) and isinstance(metrics, dict)
    assert {"schedule-due-syncs", "refresh-derived-daily", "sprints-ending-daily"} <= set(app.conf.beat_schedule)
