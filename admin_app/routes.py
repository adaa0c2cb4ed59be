"""The admin portal's page routes (product spec 6.1) and the links between them."""

from __future__ import annotations

import reflex as rx

OVERVIEW = "/dashboard"
TENANTS = "/dashboard/tenants"
TENANT_NEW = "/dashboard/tenants/new"
TENANT = "/dashboard/tenants/[tenant_id]"
TENANT_PROJECTS = "/dashboard/tenants/[tenant_id]/projects"
TENANT_USERS = "/dashboard/tenants/[tenant_id]/users"
PROJECT = "/dashboard/projects/[project_id]"
PROJECT_SOURCES = "/dashboard/projects/[project_id]/sources"
PROJECT_SOURCE_NEW = "/dashboard/projects/[project_id]/sources/new"
SOURCE = "/dashboard/sources/[source_id]"
SOURCE_TEST = "/dashboard/sources/[source_id]/test"
HEALTH = "/dashboard/health"
AUDIT_LOGS = "/dashboard/audit-logs"
DATA_RETENTION = "/dashboard/data-retention"


def tenant_url(tenant_id: int | rx.Var, page: str = "") -> str | rx.Var:
    """A tenant's page (`page`: "", "projects" or "users")."""
    suffix = f"/{page}" if page else ""
    if isinstance(tenant_id, rx.Var):
        return f"{TENANTS}/" + tenant_id.to(str) + suffix
    return f"{TENANTS}/{tenant_id}{suffix}"


def project_url(project_id: int | rx.Var, page: str = "") -> str | rx.Var:
    """A project's page (`page`: "", "sources" or "sources/new")."""
    suffix = f"/{page}" if page else ""
    if isinstance(project_id, rx.Var):
        return "/dashboard/projects/" + project_id.to(str) + suffix
    return f"/dashboard/projects/{project_id}{suffix}"


def source_url(source_id: int | rx.Var, page: str = "") -> str | rx.Var:
    """A source's page (`page`: "" or "test")."""
    suffix = f"/{page}" if page else ""
    if isinstance(source_id, rx.Var):
        return "/dashboard/sources/" + source_id.to(str) + suffix
    return f"/dashboard/sources/{source_id}{suffix}"
