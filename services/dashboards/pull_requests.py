"""Pull-request health: time to first review (distribution), share reviewed, merge time, per repository."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from models.db import tenant_session
from services.auth import CurrentUser
from services.dashboards.common import HISTORY_SPRINTS, _now, _pct, _round, _tables, require_project
from services.dashboards.shapes import PrHealth, PrSprintPoint, RepoHealth, ReviewBucket
from services.dashboards.sprint_rows import _sprint_rows

REVIEW_BUCKETS = [("< 1 h", 0, 1), ("1-4 h", 1, 4), ("4-24 h", 4, 24), ("1-3 days", 24, 72), ("> 3 days", 72, None)]


def pr_health(user: CurrentUser, project_id: int, days: int = 180) -> PrHealth:
    """Time to first review (distribution), share reviewed, merge time; overall and per repository."""
    require_project(user, project_id)
    since = _now() - timedelta(days=days)
    with tenant_session(user.tenant_slug or "") as session:
        t = _tables(session)
        params = {"p": project_id, "since": since}
        bucket_sql = ", ".join(
            f"count(*) FILTER (WHERE fr_h >= {lo}" + (f" AND fr_h < {hi}" if hi is not None else "") + f") AS b{i}"
            for i, (_label, lo, hi) in enumerate(REVIEW_BUCKETS)
        )
        per_repo = (
            session.execute(
                sa.text(
                    f"""
                WITH pr AS (
                    SELECT repository, state,
                           (first_review_at IS NOT NULL OR review_count > 0) AS reviewed,
                           extract(epoch FROM (first_review_at - created_at_source)) / 3600.0 AS fr_h,
                           extract(epoch FROM (merged_at - created_at_source)) / 3600.0 AS merge_h
                    FROM {t["pull_requests"]}
                    WHERE project_id = :p AND NOT is_deleted AND created_at_source >= :since
                )
                SELECT GROUPING(repository) AS total_row, repository,
                       count(*) AS prs,
                       count(*) FILTER (WHERE state = 'merged') AS merged,
                       count(*) FILTER (WHERE state = 'open') AS open,
                       count(*) FILTER (WHERE state = 'merged' AND reviewed) AS merged_reviewed,
                       avg(fr_h) AS avg_fr,
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY fr_h) AS med_fr,
                       avg(merge_h) FILTER (WHERE state = 'merged') AS avg_merge,
                       count(*) FILTER (WHERE fr_h IS NULL) AS never,
                       {bucket_sql}
                FROM pr
                GROUP BY ROLLUP (repository)
                ORDER BY GROUPING(repository), count(*) DESC
                """
                ),
                params,
            )
            .mappings()
            .all()
        )
        points = _sprint_rows(session, project_id)[-HISTORY_SPRINTS:]
    result = PrHealth(project_id=project_id)
    for r in per_repo:
        if r["total_row"]:
            result.total, result.merged, result.open = int(r["prs"]), int(r["merged"]), int(r["open"])
            result.reviewed_share = _pct(r["merged_reviewed"], r["merged"])
            result.avg_first_review_hours = _round(r["avg_fr"])
            result.median_first_review_hours = _round(r["med_fr"])
            result.avg_merge_hours = _round(r["avg_merge"])
            result.buckets = [
                ReviewBucket(bucket=label, count=int(r[f"b{i}"])) for i, (label, _lo, _hi) in enumerate(REVIEW_BUCKETS)
            ]
            result.buckets.append(ReviewBucket(bucket="not reviewed", count=int(r["never"])))
        else:
            result.repositories.append(
                RepoHealth(
                    repository=r["repository"] or "(unknown)",
                    prs=int(r["prs"]),
                    merged=int(r["merged"]),
                    open=int(r["open"]),
                    reviewed_share=_pct(r["merged_reviewed"], r["merged"]),
                    avg_first_review_hours=_round(r["avg_fr"]),
                    median_first_review_hours=_round(r["med_fr"]),
                    avg_merge_hours=_round(r["avg_merge"]),
                )
            )
    result.series = [
        PrSprintPoint(
            sprint_id=p.sprint_id,
            sprint_name=p.sprint_name,
            prs_merged=p.prs_merged,
            avg_time_to_first_review_hours=p.avg_time_to_first_review_hours,
            pr_review_rate=p.pr_review_rate,
            avg_merge_time_hours=p.avg_merge_time_hours,
        )
        for p in points
        if p.prs_merged or p.avg_time_to_first_review_hours is not None
    ]
    if result.total == 0:
        result.empty_message = (
            f"No pull requests in the last {days} days: ask your admin to connect GitHub or Azure DevOps Git."
        )
    return result
