"""Tenants: the list (search, status filter, activate/deactivate) and the new-tenant page."""

from __future__ import annotations

import reflex as rx

from admin_app import routes
from admin_app.components.forms import ai_settings_fields, text_input
from admin_app.routes import tenant_url
from admin_app.state.tenants import TenantRow, TenantsState
from portal_common import page, styles
from portal_common.components import data_table, empty_row, error_callout, field, page_header, section, status_badge
from services.retention import RETENTION_PROMISE


def tenant_row(t: TenantRow) -> rx.Component:
    href = tenant_url(t["id"])
    return rx.table.row(
        rx.table.cell(
            rx.link(t["name"], href=href, weight="medium"),
            rx.text(t["slug"], size="1", color=styles.MUTED),
        ),
        rx.table.cell(status_badge(t["status"])),
        rx.table.cell(rx.link(t["projects"], href=tenant_url(t["id"], "projects"))),
        rx.table.cell(rx.link(t["users"], href=tenant_url(t["id"], "users"))),
        rx.table.cell(t["sources"]),
        rx.table.cell(t["retention_days"].to(str) + " d"),
        rx.table.cell(
            rx.text(t["ai_provider"]),
            rx.text(rx.cond(t["ai_key_set"], "key set", "no key"), size="1", color=styles.MUTED),
        ),
        rx.table.cell(
            rx.hstack(
                rx.link(rx.button("Settings", size="1", variant="soft"), href=href),
                rx.button(
                    rx.cond(t["status"] == "active", "Deactivate", "Activate"),
                    size="1",
                    variant="soft",
                    color_scheme=rx.cond(t["status"] == "active", "red", "green"),
                    on_click=TenantsState.toggle_status(t["id"], t["status"]),
                ),
                spacing="2",
            )
        ),
    )


@page(
    routes.TENANTS,
    "Tenants",
    nav="Tenants",
    icon="building-2",
    order=10,
    on_load=TenantsState.load,
    old_routes=("/tenants",),
)
def tenants_page() -> rx.Component:
    return rx.vstack(
        page_header(
            "Tenants",
            "Companies using the platform: each has its own database schema.",
            rx.link(rx.button(rx.icon("plus", size=16), "New tenant", id="new-tenant"), href=routes.TENANT_NEW),
        ),
        rx.flex(
            rx.input(
                placeholder="Search name or slug",
                value=TenantsState.search,
                on_change=TenantsState.set_search.debounce(300),
                width=rx.breakpoints(initial="100%", sm="280px"),
                id="tenant-search",
            ),
            rx.select(
                ["all", "active", "inactive"],
                custom_attrs={"aria-label": "Status"},
                value=TenantsState.status_filter,
                on_change=TenantsState.set_status_filter,
            ),
            gap="8px",
            wrap="wrap",
            width="100%",
        ),
        data_table(
            ["Tenant", "Status", "Projects", "Users", "Sources", "Retention", "AI", ""],
            rx.cond(
                TenantsState.rows.length() > 0,
                rx.foreach(TenantsState.rows, tenant_row),
                empty_row(8, "No tenants match."),
            ),
        ),
        width="100%",
        spacing="4",
    )


@page(routes.TENANT_NEW, "New tenant", on_load=TenantsState.open_new)
def new_tenant_page() -> rx.Component:
    return rx.vstack(
        rx.link("← Tenants", href=routes.TENANTS, size="2"),
        page_header("New tenant", "Creates the company's database schema and runs its migrations (a few seconds)."),
        section(
            "Company",
            rx.form(
                rx.vstack(
                    error_callout(TenantsState.create_error),
                    field("Company name", text_input("name", required=True, placeholder="Acme Corp")),
                    field(
                        "Slug",
                        text_input("slug", required=True, placeholder="acme", pattern="[a-z][a-z0-9_]{1,30}"),
                        "Names the company's database schema (tenant_<slug>): lowercase letters, digits, underscores.",
                    ),
                    field(
                        "Retention (days)",
                        text_input("retention_days", type="number", default_value="730", min=30, max=3650),
                        RETENTION_PROMISE,
                    ),
                    *ai_settings_fields(),
                    rx.hstack(
                        rx.link(
                            rx.button("Cancel", variant="soft", color_scheme="gray", type="button"), href=routes.TENANTS
                        ),
                        rx.button("Create tenant", type="submit", id="create-tenant", loading=TenantsState.creating),
                        justify="end",
                        width="100%",
                        spacing="2",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=TenantsState.create,
                width="100%",
            ),
            max_width="720px",
        ),
        width="100%",
        spacing="4",
    )
