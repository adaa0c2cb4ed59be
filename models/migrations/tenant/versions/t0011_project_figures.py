"""project_figures: whole-project figures kept by the pipeline (compliance counts, PR health rollup)

Revision ID: t0011
Revises: t0010_deployments_dora
Create Date: 2026-12-05 01:00:00

The compliance and defect-density dashboards count a project's done items by
verdict, and PR health aggregates every PR of the last 180 days with a median
per repository. At 1,000,000 items (800,000 done, 300,000 PRs in the window)
those are 200 ms and 440 ms of scanning on every first read after a data
change. The pipeline now keeps them per project (`etl.project_figures`): the
counts after every compliance evaluation, the PR rollup after every PR load,
reconcile and full metrics rebuild. A partial index of the done items makes the
recount an index-only scan.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "t0011"
down_revision: str | None = "t0010_deployments_dora"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS tenant.project_figures (
            project_id integer PRIMARY KEY,
            done_items integer NOT NULL DEFAULT 0,
            compliant_items integer NOT NULL DEFAULT 0,
            judged_items integer NOT NULL DEFAULT 0,
            compliance_at timestamptz,
            pr_health jsonb,
            pr_window_days integer,
            pr_health_at timestamptz
        )
        """
    )
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_work_items_done_verdict ON tenant.work_items (project_id, dmt_compliant) "
        "WHERE status_category = 'done' AND NOT is_deleted"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS tenant.ix_work_items_done_verdict")
    op.execute("DROP TABLE IF EXISTS tenant.project_figures")
