"""The DORA page: the four keys with their performance band, their trend, and the deployments and incidents behind them."""

from __future__ import annotations

import reflex as rx

from dmt_app import routes
from dmt_app.components.ui import CHART_HEIGHT, COLORS, empty, hint, page_body, toolbar
from dmt_app.state.dora import DoraState
from portal_common import page, styles
from portal_common.components import data_table, empty_row, section

BAND_COLORS = {"elite": "green", "high": "teal", "medium": "amber", "low": "red"}


def _band(band: rx.Var, label: rx.Var) -> rx.Component:
    return rx.cond(
        label != "",
        rx.badge(label, color_scheme=rx.match(band, *list(BAND_COLORS.items()), "gray"), variant="soft", size="2"),
        rx.badge("no data", color_scheme="gray", variant="soft", size="2"),
    )


def _key_card(k: rx.Var) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text(k["label"], size="2", color=styles.MUTED),
                rx.spacer(),
                _band(k["band"], k["band_label"]),
                width="100%",
            ),
            rx.heading(k["display"], size="7", class_name="kpi-value"),
            rx.text(k["detail"], size="1"),
            rx.text(k["hint"], size="1", color=styles.MUTED),
            spacing="1",
            width="100%",
        ),
        width="100%",
        custom_attrs={"data-dora-key": k["key"]},
    )


def _axis() -> list[rx.Component]:
    return [
        rx.recharts.cartesian_grid(stroke_dasharray="3 3", vertical=False),
        rx.recharts.x_axis(data_key="label", tick_line=False, font_size=12),
        rx.recharts.y_axis(tick_line=False, font_size=12, width=44),
        rx.recharts.graphing_tooltip(),
        rx.recharts.legend(),
    ]


def _charts() -> rx.Component:
    s = DoraState
    return rx.grid(
        section(
            "Deployments",
            rx.recharts.bar_chart(
                *_axis(),
                rx.recharts.bar(data_key="deployments", name="Deployments", fill=COLORS["completed"], stack_id="d"),
                rx.recharts.bar(data_key="failed_deployments", name="Failed in production", fill=COLORS["bad"]),
                data=s.series,
                height=CHART_HEIGHT,
                width="100%",
            ),
            hint("Successful deployments per period; red: those followed by an incident or a revert/hotfix."),
        ),
        section(
            "Lead time for changes (hours)",
            rx.recharts.line_chart(
                *_axis(),
                rx.recharts.line(
                    data_key="lead_time_median_hours",
                    name="Median",
                    stroke=COLORS["completed"],
                    stroke_width=2,
                    connect_nulls=True,
                ),
                rx.recharts.line(
                    data_key="lead_time_p85_hours",
                    name="P85",
                    stroke=COLORS["forecast"],
                    stroke_dasharray="5 4",
                    connect_nulls=True,
                ),
                data=s.series,
                height=CHART_HEIGHT,
                width="100%",
            ),
            hint("From a pull request's first commit to the deployment that shipped it."),
        ),
        section(
            "Change failure rate (%)",
            rx.recharts.bar_chart(
                *_axis(),
                rx.recharts.bar(data_key="change_failure_rate", name="Change failure rate", fill=COLORS["warn"]),
                data=s.series,
                height=CHART_HEIGHT,
                width="100%",
            ),
            hint("Share of the deployments followed by an incident or a revert/hotfix within the failure window."),
        ),
        section(
            "Time to restore (hours)",
            rx.recharts.composed_chart(
                *_axis(),
                rx.recharts.bar(data_key="incidents", name="Incidents", fill=COLORS["team"], y_axis_id="right"),
                rx.recharts.line(
                    data_key="restore_median_hours",
                    name="Median time to restore",
                    stroke=COLORS["bad"],
                    stroke_width=2,
                    connect_nulls=True,
                ),
                rx.recharts.y_axis(y_axis_id="right", orientation="right", tick_line=False, font_size=12, width=32),
                data=s.series,
                height=CHART_HEIGHT,
                width="100%",
            ),
            hint("Incidents opened per period, and how long they took to resolve."),
        ),
        columns=rx.breakpoints(initial="1", lg="2"),
        spacing="4",
        width="100%",
    )


def _deployments() -> rx.Component:
    s = DoraState
    return section(
        rx.text("Deployments (", s.deployments_total, ")"),
        data_table(
            ["Finished", "Name", "Repository", "Commit", "PRs", "Lead time", "In production", ""],
            rx.cond(
                s.deployments.length() > 0,
                rx.foreach(
                    s.deployments,
                    lambda d: rx.table.row(
                        rx.table.cell(d["when"]),
                        rx.table.cell(
                            rx.cond(d["url"], rx.link(d["name"], href=d["url"], is_external=True), rx.text(d["name"]))
                        ),
                        rx.table.cell(d["repository"]),
                        rx.table.cell(rx.code(d["short_sha"])),
                        rx.table.cell(d["prs"]),
                        rx.table.cell(d["lead"]),
                        rx.table.cell(
                            rx.cond(
                                d["failed"],
                                rx.hstack(
                                    rx.badge("failed", color_scheme="red", variant="soft"),
                                    rx.text(d["cause"], size="1", color=styles.MUTED),
                                    spacing="1",
                                    align="center",
                                ),
                                rx.badge("ok", color_scheme="green", variant="soft"),
                            ),
                            rx.cond(d["is_revert"], rx.badge("revert/hotfix", color_scheme="amber", variant="soft")),
                        ),
                        rx.table.cell(
                            rx.button(
                                "What shipped", size="1", variant="soft", on_click=DoraState.open_deployment(d["id"])
                            )
                        ),
                        class_name="dora-deployment",
                    ),
                ),
                empty_row(8, "No deployment in this period."),
            ),
            size="1",
        ),
        rx.hstack(
            rx.button("Previous", size="1", variant="soft", on_click=s.previous_page, disabled=s.deployments_page <= 1),
            rx.text("page ", s.deployments_page, size="1", color=styles.MUTED),
            rx.button("Next", size="1", variant="soft", on_click=s.next_page, disabled=~s.has_more),
            spacing="3",
            align="center",
        ),
        actions=rx.hstack(
            rx.text("Only those that failed", size="2", color=styles.MUTED),
            rx.switch(
                checked=s.failed_only,
                on_change=s.toggle_failed,
                id="dora-failed-only",
                aria_label="Only the deployments that failed in production",
            ),
            spacing="2",
            align="center",
        ),
    )


