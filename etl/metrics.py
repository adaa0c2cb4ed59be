"""Sprint and developer metrics: read models rebuilt from the normalised tables by SQL.

`rebuild_metrics(tenant, sprint_ids)` runs a few INSERT ... SELECT ... ON
CONFLICT DO UPDATE statements for the touched sprints (or all of them). Every
definition is written out in docs/metrics.md; the SQL below follows it:

* sprint window: [start_date, coalesce(complete_date, end_date)), UTC instants;
* membership: the item's current sprint_id is the sprint, or the sprint's
  name is in the item's sprint_history (items moved between sprints belong to
  every sprint they were in);
* committed: members created at or before the sprint start (and not already
  done before it); completed: members whose status category is done now and
  whose done_at falls inside the window;
* points: an item's story points when 0 <= points <= STORY_POINTS_CEILING (100),
  else 0 (the raw value stays on the item).

This module is the one definition of a sprint's and a developer's figures:
`_sprint_figures_sql` / `_developer_figures_sql` are what the nightly rebuild
stores, and `sprint_figures` / `developer_figures` run the same SQL without
storing, for the dashboards' live fallback on sprints the rebuild has not
reached yet. A sprint's number therefore does not change when the job catches up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session

from core.realtime import publish_event
from etl.project_figures import pr_projects, refresh_pr_health
from models.base import utcnow
from models.db import tenant_schema_of, tenant_session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MetricsResult:
    sprints: int
    developer_rows: int
    seconds: float


class _Timed:
    """Connection wrapper that logs each statement's duration (for tuning big tenants)."""

    def __init__(self, conn: Connection) -> None:
        self.conn, self.steps = conn, []  # type: ignore[var-annotated]

    def execute(self, statement: Any, params: Any = None) -> Any:
        started = time.perf_counter()
        result = self.conn.execute(statement, params)
        text = str(statement).split()
        label = next((w for w in text if w.startswith("_m_") or w.endswith("_metrics")), text[0])
        self.steps.append((label, round(time.perf_counter() - started, 3)))
        return result


#: Up to this many sprints, history membership is probed per sprint instead of expanding every history.
FEW_SPRINTS = 4
#: Story points outside [0, this] are kept as sent but count as 0 in every figure (velocity, committed,
#: completed): -1 or 10^6 is a typing slip, not a size. services.data_quality lists such items.
STORY_POINTS_CEILING = 100


def counted_points(column: str = "story_points") -> str:
    """SQL for the points an item counts with: its story points when 0 <= points <= the ceiling, else 0.

    Every figure that sums points (velocity, burndown, backlog, insights) uses this one expression.
    """
    return f"(CASE WHEN {column} >= 0 AND {column} <= {STORY_POINTS_CEILING} THEN {column} ELSE 0 END)"


