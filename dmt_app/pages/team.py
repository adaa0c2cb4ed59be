"""Team overview, a sprint's deep-dive, Developers, one developer, and Me."""

from __future__ import annotations

import reflex as rx

from dmt_app import routes
from dmt_app.components.ui import (
    CHART_HEIGHT,
    COLORS,
    axis,
    drill_button,
    empty,
    hint,
    items_table,
    page_body,
    toolbar,
)
from dmt_app.state.dashboards import DevelopersState, DeveloperState, MeState, SprintState, TeamState
from portal_common import page, styles
from portal_common.components import data_table, section
from portal_common.formatting import percent_var


def _val(value: rx.Var, suffix: str = "") -> rx.Component:
    return rx.cond(value.is_not_none(), rx.text(value.to_string(), suffix), rx.text("-"))


def _figure(label: str, value: rx.Component | rx.Var) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", color=styles.MUTED),
        rx.text(value, size="4", weight="bold") if isinstance(value, rx.Var) else value,
        spacing="0",
        min_width="110px",
    )


# --------------------------------------------------------------------------- team + sprint deep-dive
def _sprint_figures(d: rx.Var) -> rx.Component:
    """The figures of one sprint; each number opens the items behind it."""
    return rx.flex(
        _figure("State", d.sprint.state),
        _figure(
            "Committed",
            drill_button(d.sprint.committed_points.to_string() + " pts", d.sprint.sprint_id, "committed"),
        ),
        _figure(
            "Completed",
            drill_button(d.sprint.completed_points.to_string() + " pts", d.sprint.sprint_id, "completed"),
        ),
        _figure(
            "Items done",
            drill_button(
                d.sprint.completed_items.to_string() + " / " + d.sprint.committed_items.to_string(),
                d.sprint.sprint_id,
                "completed",
            ),
        ),
        _figure("Blocked", drill_button(d.sprint.blocked_items.to_string(), d.sprint.sprint_id, "blocked")),
        _figure("Open flags", drill_button(d.sprint.open_flags.to_string(), d.sprint.sprint_id, "flags")),
        _figure("DMT compliance", percent_var(d.sprint.compliance_rate)),
        _figure("Avg cycle time", _val(d.sprint.avg_cycle_time_days, " days")),
        wrap="wrap",
        gap="20px",
    )


def _sprints_table(rows: rx.Var) -> rx.Component:
    return data_table(
        ["Sprint", "State", "Committed", "Completed", "Items done", "Blocked", "DMT compliance", "Open flags"],
        rx.foreach(
            rows,
            lambda p: rx.table.row(
                rx.table.cell(rx.link(p["sprint_name"], href=p["url"], weight="medium", class_name="sprint-link")),
                rx.table.cell(p["state"]),
                rx.table.cell(p["committed_points"]),
                rx.table.cell(p["completed_points"]),
                rx.table.cell(p["completed_items"], " / ", p["committed_items"]),
                rx.table.cell(p["blocked_items"]),
                rx.table.cell(percent_var(p["compliance_rate"])),
                rx.table.cell(p["open_flags"]),
            ),
        ),
        size="1",
    )


@page(
    routes.TEAM,
    "Team",
    nav="Team & sprints",
    icon="users",
    order=60,
    on_load=TeamState.load,
    on_live=TeamState.on_live,
    old_routes=("/sprints",),
)
def team() -> rx.Component:
    s = TeamState
    d = s.detail
    return rx.vstack(
        toolbar("Team & sprints", "The current sprint and every sprint of the team; open one for its deep-dive", s),
        page_body(
            s,
            rx.cond(
                d.sprint.sprint_id == 0,
                empty(d.empty_message, "plug"),
                rx.vstack(
                    section(
                        rx.text("Current sprint: ", d.sprint.sprint_name),
                        _sprint_figures(d),
                        rx.cond(d.goal != "", hint("Goal: " + d.goal)),
                        actions=rx.link("Burndown and items →", href=s.current_url, size="2", id="current-sprint"),
                    ),
                    section(
                        "All sprints",
                        _sprints_table(s.sprints),
                        hint("Each sprint opens its deep-dive: burndown, burnup and every item with its link."),
                    ),
                    spacing="4",
                    width="100%",
                ),
            ),
        ),
        spacing="4",
        width="100%",
    )


