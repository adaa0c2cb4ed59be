"""DORA's four keys per project, environment and period, in set-based SQL (definitions in docs/metrics.md).

- **Deployment frequency**: successful deployments to the environment finished in the
  period, per day (and per bucket of the trend).
- **Lead time for changes**: for each pull request a deployment shipped (its merge commit is
  among the deployment's commits), the time from the PR's first commit (its creation when
  the first commit is unknown) to the deployment's finish; median and P85 in hours. A PR
  counts once, at the first deployment to the environment that shipped it.
- **Change failure rate**: the share of the period's successful deployments that failed in
  production: an incident was opened after it, before the next deployment and within the
  failure window (default 24 h), or the next deployment, within the window, shipped a
  revert or hotfix.
- **Time to restore**: for incidents opened in the period, opened -> resolved (the work
  item's done time); median and P85 in hours over the resolved ones.

Incidents are work items of the project that a source's `incident` rule selects (type,
label or priority, see `etl.connectors.base.IncidentRule`). Every figure is one statement
over the tenant's tables; the trend is the same statement grouped by week or month.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from etl.connectors.base import FieldMapping, FieldMappingError, IncidentRule
from etl.connectors.values import slug
from models.db import public_session, tenant_schema_of
from models.public import SourceConfig

DEFAULT_FAILURE_WINDOW = timedelta(hours=24)
#: Sort memory of one DORA statement: at 10,000 deployments the PR join sorts 200,000 rows (about 30 MB).
WORK_MEM = "64MB"
BUCKETS = ("day", "week", "month")
KEYS = ("deployment_frequency", "lead_time", "change_failure_rate", "time_to_restore")
BAND_NAMES = ("elite", "high", "medium", "low")

#: DORA's performance clusters (Accelerate State of DevOps Report 2023), as thresholds:
#: deployment frequency in deployments per day (at least), lead time and time to restore in
#: hours (under), change failure rate in percent (at most). Below the medium threshold: low.
BANDS: dict[str, tuple[tuple[str, float], ...]] = {
    "deployment_frequency": (("elite", 1.0), ("high", 1 / 7), ("medium", 1 / 30)),  # on demand, weekly, monthly
    "lead_time": (("elite", 24.0), ("high", 24.0 * 7), ("medium", 24.0 * 30)),  # a day, a week, a month
    "change_failure_rate": (("elite", 5.0), ("high", 10.0), ("medium", 15.0)),
    "time_to_restore": (("elite", 1.0), ("high", 24.0), ("medium", 24.0 * 7)),  # an hour, a day, a week
}


def band(key: str, value: float | None) -> str | None:
    """The DORA performance band (elite, high, medium, low) of one figure; None without a figure."""
    if value is None:
        return None
    for name, threshold in BANDS[key]:
        if key == "deployment_frequency" and value >= threshold:
            return name
        if key == "change_failure_rate" and value <= threshold:
            return name
        if key in ("lead_time", "time_to_restore") and value < threshold:
            return name
    return "low"


# --------------------------------------------------------------------------- incidents
@dataclass(frozen=True)
class SourceIncidentRule:
    """The incident rule of one work-item source."""

    source_id: int
    rule: IncidentRule


def incident_rules(project_id: int) -> list[SourceIncidentRule]:
    """The incident rules of the project's sources (a mapping that no longer parses is skipped)."""
    with public_session() as session:
        sources = session.exec(select(SourceConfig).where(SourceConfig.project_id == project_id)).all()
    rules = []
    for source in sources:
        try:
            rule = FieldMapping.parse(source.field_mappings).incident_rule()
        except FieldMappingError:
            continue
        if rule is not None and source.id is not None:
            rules.append(SourceIncidentRule(source.id, rule))
    return rules


def incident_filter(rules: Sequence[SourceIncidentRule], alias: str = "w") -> tuple[str, dict[str, Any]]:
    """A SQL condition on work items (`alias`) selecting incidents, and its parameters ("false" without rules)."""
    parts: list[str] = []
    params: dict[str, Any] = {}
    for n, entry in enumerate(rules):
        names = {name.lower() for name in entry.rule.names}
        if entry.rule.criterion == "type":
            names |= {slug(name) for name in entry.rule.names}
            condition = f"lower({alias}.item_type) = ANY(CAST(:inc_names_{n} AS text[]))"
        elif entry.rule.criterion == "label":
            condition = (
                f"EXISTS (SELECT 1 FROM jsonb_array_elements_text({alias}.labels) AS l(v) "
                f"WHERE lower(l.v) = ANY(CAST(:inc_names_{n} AS text[])))"
            )
        else:
            condition = f"lower({alias}.priority) = ANY(CAST(:inc_names_{n} AS text[]))"
        parts.append(f"({alias}.source_id = :inc_source_{n} AND {condition})")
        params[f"inc_source_{n}"] = entry.source_id
        params[f"inc_names_{n}"] = sorted(names)
    return (" OR ".join(parts) if parts else "false"), params


