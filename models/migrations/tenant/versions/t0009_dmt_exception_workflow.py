"""dmt_exceptions becomes a workflow: requested -> approved/rejected -> revoked/expired, with the rules it covers

Revision ID: t0009
Revises: t0008
Create Date: 2026-12-08 10:00:00

Until now a row was an approved exception recorded directly (the demo seed),
covering the three testing rules. A row now carries its status, the rules it
covers, who requested it, who approved, rejected or revoked it and their notes,
and the worker's markers (expiry notice sent, marked expired). Existing rows
stay approved exceptions of the three testing rules, decided when recorded.
`approved_by` may be empty while a request waits. Plain DDL/SQL, so the stream
still renders offline.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "t0009"
down_revision: str | None = "t0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TESTING_RULES = '\'["missing_unit_test_task", "unit_testing_not_done", "low_coverage"]\'::jsonb'


def upgrade() -> None:
    op.execute(
        "ALTER TABLE tenant.dmt_exceptions "
        "ADD COLUMN IF NOT EXISTS status varchar(20) NOT NULL DEFAULT 'approved', "
        f"ADD COLUMN IF NOT EXISTS rules jsonb NOT NULL DEFAULT {TESTING_RULES}, "
        "ADD COLUMN IF NOT EXISTS requested_by varchar(320), "
        "ADD COLUMN IF NOT EXISTS requested_by_user_id integer, "
        "ADD COLUMN IF NOT EXISTS rejected_by varchar(320), "
        "ADD COLUMN IF NOT EXISTS rejected_by_user_id integer, "
        "ADD COLUMN IF NOT EXISTS decided_at timestamptz, "
        "ADD COLUMN IF NOT EXISTS decision_note varchar, "
        "ADD COLUMN IF NOT EXISTS revoked_by varchar(320), "
        "ADD COLUMN IF NOT EXISTS revoked_by_user_id integer, "
        "ADD COLUMN IF NOT EXISTS revoke_note varchar, "
        "ADD COLUMN IF NOT EXISTS expiring_notified_at timestamptz, "
        "ADD COLUMN IF NOT EXISTS expired_at timestamptz, "
        "ALTER COLUMN approved_by DROP NOT NULL"
    )
    op.execute(
        "UPDATE tenant.dmt_exceptions SET decided_at = created_at "
        "WHERE decided_at IS NULL AND status = 'approved'"
    )
    op.execute(
        "UPDATE tenant.dmt_exceptions SET status = 'revoked' WHERE revoked_at IS NOT NULL AND status = 'approved'"
    )
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_dmt_exceptions_status_expires ON tenant.dmt_exceptions (status, expires_at)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS tenant.ix_dmt_exceptions_status_expires")
    op.execute("DELETE FROM tenant.dmt_exceptions WHERE approved_by IS NULL")
    op.execute(
        "ALTER TABLE tenant.dmt_exceptions "
        "ALTER COLUMN approved_by SET NOT NULL, "
        "DROP COLUMN status, DROP COLUMN rules, DROP COLUMN requested_by, DROP COLUMN requested_by_user_id, "
        "DROP COLUMN rejected_by, DROP COLUMN rejected_by_user_id, DROP COLUMN decided_at, "
        "DROP COLUMN decision_note, DROP COLUMN revoked_by, DROP COLUMN revoked_by_user_id, "
        "DROP COLUMN revoke_note, DROP COLUMN expiring_notified_at, DROP COLUMN expired_at"
    )
