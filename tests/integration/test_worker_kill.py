"""NOTHING LOST: SIGKILL a real Celery worker mid-sync; a new worker finishes the job exactly once.

The worker runs as a subprocess on the test PostgreSQL database and Redis,
consuming a private queue. The fake source answers slowly (latency per page),
so the kill lands after the first batch committed and before the last.
"""

from __future__ import annotations

import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from bench._fake_tracker import TOKEN, TrackerData, create_app
from core.crypto import encrypt_secret
from core.queue import SYNC_SOURCE
from core.queue import app as celery_app
from models.db import public_session, tenant_schema_of, tenant_session
from models.public import Project, SourceConfig
from models.tenant import SyncRun
from tests import celery_worker
from tests.fakes.server import FaultControls, serve
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
SIZE = 3000

pytestmark = pytest.mark.slow


def start_worker(database_url: str, redis_url: str, queue: str, name: str, log: Path, plugins: str) -> subprocess.Popen:
    env = {"DMT_CONNECTOR_PLUGINS": plugins, "DMT_SYNC_LOCK_TTL": "4", "DMT_VISIBILITY_TIMEOUT": "6"}
    return celery_worker.start_worker(database_url, redis_url, queue=queue, name=name, log=log, env=env)


def item_counts(slug: str) -> tuple[int, int]:
    with tenant_session(slug) as s:
        schema = tenant_schema_of(s)
        return tuple(
            s.execute(sa.text(f'SELECT count(*), count(DISTINCT source_item_id) FROM "{schema}".work_items')).one()
        )  # type: ignore[return-value]


@pytest.fixture(params=["tracker", "jira"])
def slow_source(request, make_tenant) -> Iterator[tuple[str, int, FaultControls]]:
    """A slow source: the small fake tracker, or the faithful Jira fake with the real connector."""
    tenant = make_tenant("kill")
    controls = FaultControls(latency_seconds=0.4)
    if request.param == "tracker":
        app = create_app(TrackerData(size=SIZE), controls)
        config: dict = {}
        username, token = None, TOKEN
    else:
        from tests.fakes import jira as jira_fake

        dataset = jira_fake.generate_dataset(seed=5, size=SIZE, project_key="ACME")
        app = jira_fake.create_app(dataset, controls)
        config = {"project_key": "ACME", "deployment": "cloud", "max_workers": 2}
        username, token = dataset.api_user_email, dataset.token
    with serve(app) as url:
        with public_session() as s:
            project = Project(tenant_id=tenant.id, key="PROJ", name="Project")
            s.add(project)
            s.flush()
            source = SourceConfig(
                tenant_id=tenant.id, project_id=project.id or 0, name="slow jira", source_type="jira",
                base_url=url, username=username, token_encrypted=encrypt_secret(token), config_json=config,
                historical_import_days=3650,
            )  # fmt: skip
            s.add(source)
            s.commit()
            yield tenant.slug, source.id or 0, controls


def test_sigkill_mid_sync_loses_nothing_and_duplicates_nothing(
    database_url: str, redis_url: str, slow_source, tmp_path: Path
) -> None:
    slug, source_id, _controls = slow_source
    with public_session() as s:
        real_jira = bool(s.get(SourceConfig, source_id).config_json)
    plugins = "" if real_jira else "bench._fake_tracker:register_fake_connectors"
    queue = f"dmt_kill_{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    first = start_worker(database_url, redis_url, queue, "first", log, plugins)
    second = None
    try:
        result = celery_app.send_task(SYNC_SOURCE, args=[slug, source_id, "incremental"], queue=queue)

        def first_batch_committed() -> bool:
            assert first.poll() is None, "worker died:\n" + log.read_text()[-3000:]
            return item_counts(slug)[0] > 0

        wait_until(first_batch_committed, timeout=90, what=lambda: "the first batch:\n" + log.read_text()[-3000:])
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        loaded_at_kill = item_counts(slug)[0]
        assert 0 < loaded_at_kill < SIZE, "the kill must land mid-sync"

        second = start_worker(database_url, redis_url, queue, "second", log, plugins)

        def runs_once_one_succeeded() -> list[SyncRun]:
            assert second.poll() is None, "second worker died:\n" + log.read_text()[-3000:]
            with tenant_session(slug) as s:
                runs = s.exec(select(SyncRun).where(SyncRun.source_id == source_id).order_by(SyncRun.id)).all()
            return list(runs) if any(r.status == "succeeded" for r in runs) else []

        runs = wait_until(
            runs_once_one_succeeded, timeout=120, what=lambda: "the redelivered sync:\n" + log.read_text()[-4000:]
        )
        assert result.get(timeout=30)["status"] == "succeeded"
    finally:
        for proc in (first, second):
            if proc is not None:
                celery_worker.stop_worker(proc)

    total, distinct = item_counts(slug)
    assert (total, distinct) == (SIZE, SIZE)
    # The interrupted run is closed as such; the redelivered one (same task id) completed it.
    assert [r.status for r in runs] == ["failed", "succeeded"]
    assert "interrupted" in (runs[0].error or "")
    assert runs[0].task_id == runs[1].task_id == result.id
    assert runs[1].items_fetched == SIZE
