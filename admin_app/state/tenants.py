"""Tenants list (search, status filter, activate/deactivate) and creating a tenant."""

from __future__ import annotations

from typing import Any, TypedDict

import reflex as rx

from admin_app.routes import tenant_url
from admin_app.state.base import AdminState, error_message, form_int, form_str
from models.enums import TenantStatus
from services import admin_queries, tenants


class TenantRow(TypedDict):
    id: int
    name: str
    slug: str
    status: str
    retention_days: int
    ai_provider: str
    ai_model: str
    ai_base_url: str
    ai_key_set: bool
    projects: int
    users: int
    sources: int
    created_at: str


def tenant_row(data: dict[str, Any]) -> TenantRow:
    return TenantRow(
        id=data["id"],
        name=data["name"],
        slug=data["slug"],
        status=data["status"],
        retention_days=data["retention_days"],
        ai_provider=data["ai_provider"],
        ai_model=data.get("ai_model") or "",
        ai_base_url=data.get("ai_base_url") or "",
        ai_key_set=bool(data["ai_key_set"]),
        projects=data.get("projects", 0),
        users=data.get("users", 0),
        sources=data.get("sources", 0),
        created_at=data.get("created_at", ""),
    )


def ai_fields(form: dict[str, Any], *, keep_key_when_empty: bool) -> dict[str, Any]:
    """AI provider settings from a form; an empty key field keeps the stored key on edit."""
    values: dict[str, Any] = {
        "ai_provider": form_str(form, "ai_provider") or "local",
        "ai_model": form_str(form, "ai_model") or None,
        "ai_base_url": form_str(form, "ai_base_url") or None,
    }
    key = form_str(form, "ai_api_key")
    if form.get("clear_ai_key"):
        values["ai_api_key"] = ""
    elif key or not keep_key_when_empty:
        values["ai_api_key"] = key or None
    return values


class TenantsState(AdminState):
    """The tenant list (search, status filter, activate/deactivate) and the new-tenant page."""

    rows: list[TenantRow] = []
    search: str = ""
    status_filter: str = "all"
    create_error: str = ""
    creating: bool = False

    @rx.event
    async def load(self):
        await self.require_admin()
        await self._load_rows()

    @rx.event
    async def open_new(self):
        """on_load of the new-tenant page."""
        await self.require_admin()
        self.create_error = ""
        self.creating = False

    async def _load_rows(self) -> None:
        status = None if self.status_filter == "all" else self.status_filter
        data = await self.call(admin_queries.tenant_overview, self.search, status)
        self.rows = [tenant_row(d) for d in data]

    @rx.event
    async def set_search(self, value: str):
        self.search = value
        await self.load()

    @rx.event
    async def set_status_filter(self, value: str):
        self.status_filter = value
        await self.load()

    @rx.event(background=True)
    async def create(self, form: dict[str, Any]):
        """Create the tenant, then open its page; provisioning the schema takes seconds, so the lock is not held."""
        async with self:
            user = await self.require_admin()
            actor = self.actor_of(user)
            self.creating = True
            self.create_error = ""
        try:
            data = tenants.TenantCreate(
                name=form_str(form, "name"),
                slug=form_str(form, "slug").lower(),
                retention_days=form_int(form, "retention_days", 730),
                **ai_fields(form, keep_key_when_empty=False),
            )
            tenant = await self.call(tenants.create_tenant, data, actor)
        except Exception as exc:  # noqa: BLE001 - shown on the form in words
            async with self:
                self.creating = False
                self.create_error = error_message(exc)
            return None
        async with self:
            self.creating = False
        return [
            rx.redirect(str(tenant_url(tenant.id or 0))),
            rx.toast.success(f"Tenant {tenant.name} created (schema tenant_{tenant.slug})"),
        ]

    @rx.event
    async def toggle_status(self, tenant_id: int, status: str):
        user = await self.require_admin()
        new = TenantStatus.INACTIVE if status == TenantStatus.ACTIVE else TenantStatus.ACTIVE
        await self.call(tenants.set_tenant_status, tenant_id, new, self.actor_of(user))
        await self.load()
        return rx.toast.info(
            "Tenant deactivated: its users cannot sign in" if new == TenantStatus.INACTIVE else "Tenant activated"
        )
