"""Health: sources, queue, workers, database and Redis; refreshes live."""

from __future__ import annotations

import reflex as rx

from admin_app import routes
from admin_app.components.notification_delivery import dead_letters_section
from admin_app.routes import source_url
from admin_app.state.health import HealthRow, HealthState
from portal_common import page, styles
from portal_common.components import data_table, empty_row, page_header, status_badge

MUTED = styles.MUTED


def check_card(title: str, ok: rx.Var, text: rx.Var, extra: rx.Component | None = None) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.icon(
                    rx.cond(ok, "circle-check", "circle-x"),
                    color=rx.cond(ok, "var(--green-9)", "var(--red-9)"),
                    size=18,
                ),
                rx.text(title, weight="medium"),
                align="center",
                spacing="2",
            ),
            rx.text(text, size="2", color=MUTED),
            extra if extra is not None else rx.fragment(),
            spacing="1",
        ),
        width="100%",
    )


def row(r: HealthRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(r["name"], href=source_url(r["id"])), rx.text(r["source_type"], size="1", color=MUTED)),
        rx.table.cell(r["tenant"] + " / " + r["project"]),
        rx.table.cell(status_badge(r["status"]), rx.cond(~r["is_active"], rx.badge("inactive", color_scheme="gray"))),
        rx.table.cell(r["last_sync_at"]),
        rx.table.cell(r["last_success_at"]),
        rx.table.cell(r["consecutive_failures"]),
        rx.table.cell(
            rx.cond(r["circuit_open"], rx.badge("open", color_scheme="red"), rx.badge("closed", color_scheme="green"))
        ),
        rx.table.cell(rx.text(r["last_error"], size="1", color="var(--red-11)", max_width="360px")),
    )


@page(
    routes.HEALTH,
    "Health",
    nav="Health",
    icon="activity",
    order=30,
    on_load=HealthState.load,
    on_live=HealthState.on_live,
    old_routes=("/health",),
)
def health_page() -> rx.Component:
    return rx.vstack(
        page_header(
            "Health",
            "Checked at " + HealthState.checked_at + " · refreshes every 10 s and on every sync event",
            rx.button(
                rx.icon("refresh-cw", size=14),
                "Refresh",
                on_click=HealthState.refresh,
                loading=HealthState.refreshing,
                variant="soft",
            ),
        ),
        rx.grid(
            check_card("Database", HealthState.db_ok, HealthState.db_text),
            check_card("Redis", HealthState.redis_ok, HealthState.redis_text),
            check_card("Celery queue", HealthState.queue_ok, HealthState.queue_text),
            check_card(
                "Celery workers",
                HealthState.workers_ok,
                HealthState.workers_text,
                rx.foreach(HealthState.workers, lambda w: rx.text(w, size="1", color=MUTED)),
            ),
            columns=rx.breakpoints(initial="1", sm="2", lg="4"),
            spacing="3",
            width="100%",
        ),
        data_table(
            ["Source", "Tenant / project", "Status", "Last sync", "Last success", "Failures", "Circuit", "Last error"],
            rx.cond(
                HealthState.rows.length() > 0, rx.foreach(HealthState.rows, row), empty_row(8, "No sources configured.")
            ),
        ),
        dead_letters_section(),
        width="100%",
        spacing="4",
    )
