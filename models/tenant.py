"""Tenant data-plane tables, declared once in the placeholder schema `tenant`.

At run time `models.db.tenant_session(tenant)` maps the placeholder to the
tenant's real schema (`tenant_<slug>`) with SQLAlchemy's schema_translate_map.
The placeholder schema never exists in the database, so a query on these
tables outside a tenant-scoped session fails loudly.

Cross-references to control-plane rows (project_id, source_id, user_id) are
plain indexed integers, not foreign keys: a tenant schema must be dumpable and
restorable on its own (backup-tenant, retention archives).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.base import json_field, tz_field

TENANT = "tenant"  # placeholder schema, translated per session


class DeveloperIdentity(SQLModel, table=True):
    """One person across tools; aliases map each tool's account to it."""

    __tablename__ = "developer_identities"
    __table_args__ = {"schema": TENANT}

    id: int | None = Field(default=None, primary_key=True)
    display_name: str = Field(max_length=200)
    primary_email: str | None = Field(default=None, max_length=320, index=True)
    user_id: int | None = Field(default=None, index=True)  # public.users.id when the person can sign in
    created_at: datetime = tz_field(nullable=False, default_now=True)


class IdentityAlias(SQLModel, table=True):
    __tablename__ = "identity_aliases"
    __table_args__ = (
        sa.UniqueConstraint("alias_type", "alias_value", name="uq_identity_aliases_type_value"),
        {"schema": TENANT},
    )

    id: int | None = Field(default=None, primary_key=True)
    identity_id: int = Field(foreign_key="tenant.developer_identities.id", index=True)
    # jira_account, clickup_user, azure_identity, github_login, email
    alias_type: str = Field(max_length=30)
    alias_value: str = Field(max_length=320)
    source: str = Field(default="auto", max_length=20)  # auto or manual
    created_at: datetime = tz_field(nullable=False, default_now=True)


