"""Sources: a project's new-source form (one per source type), each source's page and its connection test."""

from __future__ import annotations

import reflex as rx

from admin_app import routes
from admin_app.components.forms import select_input, text_input
from admin_app.routes import project_url, source_url
from admin_app.source_types import SOURCE_FORMS, SOURCE_TYPE_OPTIONS, ConfigField, SourceTypeForm
from admin_app.state.sources import (
    DiscoveredField,
    MappingRow,
    RunRow,
    SourceDetailState,
    SourcesState,
)
from portal_common import moved, page, styles
from portal_common.components import (
    data_table,
    empty_row,
    error_callout,
    field,
    notice_callout,
    page_header,
    section,
    status_badge,
    tab_links,
)

MUTED = styles.MUTED

# The old list page: with ?project=N it opened that project's new-source form; every source is on Health.
moved("/sources", "/dashboard/projects/[project]/sources/new", fallback=routes.HEALTH)


# --------------------------------------------------------------------------- shared form parts
def config_input(f: ConfigField, current: rx.Var | None = None) -> rx.Component:
    default = current[f.name].to(str) if current is not None else ""
    if f.kind == "select":
        control = select_input(
            f"cfg_{f.name}",
            list(f.options),
            default_value=rx.cond(default != "", default, f.options[0]) if current is not None else f.options[0],
        )
    else:
        control = text_input(f"cfg_{f.name}", placeholder=f.placeholder, default_value=default)
    return field(f.label, control, f.help)


def type_fields(spec: SourceTypeForm, state: type[rx.State] | None = None) -> rx.Component:
    """The connection fields of one source type (with current values on the edit form)."""
    editing = state is not None
    parts: list[rx.Component] = [
        field(
            "Base URL",
            text_input(
                "base_url",
                required=not editing,
                placeholder=spec.base_url_placeholder,
                default_value=SourceDetailState.base_url
                if editing
                else spec.base_url_placeholder
                if spec.source_type in ("clickup", "github")
                else "",
            ),
            spec.base_url_help,
        )
    ]
    if spec.username_label:
        parts.append(
            field(
                spec.username_label,
                text_input("username", default_value=SourceDetailState.username if editing else ""),
                spec.username_help,
            )
        )
    parts.append(
        field(
            "Token",
            rx.input(
                name="token",
                id="token",
                type="password",
                auto_complete="new-password",
                width="100%",
                placeholder=(
                    rx.cond(
                        SourceDetailState.token_set,
                        SourceDetailState.token_masked + " (stored: leave empty to keep)",
                        "not set",
                    )
                    if editing
                    else "paste the token"
                ),
            ),
            spec.token_help + " Write-only: stored encrypted, shown masked.",
        )
    )
    parts.extend(config_input(f, SourceDetailState.config_text if editing else None) for f in spec.config)
    return rx.vstack(*parts, spacing="3", width="100%")


def schedule_fields(editing: bool) -> rx.Component:
    return rx.grid(
        field(
            "Nightly sync (UTC, HH:MM)",
            text_input("sync_time", default_value=SourceDetailState.sync_time if editing else "02:00"),
            "Celery beat starts an incremental sync at this time.",
        ),
        field(
            "Historical import (days)",
            text_input(
                "historical_import_days",
                type="number",
                default_value=SourceDetailState.historical_import_days.to(str) if editing else "365",
            ),
            "How far back a historical import reads.",
        ),
        columns=rx.breakpoints(initial="1", sm="2"),
        spacing="3",
        width="100%",
    )


# --------------------------------------------------------------------------- new source (of a project)
def create_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            error_callout(SourcesState.create_error),
            rx.grid(
                field(
                    "Project",
                    rx.text(SourcesState.project_label, weight="medium", id="source-project"),
                    "The project whose work items or pull requests this source brings in.",
                ),
                field(
                    "Source type",
                    rx.select.root(
                        rx.select.trigger(width="100%", id="source-type", aria_label="Source type"),
                        rx.select.content(
                            *[rx.select.item(label, value=value) for value, label in SOURCE_TYPE_OPTIONS]
                        ),
                        value=SourcesState.new_type,
                        on_change=SourcesState.set_new_type,
                    ),
                    "Jira, ClickUp and Azure Boards bring work items; GitHub and Azure DevOps Git bring pull requests.",
                ),
                columns=rx.breakpoints(initial="1", sm="2"),
                spacing="3",
                width="100%",
            ),
            field(
                "Name", text_input("name", required=True, placeholder="Acme Jira"), "Shown in lists and notifications."
            ),
            rx.match(
                SourcesState.new_type,
                *[(key, type_fields(spec)) for key, spec in SOURCE_FORMS.items()],
                rx.fragment(),
            ),
            schedule_fields(False),
            rx.button("Create source", type="submit", id="create-source"),
            spacing="3",
            width="100%",
        ),
        on_submit=SourcesState.create,
        width="100%",
    )


