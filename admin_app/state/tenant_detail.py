"""A tenant's pages: overview (settings, CI tokens), its projects, its company users (roles, passwords)."""

from __future__ import annotations

from typing import Any, TypedDict

import reflex as rx

from admin_app.state.base import AdminState, error_message, form_int, form_str, int_param, portal_base_url
from admin_app.state.tenants import ai_fields
from models.enums import ProjectRole, UserRole
from models.public import DEFAULT_COMPLIANCE_TARGET
from services import admin_queries, api_tokens, projects, tenants, users
from services.tenants import TenantPublic


class ProjectRow(TypedDict):
    id: int
    key: str
    name: str
    is_active: bool
    coverage_threshold: float
    compliance_target: float


class UserRow(TypedDict):
    id: int
    email: str
    full_name: str
    is_active: bool
    roles: str
    last_login_at: str


class TokenRow(TypedDict):
    id: int
    name: str
    scopes: str
    created_at: str
    last_used_at: str
    revoked: bool


class TenantDetailState(AdminState):
    tenant_id: int = 0
    token_rows: list[TokenRow] = []
    token_error: str = ""
    new_token: str = ""
    new_token_name: str = ""
    api_base: str = ""
    tenant_name: str = ""
    tenant_slug: str = ""
    tenant_status: str = ""
    retention_days: int = 730
    ai_provider: str = "local"
    ai_model: str = ""
    ai_base_url: str = ""
    ai_key_set: bool = False
    settings_error: str = ""
    settings_version: int = 0
    not_found: str = ""
    project_rows: list[ProjectRow] = []
    user_rows: list[UserRow] = []
    project_error: str = ""
    user_error: str = ""
    role_error: str = ""
    reset_open: bool = False
    reset_user_id: int = 0
    reset_email: str = ""
    reset_error: str = ""

    @rx.event
    async def load(self):
        await self.require_admin()
        self.tenant_id = int_param(self, "tenant_id")
        self.project_error = self.user_error = self.role_error = ""
        try:
            tenant = await self.call(admin_queries.tenant_public, self.tenant_id)
        except Exception as exc:  # noqa: BLE001
            self.not_found = error_message(exc)
            return
        self.not_found = ""
        self._show_tenant(tenant)
        self.new_token = self.token_error = self.settings_error = ""
        self.api_base = portal_base_url(self)
        await self._reload()

    def _show_tenant(self, tenant: TenantPublic) -> None:
        self.tenant_name, self.tenant_slug, self.tenant_status = tenant.name, tenant.slug, tenant.status
        self.retention_days = tenant.retention_days
        self.ai_provider, self.ai_model = tenant.ai_provider, tenant.ai_model or ""
        self.ai_base_url, self.ai_key_set = tenant.ai_base_url or "", tenant.ai_key_set
        self.settings_version += 1  # the settings form re-reads its defaults

    @rx.event
    async def save_settings(self, form: dict[str, Any]):
        """Name, retention and AI provider of the tenant (an empty key field keeps the stored key)."""
        user = await self.require_admin()
        try:
            data = tenants.TenantUpdate(
                name=form_str(form, "name"),
                retention_days=form_int(form, "retention_days", self.retention_days),
                **ai_fields(form, keep_key_when_empty=True),
            )
            await self.call(tenants.update_tenant, self.tenant_id, data, self.actor_of(user))
            tenant = await self.call(admin_queries.tenant_public, self.tenant_id)
        except Exception as exc:  # noqa: BLE001
            self.settings_error = error_message(exc)
            return None
        self.settings_error = ""
        self._show_tenant(tenant)
        return rx.toast.success("Tenant saved")

    async def _reload(self) -> None:
        plist = await self.call(admin_queries.tenant_projects, self.tenant_id)
        self.project_rows = [
            ProjectRow(
                id=p.id,
                key=p.key,
                name=p.name,
                is_active=p.is_active,
                coverage_threshold=p.coverage_threshold,
                compliance_target=p.compliance_target,
            )
            for p in plist
        ]
        ulist = await self.call(admin_queries.tenant_users, self.tenant_id)
        self.user_rows = [
            UserRow(
                id=u["id"],
                email=u["email"],
                full_name=u["full_name"],
                is_active=u["is_active"],
                roles=u["roles"],
                last_login_at=u["last_login_at"],
            )
            for u in ulist
        ]
        tokens = await self.call(admin_queries.tenant_api_tokens, self.tenant_id)
        self.token_rows = [TokenRow(**{k: t[k] for k in TokenRow.__annotations__}) for t in tokens]

    @rx.event
    async def create_project(self, form: dict[str, Any]):
        user = await self.require_admin()
        try:
            data = projects.ProjectCreate(
                tenant_id=self.tenant_id,
                key=form_str(form, "key"),
                name=form_str(form, "name"),
                description=form_str(form, "description"),
                coverage_threshold=float(form_str(form, "coverage_threshold") or 80),
                compliance_target=float(form_str(form, "compliance_target") or DEFAULT_COMPLIANCE_TARGET),
            )
            project = await self.call(projects.create_project, data, self.actor_of(user))
        except ValueError as exc:
            self.project_error = error_message(exc) if hasattr(exc, "errors") else str(exc)
            return None
        except Exception as exc:  # noqa: BLE001
            self.project_error = error_message(exc)
            return None
        self.project_error = ""
        await self._reload()
        return rx.toast.success(f"Project {project.key} created")

    @rx.event
    async def create_user(self, form: dict[str, Any]):
        user = await self.require_admin()
        try:
            data = users.UserCreate(
                email=form_str(form, "email"),
                full_name=form_str(form, "full_name"),
                password=str(form.get("password") or ""),
                role=UserRole.COMPANY_USER,
                tenant_id=self.tenant_id,
            )
            created = await self.call(users.create_user, data, self.actor_of(user))
            project_id = form_int(form, "project_id", 0)
            role = form_str(form, "role")
            if project_id and role:
                await self.call(users.set_project_role, created.id, project_id, ProjectRole(role), self.actor_of(user))
        except Exception as exc:  # noqa: BLE001
            self.user_error = error_message(exc)
            return None
        self.user_error = ""
        await self._reload()
        return rx.toast.success(f"User {created.email} created")

    @rx.event
    async def set_role(self, form: dict[str, Any]):
        user = await self.require_admin()
        try:
            user_id = form_int(form, "user_id", 0)
            project_id = form_int(form, "project_id", 0)
            role = form_str(form, "role")
            if not user_id or not project_id:
                self.role_error = "choose a user and a project"
                return None
            await self.call(
                users.set_project_role,
                user_id,
                project_id,
                ProjectRole(role) if role != "none" else None,
                self.actor_of(user),
            )
        except Exception as exc:  # noqa: BLE001
            self.role_error = error_message(exc)
            return None
        self.role_error = ""
        await self._reload()
        return rx.toast.success("Project role saved")

    @rx.event
    async def toggle_user(self, user_id: int, active: bool):
        user = await self.require_admin()
        await self.call(users.set_user_active, user_id, not active, self.actor_of(user))
        await self._reload()
        return rx.toast.info("User deactivated: signed out everywhere" if active else "User activated")

    @rx.event
    def start_reset(self, user_id: int, email: str):
        self.reset_user_id, self.reset_email, self.reset_error = user_id, email, ""
        self.reset_open = True

    @rx.event
    def set_reset_open(self, value: bool):
        self.reset_open = value

    @rx.event
    async def reset_password(self, form: dict[str, Any]):
        user = await self.require_admin()
        try:
            await self.call(
                users.reset_password, self.reset_user_id, str(form.get("password") or ""), self.actor_of(user)
            )
        except Exception as exc:  # noqa: BLE001
            self.reset_error = error_message(exc)
            return None
        self.reset_open = False
        return rx.toast.success(f"Password of {self.reset_email} reset; their sessions were signed out")

    @rx.event
    async def create_token(self, form: dict[str, Any]):
        """A CI token for this tenant; the secret is shown once."""
        user = await self.require_admin()
        try:
            row, secret = await self.call(
                api_tokens.create_api_token, self.tenant_id, form_str(form, "token_name"), self.actor_of(user)
            )
        except Exception as exc:  # noqa: BLE001
            self.token_error = error_message(exc)
            return None
        self.token_error = ""
        self.new_token, self.new_token_name = secret, row.name
        self.api_base = portal_base_url(self)
        await self._reload()
        return None

    @rx.event
    def hide_token(self):
        self.new_token = ""

    @rx.event
    async def revoke_token(self, token_id: int):
        user = await self.require_admin()
        try:
            await self.call(api_tokens.revoke_api_token, token_id, self.tenant_id, self.actor_of(user))
        except Exception as exc:  # noqa: BLE001
            self.token_error = error_message(exc)
            return None
        await self._reload()
        return rx.toast.info("Token revoked: CI calls with it are refused")
