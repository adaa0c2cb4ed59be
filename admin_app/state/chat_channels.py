"""A tenant's Slack and Teams channels in the admin portal: save a webhook for the company or a project,
switch it off, remove it, send a test message. Platform admins only (checked on every event)."""

from __future__ import annotations

from typing import Any, TypedDict

import reflex as rx

from admin_app.state.base import AdminState, error_message, form_str, int_param
from services import chat_channels
from services.notifications import NOTIFICATION_KINDS


class ChannelRow(TypedDict):
    id: int
    scope: str
    channel_type: str
    name: str
    url_hint: str
    kinds: str
    is_active: bool
    last_test: str
    last_test_ok: bool


def _row(c: chat_channels.ChatChannelPublic) -> ChannelRow:
    tested = c.last_test_message or "not tested"
    if c.last_test_at:
        tested = f"{c.last_test_at[:16].replace('T', ' ')} UTC: {tested}"
    return ChannelRow(
        id=c.id,
        scope=c.scope,
        channel_type=chat_channels.CHANNEL_TYPES.get(c.channel_type, c.channel_type),
        name=c.name,
        url_hint=c.url_hint,
        kinds=", ".join(NOTIFICATION_KINDS.get(k, k) for k in c.kinds) or "all notifications",
        is_active=c.is_active,
        last_test=tested,
        last_test_ok=bool(c.last_test_ok),
    )


class ChatChannelsState(AdminState):
    channel_rows: list[ChannelRow] = []
    channel_error: str = ""
    channel_notice: str = ""
    channels_tenant_id: int = 0

    async def _reload(self) -> None:
        rows = await self.call(chat_channels.list_channels, self.channels_tenant_id)
        self.channel_rows = [_row(c) for c in rows]

    @rx.event
    async def load_channels(self):
        await self.require_admin()
        self.channels_tenant_id = int_param(self, "tenant_id")
        self.channel_error = self.channel_notice = ""
        await self._reload()

    @rx.event
    async def save_channel(self, form: dict[str, Any]):
        user = await self.require_admin()
        project = form_str(form, "project_id")
        try:
            data = chat_channels.ChatChannelSave(
                tenant_id=self.channels_tenant_id,
                project_id=int(project) if project.isdigit() else None,
                channel_type=form_str(form, "channel_type") or "slack",
                webhook_url=form_str(form, "webhook_url"),
                name=form_str(form, "channel_name"),
                kinds=[k for k in NOTIFICATION_KINDS if form.get(f"kind_{k}")],
            )
            saved = await self.call(chat_channels.save_channel, data, self.actor_of(user))
        except Exception as exc:  # noqa: BLE001 - service and validation errors are shown; others re-raised
            self.channel_error, self.channel_notice = error_message(exc), ""
            return
        self.channel_error = ""
        self.channel_notice = f"{saved.name} saved for {saved.scope}: send a test message to check it."
        await self._reload()

    @rx.event
    async def send_test(self, channel_id: int):
        user = await self.require_admin()
        try:
            result = await self.call(
                chat_channels.send_test_message, self.channels_tenant_id, channel_id, self.actor_of(user)
            )
        except Exception as exc:  # noqa: BLE001
            self.channel_error, self.channel_notice = error_message(exc), ""
            return
        if result.ok:
            self.channel_error, self.channel_notice = "", result.message
        else:
            self.channel_error, self.channel_notice = result.message, ""
        await self._reload()

    @rx.event
    async def toggle_channel(self, channel_id: int, active: bool):
        user = await self.require_admin()
        try:
            await self.call(
                chat_channels.set_channel_active, self.channels_tenant_id, channel_id, active, self.actor_of(user)
            )
        except Exception as exc:  # noqa: BLE001
            self.channel_error = error_message(exc)
            return
        await self._reload()

    @rx.event
    async def remove_channel(self, channel_id: int):
        user = await self.require_admin()
        try:
            await self.call(chat_channels.delete_channel, self.channels_tenant_id, channel_id, self.actor_of(user))
        except Exception as exc:  # noqa: BLE001
            self.channel_error = error_message(exc)
            return
        self.channel_notice = "Channel removed."
        await self._reload()
