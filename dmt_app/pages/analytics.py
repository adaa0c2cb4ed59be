"""Dashboard, Velocity, Throughput, Quality and PR health pages."""

from __future__ import annotations

import reflex as rx

from dmt_app import routes
from dmt_app.components.charts import compliance_gauge, cycle_time_scatter, heatmap, prediction_card, sprint_burndown
from dmt_app.components.ui import (
    CHART_HEIGHT,
    COLORS,
    axis,
    drill_button,
    empty,
    hint,
    kpi_card,
    page_body,
    toolbar,
)
from dmt_app.state.dashboards import (
    DashboardState,
    PrHealthState,
    QualityState,
    ThroughputState,
    VelocityState,
)
from portal_common import page, styles
from portal_common.components import data_table, section, stat
from portal_common.formatting import PERCENT, percent_var

NO_SPRINTS = "No sprints yet for this project: ask your admin to add a data source and run a sync."


def _num(value: rx.Var, suffix: str = "") -> rx.Component:
    return rx.cond(value.is_not_none(), rx.text(value.to_string(), suffix), rx.text("-"))


# --------------------------------------------------------------------------- dashboard
@page(
    routes.DASHBOARD,
    "Dashboard",
    nav="Dashboard",
    icon="layout-dashboard",
    order=10,
    on_load=DashboardState.load,
    on_live=DashboardState.on_live,
)
def dashboard() -> rx.Component:
    s = DashboardState
    return rx.vstack(
        toolbar("Dashboard", "The current sprint against the previous ones", s),
        page_body(
            s,
            rx.cond(
                s.kpi.has_data,
                rx.text(
                    "Sprint ",
                    rx.link(
                        rx.text.strong(s.kpi.sprint_name), href=routes.sprint_href(s.kpi.sprint_name, s.project_id)
                    ),
                    " (",
                    s.kpi.sprint_state,
                    "): changes are against the average of up to three previous sprints; "
                    "click a card for the items behind it.",
                    size="2",
                    color=styles.MUTED,
                ),
                empty(s.kpi.empty_message, "plug"),
            ),
            rx.grid(
                rx.foreach(s.kpi.cards, lambda c: kpi_card(c, s.kpi.sprint_id)),
                columns=rx.breakpoints(initial="1", sm="2", lg="3"),
                spacing="4",
                width="100%",
            ),
            rx.cond(
                s.kpi.has_data,
                rx.grid(
                    compliance_gauge(s.charts.gauge, s.gauge_figure),
                    prediction_card(s.charts.forecast),
                    sprint_burndown(s.charts.burndown, s.burn, s.project_id, styles.CHART_COLORS),
                    columns=rx.breakpoints(initial="1", md="2", lg="3"),
                    spacing="4",
                    width="100%",
                    id="dashboard-charts",
                ),
            ),
            rx.cond(
                s.kpi.has_data,
                section(
                    "Velocity, last sprints",
                    rx.recharts.bar_chart(
                        *axis(),
                        rx.recharts.bar(data_key="committed_points", name="Committed", fill=COLORS["committed"]),
                        rx.recharts.bar(data_key="completed_points", name="Completed", fill=COLORS["completed"]),
                        data=s.velocity_chart,
                        height=260,
                        width="100%",
                    ),
                    rx.cond(
                        s.forecast.source != "none",
                        rx.text(
                            "Next sprint forecast: P50 ",
                            rx.text.strong(s.forecast.p50.to_string()),
                            " points · P85 ",
                            rx.text.strong(s.forecast.p85.to_string()),
                            " points",
                            size="2",
                        ),
                    ),
                    actions=rx.link("Velocity details →", href=routes.VELOCITY, size="2"),
                ),
            ),
        ),
        spacing="4",
        width="100%",
    )


