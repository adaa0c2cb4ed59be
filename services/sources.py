"""Data sources: configure, test, map fields, sync, and see the run history.

Tokens are write-only: stored encrypted (core.crypto), shown masked
(`SourcePublic.token_masked`), never returned. Base URLs pass the SSRF guard
before they are saved or called. Every change writes an audit row in the
same transaction.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from core.crypto import SecretDecryptionError, decrypt_secret, encrypt_secret, mask_secret
from core.errors import NotFound, ServiceError, ValidationFailed
from core.queue import RECONCILE_SOURCE, SYNC_SOURCE
from core.queue import app as celery_app
from etl.connectors.base import FieldMapping, FieldMappingError, SourceError
from etl.connectors.http import validate_base_url
from etl.connectors.registry import get_connector
from etl.sync import build_source_settings
from models.base import utcnow
from models.db import public_session, tenant_session
from models.enums import SourceStatus, SourceType, SyncKind
from models.public import Project, SourceConfig, Tenant
from models.tenant import SyncRun
from services import audit
from services.audit import Actor

SYNC_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


# --------------------------------------------------------------------------- shapes
class SourceDefinition(BaseModel):
    """A new source's settings; the project comes from elsewhere (`SourceCreate`, or the API's path)."""

    name: str = Field(min_length=1, max_length=200)
    source_type: str
    base_url: str
    username: str | None = None
    token: str | None = None  # write-only
    config_json: dict[str, Any] = Field(default_factory=dict)
    sync_time: str = "02:00"
    historical_import_days: int = Field(default=365, ge=1, le=3650)
    request_budget_per_minute: int = Field(default=600, ge=1, le=100_000)
    failure_threshold: int = Field(default=3, ge=1, le=100)


class SourceCreate(SourceDefinition):
    project_id: int


class SourceUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    base_url: str | None = None
    username: str | None = None
    token: str | None = None  # write-only; "" clears it, None keeps it
    config_json: dict[str, Any] | None = None
    is_active: bool | None = None
    sync_time: str | None = None
    historical_import_days: int | None = Field(default=None, ge=1, le=3650)
    request_budget_per_minute: int | None = Field(default=None, ge=1, le=100_000)
    failure_threshold: int | None = Field(default=None, ge=1, le=100)


class SourcePublic(BaseModel):
    """What a client sees of a source: never the token or its ciphertext."""

    id: int
    tenant_id: int
    project_id: int
    name: str
    source_type: str
    base_url: str
    username: str | None
    token_set: bool
    token_masked: str
    config_json: dict[str, Any]
    field_mappings: dict[str, Any]
    is_active: bool
    sync_time: str
    historical_import_days: int
    request_budget_per_minute: int
    failure_threshold: int
    status: str
    last_sync_at: datetime | None
    last_success_at: datetime | None
    consecutive_failures: int
    last_error: str | None
    circuit_open: bool

    @classmethod
    def of(cls, s: SourceConfig) -> SourcePublic:
        try:
            masked = mask_secret(decrypt_secret(s.token_encrypted))
        except SecretDecryptionError:
            masked = "(cannot be decrypted: re-enter the token)"
        return cls(
            id=s.id or 0,
            tenant_id=s.tenant_id,
            project_id=s.project_id,
            name=s.name,
            source_type=s.source_type,
            base_url=s.base_url,
            username=s.username,
            token_set=bool(s.token_encrypted),
            token_masked=masked,
            config_json=s.config_json or {},
            field_mappings=s.field_mappings or {},
            is_active=s.is_active,
            sync_time=s.sync_time,
            historical_import_days=s.historical_import_days,
            request_budget_per_minute=s.request_budget_per_minute,
            failure_threshold=s.failure_threshold,
            status=s.status,
            last_sync_at=s.last_sync_at,
            last_success_at=s.last_success_at,
            consecutive_failures=s.consecutive_failures,
            last_error=s.last_error,
            circuit_open=s.circuit_open,
        )


class ConnectionCheck(BaseModel):
    ok: bool
    identity: str = ""
    details: dict[str, Any] = Field(default_factory=dict)
    message: str = ""


class FieldProposal(BaseModel):
    id: str
    name: str
    field_type: str
    options: list[str] = Field(default_factory=list)
    proposed_for: str | None = None


class FieldDiscovery(BaseModel):
    ok: bool
    fields: list[FieldProposal] = Field(default_factory=list)
    message: str = ""


class SyncRunPublic(BaseModel):
    id: int
    kind: str
    status: str
    task_id: str | None
    window_start: datetime | None
    window_end: datetime | None
    started_at: datetime
    finished_at: datetime | None
    items_fetched: int
    items_upserted: int
    prs_fetched: int
    prs_upserted: int
    deployments_fetched: int = 0
    deployments_upserted: int = 0
    items_deleted: int
    errors_count: int
    pages: int
    error: str | None


class SyncRequested(BaseModel):
    source_id: int
    kind: str
    task_id: str


# --------------------------------------------------------------------------- helpers
def check_base_url(url: str) -> str:
    """The SSRF guard of the HTTP layer: refuse non-http(s) URLs and private targets not in ALLOWED_PRIVATE_HOSTS."""
    try:
        return validate_base_url(url)
    except SourceError as exc:
        raise ValidationFailed(str(exc), field="base_url") from exc


def _check_type(source_type: str) -> None:
    if source_type not in {t.value for t in SourceType}:
        raise ValidationFailed(
            f"source type must be one of {', '.join(t.value for t in SourceType)}", field="source_type"
        )


def _check_sync_time(value: str) -> None:
    if not SYNC_TIME.match(value):
        raise ValidationFailed("sync time must be HH:MM (24-hour, UTC), e.g. 02:00", field="sync_time")


def _source_in(session: Session, source_id: int, tenant_id: int | None = None) -> SourceConfig:
    """The source row in `session`; with `tenant_id`, only if it belongs to that tenant."""
    source = session.get(SourceConfig, source_id)
    if source is None or (tenant_id is not None and source.tenant_id != tenant_id):
        raise NotFound(f"source {source_id} not found")
    return source


def get_source(source_id: int, tenant_id: int | None = None) -> SourceConfig:
    """The source row (detached, columns loaded); with `tenant_id`, only if it belongs to that tenant."""
    with public_session() as session:
        return _source_in(session, source_id, tenant_id)


def _tenant_slug(session: Session, tenant_id: int) -> str:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id} not found")
    return tenant.slug


# --------------------------------------------------------------------------- CRUD
def create_source(tenant_id: int, data: SourceCreate, actor: Actor) -> SourcePublic:
    _check_type(data.source_type)
    _check_sync_time(data.sync_time)
    base_url = check_base_url(data.base_url)
    with public_session() as session:
        project = session.get(Project, data.project_id)
        if project is None or project.tenant_id != tenant_id:
            raise NotFound(f"project {data.project_id} not found", field="project_id")
        source = SourceConfig(
            tenant_id=tenant_id,
            project_id=data.project_id,
            name=data.name.strip(),
            source_type=data.source_type,
            base_url=base_url,
            username=(data.username or "").strip() or None,
            token_encrypted=encrypt_secret(data.token),
            config_json=data.config_json,
            sync_time=data.sync_time,
            historical_import_days=data.historical_import_days,
            request_budget_per_minute=data.request_budget_per_minute,
            failure_threshold=data.failure_threshold,
        )
        session.add(source)
        session.flush()
        audit.record(session, actor, "source.create", "source", source.id, new=audit.snapshot(source), tenant_id=tenant_id)
        session.commit()
        return SourcePublic.of(source)


def update_source(source_id: int, data: SourceUpdate, actor: Actor, *, tenant_id: int | None = None) -> SourcePublic:
    values = data.model_dump(exclude_unset=True)
    if values.get("sync_time") is not None:
        _check_sync_time(values["sync_time"])
    if values.get("base_url") is not None:
        values["base_url"] = check_base_url(values["base_url"])
    with public_session() as session:
        source = _source_in(session, source_id, tenant_id)
        old = audit.snapshot(source)
        if "token" in values:
            token = values.pop("token")
            if token is not None:
                source.token_encrypted = encrypt_secret(token) if token else None
        for name, value in values.items():
            if value is not None:
                setattr(source, name, value.strip() if isinstance(value, str) else value)
        source.updated_at = utcnow()
        audit.record(session, actor, "source.update", "source", source.id, old=old, new=audit.snapshot(source), tenant_id=source.tenant_id)
        session.commit()
        return SourcePublic.of(source)


def list_sources(tenant_id: int | None = None, project_id: int | None = None) -> list[SourcePublic]:
    with public_session() as session:
        query = select(SourceConfig).order_by(SourceConfig.tenant_id, SourceConfig.name)
        if tenant_id is not None:
            query = query.where(SourceConfig.tenant_id == tenant_id)
        if project_id is not None:
            query = query.where(SourceConfig.project_id == project_id)
        return [SourcePublic.of(s) for s in session.exec(query).all()]


def get_source_public(source_id: int, tenant_id: int | None = None) -> SourcePublic:
    with public_session() as session:
        return SourcePublic.of(_source_in(session, source_id, tenant_id))


def save_field_mappings(source_id: int, mappings: dict[str, Any], actor: Actor, *, tenant_id: int | None = None) -> SourcePublic:
    """Save the DMT field mapping: {"story_points": {"field": "customfield_10016", "type": "number", "values": {...}}, ...}.

    Parsed and validated here, once (`FieldMapping.parse`); a refusal names the DMT field at fault.
    """
    try:
        clean = FieldMapping.parse(mappings).to_json()
    except FieldMappingError as exc:
        raise ValidationFailed(str(exc), field=exc.key) from exc
    with public_session() as session:
        source = _source_in(session, source_id, tenant_id)
        old = audit.snapshot(source)
        source.field_mappings = clean
        source.updated_at = utcnow()
        audit.record(session, actor, "source.field_mappings", "source", source.id, old=old, new=audit.snapshot(source), tenant_id=source.tenant_id)
        session.commit()
        return SourcePublic.of(source)


# --------------------------------------------------------------------------- calls to the tool
def _connector_for(source_id: int, tenant_id: int | None):
    with public_session() as session:
        source = _source_in(session, source_id, tenant_id)
    check_base_url(source.base_url)
    return get_connector(source.source_type, build_source_settings(source))


def test_connection(source_id: int, *, tenant_id: int | None = None) -> ConnectionCheck:
    """Call the tool: who are we and what can we see; a refusal comes back as its message."""
    try:
        connector = _connector_for(source_id, tenant_id)
    except (SourceError, ValidationFailed) as exc:
        return ConnectionCheck(ok=False, message=str(exc))
    try:
        result = connector.test_connection()
        return ConnectionCheck(ok=result.ok, identity=result.identity, details=result.details, message=result.message)
    except SourceError as exc:
        return ConnectionCheck(ok=False, message=str(exc))
    finally:
        connector.close()


def discover_fields(source_id: int, *, tenant_id: int | None = None) -> FieldDiscovery:
    """List the tool's fields with proposed DMT mappings, or the tool's error message."""
    try:
        connector = _connector_for(source_id, tenant_id)
    except (SourceError, ValidationFailed) as exc:
        return FieldDiscovery(ok=False, message=str(exc))
    try:
        found = connector.discover_fields()
        fields = [
            FieldProposal(id=f.id, name=f.name, field_type=f.field_type, options=list(f.options), proposed_for=f.proposed_for)
            for f in found
        ]
        return FieldDiscovery(ok=True, fields=fields, message=f"{len(fields)} fields found")
    except SourceError as exc:
        return FieldDiscovery(ok=False, message=str(exc))
    finally:
        connector.close()


def proposed_mappings(discovery: FieldDiscovery) -> dict[str, Any]:
    """Pre-fill a mapping from discovered fields (first proposal per DMT field wins)."""
    out: dict[str, Any] = {}
    for f in discovery.fields:
        if f.proposed_for and f.proposed_for not in out:
            out[f.proposed_for] = {"field": f.id}
    return out


# --------------------------------------------------------------------------- syncs
def trigger_sync(source_id: int, actor: Actor, kind: str = SyncKind.INCREMENTAL, *, tenant_id: int | None = None) -> SyncRequested:
    """Queue a sync (incremental, backfill or reconcile) on the workers; returns the task id."""
    if kind not in (SyncKind.INCREMENTAL, SyncKind.BACKFILL, SyncKind.RECONCILE):
        raise ValidationFailed("sync kind must be incremental, backfill or reconcile", field="kind")
    with public_session() as session:
        source = _source_in(session, source_id, tenant_id)
        if not source.is_active:
            raise ServiceError(f"source {source.name!r} is inactive: activate it first")
        if source.circuit_open:
            raise ServiceError(
                f"syncs of {source.name!r} are paused after {source.consecutive_failures} failures "
                f"(last error: {source.last_error}); reset the source first"
            )
        slug = _tenant_slug(session, source.tenant_id)
        if kind == SyncKind.RECONCILE:
            task = celery_app.send_task(RECONCILE_SOURCE, args=[slug, source_id])
        else:
            task = celery_app.send_task(SYNC_SOURCE, args=[slug, source_id, str(kind)])
        audit.record(session, actor, "source.sync_requested", "source", source.id, new={"kind": str(kind), "task_id": task.id}, tenant_id=source.tenant_id)
        session.commit()
        return SyncRequested(source_id=source_id, kind=str(kind), task_id=task.id)


def reset_circuit(source_id: int, actor: Actor, *, tenant_id: int | None = None) -> SourcePublic:
    """Close the breaker after an admin fixed the source: syncs are allowed again."""
    with public_session() as session:
        source = _source_in(session, source_id, tenant_id)
        old = audit.snapshot(source)
        source.circuit_open = False
        source.consecutive_failures = 0
        source.status = SourceStatus.FAILED if source.last_error else SourceStatus.NEW
        if source.last_success_at is not None and not source.last_error:
            source.status = SourceStatus.OK
        source.updated_at = utcnow()
        audit.record(session, actor, "source.reset_circuit", "source", source.id, old=old, new=audit.snapshot(source), tenant_id=source.tenant_id)
        session.commit()
        return SourcePublic.of(source)


def run_history(source_id: int, *, tenant_id: int | None = None, limit: int = 50) -> list[SyncRunPublic]:
    """The source's latest sync runs, newest first."""
    with public_session() as session:
        source = _source_in(session, source_id, tenant_id)
        slug = _tenant_slug(session, source.tenant_id)
    with tenant_session(slug) as session:
        runs = session.exec(
            select(SyncRun).where(SyncRun.source_id == source_id).order_by(col(SyncRun.started_at).desc(), col(SyncRun.id).desc()).limit(limit)
        ).all()
        return [SyncRunPublic.model_validate(r.model_dump()) for r in runs]
