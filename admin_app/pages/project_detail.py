"""A project's pages: DMT settings, and its sources."""

from __future__ import annotations

import reflex as rx

from admin_app import routes
from admin_app.components.forms import percent_input, text_input
from admin_app.routes import project_url, source_url, tenant_url
from admin_app.state.project_detail import PointsRow, ProjectDetailState, RuleRow, SourceRow
from etl.rules import SEVERITIES
from portal_common import page, styles
from portal_common.components import (
    data_table,
    empty_row,
    error_callout,
    field,
    page_header,
    section,
    status_badge,
    tab_links,
)
from services.dashboards.dashboard_charts import COMPLIANCE_WARNING_BAND


def rule_row(r: RuleRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.checkbox(
                name="rule_" + r["id"] + "_enabled", default_checked=r["enabled"], aria_label="Enabled: " + r["id"]
            ),
        ),
        rx.table.cell(rx.code(r["id"]), rx.text(r["message"], size="1", color=styles.MUTED)),
        rx.table.cell(
            rx.el.select(
                *[rx.el.option(s, value=s) for s in SEVERITIES],
                name="rule_" + r["id"] + "_severity",
                default_value=r["severity"],
                aria_label="Severity: " + r["id"],
                style={**styles.native_select_style, "width": "auto", "height": "28px"},
            ),
            rx.text("default " + r["default_severity"], size="1", color=styles.MUTED),
        ),
    )


def source_row(s: SourceRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(s["name"], href=source_url(s["id"]), weight="medium")),
        rx.table.cell(s["source_type"]),
        rx.table.cell(status_badge(s["status"])),
        rx.table.cell(s["last_sync_at"]),
        rx.table.cell(rx.cond(s["is_active"], "yes", "no")),
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
                    "Compliance target (%)",
                    percent_input("compliance_target", ProjectDetailState.compliance_target),
                    "The company dashboard's compliance gauge is green at or above it, yellow within "
                    f"{COMPLIANCE_WARNING_BAND:g} points below it, red further below.",
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


def project_frame(current: str, *sections: rx.Component) -> rx.Component:
    """Header and sub-page links of a project's pages around `sections`."""
    p = ProjectDetailState
    return rx.cond(
        p.not_found != "",
        rx.vstack(error_callout(p.not_found), rx.link("Back to tenants", href=routes.TENANTS)),
        rx.vstack(
            rx.link("← " + p.tenant_name + " projects", href=tenant_url(p.tenant_id, "projects"), size="2"),
            page_header(p.key + " · " + p.name, "Project of " + p.tenant_name),
            tab_links(
                current,
                ("DMT settings", project_url(p.project_id)),
                ("Sources", project_url(p.project_id, "sources")),
                ("Add a source", project_url(p.project_id, "sources/new")),
            ),
            *sections,
            width="100%",
            spacing="4",
        ),
    )


@page(
    routes.PROJECT,
    "Project",
    on_load=ProjectDetailState.load,
    old_routes=("/projects/[project_id]",),
    nav_parent=routes.TENANTS,
)
def project_detail() -> rx.Component:
    return project_frame("DMT settings", section("DMT settings", settings_form()))


@page(routes.PROJECT_SOURCES, "Project sources", on_load=ProjectDetailState.load, nav_parent=routes.TENANTS)
def project_sources() -> rx.Component:
    p = ProjectDetailState
    return project_frame(
        "Sources",
        section(
            "Sources",
            data_table(
                ["Source", "Type", "Status", "Last sync", "Active"],
                rx.cond(
                    p.source_rows.length() > 0,
                    rx.foreach(p.source_rows, source_row),
                    empty_row(5, "No sources yet: add one."),
                ),
            ),
            actions=rx.link(
                rx.button(rx.icon("plus", size=14), "Add a source", size="2", variant="soft", id="add-source"),
                href=project_url(p.project_id, "sources/new"),
            ),
        ),
        section(
            "Data quality: story points left out of the figures",
            rx.text(
                p.points_total.to(str)
                + " items have story points below 0 or above "
                + p.points_ceiling.to(str)
                + "; they count as 0 in velocity until corrected in the tool.",
                size="2",
                color=styles.MUTED,
            ),
            data_table(
                ["Item", "Title", "Points", "Status"],
                rx.cond(
                    p.points_rows.length() > 0,
                    rx.foreach(p.points_rows, points_row),
                    empty_row(4, "No item has story points out of range."),
                ),
            ),
        ),
    )


def points_row(r: PointsRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.cond(r["url"] != "", rx.link(r["key"], href=r["url"], is_external=True), rx.text(r["key"]))),
        rx.table.cell(r["title"]),
        rx.table.cell(r["points"]),
        rx.table.cell(r["status"]),
    )
