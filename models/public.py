"""Control-plane tables, schema `public`: who may see what, and where data comes from.

Secrets (password hashes, encrypted tokens and keys) live only on these rows;
the `*Public` shapes in `services/` are what crosses to a client.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import json_field, tz_field, utcnow
from models.enums import RetentionStatus, SourceStatus, TenantStatus, UserRole

PUBLIC = "public"


class Tenant(SQLModel, table=True):
    __tablename__ = "tenants"
    __table_args__ = {"schema": PUBLIC}

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    slug: str = Field(max_length=40, sa_column_kwargs={"unique": True})
    status: str = Field(default=TenantStatus.ACTIVE, max_length=20, index=True)
    retention_days: int = Field(default=730)
    # AI provider: "local" (statistics only) or "openai" (any OpenAI-compatible endpoint).
    ai_provider: str = Field(default="local", max_length=20)
    ai_base_url: str | None = Field(default=None, max_length=500)
    ai_model: str | None = Field(default=None, max_length=200)
    ai_api_key_encrypted: str | None = None
    settings_json: dict[str, Any] = json_field(dict)
    created_at: datetime = tz_field(nullable=False, default_now=True)
    updated_at: datetime = tz_field(nullable=False, default_now=True)

    @property
    def schema_name(self) -> str:
        return f"tenant_{self.slug}"


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint(
            "(role = 'platform_admin' AND tenant_id IS NULL) OR (role = 'company_user' AND tenant_id IS NOT NULL)",
            name="ck_users_role_tenant",
        ),
        {"schema": PUBLIC},
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, sa_column_kwargs={"unique": True})
    full_name: str = Field(default="", max_length=200)
    password_hash: str
    role: str = Field(default=UserRole.COMPANY_USER, max_length=20)
    tenant_id: int | None = Field(default=None, foreign_key="public.tenants.id", index=True)
    is_active: bool = Field(default=True)
    last_login_at: datetime | None = tz_field()
    password_changed_at: datetime | None = tz_field()
    created_at: datetime = tz_field(nullable=False, default_now=True)
    updated_at: datetime = tz_field(nullable=False, default_now=True)


#: A project's DMT compliance target (percent) until its admin sets another: the one target every project had before.
DEFAULT_COMPLIANCE_TARGET = 90.0


class Project(SQLModel, table=True):
    __tablename__ = "projects"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "key", name="uq_projects_tenant_key"),
        sa.CheckConstraint("compliance_target > 0 AND compliance_target <= 100", name="ck_projects_compliance_target"),
        {"schema": PUBLIC},
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="public.tenants.id", index=True)
    key: str = Field(max_length=40)
    name: str = Field(max_length=200)
    description: str = Field(default="")
    is_active: bool = Field(default=True)
    # DMT settings: coverage threshold in percent, rule switches and severity
    # overrides ({"low_coverage": {"enabled": true, "severity": "high"}}),
    # and the notice periods for expiring exceptions and ending sprints.
    coverage_threshold: float = Field(default=80.0)
    # The DMT compliance rate (percent of judged done items) the company aims
    # for on this project: the dashboard's ComplianceGauge is green at or above it.
    compliance_target: float = Field(
        default=DEFAULT_COMPLIANCE_TARGET, sa_column_kwargs={"server_default": sa.text("90")}
    )
    rules_config: dict[str, Any] = json_field(dict)
    exception_warning_days: int = Field(default=7)
    sprint_ending_days: int = Field(default=2)
    created_at: datetime = tz_field(nullable=False, default_now=True)
    updated_at: datetime = tz_field(nullable=False, default_now=True)


class UserProjectRole(SQLModel, table=True):
    __tablename__ = "user_project_roles"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "project_id", name="uq_user_project_roles_user_project"),
        sa.CheckConstraint(
            "role IN ('viewer','developer','tech_lead','project_manager')",
            name="ck_user_project_roles_role",
        ),
        {"schema": PUBLIC},
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="public.users.id", index=True)
    project_id: int = Field(foreign_key="public.projects.id", index=True)
    role: str = Field(max_length=20)
    created_at: datetime = tz_field(nullable=False, default_now=True)


class SourceConfig(SQLModel, table=True):
    """A connection to one tool (Jira site, ClickUp team, GitHub repository...) for one project."""

    __tablename__ = "source_configs"
    __table_args__ = (
        sa.CheckConstraint(
            "source_type IN ('jira','clickup','azure_boards','github','azure_devops_git','github_deployments','azure_pipelines')",
            name="ck_source_configs_type",
        ),
        {"schema": PUBLIC},
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="public.tenants.id", index=True)
    project_id: int = Field(foreign_key="public.projects.id", index=True)
    name: str = Field(max_length=200)
    source_type: str = Field(max_length=30)
    base_url: str = Field(max_length=500)
    username: str | None = Field(default=None, max_length=320)
    token_encrypted: str | None = None
    webhook_secret_encrypted: str | None = None
    config_json: dict[str, Any] = json_field(dict)
    field_mappings: dict[str, Any] = json_field(dict)
    is_active: bool = Field(default=True)
    # Nightly sync time "HH:MM" (UTC) and how far back a historical import goes.
    sync_time: str = Field(default="02:00", max_length=5)
    historical_import_days: int = Field(default=365)
    request_budget_per_minute: int = Field(default=600)
    failure_threshold: int = Field(default=3)
    status: str = Field(default=SourceStatus.NEW, max_length=20)
    last_sync_at: datetime | None = tz_field()
    last_success_at: datetime | None = tz_field()
    consecutive_failures: int = Field(default=0)
    last_error: str | None = None
    circuit_open: bool = Field(default=False)
    created_at: datetime = tz_field(nullable=False, default_now=True)
    updated_at: datetime = tz_field(nullable=False, default_now=True)


class AuditLog(SQLModel, table=True):
    """Append-only: a trigger refuses UPDATE and DELETE (see the public migration)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        sa.Index("ix_audit_log_tenant_at", "tenant_id", "at"),
        sa.Index("ix_audit_log_entity", "entity_type", "entity_id"),
        {"schema": PUBLIC},
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = tz_field(nullable=False, default_now=True, index=True)
    actor_user_id: int | None = Field(default=None, index=True)
    actor_email: str | None = Field(default=None, max_length=320)
    tenant_id: int | None = None
    action: str = Field(max_length=60, index=True)
    entity_type: str = Field(max_length=60)
    entity_id: str | None = Field(default=None, max_length=100)
    old_values: dict[str, Any] | None = json_field(None)
    new_values: dict[str, Any] | None = json_field(None)
    ip_address: str | None = Field(default=None, max_length=64)


