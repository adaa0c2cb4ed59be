"""DMT exception pieces of the company pages: the request button and dialog, and an item's exception badge."""

from __future__ import annotations

import reflex as rx

from dmt_app.state.exceptions import ExceptionRequestState, ExceptionView, RuleChoice
from etl.rules import EXCUSABLE_RULES
from portal_common import styles

#: The rules an exception can cover, for `EXCUSABLE.contains(rule_id)` in the browser.
EXCUSABLE = rx.Var.create(list(EXCUSABLE_RULES))

EXCEPTION_COLORS = {
    "requested": "amber",
    "approved": "green",
    "rejected": "gray",
    "revoked": "orange",
    "expired": "gray",
}


def exception_status_badge(status: rx.Var) -> rx.Component:
    return rx.badge(
        status,
        color_scheme=rx.match(status, *list(EXCEPTION_COLORS.items()), "gray"),
        variant="soft",
        class_name="exception-status",
    )


def flag_exception_badge(status: rx.Var, until: rx.Var, covers: rx.Var) -> rx.Component:
    """On a flag: the item's approved exception (until when, and whether it covers this rule) or waiting request."""
    return rx.cond(
        status == "approved",
        rx.badge(
            rx.cond(covers, "exception until ", "exception (other rules) until "),
            until,
            color_scheme=rx.cond(covers, "green", "gray"),
            variant="soft",
            class_name="flag-exception",
        ),
        rx.cond(
            status == "requested",
            rx.badge("exception requested", color_scheme="amber", variant="soft", class_name="flag-exception"),
        ),
    )


def request_button(item_id: rx.Var, item_key: rx.Var, rule_id: rx.Var | str = "") -> rx.Component:
    """ "Request exception" for an item (shown to developers and tech leads of the project)."""
    return rx.cond(
        ExceptionRequestState.may_request,
        rx.button(
            "Request a DMT exception",  # the start of its accessible name (WCAG 2.5.3)
            size="1",
            variant="soft",
            color_scheme="amber",
            on_click=ExceptionRequestState.open_request(item_id, item_key, rule_id),
            class_name="request-exception",
            aria_label="Request a DMT exception for " + item_key.to(str),
        ),
    )


def _rule_checkbox(choice: RuleChoice) -> rx.Component:
    s = ExceptionRequestState
    return rx.checkbox(
        choice["title"],
        checked=s.request_rules.contains(choice["id"]),
        on_change=lambda checked: s.toggle_rule(choice["id"], checked),
        id="exception-rule-" + choice["id"].to(str),
        size="2",
    )


def _history_row(x: ExceptionView) -> rx.Component:
    return rx.hstack(
        exception_status_badge(x["status"]),
        rx.text(x["rules"], " · until ", x["valid_until"], size="1"),
        rx.text(x["decided"], size="1", color=styles.MUTED),
        spacing="2",
        align="center",
        wrap="wrap",
    )


def request_dialog() -> rx.Component:
    """The request form: the rules it covers, why, and the last day it covers; approvers are notified."""
    s = ExceptionRequestState
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.text("Request a DMT exception for ", s.request_item_key)),
            rx.dialog.description(
                "A tech lead or project manager other than you approves or rejects it with a note. While approved, "
                "the rules it covers are satisfied for this item until the day you choose.",
                size="2",
            ),
            rx.vstack(
                rx.cond(
                    s.request_history.length() > 0,
                    rx.vstack(
                        rx.text("Exceptions of this item so far", size="2", weight="medium"),
                        rx.foreach(s.request_history, _history_row),
                        spacing="1",
                        width="100%",
                    ),
                ),
                rx.text("Rules it covers", size="2", weight="medium", id="exception-rules-label"),
                rx.vstack(
                    rx.foreach(s.rule_choices, _rule_checkbox),
                    spacing="1",
                    role="group",
                    aria_labelledby="exception-rules-label",
                ),
                rx.el.label("Reason", html_for="exception-reason", font_size="14px", font_weight="500"),
                rx.text_area(
                    value=s.request_reason,
                    on_change=s.set_request_reason,
                    placeholder="e.g. legacy module without a test harness; covered by end-to-end tests",
                    id="exception-reason",
                    width="100%",
                ),
                rx.el.label("Last day it covers", html_for="exception-until", font_size="14px", font_weight="500"),
                rx.input(type="date", value=s.request_until, on_change=s.set_request_until, id="exception-until"),
                rx.cond(
                    s.request_error != "",
                    rx.callout(s.request_error, color_scheme="red", icon="triangle-alert", role="alert"),
                ),
                spacing="2",
                width="100%",
                margin_top="12px",
            ),
            rx.flex(
                rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.button(
                    "Send request",
                    on_click=s.submit_request,
                    loading=s.request_busy,
                    disabled=(s.request_reason.strip() == "") | (s.request_rules.length() == 0),
                    id="send-exception-request",
                ),
                gap="3",
                justify="end",
                margin_top="16px",
            ),
            id="exception-request-dialog",
        ),
        open=s.request_open,
        on_open_change=s.set_request_open,
    )
