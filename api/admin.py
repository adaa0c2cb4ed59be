"""Admin REST API (platform administrators), at the spec's paths (section 4.2).

Tenants, projects, users, sources, health, audit logs and data retention, plus
what goes beyond the spec in the same style (users' roles and passwords, field
mappings, reconcile runs, run history, breaker reset, webhook secrets, CI API
tokens, retention verify/restore). Thin routes over the services the admin portal uses.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import PlatformAdminDep, client_ip
from models.db import get_tenant as tenant_by_id
from models.db import public_session
from models.enums import ProjectRole, SourceStatus, SyncKind, TenantStatus, UserRole
from services import platform_health, retention, sources, tenants, users
from services import projects as project_service
from services.api_tokens import create_api_token
from services.audit import AuditFilter, AuditPage, list_audit
from services.health import health_report
from services.projects import ProjectCreate, ProjectDefinition, ProjectPublic, ProjectSettingsUpdate
from services.tenants import TenantCreate, TenantPublic, TenantUpdate
from services.users import UserCreate, UserPublic
from services.webhooks import rotate_webhook_secret

router = APIRouter(prefix="/api/admin", tags=["admin"])


def _actor(user, request: Request):
    return user.actor(client_ip(request))


# ------------------------------------------------------------------ tenants
@router.get("/tenants", response_model=list[TenantPublic])
def list_tenants(
    admin: PlatformAdminDep, search: str | None = None, status: TenantStatus | None = None
) -> list[TenantPublic]:
    return [TenantPublic.of(t) for t in tenants.list_tenants(search=search, status=status)]


@router.post("/tenants", response_model=TenantPublic, status_code=201)
def create_tenant(body: TenantCreate, admin: PlatformAdminDep, request: Request) -> TenantPublic:
    """Create a company: its row, its schema `tenant_<slug>` and the tenant migrations in it."""
    return TenantPublic.of(tenants.create_tenant(body, _actor(admin, request)))


@router.get("/tenants/{tenant_id}", response_model=TenantPublic)
def get_tenant(tenant_id: int, admin: PlatformAdminDep) -> TenantPublic:
    with public_session() as session:
        return TenantPublic.of(tenant_by_id(session, tenant_id))


@router.put("/tenants/{tenant_id}", response_model=TenantPublic)
def update_tenant(tenant_id: int, body: TenantUpdate, admin: PlatformAdminDep, request: Request) -> TenantPublic:
    """Update the fields sent (name, retention, AI settings); fields left out keep their value."""
    return TenantPublic.of(tenants.update_tenant(tenant_id, body, _actor(admin, request)))


@router.post("/tenants/{tenant_id}/activate", response_model=TenantPublic)
def activate_tenant(tenant_id: int, admin: PlatformAdminDep, request: Request) -> TenantPublic:
    return TenantPublic.of(tenants.set_tenant_status(tenant_id, TenantStatus.ACTIVE, _actor(admin, request)))


@router.post("/tenants/{tenant_id}/deactivate", response_model=TenantPublic)
def deactivate_tenant(tenant_id: int, admin: PlatformAdminDep, request: Request) -> TenantPublic:
    """Soft delete: the data stays; the company's users can no longer sign in."""
    return TenantPublic.of(tenants.set_tenant_status(tenant_id, TenantStatus.INACTIVE, _actor(admin, request)))


# ------------------------------------------------------------------ users
class CompanyUserCreate(BaseModel):
    email: str
    full_name: str = Field(default="", max_length=200)
    password: str
    project_roles: dict[int, ProjectRole] = Field(default_factory=dict)


class RoleChange(BaseModel):
    role: ProjectRole | None = None


class PasswordReset(BaseModel):
    password: str


@router.get("/tenants/{tenant_id}/users", response_model=list[UserPublic])
def list_users(tenant_id: int, admin: PlatformAdminDep) -> list[UserPublic]:
    with public_session() as session:
        tenant = tenant_by_id(session, tenant_id)
    return [UserPublic.of(u, tenant.slug, users.project_roles_of(u.id)) for u in users.list_users(tenant_id)]


@router.post("/tenants/{tenant_id}/users", response_model=UserPublic, status_code=201)
def create_company_user(
    tenant_id: int, body: CompanyUserCreate, admin: PlatformAdminDep, request: Request
) -> UserPublic:
    actor = _actor(admin, request)
    user = users.create_user(
        UserCreate(
            email=body.email,
            password=body.password,
            full_name=body.full_name,
            role=UserRole.COMPANY_USER,
            tenant_id=tenant_id,
        ),
        actor,
    )
    for project_id, role in body.project_roles.items():
        users.set_project_role(user.id, project_id, role, actor)
    return UserPublic.of(users.get_user(user.id), None, users.project_roles_of(user.id))


