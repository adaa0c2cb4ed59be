"""The system overview (/dashboard): tenants, sources by status, syncs and failures per day, queue depth."""

from __future__ import annotations

from typing import Any

import reflex as rx

from admin_app.state.base import AdminState
from services.system_overview import SystemOverview, system_overview

#: Live events after which the overview re-reads its figures.
OVERVIEW_EVENTS = ("sync.started", "sync.finished", "sync.failed")


class OverviewState(AdminState):
    data: SystemOverview = SystemOverview()
    status_chart: list[dict[str, Any]] = []
    day_chart: list[dict[str, Any]] = []
    loaded: bool = False

    @rx.event
    async def load(self):
        await self.require_admin()
        await self._refresh()

    async def _refresh(self) -> None:
        data = await self.call(system_overview)
        self.data = data
        self.status_chart = [{**s.model_dump(), "status": s.status.replace("_", " ")} for s in data.sources_by_status]
        self.day_chart = [{**d.model_dump(), "label": d.day[5:]} for d in data.sync_days]
        self.loaded = True

    @rx.event
    async def on_live(self, events: list[dict[str, Any]]):
        if any(e.get("type") in OVERVIEW_EVENTS for e in events):
            await self.require_admin()
            await self._refresh()