def _prepare(
    conn: Any, schema: str, sprint_ids: list[int] | None, *, bugs: bool = True, prs: bool = True, reviews: bool = True
) -> None:
    """Temp tables `_m_*`: the sprints, their member items and, if asked, the bugs, PRs and reviews."""
    s = f'"{schema}"'
    where = "WHERE sp.id = ANY(:ids)" if sprint_ids is not None else ""
    conn.execute(sa.text(f"""
        CREATE TEMP TABLE _m_sprints ON COMMIT DROP AS
        SELECT sp.id, sp.project_id, sp.name, sp.start_date, sp.end_date,
               coalesce(sp.start_date, '-infinity'::timestamptz) AS win_start,
               coalesce(sp.complete_date, sp.end_date, 'infinity'::timestamptz) AS win_end
        FROM {s}.sprints sp {where}
    """), {"ids": sprint_ids or []})
    conn.execute(sa.text("ANALYZE _m_sprints"))
    # Membership: current sprint, or named in the sprint history (moved items count in each sprint).
    # One rule, two plans: many sprints join every expanded history once (the nightly rebuild);
    # a few (the dashboards' live fallback, a drill-down) probe each history for their names.
    if sprint_ids is not None and len(sprint_ids) <= FEW_SPRINTS:
        in_history = f"""
        SELECT s.id, w.id
        FROM _m_sprints s
        JOIN {s}.work_items w ON w.project_id = s.project_id
             AND jsonb_typeof(w.sprint_history) = 'array' AND w.sprint_history ? s.name
        WHERE NOT w.is_deleted"""
    else:
        in_history = f"""
        SELECT s.id, w.id
        FROM {s}.work_items w
        CROSS JOIN LATERAL jsonb_array_elements_text(
            CASE WHEN jsonb_typeof(w.sprint_history) = 'array' THEN w.sprint_history ELSE '[]'::jsonb END
        ) AS h(name)
        JOIN _m_sprints s ON s.project_id = w.project_id AND s.name = h.name
        WHERE NOT w.is_deleted AND w.project_id IN (SELECT project_id FROM _m_sprints)
          AND w.sprint_history <> '[]'::jsonb"""
    conn.execute(sa.text(f"""
        CREATE TEMP TABLE _m_member ON COMMIT DROP AS
        SELECT s.id AS sprint_id, w.id AS item_id
        FROM _m_sprints s JOIN {s}.work_items w ON w.sprint_id = s.id
        WHERE NOT w.is_deleted
        UNION{in_history}
    """))
    conn.execute(sa.text("ANALYZE _m_member"))
    # One row per (sprint, member item) with the derived facts every aggregate needs.
    conn.execute(sa.text(f"""
        CREATE TEMP TABLE _m_items ON COMMIT DROP AS
        SELECT m.sprint_id, s.project_id, w.id AS item_id, w.assignee_identity_id AS identity_id,
               w.item_type,
               {counted_points("w.story_points")} AS points,
               w.dmt_compliant,
               (coalesce(w.created_at_source, s.win_start) <= s.win_start
                AND NOT (w.status_category = 'done' AND w.done_at < s.win_start)) AS committed,
               (w.status_category = 'done' AND w.done_at >= s.win_start AND w.done_at < s.win_end)
                   AS completed,
               CASE WHEN w.started_at IS NOT NULL AND w.done_at >= w.started_at
                    THEN extract(epoch FROM w.done_at - w.started_at) / 86400.0 END AS cycle_days,
               CASE WHEN w.created_at_source IS NOT NULL AND w.done_at >= w.created_at_source
                    THEN extract(epoch FROM w.done_at - w.created_at_source) / 86400.0 END AS lead_days,
               (w.blocked_hours > 0 OR w.is_blocked) AS was_blocked,
               coalesce(w.blocked_hours, 0) / 24.0 AS blocked_days
        FROM _m_member m
        JOIN _m_sprints s ON s.id = m.sprint_id
        JOIN {s}.work_items w ON w.id = m.item_id
    """))
    conn.execute(sa.text("ANALYZE _m_items"))
    if bugs:
        _prepare_bugs(conn, s)
    if prs:
        _prepare_prs(conn, s)
    if reviews:
        _prepare_reviews(conn, s)


def _prepare_bugs(conn: Any, s: str) -> None:
    # Bugs of the sprints' projects, read once (defects are counted by creation time in a window).
    conn.execute(sa.text(f"""
        CREATE TEMP TABLE _m_bugs ON COMMIT DROP AS
        SELECT b.id AS item_id, b.project_id, b.created_at_source FROM {s}.work_items b
        WHERE b.item_type = 'bug' AND NOT b.is_deleted AND b.created_at_source IS NOT NULL
          AND b.project_id IN (SELECT project_id FROM _m_sprints)
    """))
    conn.execute(sa.text("ANALYZE _m_bugs"))


def _prepare_prs(conn: Any, s: str) -> None:
    # PRs of the sprints' projects that were opened or merged inside a sprint window.
    conn.execute(sa.text(f"""
        CREATE TEMP TABLE _m_prs ON COMMIT DROP AS
        SELECT s.id AS sprint_id, p.id AS pr_id, p.author_identity_id AS identity_id,
               (p.created_at_source >= s.win_start AND p.created_at_source < s.win_end) AS opened,
               (p.merged_at >= s.win_start AND p.merged_at < s.win_end) AS merged,
               CASE WHEN p.first_review_at >= p.created_at_source
                    THEN extract(epoch FROM p.first_review_at - p.created_at_source) / 3600.0 END
                   AS first_review_hours,
               CASE WHEN p.merged_at >= p.created_at_source
                    THEN extract(epoch FROM p.merged_at - p.created_at_source) / 3600.0 END AS merge_hours,
               (p.review_count > 0 OR p.first_review_at IS NOT NULL
                OR coalesce(jsonb_array_length(p.reviewers), 0) > 0) AS reviewed
        FROM _m_sprints s
        JOIN {s}.pull_requests p ON p.project_id = s.project_id AND NOT p.is_deleted
        WHERE (p.created_at_source >= s.win_start AND p.created_at_source < s.win_end)
           OR (p.merged_at >= s.win_start AND p.merged_at < s.win_end)
    """))
    conn.execute(sa.text("ANALYZE _m_prs"))


