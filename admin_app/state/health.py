"""Health: every source's sync state, the Celery queue and workers, database and Redis."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, TypedDict

import reflex as rx

from admin_app import routes
from admin_app.state.base import AdminState
from portal_common import AuthState
from services import admin_queries
from services.health import database_status, redis_status

AUTO_REFRESH_SECONDS = 10

#: Client tokens with a running auto-refresh loop in this process.
_REFRESHING: set[str] = set()


class HealthRow(TypedDict):
    id: int
    tenant: str
    project: str
    name: str
    source_type: str
    status: str
    is_active: bool
    last_sync_at: str
    last_success_at: str
    consecutive_failures: int
    circuit_open: bool
    last_error: str


def _status_text(status: dict[str, Any]) -> str:
    return f"ok · {status.get('latency_ms', '?')} ms" if status.get("ok") else str(status.get("error", "down"))


class HealthState(AdminState):
    rows: list[HealthRow] = []
    db_ok: bool = False
    db_text: str = ""
    redis_ok: bool = False
    redis_text: str = ""
    queue_ok: bool = False
    queue_depth: int = 0
    queue_text: str = ""
    workers_ok: bool = False
    workers: list[str] = []
    workers_text: str = ""
    checked_at: str = ""
    refreshing: bool = False

    @rx.event
    async def load(self):
        await self.require_admin()
        self.workers_text = "pinging workers ..."
        await self._refresh(ping_workers=False)
        return [HealthState.ping_workers, HealthState.auto_refresh]

    @rx.event(background=True)
    async def ping_workers(self):
        """The worker ping takes up to a second: show the rest first."""
        async with self:
            await self.require_admin()
        workers = await self.call(admin_queries.celery_workers, 1.0)
        async with self:
            self._show_workers(workers)

    def _show_workers(self, workers: dict[str, Any]) -> None:
        self.workers = list(workers["workers"])
        self.workers_ok = bool(workers["ok"]) and bool(self.workers)
        self.workers_text = (
            f"{len(self.workers)} answering"
            if self.workers
            else ("no worker answered the ping within 1 s" if workers["ok"] else str(workers.get("error", "")))
        )

    async def _refresh(self, ping_workers: bool) -> None:
        db, redis = await asyncio.gather(self.call(database_status), self.call(redis_status))
        self.db_ok, self.db_text = bool(db["ok"]), _status_text(db)
        self.redis_ok, self.redis_text = bool(redis["ok"]), _status_text(redis)
        queue = await self.call(admin_queries.celery_queue_depth)
        self.queue_ok, self.queue_depth = bool(queue["ok"]), int(queue["depth"])
        self.queue_text = f"{queue['depth']} waiting" if queue["ok"] else str(queue.get("error", ""))
        if ping_workers:
            self._show_workers(await self.call(admin_queries.celery_workers, 1.0))
        rows = await self.call(admin_queries.source_health)
        self.rows = [HealthRow(**{k: r[k] for k in HealthRow.__annotations__}) for r in rows]

        self.checked_at = datetime.now(UTC).strftime("%H:%M:%S UTC")

    @rx.event
    async def refresh(self):
        await self.require_admin()
        self.refreshing = True
        yield
        await self._refresh(ping_workers=True)
        self.refreshing = False

    @rx.event
    async def on_live(self, events: list[dict[str, Any]]):
        await self.require_admin()
        await self._refresh(ping_workers=False)

    @rx.event(background=True)
    async def auto_refresh(self):
        """Re-check every few seconds while the Health page stays open (worker ping included)."""
        token = self.router.session.client_token
        if token in _REFRESHING:
            return
        _REFRESHING.add(token)
        try:
            await self._auto_refresh_loop()
        finally:
            _REFRESHING.discard(token)

    async def _auto_refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(AUTO_REFRESH_SECONDS)
            async with self:
                auth = await self.get_state(AuthState)
                if getattr(auth, "_route", "") != routes.HEALTH:
                    return
                try:
                    await self.require_admin()
                except Exception:  # noqa: BLE001 - signed out: stop quietly
                    return
            workers = await self.call(admin_queries.celery_workers, 1.0)
            async with self:
                await self._refresh(ping_workers=False)
                self._show_workers(workers)
