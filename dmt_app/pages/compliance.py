"""Compliance: the overview (/compliance) and the flags table (/compliance/flags: filters, sort, pages, resolve)."""

from __future__ import annotations

import reflex as rx

from dmt_app import routes
from dmt_app.components.exceptions import EXCUSABLE, flag_exception_badge, request_button
from dmt_app.components.ui import COLORS, empty, hint, item_link, page_body, severity_badge, toolbar
from dmt_app.state.compliance import ALL, ComplianceState, FlagsState
from portal_common import page, styles
from portal_common.components import data_table, empty_row, section, stat
from portal_common.formatting import percent_var

SEVERITIES = ["critical", "high", "medium", "low", "info"]


def _filter(label: str, name: str, value: rx.Var, options: list[tuple[str, str]] | rx.Var) -> rx.Component:
    if isinstance(options, list):
        items = [rx.select.item(text, value=v) for v, text in options]
    else:
        items = [rx.foreach(options, lambda o: rx.select.item(o["label"], value=o["value"]))]
    return rx.vstack(
        rx.text(label, size="1", color=styles.MUTED),
        rx.select.root(
            rx.select.trigger(min_width="150px", id=f"filter-{name}", aria_label=label),
            rx.select.content(rx.select.item("All", value=ALL), *items),
            value=value,
            on_change=lambda v: FlagsState.set_filter(name, v),
            size="2",
        ),
        spacing="1",
    )


def _sortable(label: str, column: str) -> rx.Component:
    s = FlagsState
    return rx.table.column_header_cell(
        rx.el.button(
            rx.text(label),
            rx.cond(
                s.sort == column,
                rx.cond(s.descending, rx.icon("arrow-down", size=14), rx.icon("arrow-up", size=14)),
                rx.icon("arrow-up-down", size=14, color=styles.MUTED),
            ),
            type="button",
            style=styles.bare_button_style,
            on_click=s.sort_by(column),
        ),
        aria_sort=rx.cond(s.sort == column, rx.cond(s.descending, "descending", "ascending"), "none"),
    )


def _flag_row(f: rx.Var) -> rx.Component:
    s = FlagsState
    return rx.table.row(
        rx.table.cell(severity_badge(f.severity)),
        rx.table.cell(rx.text(f.rule_title, weight="medium"), rx.text(f.message, size="1", color=styles.MUTED)),
        rx.table.cell(item_link(f.item_key, f.item_url), rx.text(f.item_title, size="1", color=styles.MUTED)),
        rx.table.cell(f.sprint_name),
        rx.table.cell(f.assignee),
        rx.table.cell(f.opened_at.to(str)[:10]),
        rx.table.cell(
            rx.cond(
                f.status == "open",
                rx.badge("open", color_scheme="red", variant="soft"),
                rx.vstack(
                    rx.badge("resolved", color_scheme="green", variant="soft"),
                    rx.text(f.resolution, " ", f.resolved_by, size="1", color=styles.MUTED),
                    spacing="1",
                ),
            ),
            flag_exception_badge(f.exception_status, f.exception_until, f.exception_covers),
        ),
        rx.table.cell(
            rx.hstack(
                rx.cond(
                    (f.status == "open") & s.can_resolve,
                    rx.button(
                        "Resolve",
                        size="1",
                        variant="soft",
                        on_click=s.ask_resolve(f.id, f.item_key + " · " + f.rule_title),
                        class_name="resolve-flag",
                    ),
                ),
                rx.cond(
                    (f.status == "open") & (f.exception_status == "") & EXCUSABLE.contains(f.rule_id),
                    request_button(f.item_id, f.item_key, f.rule_id),
                ),
                spacing="2",
            )
        ),
        class_name="flag-row",
    )


def _resolve_dialog() -> rx.Component:
    s = FlagsState
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Resolve this flag?"),
            rx.alert_dialog.description(
                rx.text(
                    "Flag ",
                    rx.text.strong(s.resolve_label),
                    ". Say why it can be closed: the note, your name "
                    "and the time are recorded in the audit log. If the item changes and still fails the rule, "
                    "the next evaluation reopens it.",
                ),
                size="2",
            ),
            rx.text_area(
                placeholder="e.g. tests were added in PR #42; coverage report attached to the build",
                value=s.resolve_note,
                on_change=s.set_resolve_note,
                margin_top="12px",
                id="resolve-note",
            ),
            rx.cond(
                s.resolve_error != "",
                rx.callout(s.resolve_error, color_scheme="red", icon="triangle-alert", margin_top="8px"),
            ),
            rx.flex(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.button(
                    "Resolve flag",
                    on_click=s.confirm_resolve,
                    id="confirm-resolve",
                    disabled=s.resolve_note.strip() == "",
                ),
                gap="3",
                justify="end",
                margin_top="16px",
            ),
        ),
        open=s.resolve_open,
        on_open_change=s.set_resolve_open,
    )