@router.put("/users/{user_id}/projects/{project_id}/role", response_model=UserPublic)
def set_role(user_id: int, project_id: int, body: RoleChange, admin: PlatformAdminDep, request: Request) -> UserPublic:
    users.set_project_role(user_id, project_id, body.role, _actor(admin, request))
    return UserPublic.of(users.get_user(user_id), None, users.project_roles_of(user_id))


@router.post("/users/{user_id}/reset-password", status_code=204)
def reset_password(user_id: int, body: PasswordReset, admin: PlatformAdminDep, request: Request) -> None:
    users.reset_password(user_id, body.password, _actor(admin, request))


@router.post("/users/{user_id}/deactivate", response_model=UserPublic)
def deactivate_user(user_id: int, admin: PlatformAdminDep, request: Request) -> UserPublic:
    return UserPublic.of(users.set_user_active(user_id, False, _actor(admin, request)))


@router.post("/users/{user_id}/activate", response_model=UserPublic)
def activate_user(user_id: int, admin: PlatformAdminDep, request: Request) -> UserPublic:
    return UserPublic.of(users.set_user_active(user_id, True, _actor(admin, request)))


# ------------------------------------------------------------------ projects
@router.get("/tenants/{tenant_id}/projects", response_model=list[ProjectPublic])
def list_projects(tenant_id: int, admin: PlatformAdminDep) -> list[ProjectPublic]:
    with public_session() as session:
        tenant_by_id(session, tenant_id)
    return [ProjectPublic.of(p) for p in project_service.list_projects(tenant_id)]


@router.post("/tenants/{tenant_id}/projects", response_model=ProjectPublic, status_code=201)
def create_project(
    tenant_id: int, body: ProjectDefinition, admin: PlatformAdminDep, request: Request
) -> ProjectPublic:
    data = ProjectCreate(tenant_id=tenant_id, **body.model_dump())
    return ProjectPublic.of(project_service.create_project(data, _actor(admin, request)))


@router.get("/projects/{project_id}", response_model=ProjectPublic)
def get_project(project_id: int, admin: PlatformAdminDep) -> ProjectPublic:
    return ProjectPublic.of(project_service.get_project(project_id))


@router.put("/projects/{project_id}", response_model=ProjectPublic)
def update_project(
    project_id: int, body: ProjectSettingsUpdate, admin: PlatformAdminDep, request: Request
) -> ProjectPublic:
    """DMT settings: coverage threshold, rules on/off and severities, notice periods (fields sent only)."""
    return ProjectPublic.of(project_service.update_project_settings(project_id, body, _actor(admin, request)))


# ------------------------------------------------------------------ sources
@router.get("/projects/{project_id}/sources", response_model=list[sources.SourcePublic])
def list_project_sources(
    project_id: int, admin: PlatformAdminDep, status: SourceStatus | None = None
) -> list[sources.SourcePublic]:
    """The project's source configurations (never their tokens), optionally in one status."""
    project_service.get_project(project_id)
    found = sources.list_sources(project_id=project_id)
    return [s for s in found if status is None or s.status == status]


@router.post("/projects/{project_id}/sources", response_model=sources.SourcePublic, status_code=201)
def create_source(
    project_id: int, body: sources.SourceDefinition, admin: PlatformAdminDep, request: Request
) -> sources.SourcePublic:
    project = project_service.get_project(project_id)
    data = sources.SourceCreate(project_id=project_id, **body.model_dump())
    return sources.create_source(project.tenant_id, data, _actor(admin, request))


@router.get("/sources/{source_id}", response_model=sources.SourcePublic)
def get_source(source_id: int, admin: PlatformAdminDep) -> sources.SourcePublic:
    return sources.get_source_public(source_id)


@router.put("/sources/{source_id}", response_model=sources.SourcePublic)
def update_source(
    source_id: int, body: sources.SourceUpdate, admin: PlatformAdminDep, request: Request
) -> sources.SourcePublic:
    """Update the fields sent; `token` is write-only ("" clears it, leaving it out keeps it)."""
    return sources.update_source(source_id, body, _actor(admin, request))


