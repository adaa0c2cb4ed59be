"""Heatmaps: pull-request review wait by weekday x hour, and DMT compliance by developer x sprint.

* Review wait: PRs opened in the period that got a first review, grouped by
  the weekday and hour (UTC) they were opened; each cell is the median hours
  from opening to the first review (the PR page's "time to first review"),
  with the number of PRs behind it.
* Compliance: each developer's compliance rate per sprint (the developer
  metrics' figure, `docs/metrics.md`), for roles allowed to see names (tech
  leads, project managers); other roles get the heatmap without rows.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from pydantic import BaseModel, Field

from models.db import tenant_session
from services.auth import CurrentUser
from services.dashboards.common import HISTORY_SPRINTS, _Namer, _now, _round, _tables, require_project
from services.dashboards.developer_stats import _developer_sprint_figures
from services.dashboards.sprint_rows import _sprint_rows

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
HOURS = tuple(f"{h:02d}:00" for h in range(24))


class Heatmap(BaseModel):
    """A grid: `values[row][column]` (None: no data), `counts` of what is behind each cell."""

    title: str = ""
    x_labels: list[str] = Field(default_factory=list)
    y_labels: list[str] = Field(default_factory=list)
    values: list[list[float | None]] = Field(default_factory=list)
    counts: list[list[int]] = Field(default_factory=list)
    value_label: str = ""  # what a value is ("median hours to first review")
    count_label: str = ""  # what a count is ("PRs")
    total: int = 0
    empty_message: str = ""


def review_wait_heatmap(user: CurrentUser, project_id: int, days: int = 180) -> Heatmap:
    """Median hours to a first review by the weekday and hour (UTC) a PR was opened, last `days` days."""
    require_project(user, project_id)
    since = _now() - timedelta(days=days)
    with tenant_session(user.tenant_slug or "") as session:
        t = _tables(session)
        rows = session.execute(
            sa.text(
                f"""
                SELECT extract(isodow FROM created_at_source AT TIME ZONE 'UTC')::int AS dow,
                       extract(hour FROM created_at_source AT TIME ZONE 'UTC')::int AS hour,
                       count(*) AS prs,
                       percentile_cont(0.5) WITHIN GROUP (
                           ORDER BY extract(epoch FROM first_review_at - created_at_source)) / 3600.0 AS wait_h
                FROM {t["pull_requests"]}
                WHERE project_id = :p AND NOT is_deleted AND created_at_source >= :since
                  AND first_review_at IS NOT NULL AND first_review_at >= created_at_source
                GROUP BY 1, 2
                """
            ),
            {"p": project_id, "since": since},
        ).mappings().all()
    values: list[list[float | None]] = [[None] * 24 for _ in WEEKDAYS]
    counts = [[0] * 24 for _ in WEEKDAYS]
    for r in rows:
        values[r["dow"] - 1][r["hour"]] = _round(r["wait_h"])
        counts[r["dow"] - 1][r["hour"]] = int(r["prs"])
    heatmap = Heatmap(
        title=f"Review wait by the time a PR is opened (last {days} days, UTC)",
        x_labels=list(HOURS), y_labels=list(WEEKDAYS), values=values, counts=counts,
        value_label="median hours to first review", count_label="PRs", total=sum(map(sum, counts)),
    )  # fmt: skip
    if not heatmap.total:
        heatmap.empty_message = f"No pull request got a review in the last {days} days."
    return heatmap


def compliance_heatmap(user: CurrentUser, project_id: int) -> Heatmap:
    """DMT compliance rate (percent) per developer and sprint, last sprints; names for tech leads and managers only."""
    require_project(user, project_id)
    heatmap = Heatmap(title="DMT compliance by developer and sprint", value_label="compliant",
                      count_label="items completed")  # fmt: skip
    if not user.can_see_names(project_id):
        heatmap.empty_message = "Compliance per developer is shown to tech leads and project managers."
        return heatmap
    with tenant_session(user.tenant_slug or "") as session:
        sprints = [p for p in _sprint_rows(session, project_id) if p.state != "future"][-HISTORY_SPRINTS:]
        sprint_ids = {p.sprint_id for p in sprints}
        figures = [f for f in _developer_sprint_figures(session, project_id) if f["sprint_id"] in sprint_ids]
        namer = _Namer(session, user, project_id)
        ids = {f["identity_id"] for f in figures}
        namer.prefetch(ids)
        names = {i: namer.name(i) for i in ids}
    columns = [p.sprint_id for p in sprints]
    people = sorted(names, key=lambda i: names[i].lower())
    cells = {(f["identity_id"], f["sprint_id"]): f for f in figures}
    heatmap.x_labels = [p.sprint_name for p in sprints]
    heatmap.y_labels = [names[i] for i in people]
    for identity in people:
        row_values: list[float | None] = []
        row_counts: list[int] = []
        for sprint_id in columns:
            cell = cells.get((identity, sprint_id))
            row_values.append(_round(cell["compliance"]) if cell and cell["items"] else None)
            row_counts.append(int(cell["items"]) if cell else 0)
        heatmap.values.append(row_values)
        heatmap.counts.append(row_counts)
    heatmap.total = sum(map(sum, heatmap.counts))
    if not heatmap.total:
        heatmap.empty_message = "No developer completed judged work in the last sprints."
    return heatmap