def _prepare_reviews(conn: Any, s: str) -> None:
    # Review submissions from pull_requests.reviewers (each PR's list expanded once), attributed to
    # identities, self-reviews excluded, then placed in the sprint windows of the PR's project.
    conn.execute(sa.text(f"""
        CREATE TEMP TABLE _m_reviews ON COMMIT DROP AS
        WITH reviews AS MATERIALIZED (
            SELECT p.project_id, p.author_identity_id,
                   coalesce(CASE WHEN (e->>'identity_id') ~ '^[0-9]+$' THEN (e->>'identity_id')::int END,
                            (SELECT a.identity_id FROM {s}.identity_aliases a
                             WHERE a.alias_value = e->>'login'
                               AND a.alias_type IN ('github_login', 'azure_identity', 'email')
                             ORDER BY a.id LIMIT 1)) AS identity_id,
                   coalesce(CASE WHEN (e->>'submitted_at') IS NOT NULL
                                 THEN (e->>'submitted_at')::timestamptz END,
                            p.first_review_at, p.created_at_source) AS at
            FROM {s}.pull_requests p
            CROSS JOIN LATERAL jsonb_array_elements(p.reviewers) AS e
            WHERE NOT p.is_deleted AND jsonb_typeof(p.reviewers) = 'array' AND p.reviewers <> '[]'::jsonb
              AND p.project_id IN (SELECT project_id FROM _m_sprints)
        )
        SELECT s.id AS sprint_id, r.identity_id, count(*) AS reviews
        FROM reviews r
        JOIN _m_sprints s ON s.project_id = r.project_id AND r.at >= s.win_start AND r.at < s.win_end
        WHERE r.identity_id IS NOT NULL AND r.identity_id IS DISTINCT FROM r.author_identity_id
        GROUP BY s.id, r.identity_id
    """))
    conn.execute(sa.text("ANALYZE _m_reviews"))


#: sprint_metrics columns holding a sprint's figures, in the order `_sprint_figures_sql` selects them.
SPRINT_FIGURES = (
    "committed_points", "completed_points", "committed_items", "completed_items", "throughput_by_type",
    "avg_cycle_time_days", "median_cycle_time_days", "avg_lead_time_days", "median_lead_time_days",
    "blocked_items", "blocked_days", "defects_count", "defect_density", "prs_opened", "prs_merged",
    "avg_time_to_first_review_hours", "pr_review_rate", "avg_merge_time_hours", "compliant_items",
    "compliance_rate", "open_flags", "open_critical_flags",
)

#: developer_metrics columns holding a developer's figures in a sprint, as `_developer_figures_sql` selects them.
DEVELOPER_FIGURES = (
    "items_completed", "points_completed", "avg_cycle_time_days", "blocked_days", "defects_completed",
    "prs_opened", "prs_merged", "reviews_given", "avg_time_to_first_review_hours", "compliant_items",
    "compliance_rate",
)


