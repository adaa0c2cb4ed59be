"""`python -m bench compliance --size N`: set-based DMT evaluation against a per-item ORM loop.

Builds a throw-away database with one tenant of N work items and N/3 linked
pull requests (generate_series, inside PostgreSQL), then measures in one run:

* baseline: a per-item ORM loop (load each item, its PRs, exceptions and
  evidence; check the rules in Python; write flags one by one) on a sample
  (default 20,000 items), scaled linearly to N;
* full: the first full set-based evaluation (every item and flag written),
  and a second one with nothing changed;
* incremental: 5,000 items changed, then evaluated by id;
* metrics: full rebuild of 100 sprints (10 projects x 10 sprints).

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from bench._db import bench_database

PROJECTS = 10
SPRINTS_PER_PROJECT = 10
IDENTITIES = 50


def _generate(conn: Any, schema: str, n: int, project_ids: list[int]) -> None:
    s = f'"{schema}"'
    conn.execute(sa.text("SELECT setseed(0.42)"))
    conn.execute(
        sa.text(f"""
        INSERT INTO {s}.developer_identities (display_name, primary_email)
        SELECT 'Dev ' || g, 'dev' || g || '@bench.example' FROM generate_series(1, {IDENTITIES}) g""")
    )
    conn.execute(
        sa.text(f"""
        INSERT INTO {s}.sprints (project_id, name, state, start_date, end_date, complete_date)
        SELECT p.pid, 'Sprint ' || k, 'closed',
               timestamptz '2024-01-01 09:00+00' + (k - 1) * interval '14 days',
               timestamptz '2024-01-01 09:00+00' + k * interval '14 days',
               timestamptz '2024-01-01 09:00+00' + k * interval '14 days'
        FROM unnest(CAST(:pids AS int[])) AS p(pid), generate_series(1, {SPRINTS_PER_PROJECT}) k"""),
        {"pids": project_ids},
    )
    # Items: 70 % done, 15 % in progress, 15 % to do; most DMT fields compliant.
    conn.execute(
        sa.text(f"""
        INSERT INTO {s}.work_items (
            source_id, project_id, source_type, source_item_id, item_key, item_type, title, status,
            status_category, story_points, labels, sprint_id, sprint_name, sprint_history,
            assignee_identity_id, created_at_source, updated_at_source, started_at, done_at, reopened_count,
            is_blocked, blocked_hours, ac_quality, has_unit_test_task, unit_testing_status, coverage_percent,
            pr_links, ci_evidence_url, dmt_signoff, compliance_failures, links, is_deleted,
            first_seen_at, last_synced_at)
        SELECT 1, pids[1 + (g % {PROJECTS})], 'jira', g::text, 'B-' || g,
               CASE WHEN r1 < 0.15 THEN 'bug' WHEN r1 < 0.25 THEN 'task' ELSE 'story' END,
               'Bench item ' || g, 'x',
               CASE WHEN r2 < 0.70 THEN 'done' WHEN r2 < 0.85 THEN 'in_progress' ELSE 'todo' END,
               CASE WHEN r3 < 0.1 THEN NULL ELSE (1 + (g % 8)) END,
               '[]'::jsonb, sp.id, sp.name, jsonb_build_array(sp.name),
               ids[1 + (g % {IDENTITIES})],
               sp.start_date - interval '2 days', sp.start_date + interval '3 days',
               sp.start_date + interval '1 day', sp.start_date + (r4 * interval '13 days'),
               0, false, CASE WHEN r3 > 0.9 THEN 24 * r4 ELSE 0 END,
               CASE WHEN r5 < 0.95 THEN 'testable' ELSE 'missing' END,
               r6 < 0.95,
               CASE WHEN r7 < 0.93 THEN 'done' ELSE 'in_progress' END,
               78 + 22 * r8,
               CASE WHEN g % 3 = 1 OR r9 < 0.95 THEN '["https://github.com/bench/r/pull/1"]'::jsonb
                    ELSE '[]'::jsonb END,
               CASE WHEN r4 < 0.9 THEN 'https://ci.bench/build/' || g END,
               r9 < 0.9, '[]'::jsonb, '[]'::jsonb, false, now(), now()
        FROM (
            SELECT g, random() r1, random() r2, random() r3, random() r4, random() r5, random() r6,
                   random() r7, random() r8, random() r9
            FROM generate_series(1, :n) g
        ) x
        CROSS JOIN (SELECT CAST(:pids AS int[]) AS pids,
                           (SELECT array_agg(id ORDER BY id) FROM {s}.developer_identities) AS ids) c
        JOIN {s}.sprints sp ON sp.project_id = pids[1 + (g % {PROJECTS})]
                          AND sp.name = 'Sprint ' || (1 + (g / {PROJECTS}) % {SPRINTS_PER_PROJECT})
    """),
        {"n": n, "pids": project_ids},
    )
    # One PR per third item, linked to it.
    conn.execute(
        sa.text(f"""
        INSERT INTO {s}.pull_requests (
            source_id, project_id, source_type, source_pr_id, number, repository, title, state, is_draft,
            author_identity_id, created_at_source, updated_at_source, first_review_at, merged_at,
            reviewers, review_count, approvals_count, comments_count, commits_count, ci_status, ci_url,
            dmt_signoff, linked_keys, is_deleted, first_seen_at, last_synced_at)
        SELECT 2, w.project_id, 'github', w.id::text, w.id, 'bench/r', 'PR ' || w.id, 'merged', false,
               w.assignee_identity_id, w.started_at, w.done_at, w.started_at + interval '4 hours',
               w.started_at + interval '1 day',
               jsonb_build_array(jsonb_build_object('login', 'rev', 'identity_id',
                   1 + ((w.assignee_identity_id + 1) % {IDENTITIES}), 'state', 'APPROVED',
                   'submitted_at', w.started_at + interval '4 hours')),
               1, 1, 0, 1, CASE WHEN random() < 0.9 THEN 'success' ELSE 'failure' END,
               'https://ci.bench/pr/' || w.id, random() < 0.8, jsonb_build_array(w.item_key), false, now(), now()
        FROM {s}.work_items w WHERE w.id % 3 = 1""")
    )
    conn.execute(
        sa.text(f"""
        INSERT INTO {s}.work_item_pull_requests (work_item_id, pull_request_id, link_source)
        SELECT p.source_pr_id::bigint, p.id, 'title' FROM {s}.pull_requests p""")
    )
    conn.execute(
        sa.text(f"""
        INSERT INTO {s}.dmt_exceptions (work_item_id, approved_by, reason, expires_at, created_at)
        SELECT id, 'Bench Lead', 'bench', now() + (1 + id % 30) * interval '1 day', now()
        FROM {s}.work_items WHERE id % 200 = 0""")
    )


# ---------------------------------------------------------------- the per-item ORM baseline


def _baseline(slug: str, sample_ids: list[int], thresholds: dict[int, float]) -> float:
    """The naive way: one item at a time through the ORM, flags written one by one."""
    from sqlmodel import select

    from etl.rules import RULES_BY_ID
    from models.base import utcnow
    from models.db import tenant_session
    from models.tenant import (
        ComplianceFlag,
        CoverageEvidence,
        DmtException,
        PullRequest,
        WorkItem,
        WorkItemPullRequest,
    )

    started = time.perf_counter()
    done = 0
    with tenant_session(slug) as session:
        for item_id in sample_ids:
            item = session.get(WorkItem, item_id)
            if item is None or item.is_deleted or item.status_category not in ("done", "in_progress"):
                continue
            now = utcnow()
            prs = session.exec(
                select(PullRequest)
                .join(WorkItemPullRequest, WorkItemPullRequest.pull_request_id == PullRequest.id)
                .where(WorkItemPullRequest.work_item_id == item_id)
            ).all()
            evidence = session.exec(select(CoverageEvidence).where(CoverageEvidence.work_item_id == item_id)).all()
            exceptions = session.exec(
                select(DmtException).where(DmtException.work_item_id == item_id, DmtException.expires_at > now)
            ).all()
            valid = bool(exceptions) or bool(
                item.exception_approved_by and item.exception_expires_at and item.exception_expires_at > now
            )
            covs = [
                c
                for c in [
                    item.coverage_percent,
                    *(p.coverage_percent for p in prs),
                    *(e.coverage_percent for e in evidence),
                ]
                if c is not None
            ]
            coverage = max(covs) if covs else None
            na = item.unit_testing_status == "not_applicable"
            failing = {
                "missing_ac_quality": (item.ac_quality or "missing") != "testable",
                "missing_unit_test_task": not item.has_unit_test_task and not na and not valid,
                "unit_testing_not_done": item.unit_testing_status not in ("done", "not_applicable") and not valid,
                "low_coverage": (coverage is None or coverage < thresholds.get(item.project_id, 80.0))
                and not na
                and not valid,
                "missing_pr_link": not item.pr_links and not prs,
                "missing_ci_evidence": not (
                    item.ci_evidence_url
                    or any(p.ci_status == "success" for p in prs)
                    or any(e.build_url for e in evidence)
                ),
                "missing_dmt_signoff": not (item.dmt_signoff or any(p.dmt_signoff for p in prs)),
                "exception_expiring": False,
            }
            failures = sorted(r for r, bad in failing.items() if bad)
            for rule_id, bad in failing.items():
                flag = session.exec(
                    select(ComplianceFlag).where(
                        ComplianceFlag.work_item_id == item_id, ComplianceFlag.rule_id == rule_id
                    )
                ).first()
                severity = str(RULES_BY_ID[rule_id].severity) if item.status_category == "done" else "info"
                if bad and flag is None:
                    session.add(
                        ComplianceFlag(
                            work_item_id=item_id,
                            project_id=item.project_id,
                            rule_id=rule_id,
                            severity=severity,
                            message=RULES_BY_ID[rule_id].message,
                        )
                    )
                    session.flush()
                elif not bad and flag is not None and flag.status == "open":
                    flag.status, flag.resolution, flag.resolved_at = "resolved", "auto", now
                    session.add(flag)
                    session.flush()
            item.compliance_failures = failures
            item.dmt_compliant = (not failures) if item.status_category == "done" else None
            session.add(item)
            session.flush()
            done += 1
            if done % 100 == 0:
                session.commit()
        session.commit()
    return time.perf_counter() - started


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench compliance")
    parser.add_argument("--size", type=int, default=100_000, help="work items in the tenant")
    parser.add_argument("--sample", type=int, default=20_000, help="items in the ORM-loop baseline sample")
    parser.add_argument("--changed", type=int, default=5_000, help="items changed for the incremental run")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args(argv)

    from models import db as dbmod

    result: dict[str, Any] = {"benchmark": "compliance", "size": args.size}
    with bench_database(keep=args.keep):
        from etl.compliance import evaluate_compliance
        from etl.metrics import rebuild_metrics
        from models.db import public_session, tenant_schema_of, tenant_session
        from models.public import Project
        from services.audit import Actor
        from services.tenants import TenantCreate, create_tenant

        tenant = create_tenant(TenantCreate(name="Bench", slug="bench"), Actor.system("bench"))
        with public_session() as ps:
            projects = [Project(tenant_id=tenant.id, key=f"B{i}", name=f"Bench {i}") for i in range(PROJECTS)]
            ps.add_all(projects)
            ps.commit()
            project_ids = [p.id for p in projects]
            thresholds = {p.id: p.coverage_threshold for p in projects}
        started = time.perf_counter()
        with tenant_session(tenant.slug) as session:
            schema = tenant_schema_of(session)
            _generate(session.connection(), schema, args.size, project_ids)
            session.commit()
        with dbmod.get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f'VACUUM ANALYZE "{schema}".work_items'))
            conn.execute(sa.text(f'VACUUM ANALYZE "{schema}".pull_requests'))
            conn.execute(sa.text(f'VACUUM ANALYZE "{schema}".work_item_pull_requests'))
        result["generate_seconds"] = round(time.perf_counter() - started, 2)
        s = f'"{schema}"'

        # Baseline first, on a sample; then its writes are undone so the set-based run starts clean.
        sample = min(args.sample, args.size)
        with tenant_session(tenant.slug) as session:
            ids = [
                r[0]
                for r in session.connection().execute(
                    sa.text(f"SELECT id FROM {s}.work_items ORDER BY hashint4(id::int) LIMIT :k"), {"k": sample}
                )
            ]
        baseline = _baseline(tenant.slug, ids, thresholds)
        with tenant_session(tenant.slug) as session:
            session.connection().execute(sa.text(f"TRUNCATE {s}.compliance_flags"))
            session.connection().execute(
                sa.text(
                    f"UPDATE {s}.work_items SET dmt_compliant = NULL, compliance_failures = '[]'::jsonb "
                    "WHERE id = ANY(:ids)"
                ),
                {"ids": ids},
            )
            session.commit()
        result["baseline_sample"] = sample
        result["baseline_sample_seconds"] = round(baseline, 2)
        result["baseline_scaled_seconds"] = round(baseline * args.size / max(sample, 1), 1)

        full = evaluate_compliance(tenant.slug)
        result["full_seconds"] = round(full.seconds, 2)
        result["full_opened"] = full.opened
        result["evaluated_items"] = full.evaluated_items
        again = evaluate_compliance(tenant.slug)
        result["full_repeat_seconds"] = round(again.seconds, 2)
        result["repeat_changes"] = again.opened + again.resolved + again.reopened + again.severity_changed
        result["speedup_vs_baseline"] = round(result["baseline_scaled_seconds"] / max(full.seconds, 1e-6), 1)

        changed = min(args.changed, args.size)
        with tenant_session(tenant.slug) as session:
            changed_ids = [
                r[0]
                for r in session.connection().execute(
                    sa.text(
                        f"UPDATE {s}.work_items SET dmt_signoff = NOT coalesce(dmt_signoff, false), "
                        "unit_testing_status = CASE WHEN unit_testing_status = 'done' THEN 'in_progress' ELSE 'done' END, "
                        "updated_at_source = now() "
                        f"WHERE id IN (SELECT id FROM {s}.work_items ORDER BY hashint4(id::int + 7) LIMIT :k) "
                        "RETURNING id"
                    ),
                    {"k": changed},
                )
            ]
            session.commit()
        incremental = evaluate_compliance(tenant.slug, changed_ids)
        result["incremental_items"] = changed
        result["incremental_seconds"] = round(incremental.seconds, 3)
        result["incremental_changes"] = {
            "opened": incremental.opened,
            "resolved": incremental.resolved,
            "reopened": incremental.reopened,
        }

        metrics = rebuild_metrics(tenant.slug)
        result["metrics_sprints"] = metrics.sprints
        result["metrics_developer_rows"] = metrics.developer_rows
        result["metrics_seconds"] = round(metrics.seconds, 2)
        result["at"] = datetime.now(UTC).isoformat(timespec="seconds")
    print(json.dumps(result))
    return 0