class Sprint(SQLModel, table=True):
    __tablename__ = "sprints"
    __table_args__ = (
        sa.UniqueConstraint("project_id", "name", name="uq_sprints_project_name"),
        {"schema": TENANT},
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(index=True)
    source_id: int | None = None
    source_sprint_id: str | None = Field(default=None, max_length=100)
    name: str = Field(max_length=200)
    state: str = Field(default="closed", max_length=20)  # future, active, closed
    goal: str | None = None
    start_date: datetime | None = tz_field()
    end_date: datetime | None = tz_field()
    complete_date: datetime | None = tz_field()


class WorkItem(SQLModel, table=True):
    __tablename__ = "work_items"
    __table_args__ = (
        sa.UniqueConstraint("source_id", "source_item_id", name="uq_work_items_source_item"),
        sa.Index("ix_work_items_project_sprint", "project_id", "sprint_id"),
        sa.Index("ix_work_items_project_status", "project_id", "status_category"),
        sa.Index("ix_work_items_item_key", "item_key"),
        sa.Index("ix_work_items_assignee", "assignee_identity_id"),
        # Items blocked now, in the order the blocked-items list shows them (migration t0008).
        sa.Index(
            "ix_work_items_blocked_now", "project_id", "blocked_since",
            postgresql_where=sa.text("is_blocked AND NOT is_deleted AND status_category <> 'done'"),
        ),
        # PR links by URL (etl/loader.py); fastupdate off keeps probes fast right after bulk loads.
        sa.Index(
            "ix_work_items_pr_links", "pr_links", postgresql_using="gin",
            postgresql_ops={"pr_links": "jsonb_ops"}, postgresql_with={"fastupdate": "off"},
        ),
        # Half of each page kept free so verdict and sync rewrites are HOT updates (migration t0002).
        {"schema": TENANT, "postgresql_with": {"fillfactor": 50}},
    )

    id: int | None = Field(default=None, primary_key=True)
    source_id: int
    project_id: int
    source_type: str = Field(max_length=30)
    source_item_id: str = Field(max_length=100)
    item_key: str | None = Field(default=None, max_length=100)  # PROJ-123, AB#123, CU-abc123
    url: str | None = Field(default=None, max_length=1000)
    item_type: str = Field(default="story", max_length=40)  # story, bug, task, subtask, epic, ...
    title: str = Field(default="", max_length=1000)
    status: str = Field(default="", max_length=100)
    status_category: str = Field(default="todo", max_length=20)  # todo, in_progress, done
    priority: str | None = Field(default=None, max_length=40)
    story_points: float | None = None
    parent_source_id: str | None = Field(default=None, max_length=100)
    labels: list[str] = json_field(list)
    # Sprint: resolved to tenant.sprints; sprint_history lists every sprint the item was in.
    sprint_id: int | None = Field(default=None)  # sprints.id, kept by etl/loader.py (no per-row key: t0006)
    sprint_name: str | None = Field(default=None, max_length=200)
    sprint_history: list[str] = json_field(list)
    # People
    assignee_identity_id: int | None = Field(default=None)  # developer_identities.id, kept by etl/loader.py (t0006)
    assignee_name: str | None = Field(default=None, max_length=200)
    assignee_email: str | None = Field(default=None, max_length=320)
    assignee_account_id: str | None = Field(default=None, max_length=200)
    # Times, all UTC
    created_at_source: datetime | None = tz_field()
    updated_at_source: datetime | None = tz_field()
    started_at: datetime | None = tz_field()
    done_at: datetime | None = tz_field()
    reopened_count: int = Field(default=0)
    # Blocked time
    is_blocked: bool = Field(default=False)
    blocked_since: datetime | None = tz_field()
    blocked_hours: float = Field(default=0.0)
    blocked_reason: str | None = Field(default=None, max_length=500)
    # DMT fields as mapped from the tool's custom fields
    ac_quality: str | None = Field(default=None, max_length=40)  # testable, not_testable, missing
    has_unit_test_task: bool | None = None
    unit_testing_status: str | None = Field(
        default=None, max_length=40
    )  # done, in_progress, not_started, not_applicable
    coverage_percent: float | None = None
    pr_links: list[str] = json_field(list)
    ci_evidence_url: str | None = Field(default=None, max_length=1000)
    dmt_signoff: bool | None = None
    dmt_signoff_by: str | None = Field(default=None, max_length=200)
    exception_approved_by: str | None = Field(default=None, max_length=200)
    exception_reason: str | None = None
    exception_expires_at: datetime | None = tz_field()
    # Compliance result (written by etl/compliance.py)
    dmt_compliant: bool | None = None
    compliance_failures: list[str] = json_field(list)
    compliance_evaluated_at: datetime | None = tz_field()
    links: list[dict[str, Any]] = json_field(list)
    raw_data: dict[str, Any] | None = json_field(None)
    is_deleted: bool = Field(default=False)
    deleted_at: datetime | None = tz_field()
    first_seen_at: datetime = tz_field(nullable=False, default_now=True)
    last_synced_at: datetime = tz_field(nullable=False, default_now=True)


class PullRequest(SQLModel, table=True):
    __tablename__ = "pull_requests"
    __table_args__ = (
        sa.UniqueConstraint("source_id", "source_pr_id", name="uq_pull_requests_source_pr"),
        sa.Index("ix_pull_requests_project_created", "project_id", "created_at_source"),
        sa.Index("ix_pull_requests_author", "author_identity_id"),
        # PR <-> item links by key and URL (etl/loader.py); fastupdate off, see above.
        sa.Index(
            "ix_pull_requests_linked_keys", "linked_keys", postgresql_using="gin",
            postgresql_ops={"linked_keys": "jsonb_ops"}, postgresql_with={"fastupdate": "off"},
        ),
        sa.Index("ix_pull_requests_url", "url"),
        sa.Index(
            "ix_pull_requests_merge_commit", "merge_commit_sha", postgresql_where=sa.text("merge_commit_sha IS NOT NULL")
        ),
        {"schema": TENANT},
    )

    id: int | None = Field(default=None, primary_key=True)
    source_id: int
    project_id: int
    source_type: str = Field(max_length=30)
    source_pr_id: str = Field(max_length=100)
    number: int | None = None
    repository: str = Field(default="", max_length=300)
    title: str = Field(default="", max_length=1000)
    body: str | None = None
    url: str | None = Field(default=None, max_length=1000)
    state: str = Field(default="open", max_length=20)  # open, merged, closed
    is_draft: bool = Field(default=False)
    author_identity_id: int | None = Field(default=None)  # developer_identities.id, kept by etl/loader.py (t0006)
    author_login: str | None = Field(default=None, max_length=200)
    author_email: str | None = Field(default=None, max_length=320)
    source_branch: str | None = Field(default=None, max_length=500)
    target_branch: str | None = Field(default=None, max_length=500)
    created_at_source: datetime | None = tz_field()
    updated_at_source: datetime | None = tz_field()
    first_review_at: datetime | None = tz_field()
    approved_at: datetime | None = tz_field()
    merged_at: datetime | None = tz_field()
    closed_at: datetime | None = tz_field()
    # [{"login": "...", "identity_id": null, "state": "APPROVED", "submitted_at": "..."}]
    reviewers: list[dict[str, Any]] = json_field(list)
    review_count: int = Field(default=0)
    approvals_count: int = Field(default=0)
    comments_count: int = Field(default=0)
    commits_count: int = Field(default=0)
    additions: int | None = None
    deletions: int | None = None
    ci_status: str | None = Field(default=None, max_length=20)  # success, failure, pending
    ci_url: str | None = Field(default=None, max_length=1000)
    coverage_percent: float | None = None
    dmt_signoff: bool = Field(default=False)
    dmt_signoff_by: str | None = Field(default=None, max_length=200)
    linked_keys: list[str] = json_field(list)  # work item keys found in title/branch/body or tool links
    # The commit the merge put on the target branch: deployments ship it (deployment_changes.sha, t0010).
    merge_commit_sha: str | None = Field(default=None, max_length=64)
    first_commit_at: datetime | None = tz_field()  # the PR's earliest commit (lead time for changes)
    raw_data: dict[str, Any] | None = json_field(None)
    is_deleted: bool = Field(default=False)
    deleted_at: datetime | None = tz_field()
    first_seen_at: datetime = tz_field(nullable=False, default_now=True)
    last_synced_at: datetime = tz_field(nullable=False, default_now=True)


class Deployment(SQLModel, table=True):
    """A deployment to an environment (GitHub deployment or workflow run, Azure Pipelines run or record)."""

    __tablename__ = "deployments"
    __table_args__ = (
        sa.UniqueConstraint("source_id", "source_deployment_id", name="uq_deployments_source_deployment"),
        sa.Index("ix_deployments_project_finished", "project_id", "finished_at"),
        {"schema": TENANT},
    )

    id: int | None = Field(default=None, primary_key=True)
    source_id: int
    project_id: int
    source_type: str = Field(max_length=30)
    source_deployment_id: str = Field(max_length=100)
    kind: str = Field(default="deployment", max_length=20)  # deployment, workflow_run, pipeline_run, record
    name: str = Field(default="", max_length=300)  # workflow / pipeline / task name
    repository: str = Field(default="", max_length=300)
    environment: str = Field(default="production", max_length=200)
    status: str = Field(default="in_progress", max_length=20)  # success, failure, cancelled, in_progress
    commit_sha: str | None = Field(default=None, max_length=64)
    ref: str | None = Field(default=None, max_length=500)
    url: str | None = Field(default=None, max_length=1000)
    creator_login: str | None = Field(default=None, max_length=200)
    created_at_source: datetime | None = tz_field()
    started_at: datetime | None = tz_field()
    finished_at: datetime | None = tz_field()  # when it succeeded or failed (deployed at, for a success)
    updated_at_source: datetime | None = tz_field()
    previous_sha: str | None = Field(default=None, max_length=64)  # the last successful deployment's commit
    changes_count: int = Field(default=0)
    is_revert: bool = Field(default=False)  # shipped a revert or hotfix (change failure rate)
    raw_data: dict[str, Any] | None = json_field(None)
    is_deleted: bool = Field(default=False)
    deleted_at: datetime | None = tz_field()
    first_seen_at: datetime = tz_field(nullable=False, default_now=True)
    last_synced_at: datetime = tz_field(nullable=False, default_now=True)


class DeploymentChange(SQLModel, table=True):
    """A commit a deployment shipped (between it and the previous successful deployment to its environment)."""

    __tablename__ = "deployment_changes"
    __table_args__ = (
        sa.UniqueConstraint("deployment_id", "sha", name="uq_deployment_changes_deployment_sha"),
        sa.Index("ix_deployment_changes_sha", "sha"),
        {"schema": TENANT},
    )

    id: int | None = Field(default=None, primary_key=True)
    deployment_id: int = Field(foreign_key="tenant.deployments.id", ondelete="CASCADE")
    sha: str = Field(max_length=64)
    authored_at: datetime | None = tz_field()
    author_login: str | None = Field(default=None, max_length=200)
    message: str = Field(default="", max_length=1000)


class WorkItemPullRequest(SQLModel, table=True):
    __tablename__ = "work_item_pull_requests"
    __table_args__ = (
        sa.UniqueConstraint("work_item_id", "pull_request_id", name="uq_wipr_item_pr"),
        {"schema": TENANT},
    )

    id: int | None = Field(default=None, primary_key=True)
    work_item_id: int = Field(foreign_key="tenant.work_items.id", index=True, ondelete="CASCADE")
    pull_request_id: int = Field(foreign_key="tenant.pull_requests.id", index=True, ondelete="CASCADE")
    link_source: str = Field(default="title", max_length=20)  # title, branch, body, tool


class DmtException(SQLModel, table=True):
    """A DMT exception for one work item: the rules it covers, why, and until when.

    Workflow (services/exceptions.py): a developer or tech lead requests it
    (status `requested`); a tech lead or project manager other than the
    requester approves or rejects it with a note; an approved exception can be
    revoked, and lapses at `expires_at` (the worker marks it `expired`). Only an
    approved, unrevoked, unexpired exception covers its rules in the evaluation.
    """

    __tablename__ = "dmt_exceptions"
    __table_args__ = (sa.Index("ix_dmt_exceptions_status_expires", "status", "expires_at"), {"schema": TENANT})

    id: int | None = Field(default=None, primary_key=True)
    work_item_id: int = Field(foreign_key="tenant.work_items.id", index=True, ondelete="CASCADE")
    #: requested, approved, rejected, revoked, expired
    status: str = Field(default="approved", max_length=20, sa_column_kwargs={"server_default": "approved"})
    #: The rule ids the exception covers (a subset of etl.rules.EXCUSABLE_RULES).
    rules: list[str] = Field(
        default_factory=list,
        sa_column=sa.Column(
            JSONB,
            nullable=False,
            server_default=sa.text(
                "'[\"missing_unit_test_task\", \"unit_testing_not_done\", \"low_coverage\"]'::jsonb"
            ),
        ),
    )
    reason: str
    expires_at: datetime = tz_field(nullable=False)
    requested_by: str | None = Field(default=None, max_length=320)
    requested_by_user_id: int | None = None
    #: When requested (or recorded, for an exception approved directly).
    created_at: datetime = tz_field(nullable=False, default_now=True)
    #: The named person who approved it (None while requested, and for a rejected request).
    approved_by: str | None = Field(default=None, max_length=200)
    approved_by_user_id: int | None = None
    rejected_by: str | None = Field(default=None, max_length=320)
    rejected_by_user_id: int | None = None
    #: When it was approved or rejected, and the approver's or rejecter's note.
    decided_at: datetime | None = tz_field()
    decision_note: str | None = None
    revoked_at: datetime | None = tz_field()
    revoked_by: str | None = Field(default=None, max_length=320)
    revoked_by_user_id: int | None = None
    revoke_note: str | None = None
    #: Set once the `exception_expiring` notice went out, and once the worker marked it expired.
    expiring_notified_at: datetime | None = tz_field()
    expired_at: datetime | None = tz_field()


class ComplianceFlag(SQLModel, table=True):
    __tablename__ = "compliance_flags"
    __table_args__ = (
        sa.UniqueConstraint("work_item_id", "rule_id", name="uq_compliance_flags_item_rule"),
        sa.Index("ix_compliance_flags_project_status", "project_id", "status", "severity"),
        {"schema": TENANT},
    )

    id: int | None = Field(default=None, primary_key=True)
    work_item_id: int = Field(foreign_key="tenant.work_items.id", ondelete="CASCADE")
    project_id: int
    rule_id: str = Field(max_length=40)
    severity: str = Field(max_length=20)
    message: str
    status: str = Field(default="open", max_length=20)  # open, resolved
    resolution: str | None = Field(default=None, max_length=20)  # auto, manual
    resolved_by: str | None = Field(default=None, max_length=320)
    resolution_note: str | None = None
    opened_at: datetime = tz_field(nullable=False, default_now=True)
    resolved_at: datetime | None = tz_field()
    reopened_count: int = Field(default=0)
    last_evaluated_at: datetime = tz_field(nullable=False, default_now=True)


class SprintMetrics(SQLModel, table=True):
    __tablename__ = "sprint_metrics"
    __table_args__ = (
        sa.UniqueConstraint("project_id", "sprint_id", name="uq_sprint_metrics_project_sprint"),
        {"schema": TENANT},
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int
    sprint_id: int = Field(foreign_key="tenant.sprints.id", ondelete="CASCADE")
    # The sprint's name and dates are read from `sprints`; velocity is completed_points and
    # throughput completed_items (one column each, migration t0007).
    committed_points: float = 0.0
    completed_points: float = 0.0
    committed_items: int = 0
    completed_items: int = 0
    throughput_by_type: dict[str, Any] = json_field(dict)
    avg_cycle_time_days: float | None = None
    median_cycle_time_days: float | None = None
    avg_lead_time_days: float | None = None
    median_lead_time_days: float | None = None
    blocked_items: int = 0
    blocked_days: float = 0.0
    defects_count: int = 0
    defect_density: float | None = None  # defects per 100 completed points
    prs_opened: int = 0
    prs_merged: int = 0
    avg_time_to_first_review_hours: float | None = None
    pr_review_rate: float | None = None  # share of merged PRs with at least one review
    avg_merge_time_hours: float | None = None
    compliant_items: int = 0
    compliance_rate: float | None = None  # compliant / judged done items
    open_flags: int = 0
    open_critical_flags: int = 0
    computed_at: datetime = tz_field(nullable=False, default_now=True)


class DeveloperMetrics(SQLModel, table=True):
    __tablename__ = "developer_metrics"
    __table_args__ = (
        sa.UniqueConstraint("project_id", "sprint_id", "identity_id", name="uq_developer_metrics_key"),
        {"schema": TENANT},
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int
    sprint_id: int = Field(foreign_key="tenant.sprints.id", ondelete="CASCADE")
    identity_id: int = Field(foreign_key="tenant.developer_identities.id", ondelete="CASCADE")
    items_completed: int = 0
    points_completed: float = 0.0
    avg_cycle_time_days: float | None = None
    blocked_days: float = 0.0
    defects_completed: int = 0
    prs_opened: int = 0
    prs_merged: int = 0
    reviews_given: int = 0
    avg_time_to_first_review_hours: float | None = None
    compliant_items: int = 0
    compliance_rate: float | None = None
    computed_at: datetime = tz_field(nullable=False, default_now=True)


class AIPrediction(SQLModel, table=True):
    """Forecasts and AI insights, stored with the inputs they were made from."""

    __tablename__ = "ai_predictions"
    __table_args__ = (
        sa.Index("ix_ai_predictions_project_kind", "project_id", "kind", "created_at"),
        {"schema": TENANT},
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int
    # forecast_velocity, forecast_backlog, velocity_forecast, developer_risk, team_optimisation, compliance_risk
    kind: str = Field(max_length=40)
    provider: str = Field(default="local", max_length=40)
    model: str | None = Field(default=None, max_length=200)
    title: str = Field(default="", max_length=300)
    summary: str = Field(default="")
    analysis: str = Field(default="")
    actions: list[str] = json_field(list)
    inputs: dict[str, Any] = json_field(dict)
    outputs: dict[str, Any] = json_field(dict)
    confidence: float | None = None
    note: str | None = None  # e.g. "AI provider timed out; written by the local provider"
    rating: int | None = None  # +1 helpful, -1 not helpful
    rating_note: str | None = None
    rated_by: int | None = None
    rated_at: datetime | None = tz_field()
    created_at: datetime = tz_field(nullable=False, default_now=True)


class SyncCursor(SQLModel, table=True):
    __tablename__ = "sync_cursors"
    __table_args__ = (
        sa.UniqueConstraint("source_id", "stream", name="uq_sync_cursors_source_stream"),
        {"schema": TENANT},
    )

    id: int | None = Field(default=None, primary_key=True)
    source_id: int
    stream: str = Field(max_length=30)  # work_items, pull_requests
    updated_since: datetime | None = tz_field()
    state: dict[str, Any] = json_field(dict)  # e.g. ETags per page
    updated_at: datetime = tz_field(nullable=False, default_now=True)


class SyncRun(SQLModel, table=True):
    __tablename__ = "sync_runs"
    __table_args__ = (
        sa.Index("ix_sync_runs_source_started", "source_id", "started_at"),
        {"schema": TENANT},
    )

    id: int | None = Field(default=None, primary_key=True)
    source_id: int
    kind: str = Field(max_length=20)
    status: str = Field(default="queued", max_length=20)
    task_id: str | None = Field(default=None, max_length=100)
    window_start: datetime | None = tz_field()
    window_end: datetime | None = tz_field()
    started_at: datetime = tz_field(nullable=False, default_now=True)
    finished_at: datetime | None = tz_field()
    items_fetched: int = 0
    items_upserted: int = 0
    prs_fetched: int = 0
    prs_upserted: int = 0
    deployments_fetched: int = 0
    deployments_upserted: int = 0
    items_deleted: int = 0
    errors_count: int = 0
    pages: int = 0
    error: str | None = None


class SyncItemError(SQLModel, table=True):
    """A record that could not be normalised or loaded; its raw payload is kept."""

    __tablename__ = "sync_item_errors"
    __table_args__ = {"schema": TENANT}

    id: int | None = Field(default=None, primary_key=True)
    sync_run_id: int = Field(foreign_key="tenant.sync_runs.id", index=True, ondelete="CASCADE")
    source_id: int
    record_type: str = Field(max_length=20)  # work_item, pull_request
    source_record_id: str | None = Field(default=None, max_length=100)
    error: str
    raw_payload: dict[str, Any] | None = json_field(None)
    created_at: datetime = tz_field(nullable=False, default_now=True)


class ExportJob(SQLModel, table=True):
    __tablename__ = "export_jobs"
    __table_args__ = {"schema": TENANT}

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(index=True)
    project_id: int | None = None
    report: str = Field(max_length=30)  # sprint, developer, compliance
    file_format: str = Field(max_length=10)  # csv, xlsx
    params: dict[str, Any] = json_field(dict)
    status: str = Field(default="queued", max_length=20)
    progress: float = 0.0
    file_path: str | None = Field(default=None, max_length=1000)
    rows: int | None = None
    error: str | None = None
    created_at: datetime = tz_field(nullable=False, default_now=True)
    finished_at: datetime | None = tz_field()


class CoverageEvidence(SQLModel, table=True):
    """Coverage and build links posted by CI pipelines (REST API)."""

    __tablename__ = "coverage_evidence"
    __table_args__ = {"schema": TENANT}

    id: int | None = Field(default=None, primary_key=True)
    work_item_id: int | None = Field(default=None, foreign_key="tenant.work_items.id", index=True, ondelete="CASCADE")
    pull_request_id: int | None = Field(
        default=None,
        foreign_key="tenant.pull_requests.id",
        index=True,
        ondelete="CASCADE",
    )
    coverage_percent: float | None = None
    build_url: str | None = Field(default=None, max_length=1000)
    build_status: str | None = Field(default=None, max_length=20)
    commit_sha: str | None = Field(default=None, max_length=64)
    posted_by: str | None = Field(default=None, max_length=200)
    created_at: datetime = tz_field(nullable=False, default_now=True)


class ProjectFigures(SQLModel, table=True):
    """Whole-project figures kept by the pipeline, so a dashboard's first read after a change is a row read.

    Written by `etl.project_figures`: the done items' compliance counts after every
    compliance evaluation, the PR health rollup of the default window after every
    PR load, reconcile and full metrics rebuild (nightly). The dashboards read a
    project's row and compute live only when it has none (migration t0011).
    """

    __tablename__ = "project_figures"
    __table_args__ = {"schema": TENANT}

    project_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    done_items: int = 0
    compliant_items: int = 0
    judged_items: int = 0
    compliance_at: datetime | None = tz_field()
    # The PR health rollup (one row per repository and a total row) of the `pr_window_days` before `pr_health_at`.
    pr_health: list[dict[str, Any]] | None = json_field(None)
    pr_window_days: int | None = None
    pr_health_at: datetime | None = tz_field()
