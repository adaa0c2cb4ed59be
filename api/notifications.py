"""Notifications at the spec's paths (section 4.3): the caller's own notifications only.

New ones are pushed on the `/ws/notifications/{user_id}` channel (api/channels.py). Beyond the spec: the
caller's delivery preferences (email at once or in the daily digest, per kind) and their next digest."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import CompanyUserDep
from core.errors import NotFound
from services import delivery, notifications

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
    result = notifications.list_for_user(
        user.id, user.tenant_id or 0, page=page, page_size=page_size, unread_only=unread_only
    )
    unread = notifications.unread_count(user.id, user.tenant_id or 0)
    return NotificationPageOut(
        items=result.items, total=result.total, page=result.page, page_size=result.page_size, unread=unread
    )


@router.get("/unread-count", response_model=Count)
def unread_count(user: CompanyUserDep) -> Count:
    return Count(unread=notifications.unread_count(user.id, user.tenant_id or 0))


@router.post("/{notification_id}/read", response_model=Marked)
def mark_read(notification_id: int, user: CompanyUserDep) -> Marked:
    if not notifications.mark_read(user.id, user.tenant_id or 0, notification_id):
        raise NotFound(f"notification {notification_id} not found")
    return Marked(marked=1)


@router.post("/mark-all-read", response_model=Marked)
def mark_all_read(user: CompanyUserDep) -> Marked:
    return Marked(marked=notifications.mark_all_read(user.id, user.tenant_id or 0))


class PreferenceIn(BaseModel):
    mode: Literal["in_app", "immediate", "digest"]


@router.get("/preferences", response_model=list[notifications.DeliveryPreference])
def list_preferences(user: CompanyUserDep) -> list[notifications.DeliveryPreference]:
    """How the caller hears about each kind: in_app (only), immediate (email at once) or digest (daily email)."""
    return notifications.list_preferences(user.id, user.tenant_id or 0)


@router.put("/preferences/{kind}", response_model=notifications.DeliveryPreference)
def set_preference(kind: str, body: PreferenceIn, user: CompanyUserDep) -> notifications.DeliveryPreference:
    """Choose how the caller hears about one kind of notification."""
    return notifications.set_preference(user.id, user.tenant_id or 0, kind, body.mode)


@router.get("/digest-preview", response_model=delivery.DigestPreview)
def digest_preview(user: CompanyUserDep) -> delivery.DigestPreview:
    """The caller's next daily digest as it stands (subject, text and HTML as they would be sent)."""
    return delivery.preview_digest(user.id, user.tenant_id or 0)
