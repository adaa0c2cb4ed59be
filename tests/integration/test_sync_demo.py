"""The demo history: realistic, deterministic, loaded through the real load path, idempotent."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from etl.demo import generate_demo_history, load_demo_history
from models.db import public_session, tenant_schema_of, tenant_session
from models.public import Project, SourceConfig

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


def test_generation_is_deterministic_with_the_seed() -> None:
    a, b, c = generate_demo_history(7, now=NOW), generate_demo_history(7, now=NOW), generate_demo_history(8, now=NOW)
    assert a.items == b.items and a.pull_requests == b.pull_requests
    assert a.items != c.items
    assert len(a.sprint_names) == 14 and len(a.items) >= 300 and len(a.pull_requests) >= 200


def test_demo_history_covers_every_dmt_state_and_loads_idempotently(make_tenant) -> None:
    tenant = make_tenant("demo")
    with public_session() as s:
        project = Project(tenant_id=tenant.id, key="DEMO", name="Demo")
        s.add(project)
        s.flush()
        jira = SourceConfig(tenant_id=tenant.id, project_id=project.id, name="Jira", source_type="jira", base_url="https://x.example")
        gh = SourceConfig(tenant_id=tenant.id, project_id=project.id, name="GitHub", source_type="github", base_url="https://api.github.example")
        s.add(jira)
        s.add(gh)
        s.commit()
    summary = load_demo_history(tenant.slug, project.id, jira.id, gh.id, seed=7, now=NOW)
    assert summary.work_items.inserted >= 300 and summary.pull_requests.inserted >= 200
    assert summary.exceptions >= 10

    def q(sql: str) -> object:
        with tenant_session(tenant.slug) as s:
            schema = tenant_schema_of(s)
            return s.execute(sa.text(sql.replace("S.", f'"{schema}".'))).scalar_one()

    assert q("SELECT count(*) FROM S.sprints") == 14
    assert q("SELECT count(DISTINCT state) FROM S.sprints") == 3
    assert q("SELECT count(*) FROM S.work_items WHERE is_blocked") >= 1
    assert q("SELECT count(*) FROM S.work_items WHERE reopened_count > 0") >= 5
    assert q("SELECT count(*) FROM S.work_items WHERE item_type = 'bug' AND status_category = 'done'") >= 20
    assert q("SELECT count(*) FROM S.work_item_pull_requests") >= 200
    assert q("SELECT count(*) FROM S.dmt_exceptions WHERE expires_at < now()") >= 1
    # Each DMT failure kind is present in the data (whatever the compliance engine then says).
    for predicate in (
        "ac_quality <> 'testable'",
        "NOT has_unit_test_task",
        "unit_testing_status IN ('in_progress', 'not_started')",
        "coverage_percent < 75",
        "ci_evidence_url IS NULL AND NOT EXISTS (SELECT 1 FROM S.work_item_pull_requests l WHERE l.work_item_id = w.id)",
        "NOT coalesce(dmt_signoff, false)",
    ):
        assert q(f"SELECT count(*) FROM S.work_items w WHERE status_category = 'done' AND {predicate}") >= 1, predicate
    assert q("SELECT count(*) FROM S.work_items WHERE dmt_compliant") >= 100
    assert q("SELECT count(DISTINCT rule_id) FROM S.compliance_flags") >= 7
    # A second load of the same history changes nothing.
    again = load_demo_history(tenant.slug, project.id, jira.id, gh.id, seed=7, now=NOW)
    assert (again.work_items.inserted, again.work_items.updated, again.pull_requests.updated, again.exceptions) == (0, 0, 0, 0)