@router.post("/sources/{source_id}/test", response_model=sources.ConnectionCheck)
def test_source(source_id: int, admin: PlatformAdminDep) -> sources.ConnectionCheck:
    """Call the tool's real API: who we are there and what we can see, or the exact error."""
    return sources.test_connection(source_id)


@router.get("/sources/{source_id}/discover", response_model=sources.FieldDiscovery)
def discover_source_fields(source_id: int, admin: PlatformAdminDep) -> sources.FieldDiscovery:
    """Ask the tool which fields, statuses and sprints it has, with proposed DMT field mappings."""
    return sources.discover_fields(source_id)


@router.put("/sources/{source_id}/mappings", response_model=sources.SourcePublic)
def save_mappings(
    source_id: int, body: dict[str, Any], admin: PlatformAdminDep, request: Request
) -> sources.SourcePublic:
    return sources.save_field_mappings(source_id, body, _actor(admin, request))


@router.post("/sources/{source_id}/trigger-sync", response_model=sources.SyncRequested, status_code=202)
def trigger_sync(source_id: int, admin: PlatformAdminDep, request: Request) -> sources.SyncRequested:
    """Queue an incremental sync (what changed since the cursor); follow it on /ws/etl/{source_id}."""
    return sources.trigger_sync(source_id, _actor(admin, request), SyncKind.INCREMENTAL)


@router.post("/sources/{source_id}/trigger-historical", response_model=sources.SyncRequested, status_code=202)
def trigger_historical(source_id: int, admin: PlatformAdminDep, request: Request) -> sources.SyncRequested:
    """Queue a historical import over the source's `historical_import_days`."""
    return sources.trigger_sync(source_id, _actor(admin, request), SyncKind.BACKFILL)


@router.post("/sources/{source_id}/trigger-reconcile", response_model=sources.SyncRequested, status_code=202)
def trigger_reconcile(source_id: int, admin: PlatformAdminDep, request: Request) -> sources.SyncRequested:
    """Queue a deletion reconcile: items the tool no longer lists are soft-deleted."""
    return sources.trigger_sync(source_id, _actor(admin, request), SyncKind.RECONCILE)


@router.post("/sources/{source_id}/reset-circuit", response_model=sources.SourcePublic)
def reset_circuit(source_id: int, admin: PlatformAdminDep, request: Request) -> sources.SourcePublic:
    return sources.reset_circuit(source_id, _actor(admin, request))


@router.get("/sources/{source_id}/runs", response_model=list[sources.SyncRunPublic])
def source_runs(
    source_id: int, admin: PlatformAdminDep, limit: int = Query(50, ge=1, le=500)
) -> list[sources.SyncRunPublic]:
    return sources.run_history(source_id, limit=limit)


class WebhookSecret(BaseModel):
    webhook_url: str
    secret: str


@router.post("/sources/{source_id}/webhook-secret", response_model=WebhookSecret)
def new_webhook_secret(source_id: int, admin: PlatformAdminDep, request: Request) -> WebhookSecret:
    """Generate the secret to paste into the tool's webhook settings (shown once)."""
    sources.get_source_public(source_id)
    secret = rotate_webhook_secret(source_id, _actor(admin, request))
    return WebhookSecret(webhook_url=str(request.base_url).rstrip("/") + f"/api/webhooks/{source_id}", secret=secret)


# ------------------------------------------------------------------ CI tokens
class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class TokenCreated(BaseModel):
    id: int
    name: str
    token: str


@router.post("/tenants/{tenant_id}/api-tokens", response_model=TokenCreated, status_code=201)
def new_api_token(tenant_id: int, body: TokenCreate, admin: PlatformAdminDep, request: Request) -> TokenCreated:
    """A token for a CI pipeline to post coverage evidence (POST /api/evidence); shown once."""
    row, secret = create_api_token(tenant_id, body.name, _actor(admin, request))
    return TokenCreated(id=row.id, name=row.name, token=secret)


# ------------------------------------------------------------------ health
class HealthOverview(BaseModel):
    ok: bool = Field(description="database and Redis reachable")
    database: dict[str, Any]
    redis: dict[str, Any]
    sources: platform_health.SourceCounts
    queues: list[platform_health.QueueDepth] = Field(description="messages waiting per Celery queue")


