"""A tenant's pages: overview with settings and CI tokens, its projects, its company users."""

from __future__ import annotations

import reflex as rx

from admin_app import routes
from admin_app.components.forms import (
    ai_settings_fields,
    dialog,
    form_buttons,
    percent_input,
    select_input,
    text_input,
)
from admin_app.components.notification_delivery import chat_channels_section
from admin_app.routes import project_url, tenant_url
from admin_app.state.tenant_detail import ProjectRow, TenantDetailState, TokenRow, UserRow
from models.public import DEFAULT_COMPLIANCE_TARGET
from portal_common import page, styles
from portal_common.components import (
    data_table,
    empty_row,
    error_callout,
    field,
    page_header,
    section,
    stat,
    status_badge,
    tab_links,
)
from services.retention import RETENTION_PROMISE

ROLES = [
    ("viewer", "Viewer"),
    ("developer", "Developer"),
    ("tech_lead", "Tech lead"),
    ("project_manager", "Project manager"),
]


def project_options() -> rx.Component:
    return rx.foreach(
        TenantDetailState.project_rows,
        lambda p: rx.el.option(p["key"] + " - " + p["name"], value=p["id"].to(str)),
    )


def project_picker(element_id: str, optional: bool = False) -> rx.Component:
    return rx.el.select(
        rx.el.option("(no project)" if optional else "Choose a project", value=""),
        project_options(),
        name="project_id",
        id=element_id,
        style=styles.native_select_style,
    )


def project_row(p: ProjectRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(rx.code(p["key"]), href=project_url(p["id"]))),
        rx.table.cell(rx.link(p["name"], href=project_url(p["id"]))),
        rx.table.cell(p["coverage_threshold"].to(str) + " %"),
        rx.table.cell(p["compliance_target"].to(str) + " %"),
        rx.table.cell(status_badge(rx.cond(p["is_active"], "active", "inactive"))),
    )


def user_row(u: UserRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(u["full_name"], weight="medium"), rx.text(u["email"], size="1", color=styles.MUTED)),
        rx.table.cell(rx.text(rx.cond(u["roles"] != "", u["roles"], "no project role"), size="2")),
        rx.table.cell(status_badge(rx.cond(u["is_active"], "active", "inactive"))),
        rx.table.cell(rx.text(u["last_login_at"], size="1")),
        rx.table.cell(
            rx.hstack(
                rx.button(
                    "Reset password",
                    size="1",
                    variant="soft",
                    on_click=TenantDetailState.start_reset(u["id"], u["email"]),
                ),
                rx.button(
                    rx.cond(u["is_active"], "Deactivate", "Activate"),
                    size="1",
                    variant="soft",
                    color_scheme=rx.cond(u["is_active"], "red", "green"),
                    on_click=TenantDetailState.toggle_user(u["id"], u["is_active"]),
                ),
                spacing="2",
            )
        ),
    )


def projects_section() -> rx.Component:
    return section(
        "Projects",
        data_table(
            ["Key", "Name", "Coverage threshold", "Compliance target", "Status"],
            rx.cond(
                TenantDetailState.project_rows.length() > 0,
                rx.foreach(TenantDetailState.project_rows, project_row),
                empty_row(5, "No projects yet: create the first one below."),
            ),
        ),
        rx.form(
            rx.vstack(
                rx.text("New project", weight="medium", size="2"),
                error_callout(TenantDetailState.project_error),
                rx.grid(
                    field("Key", text_input("key", id="project-key", required=True, placeholder="WEB")),
                    field("Name", text_input("name", id="project-name", required=True, placeholder="Web shop")),
                    field(
                        "Coverage threshold (%)",
                        text_input("coverage_threshold", type="number", default_value="80", min=0, max=100),
                    ),
                    field(
                        "Compliance target (%)",
                        percent_input("compliance_target", f"{DEFAULT_COMPLIANCE_TARGET:g}"),
                    ),
                    columns=rx.breakpoints(initial="1", sm="4"),
                    spacing="3",
                    width="100%",
                ),
                field("Description", text_input("description", placeholder="optional")),
                rx.button("Create project", type="submit", id="create-project"),
                spacing="2",
                width="100%",
            ),
            on_submit=TenantDetailState.create_project,
            reset_on_submit=False,
            width="100%",
        ),
    )