@page(routes.PROJECT_SOURCE_NEW, "Add a source", on_load=SourcesState.load, nav_parent=routes.TENANTS)
def new_source_page() -> rx.Component:
    s = SourcesState
    return rx.cond(
        s.not_found != "",
        rx.vstack(error_callout(s.not_found), rx.link("Back to tenants", href=routes.TENANTS)),
        rx.vstack(
            rx.link("← " + s.project_label, href=project_url(s.project_id, "sources"), size="2"),
            page_header("Add a source", "Connections to Jira, ClickUp, Azure Boards, GitHub and Azure DevOps Git."),
            section("New source", create_form()),
            width="100%",
            spacing="4",
        ),
    )


# --------------------------------------------------------------------------- detail page
def edit_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            error_callout(SourceDetailState.edit_error),
            field("Name", text_input("name", default_value=SourceDetailState.name, required=True)),
            rx.match(
                SourceDetailState.source_type,
                *[(key, type_fields(spec, SourceDetailState)) for key, spec in SOURCE_FORMS.items()],
                rx.fragment(),
            ),
            rx.cond(SourceDetailState.token_set, rx.checkbox("Remove the stored token", name="clear_token")),
            schedule_fields(True),
            rx.checkbox("Active (scheduled syncs run)", name="is_active", default_checked=SourceDetailState.is_active),
            rx.button("Save source", type="submit", id="save-source"),
            spacing="3",
            width="100%",
            key=SourceDetailState.version.to(str),
        ),
        on_submit=SourceDetailState.save,
        width="100%",
    )


def test_result() -> rx.Component:
    """What the last connection test found: who we are connected as, or the tool's error."""
    return rx.cond(
        SourceDetailState.testing,
        rx.hstack(rx.spinner(), rx.text("Calling the tool's API ...", size="2"), align="center", spacing="2"),
        rx.cond(
            SourceDetailState.test_done,
            rx.cond(
                SourceDetailState.test_ok,
                rx.callout.root(
                    rx.callout.icon(rx.icon("circle-check")),
                    rx.vstack(
                        rx.text("Connected as ", rx.text.strong(SourceDetailState.test_identity), size="2"),
                        rx.text(SourceDetailState.test_message, size="2"),
                        rx.text(SourceDetailState.test_details, size="1", color=MUTED),
                        spacing="1",
                    ),
                    id="test-result-ok",
                    color_scheme="green",
                    width="100%",
                ),
                rx.callout.root(
                    rx.callout.icon(rx.icon("triangle-alert")),
                    rx.callout.text("Connection failed: ", SourceDetailState.test_message),
                    color_scheme="red",
                    width="100%",
                    id="test-result-error",
                ),
            ),
        ),
    )


def discovery() -> rx.Component:
    """Discover the tool's fields; the proposals pre-fill the mapping below."""
    return rx.vstack(
        rx.button(
            rx.icon("search", size=14),
            "Discover fields",
            on_click=SourceDetailState.discover,
            loading=SourceDetailState.discovering,
            variant="soft",
            id="discover-fields",
        ),
        rx.cond(
            SourceDetailState.discovery_message != "",
            rx.cond(
                SourceDetailState.discovery_ok,
                notice_callout(SourceDetailState.discovery_message),
                error_callout("Field discovery failed: " + SourceDetailState.discovery_message),
            ),
        ),
        rx.cond(
            SourceDetailState.discovered.length() > 0,
            rx.vstack(
                data_table(
                    ["Field id", "Name", "Type", "Options", "Proposed for"],
                    rx.foreach(SourceDetailState.discovered, discovered_row),
                ),
                rx.button(
                    "Use the proposals in the mapping",
                    on_click=SourceDetailState.use_proposals,
                    variant="soft",
                    size="1",
                ),
                width="100%",
            ),
        ),
        spacing="3",
        width="100%",
    )


def discovered_row(f: DiscoveredField) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(f["id"])),
        rx.table.cell(f["name"]),
        rx.table.cell(f["field_type"]),
        rx.table.cell(rx.text(f["options"], size="1")),
        rx.table.cell(rx.cond(f["proposed_for"] != "", rx.badge(f["proposed_for"]), "")),
    )


def mapping_row(m: MappingRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(m["key"])),
        rx.table.cell(
            rx.input(
                name="map_" + m["key"],
                default_value=m["field"],
                placeholder="tool field id",
                list="discovered-fields",
                size="1",
            )
        ),
        rx.table.cell(
            rx.input(
                name="map_" + m["key"] + "_values",
                default_value=m["values"],
                placeholder="Tool option=our value; ...",
                size="1",
            )
        ),
    )


