"""Admin sections for notification delivery: a tenant's Slack/Teams channels (tenant page) and the dead
letters (health page). Each loads itself when shown."""

from __future__ import annotations

import reflex as rx

from admin_app.components.forms import select_input, text_input
from admin_app.state.chat_channels import ChannelRow, ChatChannelsState
from admin_app.state.dead_letters import DeadLetterRow, DeadLettersState
from admin_app.state.tenant_detail import TenantDetailState
from portal_common import styles
from portal_common.components import data_table, empty_row, error_callout, field, notice_callout, section
from services.notifications import NOTIFICATION_KINDS

MUTED = styles.MUTED


def _channel_row(c: ChannelRow) -> rx.Component:
    s = ChatChannelsState
    return rx.table.row(
        rx.table.cell(c["scope"]),
        rx.table.cell(rx.text(c["channel_type"], weight="medium"), rx.text(c["name"], size="1", color=MUTED)),
        rx.table.cell(rx.code(c["url_hint"], size="1")),
        rx.table.cell(rx.text(c["kinds"], size="1")),
        rx.table.cell(
            rx.badge(rx.cond(c["is_active"], "on", "off"), color_scheme=rx.cond(c["is_active"], "green", "gray"))
        ),
        rx.table.cell(
            rx.text(c["last_test"], size="1", color=rx.cond(c["last_test_ok"], "var(--green-11)", MUTED)),
            max_width="260px",
        ),
        rx.table.cell(
            rx.hstack(
                rx.button("Send test message", size="1", variant="soft", on_click=s.send_test(c["id"])),
                rx.button(
                    rx.cond(c["is_active"], "Switch off", "Switch on"),
                    size="1",
                    variant="soft",
                    color_scheme="gray",
                    on_click=s.toggle_channel(c["id"], ~c["is_active"]),
                ),
                rx.button("Remove", size="1", variant="soft", color_scheme="red", on_click=s.remove_channel(c["id"])),
                spacing="2",
            )
        ),
        class_name="chat-channel-row",
    )


def chat_channels_section() -> rx.Component:
    """Slack and Teams incoming webhooks of the tenant and its projects, with a test message."""
    s = ChatChannelsState
    return section(
        "Slack and Teams",
        rx.text(
            "Notifications are posted to the project's channel, else to the company's. Webhook URLs are stored "
            "encrypted and only their host is shown.",
            size="2",
            color=MUTED,
        ),
        error_callout(s.channel_error),
        notice_callout(s.channel_notice),
        data_table(
            ["For", "Channel", "Webhook", "Notifications", "", "Last test", ""],
            rx.cond(
                s.channel_rows.length() > 0,
                rx.foreach(s.channel_rows, _channel_row),
                empty_row(7, "No Slack or Teams channel yet."),
            ),
            size="1",
        ),
        rx.form(
            rx.vstack(
                rx.flex(
                    field("Service", select_input("channel_type", [("slack", "Slack"), ("teams", "Microsoft Teams")])),
                    field(
                        "For",
                        rx.el.select(
                            rx.el.option("the whole company", value=""),
                            rx.foreach(
                                TenantDetailState.project_rows,
                                lambda p: rx.el.option(p["key"] + " - " + p["name"], value=p["id"].to(str)),
                            ),
                            name="project_id",
                            id="chat-project",
                            style=styles.native_select_style,
                        ),
                    ),
                    field("Name (optional)", text_input("channel_name", id="chat-name", placeholder="#team-web")),
                    gap="12px",
                    width="100%",
                    direction=rx.breakpoints(initial="column", md="row"),
                ),
                field(
                    "Incoming-webhook URL",
                    text_input(
                        "webhook_url",
                        id="chat-webhook-url",
                        type="password",
                        auto_complete="off",
                        placeholder="https://hooks.slack.com/services/...",
                    ),
                    "Saving a URL for a place that has one of that service replaces it.",
                ),
                rx.text("Notifications posted (none ticked: all)", size="2", weight="medium"),
                rx.flex(
                    *[rx.checkbox(label, name=f"kind_{kind}", size="1") for kind, label in NOTIFICATION_KINDS.items()],
                    wrap="wrap",
                    gap="8px 16px",
                ),
                rx.button("Save channel", type="submit", id="save-chat-channel"),
                spacing="3",
                width="100%",
            ),
            on_submit=s.save_channel,
            reset_on_submit=True,
            width="100%",
        ),
        on_mount=ChatChannelsState.load_channels,
        id="chat-channels",
    )


def _dead_row(d: DeadLetterRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(d["dead_at"]),
        rx.table.cell(d["tenant"]),
        rx.table.cell(d["channel"], rx.text(d["recipient"], size="1", color=MUTED)),
        rx.table.cell(rx.text(d["subject"], size="1"), max_width="260px"),
        rx.table.cell(d["attempts"]),
        rx.table.cell(rx.text(d["last_error"], size="1", color="var(--red-11)"), max_width="320px"),
        rx.table.cell(rx.button("Send again", size="1", variant="soft", on_click=DeadLettersState.retry(d["id"]))),
        class_name="dead-letter-row",
    )


def dead_letters_section() -> rx.Component:
    """Emails and chat posts that failed for good (newest first), with their last error."""
    s = DeadLettersState
    return section(
        "Notification deliveries",
        rx.text(
            s.pending_total,
            " waiting or retrying · ",
            s.sent_total,
            " sent · ",
            s.dead_total,
            " dead letters (failed after the last retry, or refused for good)",
            size="2",
            color=MUTED,
        ),
        error_callout(s.dead_error),
        data_table(
            ["Dead since (UTC)", "Tenant", "Channel", "Message", "Attempts", "Last error", ""],
            rx.cond(s.dead_rows.length() > 0, rx.foreach(s.dead_rows, _dead_row), empty_row(7, "No dead letters.")),
            size="1",
        ),
        actions=rx.button(
            rx.icon("refresh-cw", size=14), "Refresh", variant="ghost", size="1", on_click=s.load_dead_letters
        ),
        on_mount=DeadLettersState.load_dead_letters,
        id="dead-letters",
    )
