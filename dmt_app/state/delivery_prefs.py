"""The notifications page's delivery section: how the user hears about each kind (in the app, email at once,
daily digest) and a preview of their next digest. The user and tenant come from the session, never the page."""

from __future__ import annotations

from typing import TypedDict

import reflex as rx

from core.errors import ServiceError
from dmt_app.state.base import CompanyState
from services import delivery, notifications
from services.auth import CurrentUser


class PreferenceRow(TypedDict):
    kind: str
    label: str
    mode: str


MODE_OPTIONS = list(notifications.DELIVERY_MODES.items())


def _preferences(user: CurrentUser) -> list[notifications.DeliveryPreference]:
    return notifications.list_preferences(user.id, user.tenant_id or 0)


def _choose(user: CurrentUser, kind: str, mode: str) -> None:
    notifications.set_preference(user.id, user.tenant_id or 0, kind, mode)


class DeliveryPrefsState(CompanyState):
    preferences: list[PreferenceRow] = []
    prefs_error: str = ""
    digest_subject: str = ""
    digest_text: str = ""
    digest_count: int = 0
    digest_send_at: str = ""
    email_enabled: bool = True

    async def _show(self, user: CurrentUser) -> None:
        prefs = await self.call(_preferences, user)
        self.preferences = [PreferenceRow(kind=p.kind, label=p.label, mode=p.mode) for p in prefs]
        preview = await self.call(delivery.preview_digest, user.id, user.tenant_id or 0)
        self.digest_subject, self.digest_text = preview.subject, preview.text
        self.digest_count = preview.count
        self.digest_send_at = preview.send_at[:16].replace("T", " ") + " UTC"
        self.email_enabled = preview.email_enabled

    @rx.event
    async def load_preferences(self):
        user = await self.require_user()
        self.prefs_error = ""
        await self._show(user)

    @rx.event
    async def choose(self, kind: str, mode: str):
        user = await self.require_user()
        try:
            await self.call(_choose, user, kind, mode)
        except ServiceError as exc:
            self.prefs_error = exc.message
            return
        self.prefs_error = ""
        await self._show(user)