# --------------------------------------------------------------------------- velocity
@page(
    routes.VELOCITY,
    "Velocity",
    nav="Velocity",
    icon="gauge",
    order=20,
    on_load=VelocityState.load,
    on_live=VelocityState.on_live,
    old_routes=("/velocity",),
)
def velocity() -> rx.Component:
    s = VelocityState
    return rx.vstack(
        toolbar("Velocity", "Committed vs completed story points per sprint, with the next-sprint forecast", s),
        page_body(
            s,
            rx.cond(
                s.data.points.length() > 0,
                rx.vstack(
                    rx.grid(
                        _stat("Average velocity (closed sprints)", s.data.average_velocity, "points"),
                        _stat("Next sprint P50", s.data.forecast.p50, "points"),
                        _stat("Next sprint P85 (safer commitment)", s.data.forecast.p85, "points"),
                        columns=rx.breakpoints(initial="1", sm="3"),
                        spacing="4",
                        width="100%",
                    ),
                    section(
                        "Committed vs completed",
                        rx.recharts.composed_chart(
                            *axis(),
                            rx.recharts.bar(data_key="committed_points", name="Committed", fill=COLORS["committed"]),
                            rx.recharts.bar(data_key="completed_points", name="Completed", fill=COLORS["completed"]),
                            rx.recharts.bar(
                                data_key="forecast_p85", name="Forecast P85", fill=COLORS["forecast"], stack_id="f"
                            ),
                            rx.recharts.bar(
                                data_key="forecast_band",
                                name="Forecast P85→P50 band",
                                fill=COLORS["forecast_band"],
                                stack_id="f",
                            ),
                            data=s.chart,
                            height=CHART_HEIGHT,
                            width="100%",
                        ),
                        rx.cond(
                            s.data.forecast.note != "",
                            hint(s.data.forecast.note),
                        ),
                        rx.cond(
                            s.data.backlog_forecast.p50_text != "",
                            rx.text(
                                "Backlog: done by ",
                                rx.text.strong(s.data.backlog_forecast.p50_text, white_space="nowrap"),
                                " (P50), ",
                                rx.text.strong(s.data.backlog_forecast.p85_text, white_space="nowrap"),
                                " (P85).",
                                size="2",
                            ),
                        ),
                    ),
                    cycle_time_scatter(
                        s.scatter,
                        s.scatter_figure,
                        s.open_point,
                        rx.select.root(
                            rx.select.trigger(aria_label="Period of the cycle-time chart"),
                            rx.select.content(
                                *[rx.select.item(f"Last {d} days", value=str(d)) for d in (30, 90, 180, 365)]
                            ),
                            value=s.period,
                            on_change=s.pick_period,
                            size="1",
                        ),
                        s.cycle_rows,
                        s.cycle_rows_all,
                        s.toggle_cycle_rows,
                    ),
                    section(
                        "Per sprint (click a number to see the items)",
                        _sprint_table(s),
                    ),
                    spacing="4",
                    width="100%",
                ),
                empty(NO_SPRINTS, "plug"),
            ),
        ),
        spacing="4",
        width="100%",
    )


def _stat(label: str, value: rx.Var, unit: str) -> rx.Component:
    if unit == PERCENT:
        return stat(label, percent_var(value))  # "68.9%", as the KPI cards write it
    suffix = " " + unit if unit else ""  # "12 points"
    return stat(label, rx.cond(value.is_not_none(), value.to_string() + suffix, "-"))


def _sprint_table(s: type[VelocityState]) -> rx.Component:
    return data_table(
        ["Sprint", "State", "Committed pts", "Completed pts", "Committed items", "Completed items", "Not finished"],
        rx.foreach(
            s.data.points,
            lambda p: rx.table.row(
                rx.table.cell(p.sprint_name),
                rx.table.cell(p.state),
                rx.table.cell(drill_button(p.committed_points.to_string(), p.sprint_id, "committed")),
                rx.table.cell(drill_button(p.completed_points.to_string(), p.sprint_id, "completed")),
                rx.table.cell(drill_button(p.committed_items.to_string(), p.sprint_id, "committed")),
                rx.table.cell(drill_button(p.completed_items.to_string(), p.sprint_id, "completed")),
                rx.table.cell(
                    drill_button((p.committed_items - p.completed_items).to_string(), p.sprint_id, "carried_over")
                ),
            ),
        ),
        size="1",
    )