def mapping_editor() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.text(
                "Which tool field holds each DMT fact. Value maps translate the tool's options "
                "(e.g. Testable=testable; Missing=missing).",
                size="2",
                color=MUTED,
            ),
            error_callout(SourceDetailState.mapping_error),
            rx.el.datalist(
                rx.foreach(SourceDetailState.discovered, lambda f: rx.el.option(f["name"], value=f["id"])),
                id="discovered-fields",
            ),
            data_table(["DMT field", "Tool field", "Value map"], rx.foreach(SourceDetailState.mappings, mapping_row)),
            rx.button("Save mapping", type="submit", id="save-mapping"),
            spacing="3",
            width="100%",
            key=SourceDetailState.version.to(str),
        ),
        on_submit=SourceDetailState.save_mapping,
        width="100%",
    )


def run_row(r: RunRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(r["started_at"]),
        rx.table.cell(r["kind"]),
        rx.table.cell(status_badge(r["status"])),
        rx.table.cell(r["items"]),
        rx.table.cell(r["prs"]),
        rx.table.cell(r["pages"]),
        rx.table.cell(r["errors_count"]),
        rx.table.cell(rx.text(r["error"], size="1", color="var(--red-11)")),
    )


def syncs() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.button(
                rx.icon("refresh-cw", size=14),
                "Sync now",
                on_click=SourceDetailState.sync("incremental"),
                id="sync-now",
            ),
            rx.button(
                rx.icon("history", size=14),
                "Historical import",
                on_click=SourceDetailState.sync("backfill"),
                variant="soft",
            ),
            rx.button(
                "Reconcile deletions", on_click=SourceDetailState.sync("reconcile"), variant="soft", color_scheme="gray"
            ),
            rx.cond(
                SourceDetailState.circuit_open,
                rx.button("Reset circuit", on_click=SourceDetailState.reset_circuit, color_scheme="red"),
            ),
            spacing="2",
            wrap="wrap",
        ),
        rx.cond(
            SourceDetailState.sync_running | (SourceDetailState.sync_status != ""),
            rx.vstack(
                rx.hstack(
                    rx.text(SourceDetailState.sync_kind, weight="medium", size="2"),
                    status_badge(SourceDetailState.sync_status),
                    rx.text(SourceDetailState.sync_message, size="2", color=MUTED),
                    spacing="2",
                    align="center",
                    wrap="wrap",
                ),
                rx.cond(
                    SourceDetailState.sync_running & (SourceDetailState.sync_estimate == 0),
                    rx.progress(width="100%", id="sync-progress"),
                    rx.progress(value=SourceDetailState.sync_percent, width="100%", id="sync-progress"),
                ),
                rx.text(
                    SourceDetailState.sync_fetched.to(str)
                    + " records read · "
                    + SourceDetailState.sync_upserted.to(str)
                    + " saved · "
                    + SourceDetailState.sync_pages.to(str)
                    + " pages · "
                    + SourceDetailState.sync_errors.to(str)
                    + " unreadable",
                    size="1",
                    color=MUTED,
                ),
                width="100%",
                spacing="2",
            ),
            rx.cond(
                SourceDetailState.sync_message != "", rx.text(SourceDetailState.sync_message, size="2", color=MUTED)
            ),
        ),
        rx.text("Run history", weight="medium", size="2"),
        data_table(
            ["Started", "Kind", "Status", "Items read/saved", "PRs read/saved", "Pages", "Errors", "Error"],
            rx.cond(
                SourceDetailState.runs.length() > 0,
                rx.foreach(SourceDetailState.runs, run_row),
                empty_row(8, "No runs yet."),
            ),
        ),
        spacing="3",
        width="100%",
    )


WEBHOOK_HELP = {
    "github": "GitHub: Settings → Webhooks → Payload URL = the URL, Content type application/json, "
    "Secret = the secret (HMAC).",
    "jira": "Jira: System → Webhooks → URL = the URL, Secret = the secret (signs X-Hub-Signature).",
    "azure_devops": "Azure DevOps: Service hooks → Web Hooks → URL = the URL, basic authentication "
    "password = the secret.",
}


