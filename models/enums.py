"""Enumerations shared by tables, services and the UI."""

from __future__ import annotations

from enum import StrEnum


class UserRole(StrEnum):
    PLATFORM_ADMIN = "platform_admin"
    COMPANY_USER = "company_user"


class ProjectRole(StrEnum):
    VIEWER = "viewer"
    DEVELOPER = "developer"
    TECH_LEAD = "tech_lead"
    PROJECT_MANAGER = "project_manager"


#: Roles that see other developers by name (others see "Developer N").
NAMED_VIEW_ROLES = {ProjectRole.TECH_LEAD, ProjectRole.PROJECT_MANAGER}


class TenantStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class SourceType(StrEnum):
    JIRA = "jira"
    CLICKUP = "clickup"
    AZURE_BOARDS = "azure_boards"
    GITHUB = "github"
    AZURE_DEVOPS_GIT = "azure_devops_git"
    GITHUB_DEPLOYMENTS = "github_deployments"
    AZURE_PIPELINES = "azure_pipelines"


WORK_ITEM_SOURCES = {SourceType.JIRA, SourceType.CLICKUP, SourceType.AZURE_BOARDS}
PULL_REQUEST_SOURCES = {SourceType.GITHUB, SourceType.AZURE_DEVOPS_GIT}
DEPLOYMENT_SOURCES = {SourceType.GITHUB_DEPLOYMENTS, SourceType.AZURE_PIPELINES}


class SourceStatus(StrEnum):
    NEW = "new"
    SYNCING = "syncing"
    OK = "ok"
    FAILED = "failed"
    CIRCUIT_OPEN = "circuit_open"


class StatusCategory(StrEnum):
    TODO = "todo"
    IN_PROGRESS = "in_progress"
    DONE = "done"


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class FlagStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class SyncKind(StrEnum):
    INCREMENTAL = "incremental"
    BACKFILL = "backfill"
    RECONCILE = "reconcile"
    WEBHOOK = "webhook"
    DEMO = "demo"


class SyncStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"


class RetentionStatus(StrEnum):
    PENDING = "pending"
    #: Queued for, or running on, the worker.
    ARCHIVING = "archiving"
    ARCHIVED = "archived"
    VERIFYING = "verifying"
    VERIFIED = "verified"
    DELETED = "deleted"
    RESTORED = "restored"
    FAILED = "failed"
