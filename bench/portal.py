"""`python -m bench portal --size N`: time to load each company page's data for a tenant of N work items.

Builds a throw-away database with one tenant whose main project holds N work
items over 52 two-week sprints (the last one active), 60 developers, N/3 pull
requests in 6 repositories and flags on about a fifth of the done items
(generate_series, inside PostgreSQL), rebuilds the metric read models, then
times the services.dashboards calls each page's state makes (the same calls,
in the same order), as a tech lead. Each page: one warm-up, then the median
of --runs timed loads. It repeats the pages with the read models emptied
("live" fallback: figures aggregated from work_items on the fly).

The last line printed is one JSON object with the figures (milliseconds).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from bench._db import bench_database

SPRINTS = 52
IDENTITIES = 60
REPOS = 6
GOAL_MS = 300.0


def _generate(conn: Any, schema: str, n: int, pid: int, lead_email: str) -> None:
    s = f'"{schema}"'
    conn.execute(sa.text("SELECT setseed(0.42)"))
    conn.execute(
        sa.text(f"""
        INSERT INTO {s}.developer_identities (display_name, primary_email)
        SELECT 'Dev ' || g, CASE WHEN g = 1 THEN :lead ELSE 'dev' || g || '@bench.example' END
        FROM generate_series(1, {IDENTITIES}) g"""),
        {"lead": lead_email},
    )
    conn.execute(
        sa.text(f"""
        INSERT INTO {s}.sprints (project_id, name, state, start_date, end_date, complete_date)
        SELECT :pid, 'Sprint ' || k, CASE WHEN k = {SPRINTS} THEN 'active' ELSE 'closed' END,
               now() - ({SPRINTS} - k) * interval '14 days' - interval '7 days',
               now() - ({SPRINTS} - k) * interval '14 days' + interval '7 days',
               CASE WHEN k < {SPRINTS} THEN now() - ({SPRINTS} - k) * interval '14 days' + interval '7 days' END
        FROM generate_series(1, {SPRINTS}) k"""),
        {"pid": pid},
    )
    conn.execute(
        sa.text(f"""
        INSERT INTO {s}.work_items (
            source_id, project_id, source_type, source_item_id, item_key, url, item_type, title, status,
            status_category, story_points, labels, sprint_id, sprint_name, sprint_history,
            assignee_identity_id, assignee_name, created_at_source, updated_at_source, started_at, done_at,
            reopened_count, is_blocked, blocked_hours, pr_links, dmt_compliant, compliance_failures, links,
            is_deleted, first_seen_at, last_synced_at)
        SELECT 1, :pid, 'jira', g::text, 'B-' || g, 'https://jira.bench/browse/B-' || g,
               CASE WHEN r1 < 0.15 THEN 'bug' WHEN r1 < 0.25 THEN 'task' ELSE 'story' END,
               'Bench item ' || g, 'x', cat,
               CASE WHEN r3 < 0.1 THEN NULL ELSE (1 + (g % 8)) END,
               '[]'::jsonb, sp.id, sp.name, jsonb_build_array(sp.name),
               1 + (g % {IDENTITIES}), 'Dev ' || (1 + (g % {IDENTITIES})),
               sp.start_date - interval '2 days', sp.start_date + interval '3 days',
               sp.start_date + interval '1 day',
               CASE WHEN cat = 'done' THEN sp.start_date + interval '1 day' + (r4 * interval '12 days') END,
               0, r3 > 0.97, CASE WHEN r3 > 0.9 THEN 24 * r4 ELSE 0 END, '[]'::jsonb,
               CASE WHEN cat = 'done' THEN r5 > 0.2 END, '[]'::jsonb, '[]'::jsonb, false, now(), now()
        FROM (
            SELECT g, random() r1, random() r3, random() r4, random() r5,
                   CASE WHEN random() < 0.8 THEN 'done' WHEN random() < 0.5 THEN 'in_progress' ELSE 'todo' END cat,
                   1 + (g % {SPRINTS}) k
            FROM generate_series(1, :n) g
        ) x JOIN {s}.sprints sp ON sp.project_id = :pid AND sp.name = 'Sprint ' || x.k"""),
        {"pid": pid, "n": n},
    )
    conn.execute(
        sa.text(f"""
        INSERT INTO {s}.compliance_flags (work_item_id, project_id, rule_id, severity, message, status,
                                          opened_at, reopened_count, last_evaluated_at)
        SELECT w.id, w.project_id,
               (ARRAY['missing_pr_link','low_coverage','missing_ci_evidence','unit_testing_not_done'])[1 + w.id % 4],
               (ARRAY['critical','high','medium','critical'])[1 + w.id % 4], 'bench flag',
               CASE WHEN w.id % 3 = 0 THEN 'resolved' ELSE 'open' END, w.done_at, 0, now()
        FROM {s}.work_items w WHERE w.dmt_compliant = false"""),
    )
    conn.execute(
        sa.text(f"""
        INSERT INTO {s}.pull_requests (source_id, project_id, source_type, source_pr_id, number, repository,
            title, state, is_draft, author_identity_id, created_at_source, first_review_at, merged_at,
            reviewers, review_count, approvals_count, comments_count, commits_count, dmt_signoff, linked_keys,
            is_deleted, first_seen_at, last_synced_at)
        SELECT 2, :pid, 'github', g::text, g, 'bench/repo-' || (g % {REPOS}), 'PR ' || g,
               CASE WHEN r < 0.85 THEN 'merged' WHEN r < 0.95 THEN 'open' ELSE 'closed' END, false,
               1 + (g % {IDENTITIES}), c,
               CASE WHEN r2 < 0.9 THEN c + r2 * interval '60 hours' END,
               CASE WHEN r < 0.85 THEN c + interval '70 hours' * r END,
               '[]'::jsonb, CASE WHEN r2 < 0.9 THEN 1 ELSE 0 END, 1, 2, 3, false, '[]'::jsonb, false, now(), now()
        FROM (SELECT g, random() r, random() r2, now() - random() * interval '200 days' c
              FROM generate_series(1, :m) g) x"""),
        {"pid": pid, "m": max(1, n // 3)},
    )
    conn.execute(
        sa.text(f"""
        INSERT INTO {s}.ai_predictions (project_id, kind, provider, title, summary, analysis, actions, inputs,
                                        outputs, created_at)
        SELECT :pid, (ARRAY['developer_risk','team_optimisation','compliance_risk'])[1 + g % 3], 'local',
               'Insight ' || g, 'summary', 'analysis', '["act"]'::jsonb, '{{}}'::jsonb, '{{}}'::jsonb,
               now() - g * interval '1 day'
        FROM generate_series(1, 60) g"""),
        {"pid": pid},
    )


def _dashboard(dash: Any, user: Any, pid: int) -> Any:
    with dash.one_page_load():  # as DashboardState does: the sprint figures are read once
        return dash.kpis(user, pid), dash.velocity_series(user, pid)


def _pages(user: Any, pid: int) -> dict[str, Callable[[], Any]]:
    """Each page's data load, as its state does it."""
    from services import dashboards as dash
    from services import exports

    def current_sprint() -> int:
        return dash.sprint_detail(user, pid).sprint.sprint_id

    sprint_id = current_sprint()
    first_dev = dash.developers(user, pid).developers[0].identity_id

    return {
        "dashboard": lambda: _dashboard(dash, user, pid),
        "velocity": lambda: dash.velocity_series(user, pid),
        "throughput": lambda: dash.throughput_series(user, pid),
        "quality": lambda: dash.quality(user, pid),
        "pr_health": lambda: dash.pr_health(user, pid),
        "team_sprint": lambda: dash.sprint_detail(user, pid, None),
        "drill_down": lambda: dash.drill_down(user, pid, sprint_id, "completed"),
        "developers": lambda: (dash.developers(user, pid), dash.developer_detail(user, pid, first_dev)),
        "me": lambda: dash.me(user, pid),
        "compliance": lambda: (
            dash.compliance_overview(user, pid),
            dash.list_flags(user, dash.FlagFilters(project_id=pid)),
            dash.sprint_options(user, pid),
            dash.developer_options(user, pid),
        ),
        "compliance_filtered_page5": lambda: dash.list_flags(
            user, dash.FlagFilters(project_id=pid, severity="critical", status=None, sort="opened_at", page=5)
        ),
        "insights": lambda: dash.insights(user, pid),
        "exports": lambda: (exports.list_exports(user), dash.sprint_options(user, pid)),
    }


