"""The pipeline's stored project figures equal the live ones, and a write makes them computed live again."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa

from etl.compliance import evaluate_compliance
from etl.connectors.base import NormalizedPullRequest
from etl.loader import load_batch
from etl.metrics import rebuild_metrics
from etl.project_figures import (
    PR_HEALTH_DAYS,
    compliance_counts,
    pr_health_rows,
    refresh_pr_health,
    stored_compliance_counts,
    stored_pr_health,
)
from models.base import utcnow
from models.db import tenant_schema_of, tenant_session
from services import dashboards as dash
from services.auth import CurrentUser
from tests.integration.test_compliance_support import NOW, add_item, add_pr, compliant_fields, make_project


def _lead(tenant, project_id: int) -> CurrentUser:
    return CurrentUser(
        id=0, email="lead@example.com", full_name="Lee", role="company_user", tenant_id=tenant.id,
        tenant_slug=tenant.slug, tenant_name=tenant.name, project_roles={project_id: "tech_lead"},
    )  # fmt: skip


def _stored_counts(slug: str, project_id: int) -> tuple[int, int, int] | None:
    with tenant_session(slug) as session:
        return stored_compliance_counts(session.connection(), tenant_schema_of(session), project_id)


def _live_counts(slug: str, project_id: int) -> tuple[int, int, int]:
    with tenant_session(slug) as session:
        return compliance_counts(session.connection(), tenant_schema_of(session), [project_id])[project_id]


def _pr_record(repository: str, hours_to_review: float | None) -> NormalizedPullRequest:
    created = NOW - timedelta(days=3)
    return {  # type: ignore[typeddict-item]
        "source_pr_id": uuid.uuid4().hex[:10],
        "number": 1,
        "repository": repository,
        "title": "PR",
        "state": "merged",
        "created_at_source": created,
        "first_review_at": created + timedelta(hours=hours_to_review) if hours_to_review is not None else None,
        "merged_at": created + timedelta(hours=30),
        "review_count": 1 if hours_to_review is not None else 0,
    }


def test_every_evaluation_stores_the_compliance_counts_and_a_load_sends_reads_live(make_tenant) -> None:
    tenant = make_tenant("pfc")
    project = make_project(tenant)
    pid = project.id or 0
    good = add_item(tenant.slug, pid, **compliant_fields())
    add_pr(tenant.slug, pid, [good], state="merged", review_count=1, approvals_count=1)
    add_item(tenant.slug, pid, item_type="story")  # done, nothing DMT: not compliant
    add_item(tenant.slug, pid, status_category="in_progress")
    assert _stored_counts(tenant.slug, pid) is None  # nothing stored before the first evaluation

    evaluate_compliance(tenant.slug)
    assert _stored_counts(tenant.slug, pid) == _live_counts(tenant.slug, pid) == (2, 1, 2)
    overview = dash.compliance_overview(_lead(tenant, pid), pid)
    assert overview.compliance_rate == 50.0

    # The loader writes a done item: the stored counts step aside until the next evaluation.
    record = {"source_item_id": "new-1", "item_key": "P-9", "title": "late", "item_type": "story",
              "status": "Done", "status_category": "done", "updated_at_source": NOW}  # fmt: skip
    with tenant_session(tenant.slug) as session:
        load_batch(session, "work_items", [record], source_id=1, project_id=pid, source_type="jira")
        session.commit()
    assert _stored_counts(tenant.slug, pid) is None
    overview = dash.compliance_overview(_lead(tenant, pid), pid)  # counted live: the new item has no verdict yet
    assert (overview.done_items, overview.judged_items, overview.compliance_rate) == (3, 2, 50.0)

    with tenant_session(tenant.slug) as session:
        late = session.execute(sa.text(
            f'SELECT id FROM "{tenant_schema_of(session)}".work_items WHERE source_item_id = \'new-1\''
        )).scalar_one()  # fmt: skip
    evaluate_compliance(tenant.slug, [late])  # a scoped evaluation recounts its items' whole project
    assert _stored_counts(tenant.slug, pid) == _live_counts(tenant.slug, pid) == (3, 1, 3)
    assert dash.quality(_lead(tenant, pid), pid).compliance_rate == round(100 / 3, 1)


def test_the_stored_pr_rollup_equals_the_live_one_and_a_pr_load_sends_reads_live(make_tenant) -> None:
    tenant = make_tenant("pfp")
    project = make_project(tenant)
    pid = project.id or 0
    with tenant_session(tenant.slug) as session:
        records = [_pr_record("org/api", 2), _pr_record("org/api", None), _pr_record("org/web", 30)]
        load_batch(session, "pull_requests", records, source_id=2, project_id=pid, source_type="github")
        session.commit()
    live = dash.pr_health(_lead(tenant, pid), pid)
    assert (live.total, live.merged, [r.repository for r in live.repositories]) == (3, 3, ["org/api", "org/web"])

    with tenant_session(tenant.slug) as session:
        conn, schema = session.connection(), tenant_schema_of(session)
        refresh_pr_health(conn, schema, [pid], utcnow())
        session.commit()
        conn = session.connection()
        stored = stored_pr_health(conn, schema, pid, PR_HEALTH_DAYS)
        assert stored == pr_health_rows(conn, schema, pid, utcnow() - timedelta(days=PR_HEALTH_DAYS))
        assert stored_pr_health(conn, schema, pid, 30) is None  # another window is computed live
    assert dash.pr_health(_lead(tenant, pid), pid) == live

    with tenant_session(tenant.slug) as session:
        load_batch(session, "pull_requests", [_pr_record("org/web", 1)], source_id=2, project_id=pid,
                   source_type="github")  # fmt: skip
        session.commit()
        assert stored_pr_health(session.connection(), tenant_schema_of(session), pid, PR_HEALTH_DAYS) is None
    after = dash.pr_health(_lead(tenant, pid), pid)
    assert after.total == 4 and {r.repository: r.prs for r in after.repositories} == {"org/api": 2, "org/web": 2}


def test_the_full_metrics_rebuild_moves_the_stored_window_on(make_tenant) -> None:
    tenant = make_tenant("pfw")
    project = make_project(tenant)
    pid = project.id or 0
    with tenant_session(tenant.slug) as session:
        load_batch(session, "pull_requests", [_pr_record("org/api", 1)], source_id=2, project_id=pid,
                   source_type="github")  # fmt: skip
        session.commit()
    rebuild_metrics(tenant.slug)
    with tenant_session(tenant.slug) as session:
        schema = tenant_schema_of(session)
        stored = stored_pr_health(session.connection(), schema, pid, PR_HEALTH_DAYS)
        assert stored is not None and stored[-1]["total_row"] and stored[-1]["prs"] == 1
        # The PR ages out of the window (no write since): the nightly rebuild drops it from the rollup.
        session.execute(
            sa.text(f'UPDATE "{schema}".pull_requests SET created_at_source = now() - interval \'200 days\'')
        )
        session.commit()
    rebuild_metrics(tenant.slug)
    assert dash.pr_health(_lead(tenant, pid), pid).total == 0