def _sprint_figures_sql(schema: str) -> str:
    """The one definition of a sprint's figures: project_id, sprint_id and SPRINT_FIGURES per `_m_sprints` row."""
    s = f'"{schema}"'
    return f"""
    SELECT s.project_id, s.id AS sprint_id,
           coalesce(i.committed_points, 0) AS committed_points,
           coalesce(i.completed_points, 0) AS completed_points,
           coalesce(i.committed_items, 0) AS committed_items,
           coalesce(i.completed_items, 0) AS completed_items,
           coalesce(t.by_type, '{{}}'::jsonb) AS throughput_by_type,
           i.avg_cycle AS avg_cycle_time_days, i.median_cycle AS median_cycle_time_days,
           i.avg_lead AS avg_lead_time_days, i.median_lead AS median_lead_time_days,
           coalesce(i.blocked_items, 0) AS blocked_items, coalesce(i.blocked_days, 0) AS blocked_days,
           coalesce(d.defects, 0) AS defects_count,
           CASE WHEN coalesce(i.completed_points, 0) > 0
                THEN coalesce(d.defects, 0) * 100.0 / i.completed_points END AS defect_density,
           coalesce(pr.opened, 0) AS prs_opened, coalesce(pr.merged, 0) AS prs_merged,
           pr.first_review AS avg_time_to_first_review_hours, pr.review_rate AS pr_review_rate,
           pr.merge_time AS avg_merge_time_hours,
           coalesce(i.compliant, 0) AS compliant_items,
           CASE WHEN i.judged > 0 THEN i.compliant::float8 / i.judged END AS compliance_rate,
           coalesce(f.open_flags, 0) AS open_flags, coalesce(f.open_critical, 0) AS open_critical_flags
    FROM _m_sprints s
    LEFT JOIN (
        SELECT sprint_id,
               sum(points) FILTER (WHERE committed) AS committed_points,
               count(*) FILTER (WHERE committed) AS committed_items,
               sum(points) FILTER (WHERE completed) AS completed_points,
               count(*) FILTER (WHERE completed) AS completed_items,
               avg(cycle_days) FILTER (WHERE completed) AS avg_cycle,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY cycle_days) FILTER (WHERE completed) AS median_cycle,
               avg(lead_days) FILTER (WHERE completed) AS avg_lead,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY lead_days) FILTER (WHERE completed) AS median_lead,
               count(*) FILTER (WHERE was_blocked) AS blocked_items,
               sum(blocked_days) AS blocked_days,
               count(*) FILTER (WHERE completed AND dmt_compliant) AS compliant,
               count(*) FILTER (WHERE completed AND dmt_compliant IS NOT NULL) AS judged
        FROM _m_items GROUP BY sprint_id
    ) i ON i.sprint_id = s.id
    LEFT JOIN (
        SELECT sprint_id, jsonb_object_agg(item_type, n) AS by_type
        FROM (SELECT sprint_id, item_type, count(*) AS n FROM _m_items WHERE completed
              GROUP BY sprint_id, item_type) x
        GROUP BY sprint_id
    ) t ON t.sprint_id = s.id
    LEFT JOIN (
        SELECT s2.id AS sprint_id, count(*) AS defects
        FROM _m_sprints s2
        JOIN _m_bugs b ON b.project_id = s2.project_id
        WHERE b.created_at_source >= s2.win_start AND b.created_at_source < s2.win_end
        GROUP BY s2.id
    ) d ON d.sprint_id = s.id
    LEFT JOIN (
        SELECT sprint_id,
               count(*) FILTER (WHERE opened) AS opened,
               count(*) FILTER (WHERE merged) AS merged,
               avg(first_review_hours) FILTER (WHERE opened) AS first_review,
               avg(reviewed::int) FILTER (WHERE merged) AS review_rate,
               avg(merge_hours) FILTER (WHERE merged) AS merge_time
        FROM _m_prs GROUP BY sprint_id
    ) pr ON pr.sprint_id = s.id
    LEFT JOIN (
        SELECT m.sprint_id, count(*) AS open_flags,
               count(*) FILTER (WHERE fl.severity = 'critical') AS open_critical
        FROM _m_member m JOIN {s}.compliance_flags fl ON fl.work_item_id = m.item_id AND fl.status = 'open'
        GROUP BY m.sprint_id
    ) f ON f.sprint_id = s.id
    """


