"""Project detail: DMT settings and the project's sources."""

from __future__ import annotations

import reflex as rx

from admin_app.components.forms import text_input
from admin_app.state.project_detail import ProjectDetailState, RuleRow, SourceRow
from etl.rules import SEVERITIES
from portal_common import page, styles
from portal_common.components import data_table, empty_row, error_callout, field, page_header, section, status_badge


def rule_row(r: RuleRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.checkbox(name="rule_" + r["id"] + "_enabled", default_checked=r["enabled"]),
        ),
        rx.table.cell(rx.code(r["id"]), rx.text(r["message"], size="1", color=styles.MUTED)),
        rx.table.cell(
            rx.el.select(
                *[rx.el.option(s, value=s) for s in SEVERITIES],
                name="rule_" + r["id"] + "_severity",
                default_value=r["severity"],
                style={**styles.native_select_style, "width": "auto", "height": "28px"},
            ),
            rx.text("default " + r["default_severity"], size="1", color=styles.MUTED),
        ),
    )


def source_row(s: SourceRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(s["name"], href="/sources/" + s["id"].to(str))),
        rx.table.cell(s["source_type"]),
        rx.table.cell(status_badge(s["status"])),
        rx.table.cell(s["last_sync_at"]),
    )


def settings_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            error_callout(ProjectDetailState.error),
            rx.grid(
                field("Name", text_input("name", default_value=ProjectDetailState.name, required=True)),
                field(
                    "Coverage threshold (%)",
                    text_input(
                        "coverage_threshold",
                        type="number",
                        step="0.1",
                        default_value=ProjectDetailState.coverage_threshold,
                    ),
                    "Items under this coverage get a low_coverage flag.",
                ),
                field(
                    "Exception warning (days)",
                    text_input(
                        "exception_warning_days", type="number", default_value=ProjectDetailState.exception_warning_days
                    ),
                    "Warn this many days before an approved exception expires.",
                ),
                field(
                    "Sprint ending notice (days)",
                    text_input(
                        "sprint_ending_days", type="number", default_value=ProjectDetailState.sprint_ending_days
                    ),
                    "Notify this many days before a sprint ends.",
                ),
                columns=rx.breakpoints(initial="1", sm="2"),
                spacing="3",
                width="100%",
            ),
            field("Description", text_input("description", default_value=ProjectDetailState.description)),
            rx.checkbox("Project active", name="is_active", default_checked=ProjectDetailState.is_active),
            rx.text("DMT rules", weight="medium"),
            data_table(["On", "Rule", "Severity"], rx.foreach(ProjectDetailState.rules, rule_row)),
            rx.button("Save DMT settings", type="submit", id="save-settings"),
            spacing="3",
            width="100%",
            key=ProjectDetailState.version.to(str),
        ),
        on_submit=ProjectDetailState.save,
        width="100%",
    )


@page("/projects/[project_id]", "Project", on_load=ProjectDetailState.load)
def project_detail() -> rx.Component:
    return rx.cond(
        ProjectDetailState.not_found != "",
        rx.vstack(error_callout(ProjectDetailState.not_found), rx.link("Back to tenants", href="/tenants")),
        rx.vstack(
            rx.link(
                "← " + ProjectDetailState.tenant_name, href="/tenants/" + ProjectDetailState.tenant_id.to(str), size="2"
            ),
            page_header(
                ProjectDetailState.key + " · " + ProjectDetailState.name,
                "Project of " + ProjectDetailState.tenant_name,
            ),
            section("DMT settings", settings_form()),
            section(
                "Sources",
                data_table(
                    ["Source", "Type", "Status", "Last sync"],
                    rx.cond(
                        ProjectDetailState.source_rows.length() > 0,
                        rx.foreach(ProjectDetailState.source_rows, source_row),
                        empty_row(4, "No sources yet."),
                    ),
                ),
                actions=rx.link(
                    rx.button(rx.icon("plus", size=14), "Add a source", size="2", variant="soft"),
                    href="/sources?project=" + ProjectDetailState.project_id.to(str),
                ),
            ),
            width="100%",
            spacing="4",
        ),
    )