@page(routes.SPRINT, "Sprint", on_load=SprintState.load, on_live=SprintState.on_live)
def sprint() -> rx.Component:
    s = SprintState
    d = s.detail
    sprint_picker = rx.cond(
        s.sprint_names.length() > 0,
        rx.select.root(
            rx.select.trigger(placeholder="Sprint", min_width="180px", id="sprint-picker", aria_label="Sprint"),
            rx.select.content(rx.foreach(s.sprint_names, lambda name: rx.select.item(name, value=name))),
            value=d.sprint.sprint_name,
            on_change=s.open_sprint,
        ),
    )
    return rx.vstack(
        rx.link("← Team & sprints", href=routes.TEAM, size="2"),
        toolbar("Sprint deep-dive", "Burndown, burnup and each item with its link", s, sprint_picker),
        page_body(
            s,
            rx.cond(
                s.missing != "",
                empty(
                    "This project has no sprint named “" + s.missing + "”: pick one above, or see all sprints.",
                    "search-x",
                ),
                rx.cond(
                    d.sprint.sprint_id == 0,
                    empty(d.empty_message, "plug"),
                    rx.vstack(
                        section(
                            rx.text(d.sprint.sprint_name, id="sprint-name"),
                            _sprint_figures(d),
                            rx.cond(d.goal != "", hint("Goal: " + d.goal)),
                        ),
                        rx.grid(
                            section(
                                "Burndown (points remaining)",
                                rx.cond(
                                    s.burn.length() > 0,
                                    rx.recharts.line_chart(
                                        *axis("day"),
                                        rx.recharts.line(
                                            data_key="ideal",
                                            name="Ideal",
                                            stroke=COLORS["committed"],
                                            stroke_dasharray="5 5",
                                        ),
                                        rx.recharts.line(
                                            data_key="remaining",
                                            name="Remaining",
                                            stroke=COLORS["completed"],
                                            stroke_width=2,
                                        ),
                                        data=s.burn,
                                        height=CHART_HEIGHT,
                                        width="100%",
                                    ),
                                    empty("The sprint has no start date, so there is no burndown."),
                                ),
                            ),
                            section(
                                "Burnup (points done vs scope)",
                                rx.cond(
                                    s.burn.length() > 0,
                                    rx.recharts.line_chart(
                                        *axis("day"),
                                        rx.recharts.line(data_key="scope", name="Scope", stroke=COLORS["committed"]),
                                        rx.recharts.line(
                                            data_key="done", name="Done", stroke=COLORS["good"], stroke_width=2
                                        ),
                                        data=s.burn,
                                        height=CHART_HEIGHT,
                                        width="100%",
                                    ),
                                    empty("The sprint has no start date, so there is no burnup."),
                                ),
                            ),
                            columns=rx.breakpoints(initial="1", lg="2"),
                            spacing="4",
                            width="100%",
                        ),
                        section(
                            rx.text("Items (", d.items_total, ")"),
                            items_table(s.sprint_items, "This sprint has no items."),
                            hint("Each key opens the item in its tool. Done items come first."),
                        ),
                        spacing="4",
                        width="100%",
                    ),
                ),
            ),
        ),
        spacing="4",
        width="100%",
    )


# --------------------------------------------------------------------------- developers
def _detail_chart(data: rx.Var) -> rx.Component:
    return rx.grid(
        section(
            "Points completed vs team average",
            rx.recharts.line_chart(
                *axis(),
                rx.recharts.line(data_key="points", name="Developer", stroke=COLORS["completed"], stroke_width=2),
                rx.recharts.line(
                    data_key="team_avg_points", name="Team average", stroke=COLORS["team"], stroke_dasharray="5 5"
                ),
                data=data,
                height=260,
                width="100%",
            ),
        ),
        section(
            "Cycle time (days) vs team average",
            rx.recharts.line_chart(
                *axis(),
                rx.recharts.line(
                    data_key="avg_cycle_time_days",
                    name="Developer",
                    stroke=COLORS["warn"],
                    stroke_width=2,
                    connect_nulls=True,
                ),
                rx.recharts.line(
                    data_key="team_avg_cycle_time_days",
                    name="Team average",
                    stroke=COLORS["team"],
                    stroke_dasharray="5 5",
                    connect_nulls=True,
                ),
                data=data,
                height=260,
                width="100%",
            ),
        ),
        section(
            "DMT compliance (%) vs team average",
            rx.recharts.line_chart(
                *axis(),
                rx.recharts.line(
                    data_key="compliance_rate",
                    name="Developer",
                    stroke=COLORS["good"],
                    stroke_width=2,
                    connect_nulls=True,
                ),
                rx.recharts.line(
                    data_key="team_avg_compliance_rate",
                    name="Team average",
                    stroke=COLORS["team"],
                    stroke_dasharray="5 5",
                    connect_nulls=True,
                ),
                data=data,
                height=260,
                width="100%",
            ),
        ),
        section(
            "Items completed vs team average",
            rx.recharts.bar_chart(
                *axis(),
                rx.recharts.bar(data_key="items", name="Developer", fill=COLORS["completed"]),
                rx.recharts.bar(data_key="team_avg_items", name="Team average", fill=COLORS["team"]),
                data=data,
                height=260,
                width="100%",
            ),
        ),
        columns=rx.breakpoints(initial="1", lg="2"),
        spacing="4",
        width="100%",
    )


