"""Audit log: filters (tenant, user, action, entity, dates), pages of 25, old and new values."""

from __future__ import annotations

from typing import Any, TypedDict

import reflex as rx

from admin_app.state.base import AdminState, form_str
from services import admin_queries

PAGE_SIZE = 25


class AuditRow(TypedDict):
    id: int
    at: str
    actor: str
    tenant: str
    action: str
    entity: str
    old_values: str
    new_values: str
    ip_address: str


class Choice(TypedDict):
    value: str
    label: str


class AuditState(AdminState):
    rows: list[AuditRow] = []
    total: int = 0
    page: int = 1
    pages: int = 1
    tenants: list[Choice] = []
    actions: list[str] = []
    entities: list[str] = []
    f_tenant: str = ""
    f_user: str = ""
    f_action: str = ""
    f_entity: str = ""
    f_entity_id: str = ""
    f_from: str = ""
    f_to: str = ""

    @rx.event
    async def load(self):
        await self.require_admin()
        options = await self.call(admin_queries.audit_filters)
        self.actions, self.entities = options["actions"], options["entities"]
        tenants = await self.call(admin_queries.tenant_overview)
        self.tenants = [Choice(value=str(t["id"]), label=t["name"]) for t in tenants]
        await self._query()

    async def _query(self) -> None:
        result = await self.call(
            admin_queries.audit_page,
            tenant_id=int(self.f_tenant) if self.f_tenant.isdigit() else None,
            user=self.f_user or None,
            action=self.f_action or None,
            entity_type=self.f_entity or None,
            entity_id=self.f_entity_id or None,
            date_from=self.f_from or None,
            date_to=self.f_to or None,
            page=self.page,
            page_size=PAGE_SIZE,
        )
        self.rows = [AuditRow(**r) for r in result["items"]]
        self.total, self.pages = result["total"], result["pages"]
        self.page = min(self.page, self.pages)

    @rx.event
    async def apply(self, form: dict[str, Any]):
        await self.require_admin()
        self.f_tenant = form_str(form, "tenant")
        self.f_user = form_str(form, "user")
        self.f_action = form_str(form, "action")
        self.f_entity = form_str(form, "entity")
        self.f_entity_id = form_str(form, "entity_id")
        self.f_from = form_str(form, "date_from")
        self.f_to = form_str(form, "date_to")
        self.page = 1
        await self._query()

    @rx.event
    async def clear(self):
        await self.require_admin()
        self.f_tenant = self.f_user = self.f_action = self.f_entity = self.f_entity_id = self.f_from = self.f_to = ""
        self.page = 1
        await self._query()

    @rx.event
    async def go(self, delta: int):
        await self.require_admin()
        self.page = max(1, min(self.pages, self.page + delta))
        await self._query()