# --------------------------------------------------------------------------- throughput
@page(
    routes.THROUGHPUT,
    "Throughput",
    nav="Throughput",
    icon="bar-chart-3",
    order=30,
    on_load=ThroughputState.load,
    on_live=ThroughputState.on_live,
    old_routes=("/throughput",),
)
def throughput() -> rx.Component:
    s = ThroughputState
    return rx.vstack(
        toolbar("Throughput", "Completed items per sprint, by type", s),
        page_body(
            s,
            rx.cond(
                s.data.rows.length() > 0,
                rx.vstack(
                    section(
                        "Completed items by type",
                        rx.recharts.bar_chart(
                            *axis(),
                            *[
                                rx.recharts.bar(data_key=t, name=t.capitalize(), fill=COLORS[t], stack_id="t")
                                for t in ("story", "bug", "task", "other")
                            ],
                            data=s.chart,
                            height=CHART_HEIGHT,
                            width="100%",
                        ),
                        rx.cond(
                            s.data.average.is_not_none(),
                            hint("Average: " + s.data.average.to_string() + " items per sprint"),
                        ),
                        actions=rx.text("stacked", size="1", color=styles.MUTED),
                    ),
                    section(
                        "Per sprint (click a number to see the items)",
                        data_table(
                            ["Sprint", "Total", "Stories", "Bugs", "Tasks", "Other"],
                            rx.foreach(
                                s.data.rows,
                                lambda r: rx.table.row(
                                    rx.table.cell(r.sprint_name),
                                    rx.table.cell(drill_button(r.total.to_string(), r.sprint_id, "throughput")),
                                    *[
                                        rx.table.cell(
                                            drill_button(getattr(r, kind).to_string(), r.sprint_id, "throughput", kind)
                                        )
                                        for kind in ("story", "bug", "task", "other")
                                    ],
                                ),
                            ),
                            size="1",
                        ),
                    ),
                    spacing="4",
                    width="100%",
                ),
                empty(s.data.empty_message, "plug"),
            ),
        ),
        spacing="4",
        width="100%",
    )


# --------------------------------------------------------------------------- quality
@page(
    routes.QUALITY,
    "Quality",
    nav="Quality",
    icon="shield-check",
    order=40,
    on_load=QualityState.load,
    on_live=QualityState.on_live,
    old_routes=("/quality",),
)
def quality() -> rx.Component:
    s = QualityState
    return rx.vstack(
        toolbar("Quality", "Defect density, DMT compliance and the flags raised", s),
        page_body(
            s,
            rx.cond(
                s.data.empty_message != "",
                empty(s.data.empty_message, "plug"),
                rx.vstack(
                    rx.grid(
                        _stat("DMT compliance (all done items)", s.data.compliance_rate, "%"),
                        _stat("Open flags", s.data.open_flags, ""),
                        _stat("Done items judged compliant", s.data.compliant_items, "items"),
                        columns=rx.breakpoints(initial="1", sm="3"),
                        spacing="4",
                        width="100%",
                    ),
                    rx.grid(
                        section(
                            "DMT compliance per sprint (%)",
                            rx.recharts.line_chart(
                                *axis(),
                                rx.recharts.line(
                                    data_key="compliance_rate",
                                    name="Compliance %",
                                    stroke=COLORS["good"],
                                    stroke_width=2,
                                    connect_nulls=True,
                                ),
                                data=s.chart,
                                height=260,
                                width="100%",
                            ),
                        ),
                        section(
                            "Defect density (defects per 100 completed points)",
                            rx.recharts.bar_chart(
                                *axis(),
                                rx.recharts.bar(data_key="defect_density", name="Defect density", fill=COLORS["bad"]),
                                data=s.chart,
                                height=260,
                                width="100%",
                            ),
                        ),
                        columns=rx.breakpoints(initial="1", lg="2"),
                        spacing="4",
                        width="100%",
                    ),
                    section(
                        "Flags by rule",
                        rx.cond(
                            s.rules_chart.length() > 0,
                            rx.recharts.bar_chart(
                                rx.recharts.cartesian_grid(stroke_dasharray="3 3", horizontal=False),
                                rx.recharts.x_axis(type_="number", font_size=12),
                                rx.recharts.y_axis(
                                    data_key="rule", type_="category", width=220, font_size=12, interval=0
                                ),
                                rx.recharts.graphing_tooltip(),
                                rx.recharts.legend(),
                                rx.recharts.bar(data_key="open", name="Open", fill=COLORS["bad"], stack_id="r"),
                                rx.recharts.bar(
                                    data_key="resolved", name="Resolved", fill=COLORS["good"], stack_id="r"
                                ),
                                data=s.rules_chart,
                                layout="vertical",
                                height=280,
                                width="100%",
                            ),
                            empty("No compliance flags: every evaluated item meets Done Means Tested.", "shield-check"),
                        ),
                        actions=rx.link("Open the flags →", href=routes.FLAGS, size="2"),
                    ),
                    section(
                        "DMT compliance by developer and sprint",
                        heatmap(
                            s.heatmap,
                            s.heatmap_figure,
                            "Heatmap of DMT compliance by developer and sprint",
                            hint(
                                "Percent of each developer's judged done items that meet DMT; "
                                "hover a cell for the items behind it."
                            ),
                        ),
                        id="compliance-heatmap",
                    ),
                    section(
                        "Per sprint (click a number to see the items)",
                        data_table(
                            ["Sprint", "Defects", "Defect density", "DMT compliance", "Open flags"],
                            rx.foreach(
                                s.data.series,
                                lambda q: rx.table.row(
                                    rx.table.cell(q.sprint_name),
                                    rx.table.cell(drill_button(q.defects.to_string(), q.sprint_id, "defects")),
                                    rx.table.cell(_num(q.defect_density)),
                                    rx.table.cell(
                                        drill_button(
                                            percent_var(q.compliance_rate),
                                            q.sprint_id,
                                            "noncompliant",
                                        )
                                    ),
                                    rx.table.cell(drill_button(q.open_flags.to_string(), q.sprint_id, "flags")),
                                ),
                            ),
                            size="1",
                        ),
                        hint("Clicking a compliance figure lists the done items that fail DMT."),
                    ),
                    spacing="4",
                    width="100%",
                ),
            ),
        ),
        spacing="4",
        width="100%",
    )


