"""AI insights, Notifications and Exports pages."""

from __future__ import annotations

import reflex as rx

from dmt_app import routes
from dmt_app.components.delivery_prefs import delivery_section
from dmt_app.components.ui import empty, hint, page_body, toolbar
from dmt_app.state.inbox import ExportsState, InsightsState, NotificationsState
from portal_common import page, styles
from portal_common.components import data_table, section


# --------------------------------------------------------------------------- insights
def _insight_card(i: rx.Var) -> rx.Component:
    s = InsightsState
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.badge(i.kind.to(str).replace("_", " "), variant="soft"),
                rx.spacer(),
                rx.text(i.created_at.to(str)[:10], size="1", color=styles.MUTED),
                width="100%",
            ),
            rx.heading(i.title, size="4"),
            rx.text(i.summary, size="3", weight="medium"),
            rx.text(i.analysis, size="2", color="var(--gray-12)", white_space="pre-wrap"),
            rx.cond(
                i.actions.length() > 0,
                rx.vstack(
                    rx.text("Suggested actions", size="2", weight="bold"),
                    rx.unordered_list(rx.foreach(i.actions, lambda a: rx.list_item(rx.text(a, size="2")))),
                    spacing="1",
                ),
            ),
            rx.cond(i.note != "", rx.text(i.note, size="1", color=styles.MUTED)),
            rx.hstack(
                rx.text("Helpful?", size="2", color=styles.MUTED),
                rx.icon_button(
                    rx.icon("thumbs-up", size=16),
                    variant=rx.cond(i.rating == 1, "solid", "soft"),
                    color_scheme="green",
                    size="1",
                    on_click=s.ask_rating(i.id, 1),
                    aria_label="Helpful",
                    class_name="thumbs-up",
                ),
                rx.icon_button(
                    rx.icon("thumbs-down", size=16),
                    variant=rx.cond(i.rating == -1, "solid", "soft"),
                    color_scheme="red",
                    size="1",
                    on_click=s.ask_rating(i.id, -1),
                    aria_label="Not helpful",
                    class_name="thumbs-down",
                ),
                rx.cond(i.rating_note != "", rx.text("“", i.rating_note, "”", size="1", color=styles.MUTED)),
                rx.spacer(),
                rx.text("by ", i.provider, size="1", color=styles.MUTED),
                align="center",
                width="100%",
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        class_name="insight-card",
    )


def _rating_dialog() -> rx.Component:
    s = InsightsState
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(s.rate_value == 1, "Mark as helpful", "Mark as not helpful")),
            rx.dialog.description("Add a note if you like: it helps tune the insights.", size="2"),
            rx.text_area(
                placeholder="optional note",
                value=s.rate_note,
                on_change=s.set_rate_note,
                margin_top="12px",
                id="rating-note",
            ),
            rx.cond(s.rate_error != "", rx.callout(s.rate_error, color_scheme="red", margin_top="8px")),
            rx.flex(
                rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.button("Save rating", on_click=s.confirm_rating, id="save-rating"),
                gap="3",
                justify="end",
                margin_top="16px",
            ),
        ),
        open=s.rate_open,
        on_open_change=s.set_rate_open,
    )


@page(
    routes.AI_INSIGHTS,
    "AI insights",
    nav="AI insights",
    icon="sparkles",
    order=100,
    on_load=InsightsState.load,
    on_live=InsightsState.on_live,
    old_routes=("/insights",),
)
def insights() -> rx.Component:
    s = InsightsState
    return rx.vstack(
        toolbar("AI insights", "What the statistics (and the AI provider, when configured) noticed", s),
        page_body(
            s,
            rx.cond(
                s.items.length() > 0,
                rx.grid(
                    rx.foreach(s.items, _insight_card),
                    columns=rx.breakpoints(initial="1", lg="2"),
                    spacing="4",
                    width="100%",
                ),
                empty(
                    "No insights yet: they are written after each sync once a project has sprint history.",
                    "sparkles",
                ),
            ),
            _rating_dialog(),
        ),
        spacing="4",
        width="100%",
    )


