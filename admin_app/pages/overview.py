"""System overview: tenants, sources by status, syncs and failures per day, queue depth (live)."""

from __future__ import annotations

import reflex as rx

from admin_app import routes
from admin_app.state.overview import OverviewState
from portal_common import page, styles
from portal_common.components import error_callout, page_header, section, stat

CHART_COLORS = {
    "syncs": styles.CHART_COLORS["primary"],
    "failures": styles.CHART_COLORS["bad"],
    "sources": styles.CHART_COLORS["task"],
}


def _linked(card: rx.Component, href: str) -> rx.Component:
    return rx.link(card, href=href, underline="none", color="inherit", width="100%")


def _axis(data_key: str) -> list[rx.Component]:
    return [
        rx.recharts.cartesian_grid(stroke_dasharray="3 3", vertical=False),
        rx.recharts.x_axis(data_key=data_key, tick_line=False, font_size=12),
        rx.recharts.y_axis(tick_line=False, font_size=12, width=36, allow_decimals=False),
        rx.recharts.graphing_tooltip(),
    ]


@page(
    routes.OVERVIEW,
    "Overview",
    nav="Overview",
    icon="layout-dashboard",
    order=5,
    on_load=OverviewState.load,
    on_live=OverviewState.on_live,
)
def overview_page() -> rx.Component:
    d = OverviewState.data
    return rx.vstack(
        page_header("System overview", "Checked at " + d.checked_at + " · updates on every sync event"),
        rx.grid(
            _linked(
                stat("Active tenants", d.tenants_active, d.tenants_inactive.to(str) + " inactive"),
                routes.TENANTS,
            ),
            stat("Projects", d.projects),
            stat("Users", d.users),
            _linked(stat("Sources", d.sources, d.sources_active.to(str) + " active"), routes.HEALTH),
            _linked(
                stat(
                    "Queue depth",
                    rx.cond(d.queue_ok, d.queue_depth.to(str), "?"),
                    rx.cond(d.queue_ok, "tasks waiting", d.queue_error),
                ),
                routes.HEALTH,
            ),
            _linked(
                stat(
                    "Circuits open",
                    d.circuits_open,
                    "sources paused after repeated failures",
                    color=rx.cond(d.circuits_open > 0, "var(--red-11)", "var(--gray-12)"),
                ),
                routes.HEALTH,
            ),
            columns=rx.breakpoints(initial="2", md="3", xl="6"),
            spacing="3",
            width="100%",
            id="overview-figures",
        ),
        rx.grid(
            section(
                rx.text("Syncs and failures per day (last ", OverviewState.day_chart.length(), " days)"),
                rx.recharts.bar_chart(
                    *_axis("label"),
                    rx.recharts.legend(),
                    rx.recharts.bar(data_key="syncs", name="Syncs", fill=CHART_COLORS["syncs"]),
                    rx.recharts.bar(data_key="failures", name="Failures", fill=CHART_COLORS["failures"]),
                    data=OverviewState.day_chart,
                    height=260,
                    width="100%",
                ),
                rx.text(
                    d.syncs_total.to(str) + " syncs, " + d.failures_total.to(str) + " failed",
                    size="1",
                    color=styles.MUTED,
                    id="sync-totals",
                ),
            ),
            section(
                "Sources by status",
                rx.recharts.bar_chart(
                    *_axis("status"),
                    rx.recharts.bar(data_key="sources", name="Sources", fill=CHART_COLORS["sources"]),
                    data=OverviewState.status_chart,
                    height=260,
                    width="100%",
                ),
                rx.link("Every source on the Health page →", href=routes.HEALTH, size="2"),
            ),
            columns=rx.breakpoints(initial="1", lg="2"),
            spacing="4",
            width="100%",
        ),
        rx.cond(
            d.unreadable_tenants.length() > 0,
            error_callout(
                "The sync history of these tenants could not be read (schema behind on migrations?): "
                + d.unreadable_tenants.join(", ")
            ),
        ),
        width="100%",
        spacing="4",
    )
