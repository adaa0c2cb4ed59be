"""Coverage and build evidence posted by CI pipelines, so `low_coverage` and
`missing_ci_evidence` are satisfied by evidence rather than by a typed field."""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field, HttpUrl, model_validator
from sqlmodel import select

from core.errors import NotFound
from models.db import tenant_session
from models.tenant import CoverageEvidence, PullRequest, WorkItem, WorkItemPullRequest
from services.alerts import evaluate_and_alert
from services.api_tokens import ApiClient


class PullRequestRef(BaseModel):
    repository: str = Field(
        min_length=1, max_length=300, description="owner/repo (GitHub) or repository name (Azure DevOps)"
    )
    number: int = Field(ge=1)


class EvidenceIn(BaseModel):
    work_item_key: str | None = Field(default=None, max_length=100, description="e.g. ACME-123, AB#42, CU-abc123")
    pull_request: PullRequestRef | None = None
    coverage_percent: float | None = Field(default=None, ge=0, le=100)
    build_url: HttpUrl | None = None
    build_status: Literal["success", "failure", "pending"] = "success"
    commit_sha: str | None = Field(default=None, max_length=64, pattern=r"^[0-9a-fA-F]{7,64}$")

    @model_validator(mode="after")
    def _target_and_payload(self) -> EvidenceIn:
        if not self.work_item_key and not self.pull_request:
            raise ValueError("give work_item_key or pull_request (repository and number)")
        if self.coverage_percent is None and self.build_url is None:
            raise ValueError("give coverage_percent, build_url or both")
        return self


class EvidenceOut(BaseModel):
    evidence_ids: list[int]
    work_item_ids: list[int]
    compliance: dict[str, int]


def record_evidence(client: ApiClient, data: EvidenceIn) -> EvidenceOut:
    """Store the evidence against the item or PR (in the token's tenant only) and re-evaluate compliance."""
    ids: list[int] = []
    items: set[int] = set()
    with tenant_session(client.tenant_slug) as session:
        targets: list[tuple[int | None, int | None]] = []
        if data.work_item_key:
            rows = session.exec(
                select(WorkItem.id).where(
                    sa.func.upper(WorkItem.item_key) == data.work_item_key.upper(), WorkItem.is_deleted.is_(False)
                )
            ).all()
            if not rows:
                raise NotFound(f"no work item with key {data.work_item_key} in your company")
            targets += [(wid, None) for wid in rows]
            items.update(rows)
        if data.pull_request:
            prs = session.exec(
                select(PullRequest.id).where(
                    PullRequest.repository == data.pull_request.repository,
                    PullRequest.number == data.pull_request.number,
                    PullRequest.is_deleted.is_(False),
                )
            ).all()
            if not prs:
                raise NotFound(
                    f"no pull request {data.pull_request.repository}#{data.pull_request.number} in your company"
                )
            targets += [(None, pid) for pid in prs]
            linked = session.exec(
                select(WorkItemPullRequest.work_item_id).where(WorkItemPullRequest.pull_request_id.in_(prs))
            ).all()
            items.update(linked)
        for work_item_id, pull_request_id in targets:
            row = CoverageEvidence(
                work_item_id=work_item_id,
                pull_request_id=pull_request_id,
                coverage_percent=data.coverage_percent,
                build_url=str(data.build_url) if data.build_url else None,
                build_status=data.build_status,
                commit_sha=data.commit_sha,
                posted_by=f"api-token:{client.name}",
            )
            session.add(row)
            session.flush()
            ids.append(row.id)
        session.commit()
    result = evaluate_and_alert(client.tenant_slug, sorted(items)) if items else None
    compliance = {"opened": result.opened, "resolved": result.resolved} if result else {"opened": 0, "resolved": 0}
    return EvidenceOut(evidence_ids=ids, work_item_ids=sorted(items), compliance=compliance)
