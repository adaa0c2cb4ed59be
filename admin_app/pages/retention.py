"""Data retention: archive a past quarter of a tenant and verify it on the worker (live progress), hard delete
exactly the verified rows (typed phrase), restore it. The nightly schedule creates jobs for quarters older than
each tenant's retention."""

from __future__ import annotations

import reflex as rx

from admin_app import routes
from admin_app.components.forms import dialog, text_input
from admin_app.state.retention import JobRow, RetentionState
from portal_common import page, styles
from portal_common.components import data_table, empty_row, error_callout, field, notice_callout, page_header, section

MUTED = styles.MUTED
RETENTION_COLORS = {
    "pending": "blue",
    "archiving": "cyan",
    "archived": "amber",
    "verifying": "cyan",
    "verified": "green",
    "deleted": "red",
    "restored": "indigo",
    "failed": "red",
}


def retention_badge(status: rx.Var) -> rx.Component:
    return rx.badge(status, color_scheme=rx.match(status, *RETENTION_COLORS.items(), "gray"), variant="soft", size="2")


def tenant_select(name: str, element_id: str, all_label: str | None, **props: object) -> rx.Component:
    return rx.el.select(
        rx.el.option(all_label, value="") if all_label else rx.fragment(),
        rx.foreach(RetentionState.tenants, lambda c: rx.el.option(c["label"], value=c["value"])),
        name=name,
        id=element_id,
        style=styles.native_select_style,
        **props,
    )


def when(label: str, value: rx.Var) -> rx.Component:
    return rx.cond(
        value != "",
        rx.text(rx.text.span(label + " ", color=MUTED), value, size="1", white_space="nowrap"),
    )


def busy(job: JobRow, action: str) -> rx.Var:
    return (RetentionState.busy_job == job["id"]) & (RetentionState.busy_action == action)


def actions(j: JobRow) -> rx.Component:
    s = j["status"]
    idle = RetentionState.busy_job == 0
    return rx.hstack(
        rx.button(
            "Archive",
            size="1",
            variant="soft",
            on_click=RetentionState.archive(j["id"]),
            loading=busy(j, "archive") | (s == "archiving"),
            disabled=~idle | ~((s == "pending") | (s == "failed") | (s == "restored")),
            id="archive-" + j["id"].to(str),
        ),
        rx.button(
            "Verify",
            size="1",
            variant="soft",
            color_scheme="green",
            on_click=RetentionState.verify(j["id"]),
            loading=busy(j, "verify") | (s == "verifying"),
            disabled=~idle | ~((s == "archived") | (s == "verified")),
            id="verify-" + j["id"].to(str),
        ),
        rx.button(
            "Hard delete",
            size="1",
            variant="soft",
            color_scheme="red",
            on_click=RetentionState.start_delete(j["id"]),
            loading=busy(j, "delete"),
            disabled=~idle | (s != "verified"),
            id="delete-" + j["id"].to(str),
        ),
        rx.button(
            "Restore",
            size="1",
            variant="soft",
            color_scheme="gray",
            on_click=RetentionState.restore(j["id"]),
            loading=busy(j, "restore"),
            disabled=~idle | (j["archive_uri"] == ""),
            id="restore-" + j["id"].to(str),
        ),
        spacing="1",
        wrap="wrap",
    )


def progress_cell(j: JobRow) -> rx.Component:
    """The worker's last word on the job: a bar while archive or verify runs, then what it finished with."""
    running = (j["status"] == "archiving") | (j["status"] == "verifying")
    return rx.cond(
        j["progress_text"] != "",
        rx.vstack(
            rx.cond(
                running,
                rx.progress(value=j["progress"], width="100%", aria_label="Progress of job " + j["id"].to(str)),
            ),
            rx.text(j["progress_text"], size="1", color=MUTED),
            spacing="1",
            width="100%",
            id="progress-" + j["id"].to(str),
        ),
    )


def job_row(j: JobRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.text(j["tenant"], weight="medium", size="2"),
            rx.text("job " + j["id"].to(str), size="1", color=MUTED),
        ),
        rx.table.cell(rx.code(j["quarter"])),
        rx.table.cell(retention_badge(j["status"]), id="status-" + j["id"].to(str)),
        rx.table.cell(progress_cell(j), min_width="180px"),
        rx.table.cell(
            rx.vstack(
                when("created", j["created_at"]),
                when("archived", j["archived_at"]),
                when("verified", j["verified_at"]),
                when("deleted", j["deleted_at"]),
                when("restored", j["restored_at"]),
                spacing="0",
            )
        ),
        rx.table.cell(
            rx.cond(
                j["row_counts"] != "",
                rx.vstack(
                    rx.text(j["total_rows"].to(str) + " rows", size="2", weight="medium"),
                    rx.text(j["row_counts"], size="1", color=MUTED),
                    spacing="0",
                ),
                rx.text("not archived yet", size="1", color=MUTED),
            ),
            id="rows-" + j["id"].to(str),
            max_width="260px",
        ),
        rx.table.cell(rx.text(j["archive_uri"], size="1", style={"word_break": "break-all"}), max_width="240px"),
        rx.table.cell(
            rx.text(j["error"], size="1", color="var(--red-11)"),
            rx.cond(j["deletion"] != "", rx.text(j["deletion"], size="1", id="deletion-" + j["id"].to(str))),
            max_width="260px",
        ),
        rx.table.cell(actions(j)),
    )