def _developer_figures_sql(schema: str) -> str:
    """The one definition of a developer's figures: project_id, sprint_id, identity_id and DEVELOPER_FIGURES."""
    s = f'"{schema}"'
    return f"""
    SELECT s.project_id, k.sprint_id, k.identity_id,
           coalesce(i.items, 0) AS items_completed, coalesce(i.points, 0) AS points_completed,
           i.avg_cycle AS avg_cycle_time_days, coalesce(i.blocked_days, 0) AS blocked_days,
           coalesce(i.defects, 0) AS defects_completed, coalesce(pr.opened, 0) AS prs_opened,
           coalesce(pr.merged, 0) AS prs_merged, coalesce(rv.reviews, 0) AS reviews_given,
           pr.first_review AS avg_time_to_first_review_hours, coalesce(i.compliant, 0) AS compliant_items,
           CASE WHEN i.judged > 0 THEN i.compliant::float8 / i.judged END AS compliance_rate
    FROM (
        SELECT sprint_id, identity_id FROM _m_items WHERE identity_id IS NOT NULL
        UNION SELECT sprint_id, identity_id FROM _m_prs WHERE identity_id IS NOT NULL
        UNION SELECT sprint_id, identity_id FROM _m_reviews
    ) k
    JOIN _m_sprints s ON s.id = k.sprint_id
    JOIN {s}.developer_identities di ON di.id = k.identity_id
    LEFT JOIN (
        SELECT sprint_id, identity_id,
               count(*) FILTER (WHERE completed) AS items,
               sum(points) FILTER (WHERE completed) AS points,
               avg(cycle_days) FILTER (WHERE completed) AS avg_cycle,
               sum(blocked_days) AS blocked_days,
               count(*) FILTER (WHERE completed AND item_type = 'bug') AS defects,
               count(*) FILTER (WHERE completed AND dmt_compliant) AS compliant,
               count(*) FILTER (WHERE completed AND dmt_compliant IS NOT NULL) AS judged
        FROM _m_items WHERE identity_id IS NOT NULL GROUP BY sprint_id, identity_id
    ) i ON i.sprint_id = k.sprint_id AND i.identity_id = k.identity_id
    LEFT JOIN (
        SELECT sprint_id, identity_id,
               count(*) FILTER (WHERE opened) AS opened,
               count(*) FILTER (WHERE merged) AS merged,
               avg(first_review_hours) FILTER (WHERE opened) AS first_review
        FROM _m_prs WHERE identity_id IS NOT NULL GROUP BY sprint_id, identity_id
    ) pr ON pr.sprint_id = k.sprint_id AND pr.identity_id = k.identity_id
    LEFT JOIN _m_reviews rv ON rv.sprint_id = k.sprint_id AND rv.identity_id = k.identity_id
    """


def _upsert_sql(table: str, key: tuple[str, ...], figures: tuple[str, ...], select_sql: str) -> str:
    """INSERT the rows of `select_sql` (key columns, then figures) stamped with :now; update on the key."""
    columns = ", ".join(key + figures)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in (*figures, "computed_at"))
    return (
        f"INSERT INTO {table} ({columns}, computed_at) SELECT {columns}, :now FROM ({select_sql}) f "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )


def _sprint_sql(schema: str) -> str:
    key = ("project_id", "sprint_id")
    return _upsert_sql(f'"{schema}".sprint_metrics', key, SPRINT_FIGURES, _sprint_figures_sql(schema))


def _developer_sql(schema: str) -> str:
    key = ("project_id", "sprint_id", "identity_id")
    return _upsert_sql(f'"{schema}".developer_metrics', key, DEVELOPER_FIGURES, _developer_figures_sql(schema))


def rebuild_metrics(tenant_slug: str, sprint_ids: list[int] | None = None) -> MetricsResult:
    """Rebuild SprintMetrics and DeveloperMetrics for `sprint_ids` (None: every sprint)."""
    started = time.perf_counter()
    now = utcnow()
    with tenant_session(tenant_slug) as session:
        schema = tenant_schema_of(session)
        conn = _Timed(session.connection())
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"{schema}:metrics"})
        conn.execute(sa.text("SET LOCAL work_mem = '256MB'"))
        conn.execute(sa.text("SET LOCAL jit = off"))
        _prepare(conn, schema, sprint_ids)
        sprints = conn.execute(sa.text(_sprint_sql(schema)), {"now": now}).rowcount
        developers = conn.execute(sa.text(_developer_sql(schema)), {"now": now}).rowcount
        # Developers who no longer appear in a rebuilt sprint lose their stale row.
        conn.execute(sa.text(
            f'DELETE FROM "{schema}".developer_metrics d USING _m_sprints s '
            "WHERE d.sprint_id = s.id AND d.computed_at <> :now"
        ), {"now": now})
        if sprint_ids is None:  # the full (nightly) rebuild also moves the stored PR health's window on
            refresh_pr_health(conn, schema, pr_projects(conn, schema), now)
        session.commit()
    log.info("metrics %s steps: %s", tenant_slug, conn.steps)
    result = MetricsResult(int(sprints), int(developers), round(time.perf_counter() - started, 3))
    publish_event("metrics.rebuilt", tenant_slug, sprint_ids=sprint_ids, **asdict(result))
    log.info("metrics %s: %s", tenant_slug, result)
    return result