def _incidents() -> rx.Component:
    s = DoraState
    return section(
        rx.text("Incidents (", s.incidents_total, ")"),
        data_table(
            ["Opened", "Item", "Title", "Resolved", "Time to restore", "Deployment before it", ""],
            rx.cond(
                s.incidents.length() > 0,
                rx.foreach(
                    s.incidents,
                    lambda i: rx.table.row(
                        rx.table.cell(i["opened"]),
                        rx.table.cell(
                            rx.cond(
                                i["url"],
                                rx.link(i["item_key"], href=i["url"], is_external=True),
                                rx.text(i["item_key"]),
                            )
                        ),
                        rx.table.cell(rx.text(i["title"], max_width="360px", trim="both")),
                        rx.table.cell(i["resolved"]),
                        rx.table.cell(i["restore"]),
                        rx.table.cell(rx.text(i["deployment_name"], " ", i["deployed"], size="1")),
                        rx.table.cell(
                            rx.cond(
                                i["caused_failure"],
                                rx.badge("failed that deployment", color_scheme="red", variant="soft"),
                            )
                        ),
                        class_name="dora-incident",
                    ),
                ),
                empty_row(
                    7, "No incident in this period (incidents are the work items the sources' incident rule picks)."
                ),
            ),
            size="1",
        ),
    )


def _detail_dialog() -> rx.Component:
    s = DoraState
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(s.detail_title),
            rx.dialog.description(
                "The pull requests this deployment shipped, and their work items.", size="2", color=styles.MUTED
            ),
            rx.cond(s.detail_error != "", rx.callout(s.detail_error, color_scheme="red", icon="triangle-alert")),
            data_table(
                ["Pull request", "Repository", "First commit", "Merged", "Lead time", "Work items"],
                rx.cond(
                    s.detail_prs.length() > 0,
                    rx.foreach(
                        s.detail_prs,
                        lambda p: rx.table.row(
                            rx.table.cell(
                                rx.cond(p["url"], rx.link(p["label"], href=p["url"], is_external=True), p["label"])
                            ),
                            rx.table.cell(p["repository"]),
                            rx.table.cell(p["first"]),
                            rx.table.cell(p["merged"]),
                            rx.table.cell(p["lead"]),
                            rx.table.cell(p["items"]),
                        ),
                    ),
                    empty_row(6, "No pull request is linked to this deployment's commits."),
                ),
                size="1",
                box_props={"max_height": "60vh", "overflow_y": "auto", "margin_top": "12px"},
            ),
            rx.flex(rx.dialog.close(rx.button("Close", variant="soft")), justify="end", margin_top="12px"),
            max_width="1000px",
            id="dora-deployment-dialog",
        ),
        open=s.detail_open,
        on_open_change=s.set_detail_open,
    )


@page(routes.DORA, "DORA", nav="DORA", icon="rocket", order=55, on_load=DoraState.load, on_live=DoraState.on_live)
def dora() -> rx.Component:
    s = DoraState
    filters = rx.hstack(
        rx.select.root(
            rx.select.trigger(min_width="110px", id="dora-period", aria_label="Period"),
            rx.select.content(
                rx.select.item("30 days", value="30d"),
                rx.select.item("90 days", value="90d"),
                rx.select.item("180 days", value="180d"),
                rx.select.item("365 days", value="365d"),
            ),
            value=s.period,
            on_change=s.set_period,
        ),
        rx.cond(
            s.data.environments.length() > 0,
            rx.select.root(
                rx.select.trigger(min_width="140px", id="dora-environment", aria_label="Environment"),
                rx.select.content(rx.foreach(s.data.environments, lambda e: rx.select.item(e, value=e))),
                value=s.environment,
                on_change=s.set_environment,
            ),
        ),
        spacing="2",
    )
    return rx.vstack(
        toolbar(
            "DORA", "Deployment frequency, lead time for changes, change failure rate, time to restore", s, filters
        ),
        page_body(
            s,
            rx.cond(
                s.data.has_data,
                rx.vstack(
                    rx.text(
                        "Deployments to ",
                        rx.text.strong(s.data.environment),
                        " over the last ",
                        s.period_label,
                        "; a deployment failed in production when an incident or a revert/hotfix followed it within ",
                        s.data.failure_window_hours,
                        " h. Bands as DORA publishes them (2023 report).",
                        size="2",
                        color=styles.MUTED,
                    ),
                    rx.grid(
                        rx.foreach(s.cards, _key_card),
                        columns=rx.breakpoints(initial="1", sm="2", lg="4"),
                        spacing="4",
                        width="100%",
                    ),
                    _charts(),
                    _deployments(),
                    _incidents(),
                    spacing="4",
                    width="100%",
                ),
                empty(s.data.empty_message, "rocket"),
            ),
            _detail_dialog(),
        ),
        spacing="4",
        width="100%",
    )