class Notification(SQLModel, table=True):
    __tablename__ = "notifications"
    __table_args__ = (
        sa.Index("ix_notifications_user_unread", "user_id", "is_read", "created_at"),
        sa.Index("ix_notifications_delivery_unplanned", "id", postgresql_where=sa.text("delivery_planned_at IS NULL")),
        sa.Index("ix_notifications_user_created", "user_id", "created_at"),
        {"schema": PUBLIC},
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="public.tenants.id", index=True)
    user_id: int = Field(foreign_key="public.users.id")
    project_id: int | None = None
    kind: str = Field(max_length=40)  # critical_flags, etl_failure, sprint_ending, exception_approved, new_insight
    severity: str = Field(default="info", max_length=20)
    title: str = Field(max_length=300)
    body: str = Field(default="")
    link: str | None = Field(default=None, max_length=500)
    data: dict[str, Any] = json_field(dict)
    is_read: bool = Field(default=False)
    created_at: datetime = tz_field(nullable=False, default_now=True)
    read_at: datetime | None = tz_field()
    # When the worker decided where else it goes (email, Slack, Teams); NULL until then.
    delivery_planned_at: datetime | None = tz_field()


class RetentionJob(SQLModel, table=True):
    __tablename__ = "retention_jobs"
    __table_args__ = {"schema": PUBLIC}

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="public.tenants.id", index=True)
    quarter: str = Field(max_length=7)  # e.g. "2025Q1"
    period_start: date
    period_end: date
    status: str = Field(default=RetentionStatus.PENDING, max_length=20)
    archive_uri: str | None = Field(default=None, max_length=1000)
    manifest: dict[str, Any] | None = json_field(None)
    error: str | None = None
    created_by: int | None = None
    created_at: datetime = tz_field(nullable=False, default_now=True)
    archived_at: datetime | None = tz_field()
    verified_at: datetime | None = tz_field()
    deleted_at: datetime | None = tz_field()
    restored_at: datetime | None = tz_field()


