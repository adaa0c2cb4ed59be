"""DMT exceptions (beyond the spec, in its style): request, list, approve, reject, revoke.

A developer or tech lead requests; a tech lead or project manager other than
the requester approves or rejects with a note; approved exceptions can be
revoked. Thin routes over `services.exceptions`, which checks every role on
the server; ids outside the caller's projects are 404.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, model_validator

from api.deps import CompanyUserDep, client_ip
from services import exceptions as exc_service
from services.exceptions import ExceptionFilters, ExceptionPage, ExceptionRow

router = APIRouter(prefix="/api/exceptions", tags=["exceptions"])


class ExceptionRequestIn(BaseModel):
    work_item_id: int = Field(ge=1, le=2**31 - 1)
    rules: list[str] = Field(
        min_length=1,
        max_length=len(exc_service.EXCUSABLE_RULES),
        description=f"the rules it covers, among: {', '.join(exc_service.EXCUSABLE_RULES)}",
    )
    reason: str = Field(min_length=1, max_length=exc_service.MAX_TEXT)
    valid_until: date | None = Field(None, description="the last day it covers (it lapses at the next midnight, UTC)")
    expires_at: datetime | None = Field(None, description="or the exact moment it lapses (no zone: UTC)")

    @model_validator(mode="after")
    def _one_expiry(self) -> ExceptionRequestIn:
        if (self.valid_until is None) == (self.expires_at is None):
            raise ValueError("give exactly one of valid_until and expires_at")
        return self

    def expiry(self) -> datetime:
        if self.valid_until is not None:
            return exc_service.expiry_from_date(self.valid_until)
        assert self.expires_at is not None
        at = self.expires_at
        return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


class DecisionIn(BaseModel):
    note: str = Field(min_length=1, max_length=exc_service.MAX_TEXT, description="why (recorded and audited)")


@router.get("", response_model=ExceptionPage)
def list_exceptions(
    user: CompanyUserDep,
    project_id: int | None = Query(None, description="one of your projects; default: all of them"),
    work_item_id: int | None = Query(None, description="only this item's exceptions"),
    status: str | None = Query(None, description="requested, approved, rejected, revoked, expired or all"),
    decidable: bool = Query(False, description="only the requests you may approve or reject"),
    page: int = Query(1, ge=1),
    page_size: int = Query(25, ge=1, le=200),
) -> ExceptionPage:
    """Exceptions of your projects, newest first (`decidable=true`: the pending requests waiting for you)."""
    filters = ExceptionFilters(
        project_id=project_id,
        work_item_id=work_item_id,
        status=status,
        decidable_only=decidable,
        page=page,
        page_size=page_size,
    )
    return exc_service.list_exceptions(user, filters)


@router.post("", response_model=ExceptionRow, status_code=201)
def request_exception(body: ExceptionRequestIn, user: CompanyUserDep, request: Request) -> ExceptionRow:
    """Request an exception for a work item (developers and tech leads of its project); approvers are notified."""
    return exc_service.request_exception(
        user,
        body.work_item_id,
        rules=body.rules,
        reason=body.reason,
        expires_at=body.expiry(),
        ip_address=client_ip(request),
    )


@router.get("/{exception_id}", response_model=ExceptionRow)
def get_exception(exception_id: int, user: CompanyUserDep) -> ExceptionRow:
    return exc_service.get_exception(user, exception_id)


@router.post("/{exception_id}/approve", response_model=ExceptionRow)
def approve(exception_id: int, body: DecisionIn, user: CompanyUserDep, request: Request) -> ExceptionRow:
    """Approve a request (tech leads and project managers, never one's own); the item is re-evaluated at once."""
    return exc_service.approve_request(user, exception_id, body.note, client_ip(request))


@router.post("/{exception_id}/reject", response_model=ExceptionRow)
def reject(exception_id: int, body: DecisionIn, user: CompanyUserDep, request: Request) -> ExceptionRow:
    """Reject a request with a note (tech leads and project managers, never one's own)."""
    return exc_service.reject_request(user, exception_id, body.note, client_ip(request))


@router.post("/{exception_id}/revoke", response_model=ExceptionRow)
def revoke(exception_id: int, body: DecisionIn, user: CompanyUserDep, request: Request) -> ExceptionRow:
    """Revoke an approved exception (tech leads and project managers); the item is re-evaluated at once."""
    return exc_service.revoke_exception(user, exception_id, body.note, client_ip(request))
