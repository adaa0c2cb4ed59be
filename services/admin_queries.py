"""Read models of the admin portal: tenant and project overviews, source health, audit log.

Plain functions returning plain dicts/pydantic shapes (no Reflex here); the
admin states call them off the event loop.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from core.queue import DEFAULT_QUEUE
from core.queue import app as celery_app
from core.realtime import redis_client
from models.db import get_tenant, public_session
from models.public import ApiToken, AuditLog, Project, RetentionJob, SourceConfig, Tenant, User, UserProjectRole
from services.audit import AuditFilter, list_audit
from services.display import display_fields
from services.projects import ProjectPublic, get_project
from services.retention import confirmation_phrase, deletion_summary, job_progress, progress_words
from services.tenants import TenantPublic, list_tenants
from services.users import UserPublic


def _fmt(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else ""


# --------------------------------------------------------------------------- tenants
def tenant_overview(search: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
    """Tenants with their numbers of projects, users and sources."""
    tenants = list_tenants(search=search or None, status=status or None)
    with public_session() as session:
        ids = [t.id for t in tenants]

        def counts(model: Any) -> dict[int, int]:
            if not ids:
                return {}
            rows = session.exec(
                select(model.tenant_id, sa.func.count()).where(col(model.tenant_id).in_(ids)).group_by(model.tenant_id)
            ).all()
            return {tenant_id: n for tenant_id, n in rows}

        projects, users, sources = counts(Project), counts(User), counts(SourceConfig)
        return [
            {
                **TenantPublic.of(t).model_dump(),
                "projects": projects.get(t.id or 0, 0),
                "users": users.get(t.id or 0, 0),
                "sources": sources.get(t.id or 0, 0),
                "created_at": _fmt(t.created_at),
            }
            for t in tenants
        ]


def tenant_public(tenant_id: int) -> TenantPublic:
    with public_session() as session:
        return TenantPublic.of(get_tenant(session, tenant_id))


def tenant_projects(tenant_id: int) -> list[ProjectPublic]:
    with public_session() as session:
        rows = session.exec(select(Project).where(Project.tenant_id == tenant_id).order_by(Project.name)).all()
        return [ProjectPublic.of(p) for p in rows]


def tenant_users(tenant_id: int) -> list[dict[str, Any]]:
    """The tenant's users with their project roles as "KEY: role" labels."""
    with public_session() as session:
        users = session.exec(select(User).where(User.tenant_id == tenant_id).order_by(User.email)).all()
        keys = dict(session.exec(select(Project.id, Project.key).where(Project.tenant_id == tenant_id)).all())
        roles = session.exec(
            select(UserProjectRole).where(col(UserProjectRole.user_id).in_([u.id for u in users] or [0]))
        ).all()
        by_user: dict[int, list[str]] = {}
        for r in roles:
            by_user.setdefault(r.user_id, []).append(f"{keys.get(r.project_id, r.project_id)}: {r.role}")
        return [
            {
                **UserPublic.of(u).model_dump(exclude={"project_roles"}),
                "roles": ", ".join(sorted(by_user.get(u.id or 0, []))),
                "last_login_at": _fmt(u.last_login_at),
            }
            for u in users
        ]


def project_with_tenant(project_id: int) -> tuple[ProjectPublic, TenantPublic]:
    project = get_project(project_id)
    with public_session() as session:
        return ProjectPublic.of(project), TenantPublic.of(get_tenant(session, project.tenant_id))


def project_choices() -> list[dict[str, Any]]:
    """Every project as {id, label, tenant_id} for pickers ("Acme / WEB - Web shop")."""
    with public_session() as session:
        rows = session.exec(
            select(Project, Tenant.name).join(Tenant, Tenant.id == Project.tenant_id).order_by(Tenant.name, Project.key)
        ).all()
        return [
            {"id": p.id, "tenant_id": p.tenant_id, "label": f"{tenant_name} / {p.key} - {p.name}"}
            for p, tenant_name in rows
        ]


# --------------------------------------------------------------------------- health
def source_health() -> list[dict[str, Any]]:
    """Every source with its sync status, failures, breaker and last error."""
    with public_session() as session:
        rows = session.exec(
            select(SourceConfig, Tenant.name, Tenant.slug, Project.key)
            .join(Tenant, Tenant.id == SourceConfig.tenant_id)
            .join(Project, Project.id == SourceConfig.project_id)
            .order_by(Tenant.name, SourceConfig.name)
        ).all()
        return [
            {
                "id": s.id,
                "tenant": tenant_name,
                "tenant_slug": slug,
                "project": key,
                "name": s.name,
                "source_type": s.source_type,
                "status": s.status,
                "is_active": s.is_active,
                "last_sync_at": _fmt(s.last_sync_at),
                "last_success_at": _fmt(s.last_success_at),
                "consecutive_failures": s.consecutive_failures,
                "circuit_open": s.circuit_open,
                "last_error": s.last_error or "",
            }
            for s, tenant_name, slug, key in rows
        ]


def celery_queue_depth() -> dict[str, Any]:
    """Messages waiting in the Celery queue (Redis LLEN), or the error."""
    try:
        return {"ok": True, "depth": int(redis_client().llen(DEFAULT_QUEUE))}
    except Exception as exc:  # noqa: BLE001 - health reports, it does not raise
        return {"ok": False, "depth": 0, "error": f"{type(exc).__name__}: {exc}"}