@page(
    routes.DEVELOPERS,
    "Developers",
    nav="Developers",
    icon="user-round-search",
    order=70,
    on_load=DevelopersState.load,
    on_live=DevelopersState.on_live,
)
def developers() -> rx.Component:
    s = DevelopersState
    return rx.vstack(
        toolbar("Developers", "Each developer's totals; open one for their trend against the team average", s),
        page_body(
            s,
            rx.cond(
                s.data.developers.length() > 0,
                rx.vstack(
                    rx.cond(
                        s.data.names_visible,
                        hint("You see names because you are a tech lead or project manager on this project."),
                        hint("Other developers are shown as 'Developer N' (stable numbers); you see yourself by name."),
                    ),
                    section(
                        "Developers",
                        data_table(
                            [
                                "Developer",
                                "Sprints",
                                "Items",
                                "Points",
                                "Avg cycle (days)",
                                "DMT compliance",
                                "Defects",
                                "PRs merged",
                            ],
                            rx.foreach(s.data.developers, lambda d: _developer_row(d, s.project_id)),
                            size="1",
                        ),
                    ),
                    spacing="4",
                    width="100%",
                ),
                empty(s.data.empty_message, "users"),
            ),
        ),
        spacing="4",
        width="100%",
    )


def _developer_row(d: rx.Var, project_id: rx.Var) -> rx.Component:
    href = routes.developer_href(d.identity_id, project_id)
    return rx.table.row(
        rx.table.cell(
            rx.hstack(
                rx.link(d.name, href=href, weight="medium"),
                rx.cond(d.is_me, rx.badge("you", color_scheme="indigo")),
                spacing="2",
            )
        ),
        rx.table.cell(d.sprints_active),
        rx.table.cell(d.items_completed),
        rx.table.cell(d.points_completed),
        rx.table.cell(_val(d.avg_cycle_time_days)),
        rx.table.cell(percent_var(d.compliance_rate)),
        rx.table.cell(d.defects_completed),
        rx.table.cell(d.prs_merged),
        on_click=rx.redirect(href),
        cursor="pointer",
        class_name="developer-row",
    )


def _totals_card(title: rx.Var, t: rx.Var) -> rx.Component:
    return section(
        title,
        rx.flex(
            _figure("Sprints", t.sprints_active.to_string()),
            _figure("Items done", t.items_completed.to_string()),
            _figure("Points done", t.points_completed.to_string()),
            _figure("Avg cycle time", _val(t.avg_cycle_time_days, " days")),
            _figure("DMT compliance", percent_var(t.compliance_rate)),
            _figure("PRs merged", t.prs_merged.to_string()),
            wrap="wrap",
            gap="20px",
        ),
    )


@page(routes.DEVELOPER, "Developer", on_load=DeveloperState.load, on_live=DeveloperState.on_live)
def developer() -> rx.Component:
    s = DeveloperState
    t = s.detail.totals
    return rx.vstack(
        rx.link("← Developers", href=routes.DEVELOPERS, size="2"),
        toolbar("Developer", "Sprint by sprint, next to the team average", s),
        page_body(
            s,
            rx.heading(s.detail.name, size="5", id="developer-name"),
            rx.cond(
                s.detail.series.length() > 0,
                rx.vstack(
                    rx.cond(t, _totals_card("Totals", t)),
                    _detail_chart(s.chart),
                    spacing="4",
                    width="100%",
                ),
                empty(
                    rx.cond(s.detail.empty_message != "", s.detail.empty_message, "No completed work yet."),
                    "user-round",
                ),
            ),
        ),
        spacing="4",
        width="100%",
    )


# --------------------------------------------------------------------------- me
@page(
    routes.ME,
    "My metrics",
    nav="My metrics",
    icon="user-round",
    order=80,
    on_load=MeState.load,
    on_live=MeState.on_live,
)
def me() -> rx.Component:
    s = MeState
    t = s.detail.totals
    return rx.vstack(
        toolbar("My metrics", "Your own work, sprint by sprint, next to the team average", s),
        page_body(
            s,
            rx.cond(
                s.detail.series.length() > 0,
                rx.vstack(
                    rx.cond(t, _totals_card(s.detail.name, t)),
                    _detail_chart(s.chart),
                    spacing="4",
                    width="100%",
                ),
                empty(
                    rx.cond(s.detail.empty_message != "", s.detail.empty_message, "No completed work yet."),
                    "user-round",
                ),
            ),
        ),
        spacing="4",
        width="100%",
    )
