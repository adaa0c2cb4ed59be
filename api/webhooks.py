"""POST /api/webhooks/{source_id}: Jira, GitHub and Azure DevOps events (verified; replays refused)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from pydantic import BaseModel

from core.errors import ValidationFailed
from services.webhooks import enqueue_refresh, verify_delivery

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])

MAX_BODY = 5 * 1024 * 1024


class WebhookAccepted(BaseModel):
    delivery_id: str
    event: str
    refresh_task_id: str


@router.post("/{source_id}", response_model=WebhookAccepted, status_code=202)
async def receive(source_id: int, request: Request) -> WebhookAccepted:
    """Verify the delivery, then refresh the affected items through an incremental sync of the source."""
    body = await request.body()
    if len(body) > MAX_BODY:
        raise ValidationFailed("the delivery is larger than 5 MiB")
    delivery = await asyncio.to_thread(verify_delivery, source_id, dict(request.headers), body)
    task_id = await asyncio.to_thread(enqueue_refresh, delivery)
    return WebhookAccepted(delivery_id=delivery.delivery_id, event=delivery.event, refresh_task_id=task_id)
