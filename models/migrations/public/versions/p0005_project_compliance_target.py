"""projects.compliance_target: each project's DMT compliance target in percent (0 < x <= 100, default 90)

Revision ID: p0005_project_compliance_target
Revises: p0004_deployment_source_types
Create Date: 2026-12-14 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "p0005_project_compliance_target"
down_revision: str | None = "p0004_deployment_source_types"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The server default fills existing projects with the target every project had before (90 %).
    op.add_column(
        "projects",
        sa.Column("compliance_target", sa.Float(), server_default=sa.text("90"), nullable=False),
        schema="public",
    )
    op.create_check_constraint(
        "ck_projects_compliance_target",
        "projects",
        "compliance_target > 0 AND compliance_target <= 100",
        schema="public",
    )


def downgrade() -> None:
    op.drop_constraint("ck_projects_compliance_target", "projects", schema="public", type_="check")
    op.drop_column("projects", "compliance_target", schema="public")
