"""Set-based load of normalised deployments and the commits they shipped (the `deployments` stream).

Deployments are upserted like work items and pull requests (`etl.loader`):
one binary COPY into a staging table and one ``INSERT ... ON CONFLICT (source_id,
source_deployment_id) DO UPDATE ... WHERE row IS DISTINCT FROM``, so a repeated
load rewrites nothing. The commits of each deployment that changed are then
replaced in two statements (a delete and an insert from arrays). A record whose
commits are unknown (``changes`` None: a failure, or a first deployment with no
predecessor) keeps what is stored. Links to PRs and work items are not stored:
they are read through the PRs' merge commits (etl/dora.py), so a PR synced
after its deployment is linked as well.

The caller owns the transaction (one per batch in etl/sync.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from etl.connectors.base import NormalizedDeployment
from etl.loader import DEFAULT_STRATEGY, LoadResult, Strategy, _driver, _no_jit, _spec, _text, _upsert
from models.db import tenant_schema_of
from models.tenant import Deployment, DeploymentChange

DEPLOYMENTS = _spec(
    Deployment,
    "source_deployment_id",
    NormalizedDeployment.__annotations__,
    ("source_id", "project_id", "source_type"),
    {
        "kind": "deployment",
        "name": "",
        "repository": "",
        "environment": "production",
        "status": "in_progress",
        "changes_count": 0,
        "is_revert": False,
    },
)
_LIMITS = {
    column.name: column.type.length
    for column in DeploymentChange.__table__.columns  # type: ignore[attr-defined]
    if getattr(column.type, "length", None)
}


def load_deployments(
    session: Session,
    records: Sequence[NormalizedDeployment],
    *,
    source_id: int,
    project_id: int,
    source_type: str,
    strategy: Strategy = DEFAULT_STRATEGY,
) -> LoadResult:
    """Upsert one batch of normalised deployments and replace the commits of those that changed."""
    result = LoadResult(received=len(records))
    if not records:
        return result
    _no_jit(session)
    rows: list[dict[str, Any]] = []
    for record in records:
        row: dict[str, Any] = dict(record)
        row["source_id"] = source_id
        row["project_id"] = project_id
        row["source_type"] = source_type
        rows.append(row)
    distinct, returned = _upsert(session, DEPLOYMENTS, rows, strategy, returning_extra=", t.source_deployment_id")
    inserted = sum(1 for r in returned if r.inserted)
    result.inserted = inserted
    result.updated = len(returned) - inserted
    result.unchanged = distinct - len(returned)
    if returned:
        changes_of = {str(r["source_deployment_id"]): r.get("changes") for r in records}
        _replace_changes(session, {r.id: changes_of.get(r.source_deployment_id) for r in returned})
    return result


def _replace_changes(session: Session, changes: dict[int, list[dict[str, Any]] | None]) -> None:
    """Replace the stored commits of the deployments whose commits are known."""
    known = {deployment_id: commits for deployment_id, commits in changes.items() if commits is not None}
    if not known:
        return
    schema = tenant_schema_of(session)
    ids: list[int] = []
    shas: list[str] = []
    times: list[datetime | None] = []
    logins: list[str | None] = []
    messages: list[str] = []
    for deployment_id, commits in known.items():
        seen: set[str] = set()
        for commit in commits:
            sha = _text(commit.get("sha") or "", _LIMITS.get("sha"))
            if not sha or sha in seen:
                continue
            seen.add(sha)
            ids.append(deployment_id)
            shas.append(sha)
            times.append(commit.get("authored_at"))
            login = commit.get("author_login")
            logins.append(_text(login, _LIMITS.get("author_login")) if login else None)
            messages.append(_text(commit.get("message") or "", _LIMITS.get("message")))
    driver = _driver(session)
    driver.execute(f'DELETE FROM "{schema}".deployment_changes WHERE deployment_id = ANY(%s)', (list(known),))
    if ids:
        driver.execute(
            f"""INSERT INTO "{schema}".deployment_changes (deployment_id, sha, authored_at, author_login, message)
                SELECT * FROM unnest(%s::int[], %s::text[], %s::timestamptz[], %s::text[], %s::text[])""",
            (ids, shas, times, logins, messages),
        )
