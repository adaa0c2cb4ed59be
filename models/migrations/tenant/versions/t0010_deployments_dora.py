"""deployments and the commits they shipped, for DORA's four keys; PRs keep their merge commit and first commit

Revision ID: t0010_deployments_dora
Revises: t0009
Create Date: 2026-12-11 09:00:00

`deployments` holds what the deployment sources (github_deployments,
azure_pipelines) load: one row per deployment, workflow run, pipeline run or
environment deployment record, keyed like the other synced tables on (source,
id at the source). `deployment_changes` lists the commits a deployment shipped
(those between it and the previous successful deployment to the same
environment). A PR is shipped by the deployment whose changes hold its merge
commit: `pull_requests.merge_commit_sha` (partial index), and
`first_commit_at` starts its lead time. `sync_runs` counts deployments like
items and PRs. Plain DDL, so the stream still renders offline.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "t0010_deployments_dora"
down_revision: str | None = "t0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS tenant.deployments (
            id serial PRIMARY KEY,
            source_id integer NOT NULL,
            project_id integer NOT NULL,
            source_type varchar(30) NOT NULL,
            source_deployment_id varchar(100) NOT NULL,
            kind varchar(20) NOT NULL DEFAULT 'deployment',
            name varchar(300) NOT NULL DEFAULT '',
            repository varchar(300) NOT NULL DEFAULT '',
            environment varchar(200) NOT NULL DEFAULT 'production',
            status varchar(20) NOT NULL DEFAULT 'in_progress',
            commit_sha varchar(64),
            ref varchar(500),
            url varchar(1000),
            creator_login varchar(200),
            created_at_source timestamptz,
            started_at timestamptz,
            finished_at timestamptz,
            updated_at_source timestamptz,
            previous_sha varchar(64),
            changes_count integer NOT NULL DEFAULT 0,
            is_revert boolean NOT NULL DEFAULT false,
            raw_data jsonb,
            is_deleted boolean NOT NULL DEFAULT false,
            deleted_at timestamptz,
            first_seen_at timestamptz NOT NULL DEFAULT now(),
            last_synced_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT uq_deployments_source_deployment UNIQUE (source_id, source_deployment_id)
        )"""
    )
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_deployments_project_finished ON tenant.deployments (project_id, finished_at)"
    )
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS tenant.deployment_changes (
            id serial PRIMARY KEY,
            deployment_id integer NOT NULL REFERENCES tenant.deployments (id) ON DELETE CASCADE,
            sha varchar(64) NOT NULL,
            authored_at timestamptz,
            author_login varchar(200),
            message varchar(1000) NOT NULL DEFAULT '',
            CONSTRAINT uq_deployment_changes_deployment_sha UNIQUE (deployment_id, sha)
        )"""
    )
    op.execute("CREATE INDEX IF NOT EXISTS ix_deployment_changes_sha ON tenant.deployment_changes (sha)")
    op.execute(
        "ALTER TABLE tenant.pull_requests "
        "ADD COLUMN IF NOT EXISTS merge_commit_sha varchar(64), "
        "ADD COLUMN IF NOT EXISTS first_commit_at timestamptz"
    )
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_pull_requests_merge_commit ON tenant.pull_requests (merge_commit_sha) "
        "WHERE merge_commit_sha IS NOT NULL"
    )
    op.execute(
        "ALTER TABLE tenant.sync_runs "
        "ADD COLUMN IF NOT EXISTS deployments_fetched integer NOT NULL DEFAULT 0, "
        "ADD COLUMN IF NOT EXISTS deployments_upserted integer NOT NULL DEFAULT 0"
    )
    op.execute(
        """
        DO $$
        BEGIN
            ALTER TABLE tenant.deployments ALTER COLUMN raw_data SET COMPRESSION lz4;
        EXCEPTION WHEN feature_not_supported THEN
            RAISE NOTICE 'this PostgreSQL has no lz4: raw payloads stay compressed with pglz';
        END
        $$"""
    )


def downgrade() -> None:
    op.execute("ALTER TABLE tenant.sync_runs DROP COLUMN IF EXISTS deployments_fetched, DROP COLUMN IF EXISTS deployments_upserted")
    op.execute("DROP INDEX IF EXISTS tenant.ix_pull_requests_merge_commit")
    op.execute("ALTER TABLE tenant.pull_requests DROP COLUMN IF EXISTS merge_commit_sha, DROP COLUMN IF EXISTS first_commit_at")
    op.execute("DROP TABLE IF EXISTS tenant.deployment_changes")
    op.execute("DROP TABLE IF EXISTS tenant.deployments")
