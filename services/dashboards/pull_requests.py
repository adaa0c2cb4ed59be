"""Pull-request health: time to first review (distribution), share reviewed, merge time, per repository."""

from __future__ import annotations

from datetime import timedelta

from etl.project_figures import REVIEW_BUCKETS, pr_health_rows, stored_pr_health
from models.db import tenant_schema_of, tenant_session
from services.auth import CurrentUser
from services.dashboards.common import HISTORY_SPRINTS, _now, _pct, _round, require_project
from services.dashboards.shapes import PrHealth, PrSprintPoint, RepoHealth, ReviewBucket
from services.dashboards.sprint_rows import _sprint_rows


def pr_health(user: CurrentUser, project_id: int, days: int = 180) -> PrHealth:
    """Time to first review (distribution), share reviewed, merge time; overall and per repository."""
    require_project(user, project_id)
    since = _now() - timedelta(days=days)
    with tenant_session(user.tenant_slug or "") as session:
        conn, schema = session.connection(), tenant_schema_of(session)
        per_repo = stored_pr_health(conn, schema, project_id, days)
        if per_repo is None:  # no stored rollup for this window (another window, or PRs written since)
            per_repo = pr_health_rows(conn, schema, project_id, since)
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