# --------------------------------------------------------------------------- the statements
@dataclass(frozen=True)
class Scope:
    """What a DORA figure is about: a project's environment over [since, until)."""

    project_id: int
    environment: str
    since: datetime
    until: datetime
    rules: tuple[SourceIncidentRule, ...] = ()
    failure_window: timedelta = DEFAULT_FAILURE_WINDOW

    @property
    def days(self) -> float:
        return max((self.until - self.since).total_seconds() / 86_400, 1 / 24)


def _tables(session: Session) -> dict[str, str]:
    schema = tenant_schema_of(session)
    names = ("deployments", "deployment_changes", "pull_requests", "work_items", "work_item_pull_requests")
    return {name: f'"{schema}".{name}' for name in names}


def _common_ctes(session: Session, scope: Scope) -> tuple[str, dict[str, Any]]:
    """The deployments of the scope judged (failed or not, and why), and its incidents, as CTEs.

    `deps`: successful deployments from `since` to `until` + the failure window (the next
    deployment and the incidents after the period's last ones matter), numbered in time
    order. `incidents`: the project's incidents opened in the same range. `hit`: each
    incident with the last deployment finished before it (one pass over the merged
    timeline, no per-deployment probe). `judged`: the period's deployments, failed when an
    incident followed within the window or the next deployment reverted or hot-fixed it.
    """
    t = _tables(session)
    # For this transaction only: the PR join sorts 20 rows per deployment in memory, not in temporary files,
    # and no JIT (the planner's estimates of these joins are high; compiling cost 0.5 s of CPU per statement).
    session.execute(sa.text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
    session.execute(sa.text("SET LOCAL jit = off"))
    incident_sql, params = incident_filter(scope.rules)
    params |= {
        "p": scope.project_id,
        "env": scope.environment,
        "since": scope.since,
        "until": scope.until,
        "horizon": scope.until + scope.failure_window,
        "window": scope.failure_window,
    }
    sql = f"""
        deps AS (
            SELECT d.id, d.finished_at, d.is_revert,
                   row_number() OVER w AS seq,
                   lead(d.finished_at) OVER w AS next_at,
                   lead(d.is_revert) OVER w AS next_revert
            FROM {t["deployments"]} d
            WHERE d.project_id = :p AND d.environment = :env AND d.status = 'success' AND NOT d.is_deleted
              AND d.finished_at >= :since AND d.finished_at < :horizon
            WINDOW w AS (ORDER BY d.finished_at, d.id)
        ),
        incidents AS MATERIALIZED (
            SELECT w.id, w.created_at_source AS opened_at, w.done_at AS resolved_at
            FROM {t["work_items"]} w
            WHERE w.project_id = :p AND NOT w.is_deleted AND w.created_at_source IS NOT NULL
              AND w.created_at_source >= :since AND w.created_at_source < :horizon
              AND ({incident_sql})
        ),
        hit AS MATERIALIZED (
            SELECT x.incident_id, x.at AS opened_at, x.last_seq AS seq FROM (
                SELECT e.incident_id, e.at, max(e.seq) OVER (ORDER BY e.at, e.kind ROWS UNBOUNDED PRECEDING) AS last_seq
                FROM (
                    SELECT seq, finished_at AS at, 0 AS kind, NULL::int AS incident_id FROM deps
                    UNION ALL
                    SELECT NULL, opened_at, 1, id FROM incidents
                ) e
            ) x
            WHERE x.incident_id IS NOT NULL AND x.last_seq IS NOT NULL
        ),
        caused AS (
            SELECT h.seq, min(h.opened_at) AS incident_at, min(h.incident_id) AS incident_id, count(*) AS incidents
            FROM hit h JOIN deps d ON d.seq = h.seq
            WHERE h.opened_at > d.finished_at AND h.opened_at <= d.finished_at + :window
            GROUP BY h.seq
        ),
        judged AS (
            SELECT d.id, d.finished_at, d.seq, c.incident_at, c.incident_id,
                   COALESCE(d.next_revert AND d.next_at <= d.finished_at + :window, false) AS reverted,
                   (c.seq IS NOT NULL OR COALESCE(d.next_revert AND d.next_at <= d.finished_at + :window, false)) AS failed
            FROM deps d LEFT JOIN caused c ON c.seq = d.seq
            WHERE d.finished_at < :until
        ),
        shipped AS (
            SELECT pr.id AS pr_id, min(d.seq) AS seq, min(d.finished_at) AS finished_at,
                   extract(epoch FROM min(d.finished_at) - LEAST(pr.first_commit_at, pr.created_at_source)) / 3600.0
                       AS hours
            FROM judged d
            JOIN {t["deployment_changes"]} c ON c.deployment_id = d.id
            JOIN {t["pull_requests"]} pr ON pr.merge_commit_sha = c.sha AND pr.project_id = :p AND NOT pr.is_deleted
            GROUP BY pr.id
        ),
        restores AS (
            SELECT i.id, i.opened_at, i.resolved_at,
                   extract(epoch FROM i.resolved_at - i.opened_at) / 3600.0 AS hours
            FROM incidents i WHERE i.opened_at < :until
        )"""
    return sql, params


@dataclass
class KeyFigures:
    """The four keys over one period or one bucket of it."""

    start: datetime | None
    days: float
    deployments: int = 0
    failed_deployments: int = 0
    changes: int = 0
    lead_time_median_hours: float | None = None
    lead_time_p85_hours: float | None = None
    incidents: int = 0
    resolved_incidents: int = 0
    restore_median_hours: float | None = None
    restore_p85_hours: float | None = None

    @property
    def deployments_per_day(self) -> float:
        return self.deployments / self.days if self.days else 0.0

    @property
    def change_failure_rate(self) -> float | None:
        """Percent of the deployments that failed in production (None without deployments)."""
        return 100.0 * self.failed_deployments / self.deployments if self.deployments else None

    def bands(self) -> dict[str, str | None]:
        return {
            "deployment_frequency": band("deployment_frequency", self.deployments_per_day if self.deployments else None)
            or ("low" if self.days >= 30 else None),
            "lead_time": band("lead_time", self.lead_time_median_hours),
            "change_failure_rate": band("change_failure_rate", self.change_failure_rate),
            "time_to_restore": band("time_to_restore", self.restore_median_hours),
        }


@dataclass
class FourKeys:
    """The period's figures and its trend, bucket by bucket (every bucket of the period, empty ones too)."""

    scope: Scope
    bucket: str
    total: KeyFigures
    series: list[KeyFigures] = field(default_factory=list)


def _bucket_starts(since: datetime, until: datetime, bucket: str) -> list[datetime]:
    """The start of every bucket touching [since, until), as date_trunc gives them (UTC)."""
    start = since.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if bucket == "week":
        start -= timedelta(days=start.weekday())
    elif bucket == "month":
        start = start.replace(day=1)
    starts = []
    while start < until:
        starts.append(start)
        if bucket == "day":
            start += timedelta(days=1)
        elif bucket == "week":
            start += timedelta(days=7)
        else:
            start = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return starts


def _bucket_days(start: datetime, bucket: str, scope: Scope) -> float:
    if bucket == "day":
        end = start + timedelta(days=1)
    elif bucket == "week":
        end = start + timedelta(days=7)
    else:
        end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    clipped = min(end, scope.until) - max(start, scope.since)
    return max(clipped.total_seconds() / 86_400, 1 / 24)


def four_keys(session: Session, scope: Scope, bucket: str = "week") -> FourKeys:
    """The four keys of `scope`, in total and per `bucket` (day, week or month), in one statement."""
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {', '.join(BUCKETS)}")
    ctes, params = _common_ctes(session, scope)
    params["bucket"] = bucket
    sql = f"""
        WITH {ctes},
        dep_b AS (
            SELECT CASE WHEN GROUPING(b) = 1 THEN NULL ELSE b END AS b, count(*) AS deployments,
                   count(*) FILTER (WHERE failed) AS failed
            FROM (SELECT date_trunc(:bucket, finished_at, 'UTC') AS b, failed FROM judged) x
            GROUP BY GROUPING SETS ((b), ())
        ),
        lead_b AS (
            SELECT CASE WHEN GROUPING(b) = 1 THEN NULL ELSE b END AS b, count(*) AS changes,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY hours) AS median,
                   percentile_cont(0.85) WITHIN GROUP (ORDER BY hours) AS p85
            FROM (SELECT date_trunc(:bucket, finished_at, 'UTC') AS b, hours FROM shipped) x
            GROUP BY GROUPING SETS ((b), ())
        ),
        restore_b AS (
            SELECT CASE WHEN GROUPING(b) = 1 THEN NULL ELSE b END AS b, count(*) AS incidents,
                   count(hours) AS resolved,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY hours) AS median,
                   percentile_cont(0.85) WITHIN GROUP (ORDER BY hours) AS p85
            FROM (SELECT date_trunc(:bucket, opened_at, 'UTC') AS b, hours FROM restores) x
            GROUP BY GROUPING SETS ((b), ())
        )
        SELECT 'deployments' AS part, b, deployments AS n, failed AS m, NULL::float8 AS median, NULL::float8 AS p85
          FROM dep_b
        UNION ALL SELECT 'lead', b, changes, NULL, median, p85 FROM lead_b
        UNION ALL SELECT 'restore', b, incidents, resolved, median, p85 FROM restore_b"""
    rows = session.execute(sa.text(sql), params).all()
    total = KeyFigures(start=None, days=scope.days)
    series = {
        start: KeyFigures(start=start, days=_bucket_days(start, bucket, scope))
        for start in _bucket_starts(scope.since, scope.until, bucket)
    }
    for part, b, n, m, median, p85 in rows:
        figures = total if b is None else series.get(b.astimezone(UTC) if b.tzinfo else b.replace(tzinfo=UTC))
        if figures is None:
            continue
        if part == "deployments":
            figures.deployments, figures.failed_deployments = int(n), int(m or 0)
        elif part == "lead":
            figures.changes = int(n)
            figures.lead_time_median_hours, figures.lead_time_p85_hours = _num(median), _num(p85)
        else:
            figures.incidents, figures.resolved_incidents = int(n), int(m or 0)
            figures.restore_median_hours, figures.restore_p85_hours = _num(median), _num(p85)
    return FourKeys(scope=scope, bucket=bucket, total=total, series=list(series.values()))


def _num(value: Any) -> float | None:
    return float(value) if value is not None else None


# --------------------------------------------------------------------------- drill-down
def deployment_rows(
    session: Session, scope: Scope, *, failed_only: bool = False, limit: int = 50, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """The period's successful deployments behind the figures, newest first: what each shipped, its lead
    time, and whether (and why) it failed in production. Returns (rows, total count)."""
    t = _tables(session)
    ctes, params = _common_ctes(session, scope)
    params |= {"failed_only": failed_only, "limit": limit, "offset": offset}
    sql = f"""
        WITH {ctes},
        page AS (
            SELECT j.*, count(*) OVER () AS total FROM judged j
            WHERE NOT :failed_only OR j.failed
            ORDER BY j.finished_at DESC, j.id DESC
            LIMIT :limit OFFSET :offset
        )
        SELECT d.id, d.name, d.repository, d.environment, d.commit_sha, d.ref, d.url, d.kind,
               d.started_at, d.finished_at, d.changes_count, d.is_revert, d.creator_login,
               j.failed, j.reverted, j.incident_at, wi.item_key AS incident_key, wi.title AS incident_title,
               COALESCE(s.prs, 0) AS prs, s.lead_median, j.total
        FROM page j
        JOIN {t["deployments"]} d ON d.id = j.id
        LEFT JOIN {t["work_items"]} wi ON wi.id = j.incident_id
        LEFT JOIN LATERAL (
            SELECT count(*) AS prs,
                   percentile_cont(0.5) WITHIN GROUP (
                       ORDER BY extract(epoch FROM j.finished_at - LEAST(pr.first_commit_at, pr.created_at_source))
                   ) / 3600.0 AS lead_median
            FROM {t["deployment_changes"]} c
            JOIN {t["pull_requests"]} pr ON pr.merge_commit_sha = c.sha AND pr.project_id = :p AND NOT pr.is_deleted
            WHERE c.deployment_id = j.id
        ) s ON true
        ORDER BY j.finished_at DESC, j.id DESC"""
    rows = [dict(r) for r in session.execute(sa.text(sql), params).mappings().all()]
    if rows:
        total = int(rows[0]["total"])
    else:
        counted = f"WITH {ctes} SELECT count(*) FROM judged WHERE NOT :failed_only OR failed"
        total = int(session.execute(sa.text(counted), params).scalar_one()) if offset else 0
    for row in rows:
        row.pop("total", None)
    return rows, total


def incident_rows(
    session: Session, scope: Scope, *, limit: int = 50, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """The period's incidents, newest first: opened, resolved, time to restore, and the deployment before them."""
    t = _tables(session)
    ctes, params = _common_ctes(session, scope)
    params |= {"limit": limit, "offset": offset}
    sql = f"""
        WITH {ctes}
        SELECT r.id, wi.item_key, wi.title, wi.url, wi.status, wi.priority, r.opened_at, r.resolved_at,
               r.hours AS restore_hours,
               d.id AS deployment_id, d.name AS deployment_name, d.finished_at AS deployed_at,
               (h.opened_at <= d.finished_at + :window) AS within_window,
               count(*) OVER () AS total
        FROM restores r
        JOIN {t["work_items"]} wi ON wi.id = r.id
        LEFT JOIN hit h ON h.incident_id = r.id
        LEFT JOIN deps dd ON dd.seq = h.seq
        LEFT JOIN {t["deployments"]} d ON d.id = dd.id
        ORDER BY r.opened_at DESC, r.id DESC
        LIMIT :limit OFFSET :offset"""
    rows = [dict(r) for r in session.execute(sa.text(sql), params).mappings().all()]
    if rows:
        total = int(rows[0]["total"])
    else:
        counted = f"WITH {ctes} SELECT count(*) FROM restores"
        total = int(session.execute(sa.text(counted), params).scalar_one()) if offset else 0
    for row in rows:
        row.pop("total", None)
    return rows, total


def shipped_by(session: Session, project_id: int, deployment_id: int) -> dict[str, Any] | None:
    """One deployment of the project with the PRs it shipped (lead time each) and their work items."""
    t = _tables(session)
    deployment = (
        session.execute(
            sa.text(
                f"""SELECT id, name, repository, environment, status, commit_sha, previous_sha, ref, url, kind,
                           started_at, finished_at, changes_count, is_revert, creator_login
                    FROM {t["deployments"]} WHERE id = :d AND project_id = :p AND NOT is_deleted"""
            ),
            {"d": deployment_id, "p": project_id},
        )
        .mappings()
        .first()
    )
    if deployment is None:
        return None
    prs = (
        session.execute(
            sa.text(
                f"""SELECT pr.id, pr.number, pr.title, pr.url, pr.repository, pr.author_login, pr.merged_at,
                           LEAST(pr.first_commit_at, pr.created_at_source) AS first_commit_at,
                           extract(epoch FROM :finished - LEAST(pr.first_commit_at, pr.created_at_source)) / 3600.0
                               AS lead_hours,
                           COALESCE(jsonb_agg(jsonb_build_object('key', wi.item_key, 'title', wi.title, 'url', wi.url))
                                    FILTER (WHERE wi.id IS NOT NULL), '[]'::jsonb) AS work_items
                    FROM {t["deployment_changes"]} c
                    JOIN {t["pull_requests"]} pr ON pr.merge_commit_sha = c.sha AND pr.project_id = :p
                         AND NOT pr.is_deleted
                    LEFT JOIN {t["work_item_pull_requests"]} l ON l.pull_request_id = pr.id
                    LEFT JOIN {t["work_items"]} wi ON wi.id = l.work_item_id AND NOT wi.is_deleted
                    WHERE c.deployment_id = :d
                    GROUP BY pr.id ORDER BY pr.merged_at NULLS LAST, pr.id"""
            ),
            {"d": deployment_id, "p": project_id, "finished": deployment["finished_at"]},
        )
        .mappings()
        .all()
    )
    commits = (
        session.execute(
            sa.text(
                f"""SELECT sha, authored_at, author_login, message FROM {t["deployment_changes"]}
                    WHERE deployment_id = :d ORDER BY authored_at NULLS LAST, sha LIMIT 200"""
            ),
            {"d": deployment_id},
        )
        .mappings()
        .all()
    )
    return {
        "deployment": dict(deployment),
        "pull_requests": [dict(p) for p in prs],
        "commits": [dict(c) for c in commits],
    }


def environments(session: Session, project_id: int) -> list[tuple[str, int]]:
    """The project's environments with their successful deployments, most deployed first."""
    t = _tables(session)
    rows = session.execute(
        sa.text(
            f"""SELECT environment, count(*) FILTER (WHERE status = 'success') AS n FROM {t["deployments"]}
                WHERE project_id = :p AND NOT is_deleted GROUP BY environment ORDER BY 2 DESC, 1"""
        ),
        {"p": project_id},
    ).all()
    return [(str(name), int(n)) for name, n in rows]


def default_environment(known: Sequence[tuple[str, int]]) -> str | None:
    """Production when the project deploys there (production, prod, prd, live: any case), else the most deployed."""
    for name, _n in known:
        if name.lower() in ("production", "prod", "prd", "live"):
            return name
    return known[0][0] if known else None