class RefreshToken(SQLModel, table=True):
    """Rotating refresh tokens: each use replaces the token; reuse of a spent one revokes its family."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (sa.Index("ix_refresh_tokens_expires_at", "expires_at"), {"schema": PUBLIC})

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="public.users.id", index=True)
    family_id: str = Field(max_length=64, index=True)
    token_hash: str = Field(max_length=128, sa_column_kwargs={"unique": True})
    expires_at: datetime = tz_field(nullable=False)
    created_at: datetime = tz_field(nullable=False, default_now=True)
    revoked_at: datetime | None = tz_field()
    replaced_by_id: int | None = None
    ip_address: str | None = Field(default=None, max_length=64)


class PortalSession(SQLModel, table=True):
    """A signed-in browser: the HttpOnly cookie carries the secret, the row its state."""

    __tablename__ = "portal_sessions"
    __table_args__ = (sa.Index("ix_portal_sessions_expires_at", "expires_at"), {"schema": PUBLIC})

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="public.users.id", index=True)
    token_hash: str = Field(max_length=128, sa_column_kwargs={"unique": True})
    portal: str = Field(max_length=10)  # "company" or "admin"
    created_at: datetime = tz_field(nullable=False, default_now=True)
    expires_at: datetime = tz_field(nullable=False)
    revoked_at: datetime | None = tz_field()
    ip_address: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=300)


class LoginAttempt(SQLModel, table=True):
    __tablename__ = "login_attempts"
    __table_args__ = (
        sa.Index("ix_login_attempts_email_at", "email", "at"),
        sa.Index("ix_login_attempts_ip_at", "ip_address", "at"),
        sa.Index("ix_login_attempts_at", "at"),
        {"schema": PUBLIC},
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320)
    ip_address: str | None = Field(default=None, max_length=64)
    succeeded: bool = Field(default=False)
    at: datetime = Field(
        default_factory=utcnow,
        sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False),
    )


class WebhookDelivery(SQLModel, table=True):
    """Seen webhook deliveries, keyed on what the signature covers: the body's digest, and the delivery id.

    The same delivery id with the same body is the tool retrying (answered as a
    duplicate, nothing queued twice); the same body under another id, or the same
    id with another body, is a replay and refused.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("source_id", "delivery_id", name="uq_webhook_deliveries_source_delivery"),
        sa.Index(
            "uq_webhook_deliveries_source_digest",
            "source_id",
            "body_digest",
            unique=True,
            postgresql_where=sa.text("body_digest <> ''"),
        ),
        sa.Index("ix_webhook_deliveries_received_at", "received_at"),
        {"schema": PUBLIC},
    )

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="public.source_configs.id", index=True)
    delivery_id: str = Field(max_length=200)
    event: str = Field(default="", max_length=100)
    body_digest: str = Field(default="", max_length=64, sa_column_kwargs={"server_default": ""})
    outbox_id: int | None = None  # the sync it queued (public.task_outbox)
    received_at: datetime = tz_field(nullable=False, default_now=True)


class TaskOutbox(SQLModel, table=True):
    """Tasks to enqueue, written in the same transaction as the change that needs them.

    `services.outbox.dispatch_pending` (a periodic task) sends unsent rows to the
    broker by task name, so a broker outage delays a task but never loses it.
    """

    __tablename__ = "task_outbox"
    __table_args__ = (
        sa.Index("ix_task_outbox_pending", "available_at", postgresql_where=sa.text("sent_at IS NULL")),
        sa.Index("ix_task_outbox_sent_at", "sent_at"),
        {"schema": PUBLIC},
    )

    id: int | None = Field(default=None, primary_key=True)
    task_name: str = Field(max_length=200)
    args: list[Any] = json_field(list, nullable=False)
    origin: str = Field(default="", max_length=300)
    created_at: datetime = tz_field(nullable=False, default_now=True)
    available_at: datetime = tz_field(nullable=False, default_now=True)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=500)
    sent_at: datetime | None = tz_field()
    task_id: str | None = Field(default=None, max_length=64)


class ApiToken(SQLModel, table=True):
    """Long-lived tokens for CI pipelines posting coverage evidence (scoped to one tenant)."""

    __tablename__ = "api_tokens"
    __table_args__ = {"schema": PUBLIC}

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="public.tenants.id", index=True)
    name: str = Field(max_length=200)
    token_hash: str = Field(max_length=128, sa_column_kwargs={"unique": True})
    scopes: list[str] = json_field(list)
    created_by: int | None = None
    created_at: datetime = tz_field(nullable=False, default_now=True)
    last_used_at: datetime | None = tz_field()
    revoked_at: datetime | None = tz_field()


