"""The health page's dead letters: notification emails and chat posts that failed for good, and sending one
again once its cause is fixed. Platform admins only."""

from __future__ import annotations

from typing import TypedDict

import reflex as rx

from admin_app.state.base import AdminState, error_message
from services import delivery


class DeadLetterRow(TypedDict):
    id: int
    tenant: str
    channel: str
    recipient: str
    subject: str
    attempts: int
    last_error: str
    dead_at: str


class DeadLettersState(AdminState):
    dead_rows: list[DeadLetterRow] = []
    dead_total: int = 0
    pending_total: int = 0
    sent_total: int = 0
    dead_error: str = ""

    async def _reload(self) -> None:
        letters = await self.call(delivery.dead_letters, 50)
        counts = await self.call(delivery.delivery_counts)
        self.dead_rows = [
            DeadLetterRow(
                id=d.id,
                tenant=d.tenant_name,
                channel=d.channel + (" digest" if d.purpose == "digest" else ""),
                recipient=d.recipient,
                subject=d.subject,
                attempts=d.attempts,
                last_error=d.last_error,
                dead_at=d.dead_at[:16].replace("T", " "),
            )
            for d in letters
        ]
        self.dead_total, self.pending_total, self.sent_total = counts["dead"], counts["pending"], counts["sent"]

    @rx.event
    async def load_dead_letters(self):
        await self.require_admin()
        self.dead_error = ""
        await self._reload()

    @rx.event
    async def retry(self, delivery_id: int):
        user = await self.require_admin()
        try:
            await self.call(delivery.retry_dead_letter, delivery_id, self.actor_of(user))
        except Exception as exc:  # noqa: BLE001
            self.dead_error = error_message(exc)
            return
        self.dead_error = ""
        await self._reload()