@contextmanager
def _figure_tables(session: Session, sprint_ids: list[int], **tables: bool) -> Iterator[tuple[Connection, str]]:
    """The `_m_*` tables of `sprint_ids` inside a savepoint that is rolled back afterwards (nothing is stored)."""
    schema = tenant_schema_of(session)
    savepoint = session.begin_nested()
    try:
        conn = session.connection()  # taken inside the savepoint, so its temp tables go with it
        _prepare(conn, schema, sprint_ids, **tables)
        yield conn, schema
    finally:
        savepoint.rollback()


def sprint_figures(session: Session, sprint_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The figures `rebuild_metrics` stores for these sprints, computed now without storing them.

    Same SQL as the nightly rebuild, so a sprint read live shows the numbers the
    read model will hold. Keys: `sprint_id` -> {project_id, sprint_id, *SPRINT_FIGURES}.
    """
    if not sprint_ids:
        return {}
    with _figure_tables(session, sprint_ids, reviews=False) as (conn, schema):
        rows = conn.execute(sa.text(_sprint_figures_sql(schema))).mappings().all()
    return {int(r["sprint_id"]): _as_stored(r) for r in rows}


def developer_figures(session: Session, sprint_ids: list[int]) -> list[dict[str, Any]]:
    """The developer rows `rebuild_metrics` stores for these sprints, computed now without storing them.

    Each row: {project_id, sprint_id, identity_id, *DEVELOPER_FIGURES}.
    """
    if not sprint_ids:
        return []
    with _figure_tables(session, sprint_ids, reviews=True) as (conn, schema):
        rows = conn.execute(sa.text(_developer_figures_sql(schema))).mappings().all()
    return [_as_stored(r) for r in rows]


#: The items behind each sprint figure, as `SELECT item_id` over the `_m_*` tables of one sprint.
SPRINT_ITEM_SETS = {
    "committed": "SELECT item_id FROM _m_items WHERE committed",  # committed_items
    "completed": "SELECT item_id FROM _m_items WHERE completed",  # completed_items (velocity, throughput)
    "throughput": "SELECT item_id FROM _m_items WHERE completed",
    "carried_over": "SELECT item_id FROM _m_items WHERE committed AND NOT completed",
    "blocked": "SELECT item_id FROM _m_items WHERE was_blocked",  # blocked_items
    "noncompliant": "SELECT item_id FROM _m_items WHERE completed AND dmt_compliant = false",
    "defects": (  # defects_count
        "SELECT b.item_id FROM _m_bugs b JOIN _m_sprints s ON s.project_id = b.project_id "
        "WHERE b.created_at_source >= s.win_start AND b.created_at_source < s.win_end"
    ),
    "flags": (  # member items with open flags (open_flags counts the flags)
        "SELECT m.item_id FROM _m_member m WHERE EXISTS (SELECT 1 FROM {schema}.compliance_flags f "
        "WHERE f.work_item_id = m.item_id AND f.status = 'open')"
    ),
}


def sprint_item_ids(session: Session, sprint_id: int, figure: str) -> list[int]:
    """Ids of the work items one figure of a sprint counts (`SPRINT_ITEM_SETS`), by the same definitions."""
    with _figure_tables(session, [sprint_id], bugs=figure == "defects", prs=False, reviews=False) as (conn, schema):
        sql = SPRINT_ITEM_SETS[figure].format(schema=f'"{schema}"')
        return [int(r[0]) for r in conn.execute(sa.text(sql))]


def _as_stored(row: Mapping[str, Any]) -> dict[str, Any]:
    """A live row with the Python types the read model's float columns give back (numeric -> float)."""
    return {k: float(v) if isinstance(v, Decimal) else v for k, v in row.items()}