@page(
    routes.COMPLIANCE,
    "Compliance",
    nav="Compliance",
    icon="list-checks",
    order=90,
    on_load=ComplianceState.load,
    on_live=ComplianceState.on_live,
)
def compliance() -> rx.Component:
    s = ComplianceState
    o = s.overview
    return rx.vstack(
        toolbar(
            "Compliance",
            "Done Means Tested: where done items fall short, and why",
            s,
            rx.link(rx.button("All flags", variant="soft"), href=routes.FLAGS),
            rx.link(rx.button("Exceptions", variant="soft"), href=routes.EXCEPTIONS),
        ),
        page_body(
            s,
            rx.grid(
                stat(
                    "DMT compliance",
                    percent_var(o.compliance_rate),
                    o.compliant_items.to_string() + " of " + o.judged_items.to_string() + " evaluated done items",
                ),
                *[
                    rx.link(
                        stat(
                            rx.hstack(severity_badge(sev), rx.text("open", size="2", color=styles.MUTED)),
                            rx.cond(o.by_severity[sev], o.by_severity[sev].to_string(), "0"),
                        ),
                        href=f"{routes.FLAGS}?status=open&severity={sev}",
                        underline="none",
                        color="inherit",
                        class_name="severity-link",
                    )
                    for sev in ("critical", "high", "medium")
                ],
                columns=rx.breakpoints(initial="2", lg="4"),
                spacing="4",
                width="100%",
            ),
            section(
                "Open flags by rule",
                rx.cond(
                    s.rules_chart.length() > 0,
                    rx.vstack(
                        rx.recharts.bar_chart(
                            rx.recharts.cartesian_grid(stroke_dasharray="3 3", horizontal=False),
                            rx.recharts.x_axis(type_="number", font_size=12),
                            rx.recharts.y_axis(data_key="rule", type_="category", width=200, font_size=12, interval=0),
                            rx.recharts.graphing_tooltip(),
                            rx.recharts.bar(data_key="open", name="Open", fill=COLORS["bad"]),
                            data=s.rules_chart,
                            layout="vertical",
                            height=240,
                            width="100%",
                        ),
                        data_table(
                            ["Rule", "Open", "Resolved"],
                            rx.foreach(
                                s.rules_chart,
                                lambda r: rx.table.row(
                                    rx.table.cell(
                                        rx.link(
                                            r["rule"],
                                            href=routes.FLAGS + "?status=open&rule=" + r["rule_id"].to(str),
                                            class_name="rule-link",
                                        )
                                    ),
                                    rx.table.cell(r["open"]),
                                    rx.table.cell(r["resolved"]),
                                ),
                            ),
                            size="1",
                        ),
                        spacing="3",
                        width="100%",
                    ),
                    empty("No flags yet: flags appear after a sync evaluates done items against the DMT rules."),
                ),
            ),
        ),
        spacing="4",
        width="100%",
    )


@page(
    routes.FLAGS,
    "Compliance flags",
    nav="Flags",
    icon="flag",
    order=95,
    on_load=FlagsState.load,
    on_live=FlagsState.on_live,
)
def flags() -> rx.Component:
    s = FlagsState
    return rx.vstack(
        rx.link("← Compliance", href=routes.COMPLIANCE, size="2"),
        toolbar("Compliance flags", "Every flag raised on done items: filter, sort, and resolve with a note", s),
        page_body(
            s,
            rx.cond(
                s.notice != "",
                rx.callout(s.notice, icon="circle-check", color_scheme="green", width="100%"),
            ),
            section(
                rx.text("Flags (", s.flags.total, ")"),
                rx.flex(
                    _filter("Status", "f_status", s.f_status, [("open", "Open"), ("resolved", "Resolved")]),
                    _filter("Severity", "f_severity", s.f_severity, [(v, v.capitalize()) for v in SEVERITIES]),
                    _filter("Rule", "f_rule", s.f_rule, s.rule_options),
                    _filter("Sprint", "f_sprint", s.f_sprint, s.sprint_options),
                    _filter("Assignee", "f_assignee", s.f_assignee, s.assignee_options),
                    wrap="wrap",
                    gap="12px",
                ),
                data_table(
                    [
                        _sortable("Severity", "severity"),
                        _sortable("Rule", "rule_id"),
                        _sortable("Item", "item_key"),
                        "Sprint",
                        "Assignee",
                        _sortable("Opened", "opened_at"),
                        _sortable("Status", "status"),
                        "",
                    ],
                    rx.cond(
                        s.flag_rows.length() > 0,
                        rx.foreach(s.flag_rows, _flag_row),
                        empty_row(8, "No flags match these filters."),
                    ),
                    size="1",
                ),
                rx.hstack(
                    rx.button("Previous", variant="soft", size="1", on_click=s.go_page(-1), disabled=s.page_no <= 1),
                    rx.text("Page ", s.page_no, " of ", s.flags.pages, size="2"),
                    rx.button(
                        "Next",
                        variant="soft",
                        size="1",
                        on_click=s.go_page(1),
                        disabled=s.page_no >= s.flags.pages,
                        id="next-page",
                    ),
                    align="center",
                    spacing="3",
                ),
                rx.cond(
                    s.can_resolve,
                    hint("As tech lead or project manager you can resolve a flag by hand, with a note."),
                    hint("Tech leads and project managers can resolve flags by hand."),
                ),
            ),
            _resolve_dialog(),
        ),
        spacing="4",
        width="100%",
    )