# --------------------------------------------------------------------------- PR health
@page(
    routes.PR_HEALTH,
    "PR health",
    nav="PR health",
    icon="git-pull-request",
    order=50,
    on_load=PrHealthState.load,
    on_live=PrHealthState.on_live,
    old_routes=("/pr-health",),
)
def pr_health() -> rx.Component:
    s = PrHealthState
    return rx.vstack(
        toolbar("PR health", "Review speed and coverage of pull requests (last 180 days)", s),
        page_body(
            s,
            rx.cond(
                s.data.total > 0,
                rx.vstack(
                    rx.grid(
                        _stat("Pull requests", s.data.total, ""),
                        _stat("Merged PRs reviewed", s.data.reviewed_share, "%"),
                        _stat("Median time to first review", s.data.median_first_review_hours, "h"),
                        _stat("Average merge time", s.data.avg_merge_hours, "h"),
                        columns=rx.breakpoints(initial="1", sm="2", lg="4"),
                        spacing="4",
                        width="100%",
                    ),
                    rx.grid(
                        section(
                            "Time to first review",
                            rx.recharts.bar_chart(
                                *axis("bucket"),
                                rx.recharts.bar(data_key="count", name="Pull requests", fill=COLORS["completed"]),
                                data=s.buckets,
                                height=260,
                                width="100%",
                            ),
                        ),
                        section(
                            "Per sprint",
                            rx.cond(
                                s.series.length() > 0,
                                rx.recharts.line_chart(
                                    *axis(),
                                    rx.recharts.line(
                                        data_key="avg_time_to_first_review_hours",
                                        name="First review (h)",
                                        stroke=COLORS["completed"],
                                        stroke_width=2,
                                        connect_nulls=True,
                                    ),
                                    rx.recharts.line(
                                        data_key="avg_merge_time_hours",
                                        name="Merge time (h)",
                                        stroke=COLORS["warn"],
                                        stroke_width=2,
                                        connect_nulls=True,
                                    ),
                                    data=s.series,
                                    height=260,
                                    width="100%",
                                ),
                                empty("Per-sprint PR figures appear after the metrics job has run."),
                            ),
                        ),
                        columns=rx.breakpoints(initial="1", lg="2"),
                        spacing="4",
                        width="100%",
                    ),
                    section(
                        "Review wait by the time a PR is opened",
                        heatmap(
                            s.heatmap,
                            s.heatmap_figure,
                            "Heatmap of review wait by weekday and hour",
                            hint(
                                "Median hours from opening to the first review, by weekday and hour (UTC) "
                                "the PR was opened; hover a cell for the number of PRs."
                            ),
                        ),
                        id="review-wait-heatmap",
                    ),
                    section(
                        "Per repository",
                        data_table(
                            [
                                "Repository",
                                "PRs",
                                "Merged",
                                "Open",
                                "Reviewed",
                                "Avg first review (h)",
                                "Median first review (h)",
                                "Avg merge (h)",
                            ],
                            rx.foreach(
                                s.data.repositories,
                                lambda r: rx.table.row(
                                    rx.table.cell(rx.text(r.repository, weight="medium")),
                                    rx.table.cell(r.prs),
                                    rx.table.cell(r.merged),
                                    rx.table.cell(r.open),
                                    rx.table.cell(percent_var(r.reviewed_share)),
                                    rx.table.cell(_num(r.avg_first_review_hours)),
                                    rx.table.cell(_num(r.median_first_review_hours)),
                                    rx.table.cell(_num(r.avg_merge_hours)),
                                ),
                            ),
                            size="1",
                        ),
                    ),
                    spacing="4",
                    width="100%",
                ),
                empty(s.data.empty_message, "git-pull-request"),
            ),
        ),
        spacing="4",
        width="100%",
    )
