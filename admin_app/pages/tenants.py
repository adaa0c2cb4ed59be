"""Tenants: list with search and status filter, create, edit, activate/deactivate."""

from __future__ import annotations

import reflex as rx

from admin_app.components.forms import (
    ai_settings_fields,
    dialog,
    form_buttons,
    text_input,
)
from admin_app.state.tenants import TenantRow, TenantsState
from portal_common import page, styles
from portal_common.components import data_table, empty_row, error_callout, field, page_header, status_badge


def create_dialog() -> rx.Component:
    return dialog(
        "New tenant",
        rx.button(rx.icon("plus", size=16), "New tenant", id="new-tenant"),
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
                    "Data older than this is archived and removed each quarter (30-3650).",
                ),
                *ai_settings_fields(),
                form_buttons("Create tenant", "create-tenant", loading=TenantsState.creating),
                spacing="3",
                width="100%",
            ),
            on_submit=TenantsState.create,
        ),
        TenantsState.create_open,
        TenantsState.set_create_open,
    )


def edit_dialog() -> rx.Component:
    t = TenantsState.editing
    return dialog(
        "Edit tenant",
        None,
        rx.form(
            rx.vstack(
                error_callout(TenantsState.edit_error),
                rx.text("Slug: ", rx.code(t["slug"]), " (fixed: it names the schema)", size="2"),
                field("Company name", text_input("name", required=True, default_value=t["name"])),
                field(
                    "Retention (days)",
                    text_input("retention_days", type="number", default_value=t["retention_days"].to(str)),
                ),
                *ai_settings_fields(t["ai_provider"], t["ai_model"], t["ai_base_url"], t["ai_key_set"]),
                rx.cond(
                    t["ai_key_set"],
                    rx.checkbox("Remove the stored API key", name="clear_ai_key"),
                ),
                form_buttons("Save"),
                spacing="3",
                width="100%",
                key=t["id"].to(str),
            ),
            on_submit=TenantsState.save_edit,
        ),
        TenantsState.edit_open,
        TenantsState.set_edit_open,
    )


def tenant_row(t: TenantRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.link(t["name"], href="/tenants/" + t["id"].to(str), weight="medium"),
            rx.text(t["slug"], size="1", color=styles.MUTED),
        ),
        rx.table.cell(status_badge(t["status"])),
        rx.table.cell(t["projects"]),
        rx.table.cell(t["users"]),
        rx.table.cell(t["sources"]),
        rx.table.cell(t["retention_days"].to(str) + " d"),
        rx.table.cell(
            rx.text(t["ai_provider"]),
            rx.text(rx.cond(t["ai_key_set"], "key set", "no key"), size="1", color=styles.MUTED),
        ),
        rx.table.cell(
            rx.hstack(
                rx.button("Edit", size="1", variant="soft", on_click=TenantsState.start_edit(t)),
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


@page("/tenants", "Tenants", nav="Tenants", icon="building-2", order=10, on_load=TenantsState.load)
def tenants_page() -> rx.Component:
    return rx.vstack(
        page_header("Tenants", "Companies using the platform: each has its own database schema.", create_dialog()),
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
        edit_dialog(),
        width="100%",
        spacing="4",
    )
