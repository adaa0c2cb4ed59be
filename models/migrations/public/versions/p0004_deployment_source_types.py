"""source_configs accepts the deployment source types github_deployments and azure_pipelines

Revision ID: p0004_deployment_source_types
Revises: p0003
Create Date: 2026-12-11 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "p0004_deployment_source_types"
down_revision: str | None = "p0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WITH_DEPLOYMENTS = "('jira','clickup','azure_boards','github','azure_devops_git','github_deployments','azure_pipelines')"
WITHOUT = "('jira','clickup','azure_boards','github','azure_devops_git')"


def upgrade() -> None:
    op.execute("ALTER TABLE public.source_configs DROP CONSTRAINT IF EXISTS ck_source_configs_type")
    op.execute(
        "ALTER TABLE public.source_configs ADD CONSTRAINT ck_source_configs_type "
        f"CHECK (source_type IN {WITH_DEPLOYMENTS})"
    )


def downgrade() -> None:
    op.execute("DELETE FROM public.source_configs WHERE source_type IN ('github_deployments', 'azure_pipelines')")
    op.execute("ALTER TABLE public.source_configs DROP CONSTRAINT IF EXISTS ck_source_configs_type")
    op.execute(f"ALTER TABLE public.source_configs ADD CONSTRAINT ck_source_configs_type CHECK (source_type IN {WITHOUT})")
