"""`python -m bench dora --size N`: DORA's four keys for a tenant with N deployments and 20·N pull requests.

Builds a throw-away database with one tenant and one project (generate_series,
inside PostgreSQL): N successful production deployments over the last year
(plus N/10 failed attempts and N staging deployments), each shipping 20 merged
PRs through their merge commits and two direct commits, 20·N PRs, N work items
of which N/10 are incidents (label rule) after some deployments, 5 % of the
deployments reverts/hotfixes. Then measures `etl.dora.four_keys` over the whole
year with a monthly trend (the statement behind `GET /api/dora?period=365d`),
the first page of each drill-down list, and the 90-day view; each figure is
the median of `--repeat` runs after one warm-up, in wall time and in the PostgreSQL
backend's CPU time (read from /proc: on a shared machine the wall time includes the wait
for a core). Goal: under 1 s at N = 10,000.

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench._db import bench_database

PRS_PER_DEPLOYMENT = 20


def _generate(conn: Any, schema: str, n: int, project_id: int, jira_id: int, now: datetime) -> None:
    s = f'"{schema}"'
    params = {"p": project_id, "now": now, "n": n, "jira": jira_id}
    conn.execute(sa.text("SELECT setseed(0.18)"))
    # Production deployments, evenly over the year; every 20th ships a revert or hotfix.
    conn.execute(
        sa.text(f"""
        INSERT INTO {s}.deployments (source_id, project_id, source_type, source_deployment_id, kind, name, repository,
            environment, status, commit_sha, ref, started_at, finished_at, created_at_source, updated_at_source,
            previous_sha, changes_count, is_revert, is_deleted, first_seen_at, last_synced_at)
        SELECT 3, :p, 'github_deployments', 'prod-' || g, 'deployment', 'deploy', 'bench/web', 'production', 'success',
               md5('head' || g), 'main', t - interval '8 minutes', t, t - interval '9 minutes', t,
               md5('head' || (g - 1)), {PRS_PER_DEPLOYMENT + 2}, g % 20 = 0, false, now(), now()
        FROM generate_series(1, :n) g,
             LATERAL (SELECT :now - interval '365 days' + (g - 0.5) * (interval '365 days' / :n) AS t) x"""),
        params,
    )
    # Failed attempts and staging deployments: read past by every statement, never counted.
    conn.execute(
        sa.text(f"""
        INSERT INTO {s}.deployments (source_id, project_id, source_type, source_deployment_id, kind, name, repository,
            environment, status, commit_sha, started_at, finished_at, changes_count, is_revert, is_deleted,
            first_seen_at, last_synced_at)
        SELECT 3, :p, 'github_deployments', e || '-' || g, 'deployment', 'deploy', 'bench/web',
               CASE WHEN e = 'fail' THEN 'production' ELSE 'staging' END,
               CASE WHEN e = 'fail' THEN 'failure' ELSE 'success' END, md5(e || g), t, t + interval '5 minutes',
               0, false, false, now(), now()
        FROM (VALUES ('fail', 10), ('stage', 1)) v(e, every), generate_series(1, :n) g,
             LATERAL (SELECT :now - interval '365 days' + (g - 0.7) * (interval '365 days' / :n) AS t) x
        WHERE g % every = 0"""),
        params,
    )
    # Each production deployment's commits: 20 merge commits and 2 direct pushes.
    conn.execute(
        sa.text(f"""
        INSERT INTO {s}.deployment_changes (deployment_id, sha, authored_at, author_login, message)
        SELECT d.id, CASE WHEN k <= {PRS_PER_DEPLOYMENT} THEN md5('merge' || d.id || '-' || k) ELSE md5('push' || d.id || '-' || k) END,
               d.finished_at - k * interval '30 minutes', 'dev' || (k % 12),
               CASE WHEN k <= {PRS_PER_DEPLOYMENT} THEN 'Merge pull request' ELSE 'Tweak config' END
        FROM {s}.deployments d, generate_series(1, {PRS_PER_DEPLOYMENT + 2}) k
        WHERE d.environment = 'production' AND d.status = 'success'"""),
    )
    # 20 PRs per deployment, merged through those merge commits; lead times from an hour to two weeks.
    conn.execute(
        sa.text(f"""
        INSERT INTO {s}.pull_requests (source_id, project_id, source_type, source_pr_id, number, repository, title,
            state, is_draft, created_at_source, updated_at_source, merged_at, reviewers, review_count,
            approvals_count, comments_count, commits_count, dmt_signoff, linked_keys, merge_commit_sha,
            first_commit_at, is_deleted, first_seen_at, last_synced_at)
        SELECT 2, :p, 'github', d.id || '-' || k, d.id * 100 + k, 'bench/web', 'PR ' || k, 'merged', false,
               d.finished_at - f, d.finished_at - interval '20 minutes', d.finished_at - interval '20 minutes',
               '[]'::jsonb, 1, 1, 0, 3, true, '[]'::jsonb, md5('merge' || d.id || '-' || k),
               d.finished_at - f - interval '2 hours', false, now(), now()
        FROM {s}.deployments d, generate_series(1, {PRS_PER_DEPLOYMENT}) k,
             LATERAL (SELECT interval '1 hour' * (1 + random() * 335) AS f) x
        WHERE d.environment = 'production' AND d.status = 'success'"""),
        params,
    )
    # Work items: one per deployment; every tenth an incident a few hours after its deployment.
    conn.execute(
        sa.text(f"""
        INSERT INTO {s}.work_items (source_id, project_id, source_type, source_item_id, item_key, item_type, title,
            status, status_category, labels, sprint_history, created_at_source, updated_at_source, done_at,
            reopened_count, is_blocked, blocked_hours, pr_links, compliance_failures, links, is_deleted,
            first_seen_at, last_synced_at)
        SELECT :jira, :p, 'jira', 'w' || d.id, 'WEB-' || d.id, 'bug', 'Item ' || d.id, 'Done', 'done',
               CASE WHEN d.id % 10 = 0 THEN '["incident"]'::jsonb ELSE '["backend"]'::jsonb END, '[]'::jsonb,
               d.finished_at + o, d.finished_at + o + r, d.finished_at + o + r, 0, false, 0, '[]'::jsonb,
               '[]'::jsonb, '[]'::jsonb, false, now(), now()
        FROM {s}.deployments d,
             LATERAL (SELECT interval '1 hour' * (1 + random() * 30) AS o, interval '1 hour' * (0.5 + random() * 20) AS r) x
        WHERE d.environment = 'production' AND d.status = 'success'"""),
        params,
    )


def _backend_cpu(session: Any) -> float | None:
    """CPU seconds the session's PostgreSQL backend has used (None when its /proc entry cannot be read).

    On a machine others share, wall time measures the queue for the cores as much as the work;
    the server's CPU time for the statement does not.
    """
    pid = session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _timed(fn: Any, repeat: int) -> tuple[float, float | None, Any]:
    """(median wall seconds, median server CPU seconds, last result) of `repeat` runs after a warm-up."""
    fn()  # warm-up: plans and pages cached, as for any read after the first
    times, cpus, result = [], [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result, cpu = fn()
        times.append(time.perf_counter() - started)
        if cpu is not None:
            cpus.append(cpu)
    return statistics.median(times), (statistics.median(cpus) if cpus else None), result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench dora")
    parser.add_argument("--size", type=int, default=10_000, help="production deployments (PRs: 20 per deployment)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure (median)")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args(argv)

    from models import db as dbmod

    result: dict[str, Any] = {"benchmark": "dora", "size": args.size, "pull_requests": args.size * PRS_PER_DEPLOYMENT}
    with bench_database(keep=args.keep):
        from etl import dora
        from models.db import public_session, tenant_schema_of, tenant_session
        from models.public import Project, SourceConfig
        from services.audit import Actor
        from services.tenants import TenantCreate, create_tenant

        tenant = create_tenant(TenantCreate(name="Bench", slug="bench"), Actor.system("bench"))
        with public_session() as ps:
            project = Project(tenant_id=tenant.id, key="WEB", name="Web")
            ps.add(project)
            ps.flush()
            jira = SourceConfig(
                tenant_id=tenant.id, project_id=project.id or 0, name="Jira", source_type="jira",
                base_url="https://bench.atlassian.net",
                field_mappings={"incident": {"field": "label", "values": {"incident": True}}},
            )  # fmt: skip
            ps.add(jira)
            ps.commit()
            project_id, jira_id = project.id or 0, jira.id or 0
        now = datetime.now(UTC).replace(microsecond=0)
        started = time.perf_counter()
        with tenant_session(tenant.slug) as session:
            schema = tenant_schema_of(session)
            _generate(session.connection(), schema, args.size, project_id, jira_id, now)
            session.commit()
        with dbmod.get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("deployments", "deployment_changes", "pull_requests", "work_items"):
                conn.execute(sa.text(f'VACUUM ANALYZE "{schema}".{table}'))
        result["generate_seconds"] = round(time.perf_counter() - started, 2)

        rules = tuple(dora.incident_rules(project_id))
        year = dora.Scope(project_id, "production", now - timedelta(days=365), now, rules)
        quarter = dora.Scope(project_id, "production", now - timedelta(days=90), now, rules)

        def measured(read: Any) -> tuple[Any, float | None]:
            with tenant_session(tenant.slug) as session:
                before = _backend_cpu(session)
                found = read(session)
                after = _backend_cpu(session)
            return found, (after - before if before is not None and after is not None else None)

        def record(name: str, read: Any) -> Any:
            wall, cpu, found = _timed(lambda: measured(read), args.repeat)
            result[f"{name}_seconds"] = round(wall, 3)
            result[f"{name}_server_cpu_seconds"] = round(cpu, 3) if cpu is not None else None
            return found

        figures = record("four_keys_365d", lambda s: dora.four_keys(s, year, "month"))
        record("four_keys_90d", lambda s: dora.four_keys(s, quarter, "week"))
        record("deployments_page", lambda s: dora.deployment_rows(s, year, limit=50))
        record("incidents_page", lambda s: dora.incident_rows(s, year, limit=50))
        total = figures.total
        result["figures_365d"] = {
            "deployments": total.deployments,
            "per_day": round(total.deployments_per_day, 2),
            "prs_shipped": total.changes,
            "lead_time_median_hours": round(total.lead_time_median_hours or 0, 1),
            "change_failure_rate": round(total.change_failure_rate or 0, 1),
            "incidents": total.incidents,
            "restore_median_hours": round(total.restore_median_hours or 0, 1),
            "bands": total.bands(),
        }
        result["goal_met"] = result["four_keys_365d_seconds"] < 1.0
        result["load_average"] = os.getloadavg()[0]
        result["at"] = datetime.now(UTC).isoformat(timespec="seconds")
    print(json.dumps(result))
    return 0
