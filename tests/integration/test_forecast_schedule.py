"""Forecasts on schedule: a real Celery worker forecasts every project after a sync's metrics rebuild."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlmodel import select

from bench._fake_tracker import TOKEN, TrackerData, create_app
from core.crypto import encrypt_secret
from core.queue import SYNC_SOURCE
from core.queue import app as celery_app
from core.realtime import redis_client
from models.db import public_session, tenant_session
from models.public import Project, SourceConfig
from models.tenant import AIPrediction
from tests import celery_worker
from tests.fakes.server import serve
from tests.waiting import wait_until
from worker import derived


def _forecasts(slug: str, project_id: int) -> list[AIPrediction]:
    with tenant_session(slug) as s:
        return list(s.exec(
            select(AIPrediction).where(AIPrediction.project_id == project_id,
                                       AIPrediction.kind.in_(["forecast_velocity", "forecast_backlog"]))  # type: ignore[attr-defined]
        ).all())  # fmt: skip


def test_a_sync_on_the_worker_is_followed_by_stored_forecasts(
    make_tenant, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    tenant = make_tenant("fcs")
    queue, log = f"dmt_fc_{uuid.uuid4().hex[:8]}", tmp_path / "worker.log"
    with serve(create_app(TrackerData(size=300))) as url:
        with public_session() as s:
            project = Project(tenant_id=tenant.id, key="FC", name="Forecasts")
            s.add(project)
            s.flush()
            source = SourceConfig(
                tenant_id=tenant.id, project_id=project.id or 0, name="tracker", source_type="jira", base_url=url,
                token_encrypted=encrypt_secret(TOKEN), historical_import_days=3650,
            )  # fmt: skip
            s.add(source)
            s.commit()
            project_id, source_id = project.id or 0, source.id or 0
        env = {"DMT_CONNECTOR_PLUGINS": "bench._fake_tracker:register_fake_connectors"}
        worker = celery_worker.start_worker(database_url, redis_url, queue=queue, name=queue, log=log, env=env)
        try:
            sync = celery_app.send_task(SYNC_SOURCE, args=[tenant.slug, source_id, "incremental"], queue=queue)
            assert sync.get(timeout=120)["status"] == "succeeded", log.read_text()[-3000:]

            def two_forecasts() -> bool:
                assert worker.poll() is None, "worker died:\n" + log.read_text()[-3000:]
                return len(_forecasts(tenant.slug, project_id)) >= 2

            wait_until(two_forecasts, timeout=60, what=lambda: "forecasts after the sync:\n" + log.read_text()[-3000:])
        finally:
            celery_worker.stop_worker(worker)
    rows = {r.kind: r for r in _forecasts(tenant.slug, project_id)}
    assert set(rows) == {"forecast_velocity", "forecast_backlog"}
    velocity = rows["forecast_velocity"]
    assert velocity.provider == "statistics" and velocity.inputs["closed_sprints_only"] is True
    assert "calibration" in velocity.outputs and rows["forecast_backlog"].inputs["backlog"]["items"] > 0
    assert "dmt.forecast_projects" in log.read_text()


def test_bursts_of_rebuilds_queue_one_forecast_run_at_a_time(make_tenant) -> None:
    tenant = make_tenant("fcq")
    queue = f"dmt_fcq_{uuid.uuid4().hex[:8]}"  # nobody consumes it: the messages are only counted
    try:
        assert derived.queue_forecasts(tenant.slug, queue) is True
        assert derived.queue_forecasts(tenant.slug, queue) is False  # one is already waiting
        assert redis_client().llen(queue) == 1
        derived.forecast_projects_task.apply(args=[tenant.slug], throw=True)  # the waiting run starts ...
        assert derived.queue_forecasts(tenant.slug, queue) is True  # ... so the next rebuild queues another
        assert redis_client().llen(queue) == 2
    finally:
        redis_client().delete(queue, f"dmt:forecast-queued:{tenant.slug}")