# --------------------------------------------------------------------------- notifications
@page(
    routes.NOTIFICATIONS,
    "Notifications",
    nav="Notifications",
    icon="bell",
    order=110,
    on_load=NotificationsState.load,
    on_live=NotificationsState.on_live,
)
def notifications_page() -> rx.Component:
    s = NotificationsState
    return rx.vstack(
        toolbar(
            "Notifications",
            "Critical flags, failed syncs, sprints ending, approved exceptions and new insights",
            s,
            rx.button(
                "Mark all read", variant="soft", on_click=s.mark_all_read, id="mark-all-read", disabled=s.unread == 0
            ),
        ),
        page_body(
            s,
            rx.hstack(
                rx.switch(checked=s.unread_only, on_change=s.toggle_unread, id="unread-only", aria_label="Unread only"),
                rx.text("Unread only", size="2"),
                rx.spacer(),
                rx.text(s.total, " notification(s), ", s.unread, " unread", size="2", color=styles.MUTED),
                align="center",
                width="100%",
            ),
            rx.cond(
                s.items.length() > 0,
                rx.vstack(
                    rx.foreach(
                        s.items,
                        lambda n: rx.card(
                            rx.hstack(
                                rx.cond(
                                    n.is_read,
                                    rx.icon("mail-open", size=18, color=styles.MUTED),
                                    rx.icon("mail", size=18, color="var(--accent-11)"),
                                ),
                                rx.vstack(
                                    rx.hstack(
                                        rx.text(n.title, weight=rx.cond(n.is_read, "regular", "bold")),
                                        rx.badge(
                                            n.severity,
                                            variant="soft",
                                            color_scheme=rx.match(
                                                n.severity,
                                                ("critical", "red"),
                                                ("high", "orange"),
                                                ("warning", "amber"),
                                                "gray",
                                            ),
                                        ),
                                        spacing="2",
                                        align="center",
                                    ),
                                    rx.cond(n.body != "", rx.text(n.body, size="2", color=styles.MUTED)),
                                    rx.text(
                                        n.created_at.to(str)[:16].replace("T", " "),
                                        " UTC",
                                        size="1",
                                        color=styles.MUTED,
                                    ),
                                    spacing="1",
                                ),
                                rx.spacer(),
                                rx.cond(n.link, rx.link("Open", href=n.link.to(str), size="2")),
                                rx.cond(
                                    ~n.is_read,
                                    rx.button("Mark read", size="1", variant="soft", on_click=s.mark_read(n.id)),
                                ),
                                align="center",
                                spacing="3",
                                width="100%",
                            ),
                            width="100%",
                            class_name="notification",
                        ),
                    ),
                    rx.hstack(
                        rx.button(
                            "Previous", variant="soft", size="1", on_click=s.go_page(-1), disabled=s.page_no <= 1
                        ),
                        rx.text("Page ", s.page_no, " of ", s.pages, size="2"),
                        rx.button(
                            "Next", variant="soft", size="1", on_click=s.go_page(1), disabled=s.page_no >= s.pages
                        ),
                        align="center",
                        spacing="3",
                    ),
                    spacing="3",
                    width="100%",
                ),
                empty("No notifications. You will be told here about critical flags, failed syncs and more.", "bell"),
            ),
        ),
        delivery_section(),
        spacing="4",
        width="100%",
    )