def create_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            error_callout(RetentionState.create_error),
            rx.grid(
                field(
                    "Tenant",
                    tenant_select(
                        "tenant",
                        "retention-tenant",
                        None,
                        value=RetentionState.new_tenant,
                        on_change=RetentionState.set_new_tenant,
                    ),
                ),
                field(
                    "Quarter",
                    text_input("quarter", id="retention-quarter", placeholder="2025Q1", required=True),
                    "A quarter that has ended, written like 2025Q1.",
                ),
                rx.box(rx.button("Create job", type="submit", id="create-job"), padding_top="24px"),
                columns=rx.breakpoints(initial="1", md="3"),
                spacing="3",
                width="100%",
            ),
            spacing="2",
            width="100%",
        ),
        on_submit=RetentionState.create,
        reset_on_submit=False,
        width="100%",
    )


def delete_dialog() -> rx.Component:
    return dialog(
        "Hard delete archived data",
        None,
        rx.form(
            rx.vstack(
                rx.callout.root(
                    rx.callout.icon(rx.icon("triangle-alert")),
                    rx.callout.text(
                        "This permanently deletes the ",
                        rx.text.strong(RetentionState.delete_quarter),
                        " work items, pull requests, their links, exceptions, compliance flags, coverage "
                        "evidence and sync runs of ",
                        rx.text.strong(RetentionState.delete_tenant),
                        " from the database: exactly the rows the verified archive holds. Rows changed or added "
                        "since the verification stay and are reported. The archive can restore what is deleted; "
                        "metrics and compliance are recomputed.",
                    ),
                    color_scheme="red",
                    width="100%",
                ),
                rx.cond(
                    RetentionState.delete_rows != "",
                    rx.text("Rows to delete: ", RetentionState.delete_rows, size="2"),
                ),
                rx.text(
                    "Type ",
                    rx.code(RetentionState.delete_phrase, id="delete-phrase"),
                    " to confirm.",
                    size="2",
                ),
                rx.input(
                    name="confirmation",
                    id="delete-confirmation",
                    value=RetentionState.typed_phrase,
                    on_change=RetentionState.set_typed_phrase,
                    placeholder=RetentionState.delete_phrase,
                    auto_complete="off",
                    width="100%",
                ),
                error_callout(RetentionState.delete_error),
                rx.hstack(
                    rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                    rx.button(
                        "Delete permanently",
                        type="submit",
                        color_scheme="red",
                        id="confirm-delete",
                        disabled=~RetentionState.phrase_matches,
                        loading=RetentionState.busy_action == "delete",
                    ),
                    justify="end",
                    width="100%",
                    spacing="2",
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=RetentionState.confirm_delete,
            reset_on_submit=False,
        ),
        RetentionState.delete_open,
        RetentionState.set_delete_open,
    )


@page(
    routes.DATA_RETENTION,
    "Retention",
    nav="Retention",
    icon="archive",
    order=45,
    on_load=RetentionState.load,
    on_live=RetentionState.on_live,
    old_routes=("/retention",),
)
def retention_page() -> rx.Component:
    return rx.vstack(
        page_header(
            "Data retention",
            "Each night, quarters older than a tenant's retention are archived and verified on the worker; "
            "a hard delete stays your decision (typed confirmation). Restore any time.",
        ),
        section("New retention job", create_form()),
        error_callout(RetentionState.action_error),
        notice_callout(RetentionState.notice),
        rx.hstack(
            rx.text("Tenant", size="2", weight="medium"),
            rx.box(
                tenant_select(
                    "filter",
                    "retention-filter",
                    "All tenants",
                    aria_label="Tenant",
                    value=RetentionState.f_tenant,
                    on_change=RetentionState.set_filter,
                ),
                width="260px",
            ),
            align="center",
            spacing="3",
        ),
        data_table(
            [
                "Tenant",
                "Quarter",
                "Status",
                "Progress",
                "Times (UTC)",
                "Rows (archive manifest)",
                "Archive",
                "Error / delete report",
                "",
            ],
            rx.cond(
                RetentionState.rows.length() > 0,
                rx.foreach(RetentionState.rows, job_row),
                empty_row(9, "No retention jobs yet: the nightly schedule creates them, or create one above."),
            ),
        ),
        delete_dialog(),
        width="100%",
        spacing="4",
    )