def users_section() -> rx.Component:
    return section(
        "Company users",
        data_table(
            ["User", "Project roles", "Status", "Last sign-in", ""],
            rx.cond(
                TenantDetailState.user_rows.length() > 0,
                rx.foreach(TenantDetailState.user_rows, user_row),
                empty_row(5, "No users yet."),
            ),
        ),
        rx.grid(
            rx.form(
                rx.vstack(
                    rx.text("New company user", weight="medium", size="2"),
                    error_callout(TenantDetailState.user_error),
                    field("Full name", text_input("full_name", id="user-name", placeholder="Dana Developer")),
                    field("Email", text_input("email", id="user-email", type="email", required=True)),
                    field(
                        "Initial password",
                        text_input("password", id="user-password", type="password", required=True, min_length=10),
                        "At least 10 characters; tell it to the user over a safe channel.",
                    ),
                    rx.grid(
                        field("Project", project_picker("user-project", optional=True)),
                        field("Role", select_input("role", ROLES, id="user-role")),
                        columns="2",
                        spacing="2",
                        width="100%",
                    ),
                    rx.button("Create user", type="submit", id="create-user"),
                    spacing="2",
                    width="100%",
                ),
                on_submit=TenantDetailState.create_user,
                width="100%",
            ),
            rx.form(
                rx.vstack(
                    rx.text("Project role", weight="medium", size="2"),
                    error_callout(TenantDetailState.role_error),
                    field(
                        "User",
                        rx.el.select(
                            rx.el.option("Choose a user", value=""),
                            rx.foreach(
                                TenantDetailState.user_rows,
                                lambda u: rx.el.option(u["email"], value=u["id"].to(str)),
                            ),
                            name="user_id",
                            id="role-user",
                            style=styles.native_select_style,
                        ),
                    ),
                    field("Project", project_picker("role-project")),
                    field(
                        "Role",
                        select_input("role", [*ROLES, ("none", "No role (remove access)")], id="role-role"),
                        "Tech leads and project managers see developers by name; others see them anonymised.",
                    ),
                    rx.button("Save role", type="submit", id="save-role"),
                    spacing="2",
                    width="100%",
                ),
                on_submit=TenantDetailState.set_role,
                width="100%",
            ),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="5",
            width="100%",
        ),
    )


def token_row(t: TokenRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(t["name"], weight="medium")),
        rx.table.cell(rx.code(t["scopes"])),
        rx.table.cell(rx.text(t["created_at"], size="1")),
        rx.table.cell(rx.text(rx.cond(t["last_used_at"] != "", t["last_used_at"], "never"), size="1")),
        rx.table.cell(status_badge(rx.cond(t["revoked"], "revoked", "active"))),
        rx.table.cell(
            rx.cond(
                t["revoked"],
                rx.fragment(),
                rx.button(
                    "Revoke",
                    size="1",
                    variant="soft",
                    color_scheme="red",
                    on_click=TenantDetailState.revoke_token(t["id"]),
                ),
            )
        ),
    )


def curl_example() -> rx.Var:
    return (
        "curl -X POST "
        + TenantDetailState.api_base
        + '/api/evidence -H "Authorization: Bearer '
        + TenantDetailState.new_token
        + '" -H "Content-Type: application/json" -d \'{"work_item_key":"ACME-12","coverage_percent":87.5,'
        + '"build_url":"https://ci.example.com/1"}\''
    )


def tokens_section() -> rx.Component:
    return section(
        "CI tokens",
        rx.text(
            "CI pipelines post coverage and build links to /api/evidence with one of these tokens.",
            size="2",
            color=styles.MUTED,
        ),
        error_callout(TenantDetailState.token_error),
        rx.cond(
            TenantDetailState.new_token != "",
            rx.callout.root(
                rx.callout.icon(rx.icon("key-round")),
                rx.vstack(
                    rx.text(
                        "Token ",
                        rx.text.strong(TenantDetailState.new_token_name),
                        ": store it in the pipeline's secrets now, it is shown only this once.",
                        size="2",
                    ),
                    rx.code(TenantDetailState.new_token, id="new-token", style={"word_break": "break-all"}),
                    rx.text("Example", size="1", color=styles.MUTED),
                    rx.code(curl_example(), id="curl-example", style={"word_break": "break-all", "font_size": "12px"}),
                    rx.button(
                        "I have copied it: hide", size="1", variant="soft", on_click=TenantDetailState.hide_token
                    ),
                    spacing="1",
                    width="100%",
                ),
                color_scheme="amber",
                width="100%",
            ),
        ),
        data_table(
            ["Name", "Scopes", "Created", "Last used", "Status", ""],
            rx.cond(
                TenantDetailState.token_rows.length() > 0,
                rx.foreach(TenantDetailState.token_rows, token_row),
                empty_row(6, "No CI tokens yet."),
            ),
        ),
        rx.form(
            rx.hstack(
                rx.box(
                    field("Token name", text_input("token_name", id="token-name", placeholder="GitHub Actions main")),
                    flex="1",
                ),
                rx.button("Create token", type="submit", id="create-token"),
                align="end",
                spacing="2",
                width="100%",
            ),
            on_submit=TenantDetailState.create_token,
            reset_on_submit=True,
            width="100%",
        ),
    )