def celery_workers(timeout: float = 1.0) -> dict[str, Any]:
    """Live Celery workers answering a ping within `timeout` seconds (blocking: run it in a thread)."""
    try:
        answers = celery_app.control.inspect(timeout=timeout).ping() or {}
        return {"ok": True, "workers": sorted(answers)}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "workers": [], "error": f"{type(exc).__name__}: {exc}"}


# --------------------------------------------------------------------------- audit
def _parse_day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def audit_filters() -> dict[str, list[str]]:
    """The distinct actions and entity types (for the filter pickers)."""
    with public_session() as session:
        actions = session.exec(select(AuditLog.action).distinct().order_by(AuditLog.action)).all()
        entities = session.exec(select(AuditLog.entity_type).distinct().order_by(AuditLog.entity_type)).all()
        return {"actions": list(actions), "entities": list(entities)}


def audit_page(
    *,
    tenant_id: int | None = None,
    user: str | None = None,
    action: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    page: int = 1,
    page_size: int = 25,
) -> dict[str, Any]:
    """One page of the audit log for the admin portal (the query is services.audit.list_audit)."""
    since = _parse_day(date_from)
    until = _parse_day(date_to)
    filters = AuditFilter(
        tenant_id=tenant_id or None,
        actor=user,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        since=datetime.combine(since, time.min, tzinfo=UTC) if since else None,
        until=datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC) if until else None,
    )
    result = list_audit(filters, page, page_size)
    with public_session() as session:
        tenant_ids = {e.tenant_id for e in result.entries if e.tenant_id}
        names = dict(session.exec(select(Tenant.id, Tenant.name).where(col(Tenant.id).in_(tenant_ids))).all()) if tenant_ids else {}
    items = [
        {
            "id": e.id,
            "at": e.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "actor": e.actor_email or "",
            "tenant": names.get(e.tenant_id, "") if e.tenant_id else "",
            "action": e.action,
            "entity": f"{e.entity_type} {e.entity_id or ''}".strip(),
            "old_values": _pretty(e.old_values),
            "new_values": _pretty(e.new_values),
            "ip_address": e.ip_address or "",
        }
        for e in result.entries
    ]
    pages = max(1, -(-result.total // page_size))
    return {"items": items, "total": result.total, "page": result.page, "pages": pages}


def _pretty(values: dict[str, Any] | None) -> str:
    """Audit values one field a line, in words (services.display: no None, True or list reprs)."""
    return display_fields(values)


# --------------------------------------------------------------------------- retention
def retention_jobs(tenant_id: int | None = None) -> list[dict[str, Any]]:
    """Retention jobs (newest first) with tenant name/slug, row counts from the manifest and the delete phrase."""
    with public_session() as session:
        query = select(RetentionJob, Tenant).join(Tenant, col(Tenant.id) == col(RetentionJob.tenant_id))
        if tenant_id is not None:
            query = query.where(RetentionJob.tenant_id == tenant_id)
        rows = session.exec(query.order_by(col(RetentionJob.created_at).desc(), col(RetentionJob.id).desc())).all()
        live = job_progress([job.id or 0 for job, _ in rows])
        result: list[dict[str, Any]] = []
        for job, tenant in rows:
            percent, progress = progress_words(live.get(job.id or 0))
            tables = ((job.manifest or {}).get("tables") or {}) if isinstance(job.manifest, dict) else {}
            counts = {name: int((meta or {}).get("rows", 0)) for name, meta in tables.items()}
            result.append(
                {
                    "id": job.id,
                    "tenant_id": tenant.id,
                    "tenant": tenant.name,
                    "tenant_slug": tenant.slug,
                    "quarter": job.quarter,
                    "status": str(job.status),
                    "archive_uri": job.archive_uri or "",
                    "row_counts": ", ".join(f"{name}: {n}" for name, n in counts.items() if n) or "",
                    "total_rows": sum(counts.values()),
                    "error": job.error or "",
                    "created_at": _fmt(job.created_at),
                    "archived_at": _fmt(job.archived_at),
                    "verified_at": _fmt(job.verified_at),
                    "deleted_at": _fmt(job.deleted_at),
                    "restored_at": _fmt(job.restored_at),
                    "phrase": confirmation_phrase(tenant.slug, job.quarter),
                    "deletion": deletion_summary(job.manifest if isinstance(job.manifest, dict) else None),
                    "progress": percent,
                    "progress_text": progress,
                }
            )
        return result


# --------------------------------------------------------------------------- CI tokens
def tenant_api_tokens(tenant_id: int) -> list[dict[str, Any]]:
    """A tenant's CI API tokens, newest first (never the secret or its hash)."""
    with public_session() as session:
        rows = session.exec(
            select(ApiToken).where(ApiToken.tenant_id == tenant_id).order_by(col(ApiToken.created_at).desc())
        ).all()
        return [
            {
                "id": t.id,
                "name": t.name,
                "scopes": ", ".join(t.scopes or []),
                "created_at": _fmt(t.created_at),
                "last_used_at": _fmt(t.last_used_at),
                "revoked": t.revoked_at is not None,
                "revoked_at": _fmt(t.revoked_at),
            }
            for t in rows
        ]
