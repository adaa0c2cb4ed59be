"""Whole-project figures kept by the pipeline (`project_figures`), so a dashboard's cold read is a row read.

Two figures of the company dashboards aggregate a whole project on every read:

* the compliance rate of its done items (`/api/dashboard/compliance`,
  `/api/dashboard/defect-density`): a count of every done item by verdict;
* PR health (`/api/dashboard/pr-health`): every PR of the last 180 days rolled up
  per repository, with a median time to first review.

At 1,000,000 items that is 200 ms and 440 ms of scanning, paid again by the first
read after every data change. The pipeline keeps both per project instead:

* `refresh_compliance_counts` runs at the end of every compliance evaluation, in
  its transaction (the evaluation is what writes the verdicts); a sync defers it
  for the passes it makes while it still loads (`compliance_counts_deferred`:
  they only clear the figure, which its next batch would clear again, where a
  recount cost 0.1-0.35 s at 50,000 items, paid 25 times) and stores it with
  its last pass of the stream;
* `refresh_pr_health` runs after every sync or reconcile of a PR source and in every
  full metrics rebuild (nightly), for the default window (`PR_HEALTH_DAYS`).

A stored figure is only used while nothing it depends on was written since: the
loader and the reconcile `invalidate` a project's figures in the same transaction
as the rows they write (after the rows, the order the evaluation locks in too),
and the dashboards then compute live (with the same SQL, `compliance_counts` and
`pr_health_rows`) until the next refresh.

One window is left, and closed by the pipeline itself: a refresh that counted
just before another sync's batch of the same project committed can store its
figure after that batch cleared the old one. It is stale only until that sync's
own next step refreshes it again (every loaded item is evaluated, which
recounts; every PR sync ends with a PR refresh), so it can outlive no sync.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

#: The window of the stored PR health rollup; other windows are computed live.
PR_HEALTH_DAYS = 180
#: Time to first review buckets: (label, from hours, to hours or None).
REVIEW_BUCKETS = [("< 1 h", 0, 1), ("1-4 h", 1, 4), ("4-24 h", 4, 24), ("1-3 days", 24, 72), ("> 3 days", 72, None)]

_STREAM_COLUMNS = {"work_items": "compliance_at", "pull_requests": "pr_health_at"}


def _jsonable(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


# --------------------------------------------------------------------------- the figures' SQL (live and stored)
def compliance_counts(conn: Connection, schema: str, project_ids: Sequence[int]) -> dict[int, tuple[int, int, int]]:
    """(done, compliant, judged) items per project: done items, those meeting DMT, those with a verdict."""
    rows = conn.execute(
        sa.text(f"""
            SELECT project_id, count(*) AS done,
                   count(*) FILTER (WHERE dmt_compliant) AS compliant,
                   count(*) FILTER (WHERE dmt_compliant IS NOT NULL) AS judged
            FROM "{schema}".work_items
            WHERE project_id = ANY(:ids) AND status_category = 'done' AND NOT is_deleted
            GROUP BY project_id"""),
        {"ids": list(project_ids)},
    ).all()
    counts = {int(p): (0, 0, 0) for p in project_ids}
    counts.update({int(r[0]): (int(r[1]), int(r[2]), int(r[3])) for r in rows})
    return counts


def pr_health_rows(conn: Connection, schema: str, project_id: int, since: datetime) -> list[dict[str, Any]]:
    """The PR rollup of a project since `since`: one row per repository and a total row (`total_row` true).

    Each row: repository, prs, merged, open, merged_reviewed, avg_fr / med_fr (hours to first
    review), avg_merge (hours), never (never reviewed) and b0.. (PRs per REVIEW_BUCKETS bucket).
    """
    buckets = ", ".join(
        f"count(*) FILTER (WHERE fr_h >= {lo}" + (f" AND fr_h < {hi}" if hi is not None else "") + f") AS b{i}"
        for i, (_label, lo, hi) in enumerate(REVIEW_BUCKETS)
    )
    rows = conn.execute(
        sa.text(f"""
            WITH pr AS (
                SELECT repository, state,
                       (first_review_at IS NOT NULL OR review_count > 0) AS reviewed,
                       extract(epoch FROM (first_review_at - created_at_source)) / 3600.0 AS fr_h,
                       extract(epoch FROM (merged_at - created_at_source)) / 3600.0 AS merge_h
                FROM "{schema}".pull_requests
                WHERE project_id = :p AND NOT is_deleted AND created_at_source >= :since
            )
            SELECT GROUPING(repository) = 1 AS total_row, repository,
                   count(*) AS prs,
                   count(*) FILTER (WHERE state = 'merged') AS merged,
                   count(*) FILTER (WHERE state = 'open') AS open,
                   count(*) FILTER (WHERE state = 'merged' AND reviewed) AS merged_reviewed,
                   avg(fr_h) AS avg_fr,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY fr_h) AS med_fr,
                   avg(merge_h) FILTER (WHERE state = 'merged') AS avg_merge,
                   count(*) FILTER (WHERE fr_h IS NULL) AS never,
                   {buckets}
            FROM pr
            GROUP BY ROLLUP (repository)
            ORDER BY GROUPING(repository), count(*) DESC, repository"""),
        {"p": project_id, "since": since},
    ).mappings().all()
    return [{key: _jsonable(value) for key, value in row.items()} for row in rows]


# --------------------------------------------------------------------------- keeping them
_deferral = threading.local()


@contextmanager
def compliance_counts_deferred() -> Iterator[None]:
    """Evaluations run inside (in this thread) leave the compliance counts unstored: for a sync's passes made
    while it still loads, whose next batch clears the figure anyway. The sync stores them once it is done
    loading the stream (`store_compliance_counts`, or an evaluation outside this block)."""
    previous = getattr(_deferral, "active", False)
    _deferral.active = True
    try:
        yield
    finally:
        _deferral.active = previous


def refresh_compliance_counts(conn: Connection, schema: str, project_ids: Sequence[int], now: datetime) -> None:
    """Store the done items' compliance counts of these projects (the caller's transaction); deferred, only
    clear the stored ones (the verdicts just changed), one row update instead of a whole-project count."""
    if not project_ids:
        return
    if getattr(_deferral, "active", False):
        for project_id in sorted(set(project_ids)):
            invalidate(conn, schema, project_id, "work_items")
        return
    counts = compliance_counts(conn, schema, project_ids)
    conn.execute(
        sa.text(f"""
            INSERT INTO "{schema}".project_figures (project_id, done_items, compliant_items, judged_items, compliance_at)
            SELECT p, d, c, j, CAST(:now AS timestamptz)
            FROM unnest(CAST(:p AS int[]), CAST(:d AS int[]), CAST(:c AS int[]), CAST(:j AS int[])) AS u(p, d, c, j)
            ON CONFLICT (project_id) DO UPDATE SET
                done_items = EXCLUDED.done_items, compliant_items = EXCLUDED.compliant_items,
                judged_items = EXCLUDED.judged_items, compliance_at = EXCLUDED.compliance_at"""),
        {
            "p": list(counts),
            "d": [c[0] for c in counts.values()],
            "c": [c[1] for c in counts.values()],
            "j": [c[2] for c in counts.values()],
            "now": now,
        },
    )


def refresh_pr_health(conn: Connection, schema: str, project_ids: Sequence[int], now: datetime) -> None:
    """Store the PR health rollup of the default window for these projects (the caller's transaction)."""
    since = now - timedelta(days=PR_HEALTH_DAYS)
    for project_id in sorted(set(project_ids)):
        rows = pr_health_rows(conn, schema, project_id, since)
        conn.execute(
            sa.text(f"""
                INSERT INTO "{schema}".project_figures (project_id, pr_health, pr_window_days, pr_health_at)
                VALUES (:p, CAST(:rows AS jsonb), :days, :now)
                ON CONFLICT (project_id) DO UPDATE SET
                    pr_health = EXCLUDED.pr_health, pr_window_days = EXCLUDED.pr_window_days,
                    pr_health_at = EXCLUDED.pr_health_at"""),
            {"p": project_id, "rows": json.dumps(rows), "days": PR_HEALTH_DAYS, "now": now},
        )


def pr_projects(conn: Connection, schema: str) -> list[int]:
    """Projects with PRs, or with a stored PR rollup (which may have to become empty)."""
    return [
        int(p)
        for (p,) in conn.execute(
            sa.text(f"""
                SELECT DISTINCT project_id FROM "{schema}".pull_requests
                UNION SELECT project_id FROM "{schema}".project_figures WHERE pr_health_at IS NOT NULL""")
        ).all()
    ]


def invalidate(conn: Connection, schema: str, project_id: int, stream: str) -> None:
    """Rows of `stream` ("work_items" or "pull_requests") of a project were written: its stored figure is stale.

    Only a row that still holds a figure is updated (and locked), so a long sync pays this once.
    """
    column = _STREAM_COLUMNS[stream]
    conn.execute(
        sa.text(f'UPDATE "{schema}".project_figures SET {column} = NULL WHERE project_id = :p AND {column} IS NOT NULL'),
        {"p": project_id},
    )


# --------------------------------------------------------------------------- reading them
def stored_compliance_counts(conn: Connection, schema: str, project_id: int) -> tuple[int, int, int] | None:
    """The stored (done, compliant, judged) of a project, or None when it has to be computed live."""
    row = conn.execute(
        sa.text(f"""
            SELECT done_items, compliant_items, judged_items FROM "{schema}".project_figures
            WHERE project_id = :p AND compliance_at IS NOT NULL"""),
        {"p": project_id},
    ).first()
    return (int(row[0]), int(row[1]), int(row[2])) if row else None


def stored_pr_health(conn: Connection, schema: str, project_id: int, days: int) -> list[dict[str, Any]] | None:
    """The stored PR rollup of a project for a `days` window, or None when it has to be computed live."""
    if days != PR_HEALTH_DAYS:
        return None
    row = conn.execute(
        sa.text(f"""
            SELECT pr_health FROM "{schema}".project_figures
            WHERE project_id = :p AND pr_health_at IS NOT NULL AND pr_window_days = :days"""),
        {"p": project_id, "days": days},
    ).first()
    return list(row[0]) if row and row[0] is not None else None
