"""Sources service: write-only tokens, SSRF guard, connection test, field mapping, syncs, audit."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select

from bench._fake_tracker import TOKEN, TrackerData, create_app, register_fake_connectors
from core.errors import NotFound, ServiceError, ValidationFailed
from core.queue import RECONCILE_SOURCE, SYNC_SOURCE
from core.queue import app as celery_app
from core.settings import reset_settings_cache
from etl.connectors import registry
from etl.connectors.base import FieldMapping
from etl.sync import build_source_settings
from models.db import public_session
from models.public import AuditLog, Project, SourceConfig
from services import sources
from services.audit import Actor
from services.sources import SourceCreate, SourceUpdate
from tests.fakes.server import serve

ACTOR = Actor(user_id=None, email="admin@platform.test")


@pytest.fixture
def fake_connectors():
    saved = dict(registry._REGISTRY)
    register_fake_connectors()
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(saved)


@pytest.fixture
def project(make_tenant) -> Project:
    tenant = make_tenant("src")
    with public_session() as s:
        p = Project(tenant_id=tenant.id, key="PROJ", name="Project")
        s.add(p)
        s.commit()
        return p


def create(project: Project, url: str, token: str | None = TOKEN, **kw: Any) -> sources.SourcePublic:
    data = SourceCreate(project_id=project.id or 0, name="Jira", source_type="jira", base_url=url, token=token, **kw)
    return sources.create_source(project.tenant_id, data, ACTOR)


def test_token_is_write_only_masked_and_audited_without_secret(project: Project) -> None:
    src = create(project, "http://127.0.0.1:9/", token="secret-token-1234")
    dumped = src.model_dump_json()
    assert src.token_set and src.token_masked.endswith("1234") and "secret-token" not in dumped
    assert src.base_url == "http://127.0.0.1:9"
    with public_session() as s:
        row = s.get(SourceConfig, src.id)
        assert row.token_encrypted and row.token_encrypted not in dumped
        audit = s.exec(select(AuditLog).where(AuditLog.entity_type == "source", AuditLog.entity_id == str(src.id))).all()
    assert [a.action for a in audit] == ["source.create"]
    assert audit[0].new_values["token_encrypted"] == "(set)"
    # None keeps the token, "" clears it.
    assert sources.update_source(src.id, SourceUpdate(name="Jira Cloud"), ACTOR).token_set
    assert not sources.update_source(src.id, SourceUpdate(token=""), ACTOR).token_set
    with pytest.raises(NotFound):
        sources.get_source_public(src.id, tenant_id=project.tenant_id + 999)


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest", "http://10.0.0.1", "http://[::1]:5432"])
def test_private_addresses_are_refused_at_save_and_connect_time(project: Project, monkeypatch, url: str) -> None:
    """The demo's allow-list (the fake tools' port alone) refuses metadata, private and other loopback targets.

    Only IP literals are used, so the guard resolves nothing and no packet leaves the machine.
    """
    saved = create(project, "http://127.0.0.1:8900")  # the demo's fake tools: allowed
    with public_session() as s:  # an address stored before the allow-list was tightened
        s.execute(sa.update(SourceConfig).where(SourceConfig.id == saved.id).values(base_url=url))
        s.commit()
    monkeypatch.setenv("ALLOWED_PRIVATE_HOSTS", "127.0.0.1:8900")
    reset_settings_cache()
    try:
        with pytest.raises(ValidationFailed) as err:
            create(project, url)
        assert err.value.field == "base_url" and "refused" in err.value.message
        with pytest.raises(ValidationFailed, match="refused"):
            sources.update_source(saved.id, SourceUpdate(base_url=url), ACTOR)
        refused = sources.test_connection(saved.id)
        assert not refused.ok and "refused" in refused.message
    finally:
        monkeypatch.undo()
        reset_settings_cache()


def test_bad_urls_and_sync_times_are_refused(project: Project) -> None:
    with pytest.raises(ValidationFailed):
        create(project, "file:///etc/passwd")
    with pytest.raises(ValidationFailed, match="HH:MM"):
        create(project, "http://127.0.0.1:9", sync_time="25:00")


def test_connection_and_field_discovery_report_the_tools_answer(project: Project, fake_connectors) -> None:
    with serve(create_app(TrackerData(size=10))) as url:
        good = create(project, url)
        bad = create(project, url, token="wrong")
        check = sources.test_connection(good.id)
        assert check.ok and "Bench Bot" in check.identity
        refused = sources.test_connection(bad.id)
        assert not refused.ok and "refused the token" in refused.message
        found = sources.discover_fields(good.id)
        assert found.ok and sources.proposed_mappings(found) == {"story_points": {"field": "points"}, "coverage": {"field": "coverage"}}
        assert not sources.discover_fields(bad.id).ok
    down = sources.test_connection(good.id)
    assert not down.ok and "unreachable" in down.message


def test_field_mappings_are_validated_and_saved(project: Project) -> None:
    src = create(project, "http://127.0.0.1:9")
    with pytest.raises(ValidationFailed):
        sources.save_field_mappings(src.id, {"favourite_colour": "customfield_1"}, ACTOR)
    saved = sources.save_field_mappings(
        src.id,
        {"story_points": "customfield_10016", "ac_quality": {"field": "customfield_2", "values": {"Yes": "testable"}}, "epic": ""},
        ACTOR,
    )
    assert saved.field_mappings == {
        "story_points": {"field": "customfield_10016"},
        "ac_quality": {"field": "customfield_2", "values": {"Yes": "testable"}},
    }


def test_a_refused_field_mapping_names_the_field_and_keeps_the_saved_one(project: Project) -> None:
    src = create(project, "http://127.0.0.1:9")
    kept = {"coverage": {"field": "customfield_3", "type": "number"}}
    assert sources.save_field_mappings(src.id, kept, ACTOR).field_mappings == kept
    with pytest.raises(ValidationFailed, match="cannot be read from a date field") as refused:
        sources.save_field_mappings(src.id, {"story_points": {"field": "created", "type": "date"}}, ACTOR)
    assert refused.value.field == "story_points"
    with pytest.raises(ValidationFailed, match="needs a tool field id") as refused:
        sources.save_field_mappings(src.id, {"coverage": {"values": {"a": "b"}}}, ACTOR)
    assert refused.value.field == "coverage"
    assert sources.get_source_public(src.id).field_mappings == kept


def test_connectors_get_the_stored_mapping_typed(project: Project) -> None:
    """A mapping stored by an earlier version (bare field ids) reaches the connector parsed."""
    src = create(project, "http://127.0.0.1:9")
    with public_session() as s:
        row = s.get(SourceConfig, src.id)
        assert row is not None
        row.field_mappings = {"story_points": "customfield_10016", "ac_quality": {"field": "cf_2", "values": {"Y": "testable"}}}
        s.add(row)
        s.commit()
        settings = build_source_settings(row)
    assert isinstance(settings.field_mappings, FieldMapping)
    assert settings.field_mappings.field_id("story_points") == "customfield_10016"
    assert settings.field_mappings.values_of("ac_quality") == {"Y": "testable"}


def test_trigger_sync_queues_a_task_and_history_lists_runs(project: Project, fake_connectors, monkeypatch) -> None:
    sent: list[tuple[str, list[Any]]] = []

    class FakeResult:
        id = "task-123"

    kinds = {SYNC_SOURCE: "sync", RECONCILE_SOURCE: "rec"}
    monkeypatch.setattr(celery_app, "send_task", lambda name, args, **kw: sent.append((kinds[name], args)) or FakeResult())
    with serve(create_app(TrackerData(size=30))) as url:
        src = create(project, url, historical_import_days=3650)
        requested = sources.trigger_sync(src.id, ACTOR, "backfill")
        assert requested.task_id == "task-123"
        sources.trigger_sync(src.id, ACTOR, "reconcile")
        assert [kind for kind, _ in sent] == ["sync", "rec"] and sent[0][1][1:] == [src.id, "backfill"]
        with pytest.raises(ValidationFailed):
            sources.trigger_sync(src.id, ACTOR, "everything")
        # Run one for real and read the history.
        from etl.sync import run_sync

        slug = sent[0][1][0]
        run_sync(slug, src.id, "backfill", task_id="task-123")
        history = sources.run_history(src.id)
        assert [(h.kind, h.status, h.items_upserted, h.task_id) for h in history] == [("backfill", "succeeded", 30, "task-123")]
    with public_session() as s:
        row = s.get(SourceConfig, src.id)
        row.circuit_open, row.consecutive_failures, row.last_error = True, 3, "boom"
        s.add(row)
        s.commit()
    with pytest.raises(ServiceError, match="paused"):
        sources.trigger_sync(src.id, ACTOR)
    reset = sources.reset_circuit(src.id, ACTOR)
    assert (reset.circuit_open, reset.consecutive_failures) == (False, 0)
    with public_session() as s:
        actions = [a.action for a in s.exec(select(AuditLog).where(AuditLog.entity_id == str(src.id))).all()]
    assert actions.count("source.sync_requested") == 2 and "source.reset_circuit" in actions
