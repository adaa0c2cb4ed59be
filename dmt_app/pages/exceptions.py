"""/compliance/exceptions: DMT exception requests waiting for a decision, and every exception of the project."""

from __future__ import annotations

import reflex as rx

from dmt_app import routes
from dmt_app.components.exceptions import exception_status_badge
from dmt_app.components.ui import hint, page_body, toolbar
from dmt_app.state.exceptions import ExceptionsState, ExceptionView
from portal_common import page, styles
from portal_common.components import data_table, empty_row, section


def _item(x: ExceptionView) -> rx.Component:
    return rx.table.cell(
        rx.text(x["item"], weight="medium"), rx.text(x["item_title"], size="1", color=styles.MUTED, max_width="320px")
    )


def _pending_row(x: ExceptionView) -> rx.Component:
    s = ExceptionsState
    label = x["item"].to(str)
    return rx.table.row(
        _item(x),
        rx.table.cell(x["rules"]),
        rx.table.cell(rx.text(x["reason"], size="2", max_width="360px")),
        rx.table.cell(rx.text(x["valid_until"], white_space="nowrap")),
        rx.table.cell(x["requested_by"], rx.text(x["requested_at"], size="1", color=styles.MUTED)),
        rx.table.cell(
            rx.hstack(
                rx.button(
                    "Approve",
                    size="1",
                    on_click=s.ask("approve", x["id"], label),
                    class_name="approve-exception",
                    aria_label="Approve the exception for " + label,
                ),
                rx.button(
                    "Reject",
                    size="1",
                    variant="soft",
                    color_scheme="red",
                    on_click=s.ask("reject", x["id"], label),
                    class_name="reject-exception",
                    aria_label="Reject the exception for " + label,
                ),
                spacing="2",
            )
        ),
        class_name="pending-exception",
    )


def _row(x: ExceptionView) -> rx.Component:
    s = ExceptionsState
    label = x["item"].to(str)
    return rx.table.row(
        _item(x),
        rx.table.cell(exception_status_badge(x["status"])),
        rx.table.cell(x["rules"]),
        rx.table.cell(rx.text(x["reason"], size="2", max_width="320px")),
        rx.table.cell(rx.text(x["valid_until"], white_space="nowrap")),
        rx.table.cell(x["requested_by"]),
        rx.table.cell(rx.text(x["decided"], size="2"), rx.text(x["note"], size="1", color=styles.MUTED)),
        rx.table.cell(
            rx.cond(
                x["can_revoke"],
                rx.button(
                    "Revoke",
                    size="1",
                    variant="soft",
                    color_scheme="orange",
                    on_click=s.ask("revoke", x["id"], label),
                    class_name="revoke-exception",
                    aria_label="Revoke the exception for " + label,
                ),
            )
        ),
        class_name="exception-row",
    )


def _decide_dialog() -> rx.Component:
    s = ExceptionsState
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(
                rx.match(
                    s.decide_action,
                    ("approve", "Approve this exception?"),
                    ("reject", "Reject this request?"),
                    "Revoke this exception?",
                )
            ),
            rx.alert_dialog.description(
                rx.text(
                    "Exception for ",
                    rx.text.strong(s.decide_label),
                    ". Your note, name and the time are recorded in the audit log and sent to the people concerned. "
                    "Approving or revoking recomputes the item's DMT compliance at once.",
                ),
                size="2",
            ),
            rx.el.label("Note", html_for="decision-note", font_size="14px", font_weight="500"),
            rx.text_area(
                placeholder="e.g. agreed: the module gets a harness next sprint",
                value=s.decide_note,
                on_change=s.set_decide_note,
                margin_top="4px",
                id="decision-note",
            ),
            rx.cond(
                s.decide_error != "",
                rx.callout(s.decide_error, color_scheme="red", icon="triangle-alert", margin_top="8px", role="alert"),
            ),
            rx.flex(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.button(
                    rx.match(s.decide_action, ("approve", "Approve"), ("reject", "Reject"), "Revoke"),
                    on_click=s.confirm,
                    id="confirm-decision",
                    disabled=s.decide_note.strip() == "",
                ),
                gap="3",
                justify="end",
                margin_top="16px",
            ),
        ),
        open=s.decide_open,
        on_open_change=s.set_decide_open,
    )


@page(
    routes.EXCEPTIONS,
    "DMT exceptions",
    nav="Exceptions",
    icon="shield-check",
    order=97,
    on_load=ExceptionsState.load,
    on_live=ExceptionsState.on_live,
)
def exceptions() -> rx.Component:
    s = ExceptionsState
    return rx.vstack(
        rx.link("← Compliance", href=routes.COMPLIANCE, size="2"),
        toolbar("DMT exceptions", "Requests waiting for a decision, and every exception of the project", s),
        page_body(
            s,
            rx.cond(
                s.notice != "",
                rx.callout(s.notice, icon="circle-check", color_scheme="green", width="100%", id="exception-notice"),
            ),
            rx.cond(
                s.can_approve,
                section(
                    rx.text("Waiting for your decision (", s.pending.length(), ")"),
                    data_table(
                        ["Item", "Rules", "Reason", "Until", "Requested by", ""],
                        rx.cond(
                            s.pending.length() > 0,
                            rx.foreach(s.pending, _pending_row),
                            empty_row(6, "No request is waiting for you."),
                        ),
                        size="1",
                    ),
                    hint("Nobody decides on their own request: another tech lead or project manager does."),
                    id="pending-exceptions",
                ),
            ),
            section(
                rx.text("All exceptions (", s.total, ")"),
                rx.hstack(
                    rx.el.label("Status", html_for="exception-status-filter", font_size="14px"),
                    rx.select(
                        s.status_filters,
                        value=s.f_status,
                        on_change=s.set_status_filter,
                        id="exception-status-filter",
                        size="2",
                    ),
                    align="center",
                    spacing="2",
                ),
                data_table(
                    ["Item", "Status", "Rules", "Reason", "Until", "Requested by", "Decision", ""],
                    rx.cond(
                        s.rows.length() > 0,
                        rx.foreach(s.rows, _row),
                        empty_row(8, "No exceptions in this project yet."),
                    ),
                    size="1",
                ),
                hint(
                    "Developers and tech leads request an exception from a flag (Compliance flags) or from an item "
                    "in a drill-down; approved ones lapse on their last day and the flags they covered reopen."
                ),
            ),
            _decide_dialog(),
        ),
        spacing="4",
        width="100%",
    )