@router.get("/health", response_model=HealthOverview)
def platform_health_overview(admin: PlatformAdminDep) -> HealthOverview:
    """Database, Redis, sources by status and queue depths; details at /health/etl and /health/queues."""
    report = health_report()
    queues = platform_health.queue_status(workers=False)
    return HealthOverview(
        ok=bool(report.get("ok")),
        database=report.get("database", {}),
        redis=report.get("redis", {}),
        sources=platform_health.source_counts(),
        queues=queues.queues,
    )


@router.get("/health/etl", response_model=platform_health.EtlStatus)
def etl_health(
    admin: PlatformAdminDep, tenant_id: int | None = None, status: SourceStatus | None = None
) -> platform_health.EtlStatus:
    """Every source's sync status, breaker, last error, last run and the run in progress."""
    return platform_health.etl_status(tenant_id=tenant_id, status=status)


@router.get("/health/queues", response_model=platform_health.QueueStatus)
async def queue_health(admin: PlatformAdminDep) -> platform_health.QueueStatus:
    """Messages waiting per Celery queue, and the workers answering (with their running tasks)."""
    return await run_in_threadpool(platform_health.queue_status)


# ------------------------------------------------------------------ audit logs
@router.get("/audit-logs", response_model=AuditPage)
def audit_logs(
    admin: PlatformAdminDep,
    tenant_id: int | None = None,
    actor: str | None = None,
    action: str | None = None,
    entity_type: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = Query(1, ge=1),
    page_size: int = Query(50, ge=1, le=500),
) -> AuditPage:
    """Audit entries, newest first: filter by tenant, actor (email part), action prefix, entity, time."""
    filters = AuditFilter(
        tenant_id=tenant_id, actor=actor, action=action, entity_type=entity_type, since=since, until=until
    )
    return list_audit(filters, page, page_size)


# ------------------------------------------------------------------ data retention
class RetentionCreate(BaseModel):
    tenant_id: int
    quarter: str = Field(pattern=r"^\d{4}Q[1-4]$")


class Confirmation(BaseModel):
    confirmation: str


@router.get("/data-retention", response_model=list[retention.RetentionJobPublic])
def retention_jobs(admin: PlatformAdminDep, tenant_id: int | None = None) -> list[retention.RetentionJobPublic]:
    return [retention.RetentionJobPublic.of(j) for j in retention.list_jobs(tenant_id)]


@router.post("/data-retention", response_model=retention.RetentionJobPublic, status_code=201)
def create_retention_job(
    body: RetentionCreate, admin: PlatformAdminDep, request: Request
) -> retention.RetentionJobPublic:
    return retention.RetentionJobPublic.of(retention.create_job(body.tenant_id, body.quarter, _actor(admin, request)))


@router.post("/data-retention/{job_id}/archive", response_model=retention.RetentionJobPublic, status_code=202)
def archive(
    job_id: int, admin: PlatformAdminDep, request: Request, then_verify: bool = False
) -> retention.RetentionJobPublic:
    """202: the archive is queued on the worker (status `archiving`, then `archived`; `?then_verify=true` goes on
    to `verified`). Follow it with GET /api/admin/data-retention or the admin portal's live progress."""
    job = retention.queue_archive(job_id, _actor(admin, request), then_verify=then_verify)
    return retention.RetentionJobPublic.of(job)


@router.post("/data-retention/{job_id}/verify", response_model=retention.RetentionJobPublic, status_code=202)
def verify(job_id: int, admin: PlatformAdminDep, request: Request) -> retention.RetentionJobPublic:
    """202: the verification is queued on the worker (status `verifying`, then `verified` or back to `archived`
    with the differences as the job's error)."""
    return retention.RetentionJobPublic.of(retention.queue_verify(job_id, _actor(admin, request)))


@router.post("/data-retention/{job_id}/delete", response_model=retention.RetentionJobPublic)
def hard_delete(
    job_id: int, body: Confirmation, admin: PlatformAdminDep, request: Request
) -> retention.RetentionJobPublic:
    """Hard delete exactly the rows the verified archive holds: needs the typed phrase 'DELETE <tenant> <quarter>'.

    Rows changed or added after the verification stay; `manifest.hard_delete` reports them per table."""
    return retention.RetentionJobPublic.of(retention.delete_job_data(job_id, body.confirmation, _actor(admin, request)))


@router.post("/data-retention/{job_id}/restore", response_model=dict[str, int])
def restore(job_id: int, admin: PlatformAdminDep, request: Request) -> dict[str, int]:
    return retention.restore_job(job_id, _actor(admin, request))
