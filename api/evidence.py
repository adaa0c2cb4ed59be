"""CI pipelines post coverage and build links: POST /api/evidence (Authorization: Bearer dmt_ci_...)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from core.errors import AuthenticationFailed
from services.api_tokens import SCOPE_EVIDENCE, TOKEN_PREFIX, authenticate_api_token
from services.evidence import EvidenceIn, EvidenceOut, record_evidence

router = APIRouter(prefix="/api/evidence", tags=["evidence"])


@router.post("", response_model=EvidenceOut, status_code=201)
def post_evidence(body: EvidenceIn, request: Request) -> EvidenceOut:
    """Record coverage and/or a build link for a work item key or a pull request, then re-check compliance."""
    auth = request.headers.get("authorization", "")
    secret = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    if not secret.startswith(TOKEN_PREFIX):
        raise AuthenticationFailed(f"send a CI API token: 'Authorization: Bearer {TOKEN_PREFIX}...'")
    client = authenticate_api_token(secret, SCOPE_EVIDENCE)
    return record_evidence(client, body)