# --------------------------------------------------------------------------- exports
def _export_row(j: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(j.id),
        rx.table.cell(j.report),
        rx.table.cell(j.file_format.to(str).upper()),
        rx.table.cell(j.created_at.to(str)[:16].replace("T", " ")),
        rx.table.cell(
            rx.match(
                j.status,
                ("finished", rx.badge("ready", color_scheme="green")),
                ("failed", rx.tooltip(rx.badge("failed", color_scheme="red"), content=j.error)),
                rx.hstack(
                    rx.progress(value=(j.progress * 100).to(int), width="120px"),
                    rx.text(j.status, size="1", color=styles.MUTED),
                    align="center",
                ),
            ),
            min_width="180px",
        ),
        rx.table.cell(rx.cond(j.rows.is_not_none(), j.rows.to_string(), "-")),
        rx.table.cell(
            rx.cond(
                j.download_url != "",
                rx.button(
                    rx.icon("download", size=14),
                    "Download",
                    size="1",
                    variant="soft",
                    # The authorised API route streams the file (cookie session).
                    on_click=rx.download(url=j.download_url, filename=j.filename),
                    class_name="download-export",
                ),
                rx.cond(j.error != "", rx.text(j.error, size="1", color="red")),
            )
        ),
        class_name="export-row",
    )


@page(
    routes.EXPORTS,
    "Exports",
    nav="Exports",
    icon="download",
    order=120,
    on_load=ExportsState.load,
    on_live=ExportsState.on_live,
)
def exports_page() -> rx.Component:
    s = ExportsState
    return rx.vstack(
        toolbar("Exports", "Sprint, developer, compliance and DORA reports as CSV or Excel", s),
        page_body(
            s,
            section(
                "New export",
                rx.flex(
                    rx.vstack(
                        rx.text("Report", size="1", color=styles.MUTED),
                        rx.select.root(
                            rx.select.trigger(min_width="200px", id="export-report", aria_label="Report"),
                            rx.select.content(
                                rx.select.item("Sprint report", value="sprint"),
                                rx.select.item("Developer report", value="developer"),
                                rx.select.item("Compliance report", value="compliance"),
                                rx.select.item("DORA report (90 days)", value="dora"),
                            ),
                            value=s.report,
                            on_change=s.set_report,
                        ),
                        spacing="1",
                    ),
                    rx.vstack(
                        rx.text("Format", size="1", color=styles.MUTED),
                        rx.select.root(
                            rx.select.trigger(min_width="140px", id="export-format", aria_label="Format"),
                            rx.select.content(
                                rx.select.item("Excel (XLSX)", value="xlsx"),
                                rx.select.item("CSV", value="csv"),
                            ),
                            value=s.file_format,
                            on_change=s.set_file_format,
                        ),
                        spacing="1",
                    ),
                    rx.cond(
                        s.report == "sprint",
                        rx.vstack(
                            rx.text("Items of sprint (optional)", size="1", color=styles.MUTED),
                            rx.select.root(
                                rx.select.trigger(min_width="180px", aria_label="Items of sprint (optional)"),
                                rx.select.content(
                                    rx.select.item("Summary only", value="none"),
                                    rx.foreach(
                                        s.sprint_options, lambda o: rx.select.item(o["label"], value=o["value"])
                                    ),
                                ),
                                value=s.sprint_choice,
                                on_change=s.set_sprint_choice,
                            ),
                            spacing="1",
                        ),
                    ),
                    rx.button(rx.icon("file-down", size=16), "Export", on_click=s.start, id="start-export"),
                    wrap="wrap",
                    gap="16px",
                    align="end",
                ),
                rx.cond(s.start_error != "", rx.callout(s.start_error, color_scheme="red", icon="triangle-alert")),
                hint(
                    "Reports are built in the background; this list updates live and the file stays available "
                    "to you only."
                ),
            ),
            section(
                "Your exports",
                rx.cond(
                    s.jobs.length() > 0,
                    data_table(
                        ["#", "Report", "Format", "Requested", "Progress", "Rows", ""],
                        rx.foreach(s.jobs, _export_row),
                        size="1",
                    ),
                    empty("No exports yet: choose a report above.", "file-down"),
                ),
                actions=rx.button(
                    rx.icon("refresh-cw", size=14), "Refresh", variant="ghost", size="1", on_click=s.refresh_jobs
                ),
            ),
        ),
        spacing="4",
        width="100%",
    )
