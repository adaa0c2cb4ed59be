"""notification delivery: per-user preferences, Slack/Teams channels, deliveries and their dead letters

Revision ID: p0003
Revises: p0002
Create Date: 2026-12-10 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "p0003"
down_revision: str | None = "p0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "notifications",
        sa.Column("delivery_planned_at", sa.DateTime(timezone=True), nullable=True),
        schema="public",
    )
    # Notifications written before delivery existed are never sent out afterwards.
    op.execute("UPDATE public.notifications SET delivery_planned_at = created_at")
    op.create_index(
        "ix_notifications_delivery_unplanned",
        "notifications",
        ["id"],
        schema="public",
        postgresql_where=sa.text("delivery_planned_at IS NULL"),
    )
    op.create_index("ix_notifications_user_created", "notifications", ["user_id", "created_at"], schema="public")

    op.create_table(
        "notification_preferences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("mode IN ('in_app','immediate','digest')", name="ck_notification_preferences_mode"),
        sa.ForeignKeyConstraint(["tenant_id"], ["public.tenants.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["public.users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "kind", name="uq_notification_preferences_user_kind"),
        schema="public",
    )
    op.create_index(
        "ix_public_notification_preferences_tenant_id", "notification_preferences", ["tenant_id"], schema="public"
    )

    op.create_table(
        "chat_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("channel_type", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("webhook_url_encrypted", sa.String(), nullable=False),
        sa.Column("url_hint", sa.String(length=300), nullable=False),
        sa.Column("kinds", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_test_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_test_ok", sa.Boolean(), nullable=True),
        sa.Column("last_test_message", sa.String(length=500), nullable=True),
        sa.CheckConstraint("channel_type IN ('slack','teams')", name="ck_chat_channels_type"),
        sa.ForeignKeyConstraint(["tenant_id"], ["public.tenants.id"]),
        sa.ForeignKeyConstraint(["project_id"], ["public.projects.id"]),
        sa.PrimaryKeyConstraint("id"),
        schema="public",
    )
    op.create_index("ix_public_chat_channels_tenant_id", "chat_channels", ["tenant_id"], schema="public")
    op.create_index(
        "uq_chat_channels_scope_type",
        "chat_channels",
        ["tenant_id", sa.text("coalesce(project_id, 0)"), "channel_type"],
        unique=True,
        schema="public",
    )

    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("chat_channel_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("purpose", sa.String(length=12), nullable=False),
        sa.Column("notification_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("digest_date", sa.Date(), nullable=True),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body_text", sa.String(), nullable=False),
        sa.Column("body_html", sa.String(), nullable=False),
        sa.Column("link", sa.String(length=500), nullable=True),
        sa.Column("content_key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("channel IN ('email','slack','teams')", name="ck_notification_deliveries_channel"),
        sa.CheckConstraint("status IN ('pending','sent','dead')", name="ck_notification_deliveries_status"),
        sa.ForeignKeyConstraint(["tenant_id"], ["public.tenants.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["public.users.id"]),
        sa.ForeignKeyConstraint(["chat_channel_id"], ["public.chat_channels.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        schema="public",
    )
    op.create_index(
        "ix_public_notification_deliveries_tenant_id", "notification_deliveries", ["tenant_id"], schema="public"
    )
    op.create_index(
        "uq_notification_deliveries_user_digest",
        "notification_deliveries",
        ["user_id", "digest_date"],
        unique=True,
        schema="public",
        postgresql_where=sa.text("digest_date IS NOT NULL"),
    )
    op.create_index(
        "ix_notification_deliveries_dead",
        "notification_deliveries",
        ["dead_at"],
        schema="public",
        postgresql_where=sa.text("status = 'dead'"),
    )
    op.create_index(
        "ix_notification_deliveries_pending",
        "notification_deliveries",
        ["updated_at"],
        schema="public",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_notification_deliveries_chat_content",
        "notification_deliveries",
        ["chat_channel_id", "content_key", "created_at"],
        schema="public",
    )
    op.create_index(
        "ix_notification_deliveries_created_at", "notification_deliveries", ["created_at"], schema="public"
    )


def downgrade() -> None:
    op.drop_table("notification_deliveries", schema="public")
    op.drop_table("chat_channels", schema="public")
    op.drop_table("notification_preferences", schema="public")
    op.drop_index("ix_notifications_user_created", table_name="notifications", schema="public")
    op.drop_index("ix_notifications_delivery_unplanned", table_name="notifications", schema="public")
    op.drop_column("notifications", "delivery_planned_at", schema="public")
