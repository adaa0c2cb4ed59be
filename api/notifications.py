"""Notifications at the spec's paths (section 4.3): the caller's own notifications only.

New ones are pushed on the `/ws/notifications/{user_id}` channel (api/channels.py)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import CompanyUserDep
from core.errors import NotFound
from models.db import public_session
from services import notifications

router = APIRouter(prefix="/api/notifications", tags=["notifications"])


class NotificationPageOut(BaseModel):
    items: list[notifications.NotificationPublic]
    total: int
    page: int
    page_size: int
    unread: int


class Count(BaseModel):
    unread: int


class Marked(BaseModel):
    marked: int


@router.get("", response_model=NotificationPageOut)
def list_notifications(
    user: CompanyUserDep,
    page: int = Query(1, ge=1),
    page_size: int = Query(20, ge=1, le=100),
    unread_only: bool = False,
) -> NotificationPageOut:
    with public_session() as session:
        result = notifications.list_for_user(
            session, user.id, user.tenant_id or 0, page=page, page_size=page_size, unread_only=unread_only
        )
        unread = notifications.unread_count(session, user.id, user.tenant_id or 0)
    return NotificationPageOut(
        items=result.items, total=result.total, page=result.page, page_size=result.page_size, unread=unread
    )


@router.get("/unread-count", response_model=Count)
def unread_count(user: CompanyUserDep) -> Count:
    with public_session() as session:
        return Count(unread=notifications.unread_count(session, user.id, user.tenant_id or 0))


@router.post("/{notification_id}/read", response_model=Marked)
def mark_read(notification_id: int, user: CompanyUserDep) -> Marked:
    with public_session() as session:
        if not notifications.mark_read(session, user.id, user.tenant_id or 0, notification_id):
            raise NotFound(f"notification {notification_id} not found")
    return Marked(marked=1)


@router.post("/mark-all-read", response_model=Marked)
def mark_all_read(user: CompanyUserDep) -> Marked:
    with public_session() as session:
        return Marked(marked=notifications.mark_all_read(session, user.id, user.tenant_id or 0))