def reset_dialog() -> rx.Component:
    return dialog(
        "Reset password",
        None,
        rx.form(
            rx.vstack(
                rx.text("New password for ", rx.text.strong(TenantDetailState.reset_email), ".", size="2"),
                error_callout(TenantDetailState.reset_error),
                field("New password", text_input("password", type="password", required=True, min_length=10)),
                form_buttons("Reset password"),
                spacing="3",
                width="100%",
            ),
            on_submit=TenantDetailState.reset_password,
        ),
        TenantDetailState.reset_open,
        TenantDetailState.set_reset_open,
    )


def tenant_frame(current: str, *sections: rx.Component) -> rx.Component:
    """Header and sub-page links of a tenant's pages around `sections`."""
    t = TenantDetailState
    return rx.cond(
        t.not_found != "",
        rx.vstack(error_callout(t.not_found), rx.link("Back to tenants", href=routes.TENANTS)),
        rx.vstack(
            rx.link("← Tenants", href=routes.TENANTS, size="2"),
            page_header(t.tenant_name, "Schema tenant_" + t.tenant_slug, status_badge(t.tenant_status)),
            tab_links(
                current,
                ("Overview", tenant_url(t.tenant_id)),
                ("Projects", tenant_url(t.tenant_id, "projects")),
                ("Users", tenant_url(t.tenant_id, "users")),
            ),
            *sections,
            width="100%",
            spacing="4",
        ),
    )


def settings_section() -> rx.Component:
    t = TenantDetailState
    return section(
        "Settings",
        rx.form(
            rx.vstack(
                error_callout(t.settings_error),
                rx.text("Slug: ", rx.code(t.tenant_slug), " (fixed: it names the schema)", size="2"),
                field("Company name", text_input("name", required=True, default_value=t.tenant_name)),
                field(
                    "Retention (days)",
                    text_input("retention_days", type="number", default_value=t.retention_days.to(str), min=30),
                    RETENTION_PROMISE,
                ),
                *ai_settings_fields(t.ai_provider, t.ai_model, t.ai_base_url, t.ai_key_set),
                rx.cond(t.ai_key_set, rx.checkbox("Remove the stored API key", name="clear_ai_key")),
                rx.button("Save settings", type="submit", id="save-tenant"),
                spacing="3",
                width="100%",
                key=t.settings_version.to(str),
            ),
            on_submit=t.save_settings,
            reset_on_submit=False,
            width="100%",
        ),
    )


@page(routes.TENANT, "Tenant", on_load=TenantDetailState.load, old_routes=("/tenants/[tenant_id]",))
def tenant_detail() -> rx.Component:
    t = TenantDetailState
    return tenant_frame(
        "Overview",
        rx.grid(
            rx.link(
                stat("Projects", t.project_rows.length()), href=tenant_url(t.tenant_id, "projects"), underline="none"
            ),
            rx.link(
                stat("Company users", t.user_rows.length()), href=tenant_url(t.tenant_id, "users"), underline="none"
            ),
            stat("Retention", t.retention_days.to(str) + " days"),
            stat("AI provider", t.ai_provider, rx.cond(t.ai_key_set, "key set", "no key")),
            columns=rx.breakpoints(initial="2", md="4"),
            spacing="3",
            width="100%",
        ),
        settings_section(),
        tokens_section(),
        chat_channels_section(),
    )


@page(routes.TENANT_PROJECTS, "Tenant projects", on_load=TenantDetailState.load)
def tenant_projects() -> rx.Component:
    return tenant_frame("Projects", projects_section())


@page(routes.TENANT_USERS, "Tenant users", on_load=TenantDetailState.load)
def tenant_users() -> rx.Component:
    return tenant_frame("Users", users_section(), reset_dialog())
