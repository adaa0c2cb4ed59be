"""Building blocks of the company pages: toolbar (project switcher + bell), KPI cards, charts, drill-down.

Cards and tables come from portal_common.components (`section`, `data_table`), as in the admin portal.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from dmt_app.components.exceptions import request_button, request_dialog
from dmt_app.routes import NOTIFICATIONS
from dmt_app.state.base import CompanyState
from dmt_app.state.drill import DrillState
from portal_common import styles
from portal_common.components import CLICK_ON_ENTER_OR_SPACE, RESTORE_FOCUS_ON_CLOSE, data_table, empty_row

# One chart style for every page.
COLORS = {
    "committed": "#94a3b8",
    "completed": "#4f46e5",
    "forecast": "#a5b4fc",
    "forecast_band": "#c7d2fe",
    "story": "#4f46e5",
    "bug": "#dc2626",
    "task": "#0891b2",
    "other": "#94a3b8",
    "good": "#16a34a",
    "warn": "#d97706",
    "bad": "#dc2626",
    "team": "#94a3b8",
}
CHART_HEIGHT = 300
SEVERITY_COLORS = {"critical": "red", "high": "orange", "medium": "amber", "low": "blue", "info": "gray"}


def toolbar(title: str, subtitle: str, state: type[CompanyState], *actions: rx.Component) -> rx.Component:
    """Page title, the project switcher and the notification bell with the live unread count."""
    return rx.flex(
        rx.vstack(
            rx.heading(title, size="6", weight="bold"),
            rx.text(subtitle, color=styles.MUTED, size="2"),
            spacing="1",
        ),
        rx.hstack(
            *actions,
            rx.cond(
                CompanyState.projects.length() > 0,
                rx.select.root(
                    rx.select.trigger(
                        placeholder="Project", min_width="220px", id="project-switcher", aria_label="Project"
                    ),
                    rx.select.content(
                        rx.foreach(CompanyState.projects, lambda p: rx.select.item(p["label"], value=p["id"]))
                    ),
                    value=CompanyState.project_id,
                    on_change=state.pick_project,
                ),
            ),
            bell(),
            spacing="3",
            align="center",
            wrap="wrap",
        ),
        justify="between",
        align="center",
        direction=rx.breakpoints(initial="column", sm="row"),
        gap="12px",
        width="100%",
    )


def bell() -> rx.Component:
    return rx.link(
        rx.box(
            rx.icon("bell", size=20),
            rx.cond(
                CompanyState.unread > 0,
                rx.badge(
                    CompanyState.unread,
                    color_scheme="red",
                    variant="solid",
                    radius="full",
                    position="absolute",
                    top="-8px",
                    right="-10px",
                    size="1",
                ),
            ),
            position="relative",
            padding="6px",
        ),
        href=NOTIFICATIONS,
        id="notification-bell",
        # The name holds the count the badge shows (WCAG 2.5.3: the visible text is part of the name).
        aria_label=rx.cond(
            CompanyState.unread > 0, "Notifications, " + CompanyState.unread.to(str) + " unread", "Notifications"
        ),
        color="var(--gray-12)",
    )


def page_body(state: type[CompanyState], *children: rx.Component) -> rx.Component:
    """Loading, error and the page content, in that order of precedence."""
    return rx.vstack(
        rx.cond(
            state.error != "",
            rx.callout(state.error, icon="triangle-alert", color_scheme="red", role="alert", width="100%"),
        ),
        rx.cond(
            state.loaded,
            rx.vstack(*children, spacing="4", width="100%"),
            rx.cond(
                state.error == "",
                rx.center(rx.spinner(size="3"), rx.text("Loading…", color=styles.MUTED), padding="60px", gap="12px"),
            ),
        ),
        drill_dialog(),
        request_dialog(),
        spacing="4",
        width="100%",
        custom_attrs={"data-loaded-for": state.loaded_for},
    )


def empty(message: rx.Var | str, icon: str = "inbox") -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon(icon, size=32, color=styles.MUTED),
            rx.text(message, color=styles.MUTED, size="3", text_align="center", max_width="520px"),
            align="center",
            spacing="2",
        ),
        padding="40px 16px",
        width="100%",
        class_name="empty-state",
    )


def kpi_card(c: Any, sprint_id: rx.Var | None = None) -> rx.Component:
    """One KPI: value, and the change against the previous sprints (green when good news).

    With `sprint_id`, a click lists the items behind the value (the drill-down dialog).
    """
    color = rx.cond(
        c.good == True,  # noqa: E712 - a JS comparison: good may be null
        "var(--green-11)",
        rx.cond(c.good == False, "var(--red-11)", "var(--gray-11)"),  # noqa: E712
    )
    return rx.card(
        rx.vstack(
            rx.text(c.label, size="2", color=styles.MUTED),
            rx.heading(c.display, size="7", class_name="kpi-value"),
            rx.cond(
                c.delta_display != "",
                rx.hstack(
                    rx.match(
                        c.direction,
                        ("up", rx.icon("trending-up", size=16)),
                        ("down", rx.icon("trending-down", size=16)),
                        rx.icon("minus", size=16),
                    ),
                    rx.text(c.delta_display, size="1"),
                    color=color,
                    spacing="1",
                    align="center",
                ),
                rx.text("no earlier sprints to compare", size="1", color=styles.MUTED),
            ),
            rx.text(c.hint, size="1", color=styles.MUTED),
            spacing="1",
        ),
        width="100%",
        custom_attrs={"data-kpi": c.key, **(CLICK_ON_ENTER_OR_SPACE if sprint_id is not None else {})},
        **(
            {
                "on_click": DrillState.show(sprint_id, c.drill_metric, ""),
                "tab_index": 0,
                "role": "button",
                "cursor": "pointer",
                "_hover": {"box_shadow": "0 0 0 2px var(--accent-a6)"},
                "title": "Show the items behind this figure",
            }
            if sprint_id is not None
            else {}
        ),
    )


def severity_badge(severity: rx.Var) -> rx.Component:
    return rx.badge(severity, color_scheme=rx.match(severity, *list(SEVERITY_COLORS.items()), "gray"), variant="soft")


def item_link(key: rx.Var, url: rx.Var) -> rx.Component:
    return rx.cond(
        url != "",
        rx.link(key, href=url, is_external=True, weight="medium"),
        rx.text(key, weight="medium"),
    )


def compliant_badge(value: rx.Var) -> rx.Component:
    return rx.match(
        value,
        ("yes", rx.badge("DMT ok", color_scheme="green", variant="soft")),
        ("no", rx.badge("fails DMT", color_scheme="red", variant="soft")),
        rx.text("-", color=styles.MUTED),
    )


def items_table(items: rx.Var, empty_text: str = "No items.") -> rx.Component:
    """Work items with a link to each one in its tool."""
    return data_table(
        ["Item", "Title", "Type", "Status", "Points", "Assignee", "DMT", "Flags"],
        rx.cond(
            items.length() > 0,
            rx.foreach(
                items,
                lambda i: rx.table.row(
                    rx.table.cell(item_link(i.key, i.url)),
                    rx.table.cell(rx.text(i.title, max_width="420px", trim="both"), class_name="item-title"),
                    rx.table.cell(i.item_type),
                    rx.table.cell(
                        rx.hstack(
                            rx.text(i.status),
                            rx.cond(i.blocked, rx.badge("blocked", color_scheme="orange", variant="soft")),
                            spacing="2",
                        )
                    ),
                    rx.table.cell(rx.cond(i.story_points, i.story_points.to_string(), "-")),
                    rx.table.cell(i.assignee),
                    rx.table.cell(
                        compliant_badge(i.compliant),
                        rx.cond(
                            i.exception_status != "",
                            rx.badge(
                                "exception ",
                                i.exception_status,
                                " · ",
                                i.exception_until,
                                color_scheme=rx.cond(i.exception_status == "approved", "green", "amber"),
                                variant="soft",
                                class_name="item-exception",
                            ),
                        ),
                    ),
                    rx.table.cell(
                        rx.hstack(
                            rx.cond(i.open_flags > 0, rx.badge(i.open_flags, color_scheme="red"), "0"),
                            rx.cond(i.compliant == "no", request_button(i.id, i.key)),
                            spacing="2",
                            align="center",
                        )
                    ),
                ),
            ),
            empty_row(8, empty_text),
        ),
        size="1",
    )


def drill_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(DrillState.drill_title),
            rx.dialog.description(
                rx.cond(
                    DrillState.drill_loading,
                    "Loading the items…",
                    rx.text(DrillState.drill_total, " item(s); open one to see it in its tool."),
                ),
                size="2",
                color=styles.MUTED,
            ),
            rx.cond(
                DrillState.drill_error != "",
                rx.callout(DrillState.drill_error, color_scheme="red", icon="triangle-alert"),
            ),
            rx.cond(
                DrillState.drill_loading,
                rx.center(rx.spinner(), padding="24px"),
                rx.box(
                    items_table(DrillState.drill_items, "No items behind this point."),
                    max_height="60vh",
                    overflow_y="auto",
                    margin_top="12px",
                ),
            ),
            rx.flex(rx.dialog.close(rx.button("Close", variant="soft")), justify="end", margin_top="12px"),
            max_width="1100px",
            id="drill-dialog",
            custom_attrs=RESTORE_FOCUS_ON_CLOSE,
        ),
        open=DrillState.drill_shown,
        on_open_change=DrillState.set_drill_open,
    )


def drill_button(label: rx.Var | str, sprint_id: rx.Var, metric: str, item_type: str = "") -> rx.Component:
    """A number in a per-sprint table that opens the items behind it."""
    return rx.button(
        label,
        variant="ghost",
        size="1",
        on_click=DrillState.show(sprint_id, metric, item_type),
        class_name="drill",
        cursor="pointer",
    )


def axis(data_key: str = "sprint_name") -> list[rx.Component]:
    return [
        rx.recharts.cartesian_grid(stroke_dasharray="3 3", vertical=False),
        rx.recharts.x_axis(data_key=data_key, tick_line=False, font_size=12),
        rx.recharts.y_axis(tick_line=False, font_size=12, width=44),
        rx.recharts.graphing_tooltip(),
        rx.recharts.legend(),
    ]


def hint(text: str) -> rx.Component:
    return rx.text(text, size="1", color=styles.MUTED)