class NotificationPreference(SQLModel, table=True):
    """How one user hears about one kind of notification beyond the app: not at all, by email at once, or in
    the daily digest (no row: in the app only)."""

    __tablename__ = "notification_preferences"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "kind", name="uq_notification_preferences_user_kind"),
        sa.CheckConstraint("mode IN ('in_app','immediate','digest')", name="ck_notification_preferences_mode"),
        {"schema": PUBLIC},
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="public.tenants.id", index=True)
    user_id: int = Field(foreign_key="public.users.id")
    kind: str = Field(max_length=40)
    mode: str = Field(max_length=10)
    updated_at: datetime = tz_field(nullable=False, default_now=True)


class ChatChannel(SQLModel, table=True):
    """A Slack or Microsoft Teams incoming webhook of a tenant, or of one of its projects (URL encrypted)."""

    __tablename__ = "chat_channels"
    __table_args__ = (
        sa.CheckConstraint("channel_type IN ('slack','teams')", name="ck_chat_channels_type"),
        sa.Index(
            "uq_chat_channels_scope_type",
            "tenant_id",
            sa.text("coalesce(project_id, 0)"),
            "channel_type",
            unique=True,
        ),
        {"schema": PUBLIC},
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="public.tenants.id", index=True)
    project_id: int | None = Field(default=None, foreign_key="public.projects.id")
    channel_type: str = Field(max_length=10)
    name: str = Field(default="", max_length=200)
    webhook_url_encrypted: str
    url_hint: str = Field(default="", max_length=300)  # scheme, host and the last characters, for display
    kinds: list[str] = json_field(list, nullable=False)  # notification kinds posted here; empty: all
    is_active: bool = Field(default=True)
    created_by: int | None = None
    created_at: datetime = tz_field(nullable=False, default_now=True)
    updated_at: datetime = tz_field(nullable=False, default_now=True)
    last_test_at: datetime | None = tz_field()
    last_test_ok: bool | None = None
    last_test_message: str | None = Field(default=None, max_length=500)


class NotificationDelivery(SQLModel, table=True):
    """One message sent outside the app (an email, or a Slack or Teams post) and its attempts.

    `pending` until sent; `dead` after the last failed attempt or a failure no
    retry can fix: those rows are the dead-letter list of the admin health page.
    A user's daily digest is one row per user and day (`digest_date`).
    """

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        sa.CheckConstraint("channel IN ('email','slack','teams')", name="ck_notification_deliveries_channel"),
        sa.CheckConstraint("status IN ('pending','sent','dead')", name="ck_notification_deliveries_status"),
        sa.Index(
            "uq_notification_deliveries_user_digest",
            "user_id",
            "digest_date",
            unique=True,
            postgresql_where=sa.text("digest_date IS NOT NULL"),
        ),
        sa.Index("ix_notification_deliveries_dead", "dead_at", postgresql_where=sa.text("status = 'dead'")),
        sa.Index("ix_notification_deliveries_pending", "updated_at", postgresql_where=sa.text("status = 'pending'")),
        sa.Index("ix_notification_deliveries_chat_content", "chat_channel_id", "content_key", "created_at"),
        sa.Index("ix_notification_deliveries_created_at", "created_at"),
        {"schema": PUBLIC},
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="public.tenants.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="public.users.id")  # email deliveries
    chat_channel_id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("public.chat_channels.id", ondelete="SET NULL"), nullable=True),
    )
    channel: str = Field(max_length=10)  # email, slack, teams
    purpose: str = Field(default="immediate", max_length=12)  # immediate or digest
    notification_ids: list[int] = json_field(list, nullable=False)
    digest_date: date | None = None
    severity: str = Field(default="info", max_length=20)
    subject: str = Field(max_length=300)
    body_text: str = Field(default="")
    body_html: str = Field(default="")
    link: str | None = Field(default=None, max_length=500)
    content_key: str = Field(default="", max_length=64)
    status: str = Field(default="pending", max_length=10)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = tz_field(nullable=False, default_now=True)
    updated_at: datetime = tz_field(nullable=False, default_now=True)
    sent_at: datetime | None = tz_field()
    dead_at: datetime | None = tz_field()
