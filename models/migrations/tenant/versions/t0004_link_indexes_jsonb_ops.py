"""PR-link GIN indexes use jsonb_ops, so one scan finds the rows naming any of a batch's keys

Revision ID: t0004
Revises: t0003
Create Date: 2026-11-26 07:20:00

Linking a batch of 1,000 work items to the pull requests that name their keys
(and a batch of PRs to the items listing their URLs) asks the GIN index of
`pull_requests.linked_keys` (`work_items.pr_links`) for rows containing any
of 1,000 strings. With `jsonb_path_ops` that was `@> ANY(...)`: one index
scan per string, 16-18 ms per 1,000 keys. With `jsonb_ops` the `?|` operator
looks all of them up in a single scan: 2.6 ms, measured on 20,000 PRs. The
indexes are rebuilt; nothing else reads them.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "t0004"
down_revision: str | None = "t0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (("ix_pull_requests_linked_keys", "pull_requests", "linked_keys"), ("ix_work_items_pr_links", "work_items", "pr_links"))


def _rebuild(opclass: str) -> None:
    for name, table, column in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS tenant.{name}")
        op.execute(f"CREATE INDEX {name} ON tenant.{table} USING gin ({column} {opclass}) WITH (fastupdate = off)")


def upgrade() -> None:
    _rebuild("jsonb_ops")


def downgrade() -> None:
    _rebuild("jsonb_path_ops")