def webhooks_card() -> rx.Component:
    return rx.vstack(
        rx.text(
            "Webhooks let the tool tell DMT about changes as they happen (an incremental sync starts at once). "
            "Generating a secret replaces the previous one.",
            size="2",
            color=MUTED,
        ),
        error_callout(SourceDetailState.webhook_error),
        rx.button(
            rx.icon("key-round", size=14),
            "Generate webhook secret",
            on_click=SourceDetailState.generate_webhook_secret,
            variant="soft",
            id="generate-webhook-secret",
        ),
        rx.cond(
            SourceDetailState.webhook_secret != "",
            rx.callout.root(
                rx.callout.icon(rx.icon("key-round")),
                rx.vstack(
                    rx.text(
                        "Paste both into the tool's webhook settings now: the secret is shown only this once.",
                        size="2",
                        weight="medium",
                    ),
                    rx.text("Webhook URL", size="1", color=MUTED),
                    rx.code(SourceDetailState.webhook_url, id="webhook-url", style={"word_break": "break-all"}),
                    rx.text("Secret", size="1", color=MUTED),
                    rx.code(SourceDetailState.webhook_secret, id="webhook-secret", style={"word_break": "break-all"}),
                    rx.text(WEBHOOK_HELP["github"], size="1"),
                    rx.text(WEBHOOK_HELP["jira"], size="1"),
                    rx.text(WEBHOOK_HELP["azure_devops"], size="1"),
                    rx.button(
                        "I have copied it: hide",
                        size="1",
                        variant="soft",
                        on_click=SourceDetailState.hide_webhook_secret,
                    ),
                    spacing="1",
                    width="100%",
                ),
                color_scheme="amber",
                width="100%",
                id="webhook-once",
            ),
            rx.text("Webhook URL: ", rx.code(SourceDetailState.webhook_url), size="2"),
        ),
        spacing="3",
        width="100%",
    )


def status_strip() -> rx.Component:
    return rx.grid(
        rx.vstack(rx.text("Status", size="1", color=MUTED), status_badge(SourceDetailState.status), spacing="1"),
        rx.vstack(
            rx.text("Last sync", size="1", color=MUTED), rx.text(SourceDetailState.last_sync_at, size="2"), spacing="1"
        ),
        rx.vstack(
            rx.text("Last success", size="1", color=MUTED),
            rx.text(SourceDetailState.last_success_at, size="2"),
            spacing="1",
        ),
        rx.vstack(
            rx.text("Failures in a row", size="1", color=MUTED),
            rx.text(SourceDetailState.consecutive_failures, size="2"),
            spacing="1",
        ),
        rx.vstack(
            rx.text("Circuit", size="1", color=MUTED),
            rx.cond(
                SourceDetailState.circuit_open,
                rx.badge("open: syncs paused", color_scheme="red"),
                rx.badge("closed", color_scheme="green"),
            ),
            spacing="1",
        ),
        columns=rx.breakpoints(initial="2", md="5"),
        spacing="4",
        width="100%",
    )


def source_frame(current: str, *sections: rx.Component) -> rx.Component:
    """Header and sub-page links of a source's pages around `sections`."""
    d = SourceDetailState
    return rx.cond(
        d.not_found != "",
        rx.vstack(error_callout(d.not_found), rx.link("Back to health", href=routes.HEALTH)),
        rx.vstack(
            rx.link("← " + d.project_label + " sources", href=project_url(d.project_id, "sources"), size="2"),
            page_header(d.name, d.type_label),
            tab_links(
                current,
                ("Source", source_url(d.source_id)),
                ("Test connection", source_url(d.source_id, "test")),
            ),
            *sections,
            width="100%",
            spacing="4",
        ),
    )


@page(
    routes.SOURCE,
    "Source",
    on_load=SourceDetailState.load,
    on_live=SourceDetailState.on_live,
    old_routes=("/sources/[source_id]",),
    nav_parent=routes.TENANTS,
)
def source_detail() -> rx.Component:
    d = SourceDetailState
    return source_frame(
        "Source",
        rx.card(
            rx.vstack(
                status_strip(),
                rx.cond(d.last_error != "", error_callout("Last error: " + d.last_error)),
                width="100%",
            ),
            width="100%",
        ),
        section("Synchronisation", syncs()),
        section(
            "Connection",
            rx.text("Check the base URL and token against the tool's API.", size="2", color=MUTED),
            actions=rx.link(
                rx.button(rx.icon("plug-zap", size=14), "Test connection", id="test-connection"),
                href=source_url(d.source_id, "test"),
            ),
        ),
        section("Webhooks", webhooks_card()),
        section("Field mapping", discovery(), mapping_editor()),
        section("Settings", edit_form()),
    )


@page(
    routes.SOURCE_TEST,
    "Test connection",
    on_load=[SourceDetailState.load, SourceDetailState.test_connection],
    nav_parent=routes.TENANTS,
)
def source_test() -> rx.Component:
    d = SourceDetailState
    return source_frame(
        "Test connection",
        section(
            "Test connection",
            rx.text(
                "The source's base URL and token were just tried against the tool's API: this is what it answered.",
                size="2",
                color=MUTED,
            ),
            test_result(),
            rx.hstack(
                rx.button(
                    rx.icon("refresh-cw", size=14),
                    "Test again",
                    on_click=d.test_connection,
                    loading=d.testing,
                    variant="soft",
                    id="test-again",
                ),
                rx.link(
                    rx.button("Back to the source", variant="soft", color_scheme="gray"), href=source_url(d.source_id)
                ),
                spacing="2",
            ),
        ),
    )
