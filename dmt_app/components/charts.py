"""The spec's dashboard and chart components (6.2): ComplianceGauge, PredictionCard, SprintBurndown,
ScatterPlot and Heatmap.

Gauge, scatter and heatmap are plotly figures (`portal_common.charts`, built
by the page's state from a read model); the burndown is a recharts line chart
like the sprint page's. Each takes the vars of its read model
(`services.dashboards`) and renders an empty state when there is nothing to show.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import reflex as rx

from dmt_app import routes
from dmt_app.state.charts import CYCLE_ROWS
from dmt_app.state.drill import DrillState
from portal_common import styles
from portal_common.charts import PLOT_CONFIG
from portal_common.components import data_table, section

#: Plotly figures keep their own height; the box only stops the page from jumping while they load.
_GAUGE_HEIGHT = "220px"


def _muted(*children: Any, **props: Any) -> rx.Component:
    return rx.text(*children, size="1", color=styles.MUTED, **props)


def _nowrap(value: rx.Var | str) -> rx.Component:
    return rx.text.strong(value, white_space="nowrap")


def plot(figure: rx.Var, min_height: str, label: str, **props: Any) -> rx.Component:
    """A plotly figure (its height is the figure's) in a box that holds its place while it loads.

    `figure` is a var of plotly JSON (`portal_common.charts.figure_json`), given to rx.plotly as the figure it is.
    """
    return rx.box(
        rx.plotly(data=figure.to(go.Figure), config=PLOT_CONFIG, width="100%", **props),
        width="100%",
        min_height=min_height,
        role="img",
        aria_label=label,
    )


def compliance_gauge(gauge: rx.Var, figure: rx.Var) -> rx.Component:
    """ComplianceGauge: the current sprint's DMT compliance rate against the target, red/yellow/green."""
    color = rx.match(gauge.status, ("green", "green"), ("yellow", "amber"), ("red", "red"), "gray")
    return section(
        "DMT compliance",
        rx.cond(
            gauge.value.is_not_none(),
            rx.vstack(
                plot(figure, _GAUGE_HEIGHT, "DMT compliance gauge"),
                rx.hstack(
                    rx.badge(gauge.label, color_scheme=color, variant="soft"),
                    spacing="2",
                    justify="center",
                    width="100%",
                ),
                _muted(
                    "Sprint ",
                    gauge.sprint_name,
                    ": done items that meet Done Means Tested. Target ",
                    gauge.target.to_string(),
                    "%, red below ",
                    gauge.warning.to_string(),
                    "%",
                    rx.cond(
                        gauge.previous.is_not_none(), "; the change is against the previous sprints' average.", "."
                    ),
                    text_align="center",
                ),
                spacing="2",
                align="center",
                width="100%",
            ),
            rx.center(_muted(gauge.label), min_height=_GAUGE_HEIGHT, width="100%"),
        ),
        actions=rx.link("Quality →", href=routes.QUALITY, size="2"),
        id="compliance-gauge",
        custom_attrs={"data-status": gauge.status},
    )


def prediction_card(card: rx.Var) -> rx.Component:
    """PredictionCard: next sprint's P50/P85, the backlog's finish dates and how past forecasts held up."""
    return section(
        "Forecast",
        rx.cond(
            card.source != "none",
            rx.vstack(
                _muted("Next sprint (P50)"),
                rx.hstack(
                    rx.heading(card.next_p50.to_string(), size="8", class_name="forecast-p50"),
                    rx.text(card.unit, size="3", color=styles.MUTED),
                    align="baseline",
                    spacing="2",
                ),
                rx.text(
                    "At least ",
                    _nowrap(card.next_p85.to_string() + " " + card.unit),
                    " in 85% of simulations (P85): the safer commitment.",
                    size="2",
                ),
                rx.cond(
                    card.finish_p50 != "",
                    rx.text(
                        "Backlog of ",
                        card.remaining.to_string(),
                        " ",
                        card.unit,
                        ": done by ",
                        _nowrap(card.finish_p50),
                        " (P50), ",
                        _nowrap(card.finish_p85),
                        " (P85).",
                        size="2",
                    ),
                ),
                rx.cond(
                    card.calibration_text != "",
                    rx.hstack(
                        rx.icon("target", size=14, color=styles.MUTED),
                        _muted("Backtest: ", card.calibration_text, "."),
                        spacing="1",
                        align="center",
                    ),
                ),
                rx.cond(
                    card.source == "live",
                    _muted("Computed now from the closed sprints; the stored forecast follows the next rebuild."),
                    _muted(
                        "Monte Carlo over the last ",
                        card.history.length().to_string(),
                        " closed sprints · ",
                        rx.text.span(card.made_on, white_space="nowrap"),
                    ),
                ),
                spacing="2",
                width="100%",
            ),
            rx.center(_muted(card.empty_message), min_height="160px", width="100%"),
        ),
        actions=rx.link("Velocity →", href=routes.VELOCITY, size="2"),
        id="prediction-card",
    )


def sprint_burndown(
    burndown: rx.Var, burn: rx.Var, project_id: rx.Var, colors: dict[str, str], height: int = 240
) -> rx.Component:
    """SprintBurndown: points remaining per day in the current sprint against the ideal line."""
    return section(
        rx.text("Burndown · ", burndown.sprint_name),
        rx.cond(
            burn.length() > 0,
            rx.vstack(
                rx.recharts.line_chart(
                    rx.recharts.cartesian_grid(stroke_dasharray="3 3", vertical=False),
                    rx.recharts.x_axis(data_key="day", tick_line=False, font_size=11, min_tick_gap=16),
                    rx.recharts.y_axis(tick_line=False, font_size=12, width=36),
                    rx.recharts.graphing_tooltip(),
                    rx.recharts.legend(),
                    rx.recharts.line(
                        data_key="ideal",
                        name="Ideal",
                        stroke=colors["secondary"],
                        stroke_dasharray="5 5",
                        dot=False,
                        is_animation_active=False,
                    ),
                    rx.recharts.line(
                        data_key="remaining",
                        name="Remaining",
                        stroke=colors["primary"],
                        stroke_width=2,
                        is_animation_active=False,
                    ),
                    data=burn,
                    height=height,
                    width="100%",
                ),
                _muted(burndown.item_count.to_string(), " items, ", burndown.scope.to_string(), " points in scope"),
                spacing="1",
                width="100%",
            ),
            rx.center(_muted(burndown.empty_message), min_height=f"{height}px", width="100%"),
        ),
        actions=rx.cond(
            burndown.sprint_name != "",
            rx.link("Sprint →", href=routes.sprint_href(burndown.sprint_name, project_id), size="2"),
        ),
        id="sprint-burndown",
    )


def cycle_time_scatter(
    data: rx.Var,
    figure: rx.Var,
    on_click: Any,
    period_picker: rx.Component,
    rows: rx.Var,
    all_rows: rx.Var,
    toggle_rows: Any,
) -> rx.Component:
    """ScatterPlot: every item done in the period by done date and cycle days, with the 50th/85th percentiles.

    Under the chart, its points in a table, slowest first (`rows`, the same read model): each item key is a
    button that opens the item as a click on its point does, so a keyboard reaches every point (WCAG 2.1.1).
    """
    return section(
        "Cycle time of done items",
        rx.cond(
            data.total > 0,
            rx.vstack(
                plot(figure, "340px", "Cycle time scatter plot; its points are listed in the table below", on_click=on_click),
                _muted(
                    data.total.to_string(), " items finished since ", rx.text.span(data.since, white_space="nowrap"),
                    ": half took at most ", data.p50.to_string(), " days (P50), 85% at most ", data.p85.to_string(),
                    " days (P85). Click a point, or an item in the table, to open it.",
                    rx.cond(data.without_start > 0,
                            " " + data.without_start.to_string() + " done items without a start time are left out.", ""),
                ),
                _cycle_table(rows),
                rx.cond(
                    data.total > CYCLE_ROWS,
                    rx.button(
                        rx.cond(all_rows, "Show the " + str(CYCLE_ROWS) + " slowest only",
                                "Show all " + data.total.to_string() + " items"),
                        variant="soft", size="1", on_click=toggle_rows, id="cycle-rows-toggle",
                    ),
                ),
                spacing="2",
                width="100%",
            ),
            rx.center(_muted(data.empty_message), min_height="200px", width="100%"),
        ),
        actions=period_picker,
        id="cycle-time-scatter",
    )  # fmt: skip


def _cycle_table(rows: rx.Var) -> rx.Component:
    """The scatter's points, slowest first; the key opens the item (the drill-down dialog)."""
    return data_table(
        ["Item", "Title", "Type", "Cycle time", "Done"],
        rx.foreach(
            rows,
            lambda p: rx.table.row(
                rx.table.cell(
                    rx.button(
                        p.key,
                        variant="ghost",
                        size="1",
                        on_click=DrillState.show_item(p.item_id),
                        class_name="cycle-item",
                        cursor="pointer",
                        white_space="nowrap",
                        aria_label="Open " + p.key + ": " + p.title,
                        custom_attrs={"data-item-id": p.item_id},
                    )
                ),
                rx.table.cell(rx.text(p.title, max_width="420px", trim="both")),
                rx.table.cell(p.item_type),
                rx.table.cell(
                    rx.text(p.cycle_days.to_string(), rx.cond(p.cycle_days == 1, " day", " days"), white_space="nowrap")
                ),
                rx.table.cell(rx.text(p.done_day, white_space="nowrap")),
            ),
        ),
        size="1",
        id="cycle-time-items",
        aria_label="Items of the cycle-time chart, slowest first",
    )


def heatmap(data: rx.Var, figure: rx.Var, label: str, caption: rx.Component | None = None) -> rx.Component:
    """Heatmap: a grid of values (a figure per cell, with what is behind it on hover)."""
    return rx.cond(
        data.total > 0,
        rx.vstack(
            plot(figure, "120px", label),
            caption if caption is not None else rx.fragment(),
            spacing="2",
            width="100%",
        ),
        rx.center(_muted(data.empty_message), min_height="120px", width="100%"),
    )