def _time_pages(pages: dict[str, Callable[[], Any]], runs: int) -> dict[str, float]:
    out = {}
    for name, load in pages.items():
        load()  # warm-up (plans, caches)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            load()
            times.append((time.perf_counter() - t0) * 1000)
        out[name] = round(statistics.median(times), 1)
        print(f"  {name:<28} {out[name]:8.1f} ms")
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench portal")
    parser.add_argument("--size", type=int, default=100_000, help="work items in the tenant")
    parser.add_argument("--runs", type=int, default=5, help="timed loads per page (median reported)")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args(argv)

    from models import db as dbmod

    result: dict[str, Any] = {"benchmark": "portal", "size": args.size, "runs": args.runs, "goal_ms": GOAL_MS}
    with bench_database(keep=args.keep):
        from etl.metrics import rebuild_metrics
        from models.db import tenant_schema_of, tenant_session
        from models.enums import ProjectRole
        from services.audit import Actor
        from services.auth import authenticate
        from services.projects import ProjectCreate, create_project
        from services.tenants import TenantCreate, create_tenant
        from services.users import UserCreate, create_user, set_project_role

        system = Actor.system("bench")
        tenant = create_tenant(TenantCreate(name="Bench", slug="bench"), system)
        project = create_project(ProjectCreate(tenant_id=tenant.id, key="BENCH", name="Bench"), system)
        email, password = "lead@bench.example", "bench-password-1"
        lead = create_user(UserCreate(email=email, password=password, full_name="Lead", tenant_id=tenant.id), system)
        set_project_role(lead.id or 0, project.id or 0, ProjectRole.TECH_LEAD, system)
        started = time.perf_counter()
        with tenant_session(tenant.slug) as session:
            schema = tenant_schema_of(session)
            _generate(session.connection(), schema, args.size, project.id or 0, email)
            session.commit()
        with dbmod.get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("work_items", "pull_requests", "compliance_flags", "sprints", "ai_predictions"):
                conn.execute(sa.text(f'VACUUM ANALYZE "{schema}".{table}'))
        result["generate_s"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        rebuild_metrics(tenant.slug)
        result["rebuild_metrics_s"] = round(time.perf_counter() - started, 1)
        user = authenticate(email, password)
        pid = project.id or 0

        print(f"pages with the metric read models ({args.size} work items):")
        result["read_model_ms"] = _time_pages(_pages(user, pid), args.runs)
        with tenant_session(tenant.slug) as session:
            session.execute(sa.text(f'DELETE FROM "{schema}".developer_metrics'))
            session.execute(sa.text(f'DELETE FROM "{schema}".sprint_metrics'))
            session.commit()
        print("pages with empty read models (live aggregates over work_items):")
        result["live_ms"] = _time_pages(_pages(user, pid), args.runs)
        worst = max(result["read_model_ms"].values())
        result["worst_read_model_ms"] = worst
        result["worst_live_ms"] = max(result["live_ms"].values())
        result["goal_met"] = worst < GOAL_MS
    print(json.dumps(result))
    return 0
