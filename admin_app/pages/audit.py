"""Audit log: who changed what, with old and new values side by side."""

from __future__ import annotations

import reflex as rx

from admin_app import routes
from admin_app.components.forms import text_input
from admin_app.state.audit import AuditRow, AuditState
from portal_common import page, styles
from portal_common.components import data_table, empty_row, field, page_header

MUTED = styles.MUTED


def choice_select(name: str, all_label: str, options: rx.Var, current: rx.Var, labelled: bool = False) -> rx.Component:
    return rx.el.select(
        rx.el.option(all_label, value=""),
        rx.foreach(
            options,
            (lambda c: rx.el.option(c["label"], value=c["value"]))
            if labelled
            else (lambda v: rx.el.option(v, value=v)),
        ),
        name=name,
        id=f"audit-{name}",
        default_value=current,
        style=styles.native_select_style,
    )


def filters() -> rx.Component:
    return rx.form(
        rx.grid(
            field("Tenant", choice_select("tenant", "All tenants", AuditState.tenants, AuditState.f_tenant, True)),
            field("User (email contains)", text_input("user", default_value=AuditState.f_user)),
            field("Action", choice_select("action", "All actions", AuditState.actions, AuditState.f_action)),
            field("Entity", choice_select("entity", "All entities", AuditState.entities, AuditState.f_entity)),
            field("Entity id", text_input("entity_id", default_value=AuditState.f_entity_id)),
            field("From", text_input("date_from", type="date", default_value=AuditState.f_from)),
            field("To", text_input("date_to", type="date", default_value=AuditState.f_to)),
            rx.hstack(
                rx.button("Filter", type="submit", id="audit-filter"),
                rx.button("Clear", type="button", variant="soft", color_scheme="gray", on_click=AuditState.clear),
                align="end",
                height="100%",
                spacing="2",
            ),
            columns=rx.breakpoints(initial="1", sm="2", lg="4"),
            spacing="3",
            width="100%",
        ),
        on_submit=AuditState.apply,
        width="100%",
    )


def row(r: AuditRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(r["at"], size="1", white_space="nowrap")),
        rx.table.cell(rx.text(r["actor"], size="2"), rx.text(r["ip_address"], size="1", color=MUTED)),
        rx.table.cell(r["tenant"]),
        rx.table.cell(rx.code(r["action"])),
        rx.table.cell(r["entity"]),
        rx.table.cell(rx.text(r["old_values"], style=styles.values_style, color="var(--red-11)")),
        rx.table.cell(rx.text(r["new_values"], style=styles.values_style, color="var(--green-11)")),
    )


@page(
    routes.AUDIT_LOGS,
    "Audit log",
    nav="Audit log",
    icon="scroll-text",
    order=40,
    on_load=AuditState.load,
    old_routes=("/audit",),
)
def audit_page() -> rx.Component:
    return rx.vstack(
        page_header("Audit log", "Every change to tenants, users, projects and sources (append-only)."),
        rx.card(filters(), width="100%"),
        data_table(
            ["When (UTC)", "Who", "Tenant", "Action", "Entity", "Old values", "New values"],
            rx.cond(AuditState.rows.length() > 0, rx.foreach(AuditState.rows, row), empty_row(7, "No entries match.")),
        ),
        rx.hstack(
            rx.button("← Newer", on_click=AuditState.go(-1), disabled=AuditState.page <= 1, variant="soft", size="1"),
            rx.text(
                "Page "
                + AuditState.page.to(str)
                + " of "
                + AuditState.pages.to(str)
                + " · "
                + AuditState.total.to(str)
                + " entries",
                size="2",
            ),
            rx.button(
                "Older →",
                on_click=AuditState.go(1),
                disabled=AuditState.page >= AuditState.pages,
                variant="soft",
                size="1",
            ),
            align="center",
            spacing="3",
        ),
        width="100%",
        spacing="4",
    )
