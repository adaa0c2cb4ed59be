"""webhook deliveries keyed on their body digest; the task outbox

Revision ID: p0002
Revises: p0001
Create Date: 2026-12-04 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "p0002"
down_revision: str | None = "p0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "webhook_deliveries",
        sa.Column("body_digest", sa.String(length=64), server_default="", nullable=False),
        schema="public",
    )
    op.add_column("webhook_deliveries", sa.Column("outbox_id", sa.Integer(), nullable=True), schema="public")
    op.create_index(
        "uq_webhook_deliveries_source_digest",
        "webhook_deliveries",
        ["source_id", "body_digest"],
        unique=True,
        schema="public",
        postgresql_where=sa.text("body_digest <> ''"),
    )
    op.create_index(
        "ix_webhook_deliveries_received_at", "webhook_deliveries", ["received_at"], unique=False, schema="public"
    )
    op.create_table(
        "task_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_name", sa.String(length=200), nullable=False),
        sa.Column("args", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("origin", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("task_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        schema="public",
    )
    op.create_index(
        "ix_task_outbox_pending",
        "task_outbox",
        ["available_at"],
        unique=False,
        schema="public",
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.create_index("ix_task_outbox_sent_at", "task_outbox", ["sent_at"], unique=False, schema="public")
    # Housekeeping deletes expired sessions and refresh tokens by age.
    op.create_index("ix_portal_sessions_expires_at", "portal_sessions", ["expires_at"], schema="public")
    op.create_index("ix_refresh_tokens_expires_at", "refresh_tokens", ["expires_at"], schema="public")
    op.create_index("ix_login_attempts_at", "login_attempts", ["at"], schema="public")


def downgrade() -> None:
    op.drop_index("ix_login_attempts_at", table_name="login_attempts", schema="public")
    op.drop_index("ix_refresh_tokens_expires_at", table_name="refresh_tokens", schema="public")
    op.drop_index("ix_portal_sessions_expires_at", table_name="portal_sessions", schema="public")
    op.drop_index("ix_task_outbox_sent_at", table_name="task_outbox", schema="public")
    op.drop_index("ix_task_outbox_pending", table_name="task_outbox", schema="public")
    op.drop_table("task_outbox", schema="public")
    op.drop_index("ix_webhook_deliveries_received_at", table_name="webhook_deliveries", schema="public")
    op.drop_index("uq_webhook_deliveries_source_digest", table_name="webhook_deliveries", schema="public")
    op.drop_column("webhook_deliveries", "outbox_id", schema="public")
    op.drop_column("webhook_deliveries", "body_digest", schema="public")
