"""Team overview with the sprint deep-dive, Developers, and Me."""

from __future__ import annotations

import reflex as rx

from dmt_app.components.ui import (
    CHART_HEIGHT,
    COLORS,
    axis,
    card,
    drill_button,
    empty,
    hint,
    items_table,
    page_body,
    toolbar,
)
from dmt_app.state.dashboards import DevelopersState, MeState, TeamState
from portal_common import page, styles


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
@page("/team", "Team", nav="Team & sprints", icon="users", order=60, on_load=TeamState.load, on_live=TeamState.on_live)
def team() -> rx.Component:
    s = TeamState
    d = s.detail
    sprint_picker = rx.cond(
        d.sprints.length() > 0,
        rx.select.root(
            rx.select.trigger(placeholder="Sprint", min_width="180px", id="sprint-picker"),
            rx.select.content(
                rx.foreach(d.sprints, lambda p: rx.select.item(p.sprint_name, value=p.sprint_id.to_string()))
            ),
            value=s.sprint_choice,
            on_change=s.pick_sprint,
        ),
    )
    return rx.vstack(
        toolbar(
            "Team & sprints",
            "Every sprint of the team, and a deep-dive: burndown, burnup and each item with its link",
            s,
            sprint_picker,
        ),
        page_body(
            s,
            rx.cond(
                d.sprint.sprint_id == 0,
                empty(d.empty_message, "plug"),
                rx.vstack(
                    card(
                        rx.text("Sprint ", d.sprint.sprint_name),
                        rx.flex(
                            _figure("State", d.sprint.state),
                            _figure(
                                "Committed",
                                drill_button(
                                    d.sprint.committed_points.to_string() + " pts", d.sprint.sprint_id, "committed"
                                ),
                            ),
                            _figure(
                                "Completed",
                                drill_button(
                                    d.sprint.completed_points.to_string() + " pts", d.sprint.sprint_id, "completed"
                                ),
                            ),
                            _figure(
                                "Items done",
                                drill_button(
                                    d.sprint.completed_items.to_string() + " / " + d.sprint.committed_items.to_string(),
                                    d.sprint.sprint_id,
                                    "completed",
                                ),
                            ),
                            _figure(
                                "Blocked",
                                drill_button(d.sprint.blocked_items.to_string(), d.sprint.sprint_id, "blocked"),
                            ),
                            _figure(
                                "Open flags", drill_button(d.sprint.open_flags.to_string(), d.sprint.sprint_id, "flags")
                            ),
                            _figure("DMT compliance", _val(d.sprint.compliance_rate, " %")),
                            _figure("Avg cycle time", _val(d.sprint.avg_cycle_time_days, " days")),
                            wrap="wrap",
                            gap="20px",
                        ),
                        rx.cond(d.goal != "", hint("Goal: " + d.goal)),
                    ),
                    rx.grid(
                        card(
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
                        card(
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
                    card(
                        "All sprints",
                        rx.box(
                            rx.table.root(
                                rx.table.header(
                                    rx.table.row(
                                        *[
                                            rx.table.column_header_cell(h)
                                            for h in (
                                                "Sprint",
                                                "State",
                                                "Committed",
                                                "Completed",
                                                "Items done",
                                                "Blocked",
                                                "DMT %",
                                                "Open flags",
                                                "",
                                            )
                                        ]
                                    )
                                ),
                                rx.table.body(
                                    rx.foreach(
                                        d.sprints,
                                        lambda p: rx.table.row(
                                            rx.table.cell(rx.text(p.sprint_name, weight="medium")),
                                            rx.table.cell(p.state),
                                            rx.table.cell(p.committed_points),
                                            rx.table.cell(p.completed_points),
                                            rx.table.cell(p.completed_items, " / ", p.committed_items),
                                            rx.table.cell(p.blocked_items),
                                            rx.table.cell(_val(p.compliance_rate)),
                                            rx.table.cell(p.open_flags),
                                            rx.table.cell(
                                                rx.button(
                                                    "Open",
                                                    size="1",
                                                    variant="soft",
                                                    on_click=s.pick_sprint(p.sprint_id.to_string()),
                                                    disabled=p.sprint_id == d.sprint.sprint_id,
                                                )
                                            ),
                                        ),
                                    )
                                ),
                                variant="surface",
                                size="1",
                                width="100%",
                            ),
                            overflow_x="auto",
                            max_height="320px",
                            overflow_y="auto",
                            width="100%",
                        ),
                    ),
                    card(
                        rx.text("Items (", d.items_total, ")"),
                        items_table(s.sprint_items, "This sprint has no items."),
                        hint("Each key opens the item in its tool. Done items come first."),
                    ),
                    spacing="4",
                    width="100%",
                ),
            ),
        ),
        spacing="4",
        width="100%",
    )


# --------------------------------------------------------------------------- developers
def _detail_chart(data: rx.Var) -> rx.Component:
    return rx.grid(
        card(
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
        card(
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
        card(
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
        card(
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
    "/developers",
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
        toolbar("Developers", "Each developer over time against the team average", s),
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
                    card(
                        "Developers (click a row for their trend)",
                        rx.box(
                            rx.table.root(
                                rx.table.header(
                                    rx.table.row(
                                        *[
                                            rx.table.column_header_cell(h)
                                            for h in (
                                                "Developer",
                                                "Sprints",
                                                "Items",
                                                "Points",
                                                "Avg cycle (days)",
                                                "DMT %",
                                                "Defects",
                                                "PRs merged",
                                            )
                                        ]
                                    )
                                ),
                                rx.table.body(
                                    rx.foreach(
                                        s.data.developers,
                                        lambda d: rx.table.row(
                                            rx.table.cell(
                                                rx.hstack(
                                                    rx.text(d.name, weight="medium"),
                                                    rx.cond(d.is_me, rx.badge("you", color_scheme="indigo")),
                                                    spacing="2",
                                                )
                                            ),
                                            rx.table.cell(d.sprints_active),
                                            rx.table.cell(d.items_completed),
                                            rx.table.cell(d.points_completed),
                                            rx.table.cell(_val(d.avg_cycle_time_days)),
                                            rx.table.cell(_val(d.compliance_rate)),
                                            rx.table.cell(d.defects_completed),
                                            rx.table.cell(d.prs_merged),
                                            on_click=s.pick_developer(d.identity_id),
                                            cursor="pointer",
                                            background=rx.cond(
                                                s.selected == d.identity_id.to_string(), "var(--accent-a3)", ""
                                            ),
                                            class_name="developer-row",
                                        ),
                                    )
                                ),
                                variant="surface",
                                size="1",
                                width="100%",
                            ),
                            overflow_x="auto",
                            width="100%",
                        ),
                    ),
                    rx.heading(s.detail.name, size="5", id="developer-name"),
                    _detail_chart(s.detail_chart),
                    spacing="4",
                    width="100%",
                ),
                empty(s.data.empty_message, "users"),
            ),
        ),
        spacing="4",
        width="100%",
    )


# --------------------------------------------------------------------------- me
@page("/me", "My metrics", nav="My metrics", icon="user-round", order=80, on_load=MeState.load, on_live=MeState.on_live)
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
                    rx.cond(
                        t,
                        card(
                            rx.text(s.detail.name),
                            rx.flex(
                                _figure("Sprints", t.sprints_active.to_string()),
                                _figure("Items done", t.items_completed.to_string()),
                                _figure("Points done", t.points_completed.to_string()),
                                _figure("Avg cycle time", _val(t.avg_cycle_time_days, " days")),
                                _figure("DMT compliance", _val(t.compliance_rate, " %")),
                                _figure("PRs merged", t.prs_merged.to_string()),
                                wrap="wrap",
                                gap="20px",
                            ),
                        ),
                    ),
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
