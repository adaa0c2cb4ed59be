"""sprint_metrics keeps one column per figure: velocity, throughput and the sprint's name and dates go

Revision ID: t0007
Revises: t0006
Create Date: 2026-11-27 09:00:00

`velocity` always held `completed_points` and `throughput` always held
`completed_items` (the same expression was written twice by the rebuild), and
`sprint_name`, `start_date`, `end_date` were copies of the sprint's own row in
`sprints`, stale whenever a sprint was renamed or re-dated until the next
rebuild. Readers take velocity and throughput from `completed_points` /
`completed_items` and the sprint's name and dates from `sprints`.
Plain DDL/SQL, so the stream still renders offline; the downgrade refills the
dropped columns from the ones kept.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "t0007"
down_revision: str | None = "t0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE tenant.sprint_metrics "
        "DROP COLUMN IF EXISTS velocity, DROP COLUMN IF EXISTS throughput, "
        "DROP COLUMN IF EXISTS sprint_name, DROP COLUMN IF EXISTS start_date, DROP COLUMN IF EXISTS end_date"
    )


def downgrade() -> None:
    op.execute(
        "ALTER TABLE tenant.sprint_metrics "
        "ADD COLUMN sprint_name varchar(200) NOT NULL DEFAULT '', "
        "ADD COLUMN start_date timestamptz, ADD COLUMN end_date timestamptz, "
        "ADD COLUMN velocity double precision NOT NULL DEFAULT 0, "
        "ADD COLUMN throughput integer NOT NULL DEFAULT 0"
    )
    op.execute(
        "UPDATE tenant.sprint_metrics m SET velocity = m.completed_points, throughput = m.completed_items, "
        "sprint_name = s.name, start_date = s.start_date, end_date = s.end_date "
        "FROM tenant.sprints s WHERE s.id = m.sprint_id"
    )
    op.execute(
        "ALTER TABLE tenant.sprint_metrics ALTER COLUMN sprint_name DROP DEFAULT, "
        "ALTER COLUMN velocity DROP DEFAULT, ALTER COLUMN throughput DROP DEFAULT"
    )
