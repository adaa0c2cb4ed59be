"""POST /api/webhooks/{source_id}: Jira, GitHub and Azure DevOps events (verified; replays refused)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from core.settings import get_settings
from services.webhooks import PayloadTooLarge, enqueue_refresh, verify_delivery

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])


class WebhookAccepted(BaseModel):
    delivery_id: str
    event: str
    refresh_task_id: str | None = Field(
        description="the queued sync's task id; null while the broker is unreachable (the sync waits in the outbox)"
    )
    duplicate: bool = Field(default=False, description="the tool resent a delivery already received")


async def read_limited_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it passes `limit` bytes: never buffered beyond it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the delivery is larger than {limit:,} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the delivery is larger than {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/{source_id}", response_model=WebhookAccepted, status_code=202)
async def receive(source_id: int, request: Request) -> WebhookAccepted:
    """Verify the delivery, record it with its sync in one step, then hand the sync to the broker."""
    body = await read_limited_body(request, get_settings().webhook_max_body_bytes)
    delivery = await asyncio.to_thread(verify_delivery, source_id, dict(request.headers), body)
    task_id = await asyncio.to_thread(enqueue_refresh, delivery)
    return WebhookAccepted(
        delivery_id=delivery.delivery_id, event=delivery.event, refresh_task_id=task_id, duplicate=delivery.duplicate
    )
