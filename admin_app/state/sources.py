"""Sources: a project's new-source form; per source: edit, test connection, discover fields, field
mapping, sync / historical import with live progress, run history."""

from __future__ import annotations

from datetime import UTC
from typing import Any, TypedDict

import reflex as rx

from admin_app.routes import source_url
from admin_app.source_types import SOURCE_FORMS, config_as_text, config_from_form
from admin_app.state.base import AdminState, error_message, form_int, form_str, int_param, portal_base_url
from etl.connectors.base import MAPPABLE_FIELDS
from models.enums import SyncKind
from services import admin_queries, sources, webhooks
from services.display import display_fields


class DiscoveredField(TypedDict):
    id: str
    name: str
    field_type: str
    options: str
    proposed_for: str


class MappingRow(TypedDict):
    key: str
    field: str
    values: str


class RunRow(TypedDict):
    id: int
    kind: str
    status: str
    started_at: str
    finished_at: str
    items: str
    prs: str
    errors_count: int
    pages: int
    error: str


def _fmt(value: Any) -> str:
    """A timestamp in UTC (naive values are taken as UTC)."""
    if not value:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class SourcesState(AdminState):
    """The new-source page of a project (`/dashboard/projects/<id>/sources/new`)."""

    project_id: int = 0
    project_label: str = ""
    tenant_id: int = 0
    not_found: str = ""
    new_type: str = "jira"
    create_error: str = ""

    @rx.event
    async def load(self):
        await self.require_admin()
        self.project_id = int_param(self, "project_id")
        self.create_error = ""
        try:
            project, tenant = await self.call(admin_queries.project_with_tenant, self.project_id)
        except Exception as exc:  # noqa: BLE001
            self.not_found = error_message(exc)
            return
        self.not_found = ""
        self.tenant_id = tenant.id
        self.project_label = f"{tenant.name} / {project.key} - {project.name}"

    @rx.event
    def set_new_type(self, value: str):
        self.new_type = value

    @rx.event
    async def create(self, form: dict[str, Any]):
        user = await self.require_admin()
        try:
            data = sources.SourceCreate(
                project_id=self.project_id,
                name=form_str(form, "name"),
                source_type=self.new_type,
                base_url=form_str(form, "base_url"),
                username=form_str(form, "username") or None,
                token=str(form.get("token") or "") or None,
                config_json=config_from_form(self.new_type, form),
                sync_time=form_str(form, "sync_time") or "02:00",
                historical_import_days=form_int(form, "historical_import_days", 365),
            )
            created = await self.call(sources.create_source, self.tenant_id, data, self.actor_of(user))
        except Exception as exc:  # noqa: BLE001
            self.create_error = error_message(exc)
            return None
        self.create_error = ""
        return rx.redirect(str(source_url(created.id or 0)))


class SourceDetailState(AdminState):
    """One source: settings, checks, mapping, syncs."""

    source_id: int = 0
    not_found: str = ""
    name: str = ""
    source_type: str = ""
    type_label: str = ""
    tenant_id: int = 0
    project_id: int = 0
    project_label: str = ""
    base_url: str = ""
    username: str = ""
    token_set: bool = False
    token_masked: str = ""
    config_text: dict[str, str] = {}
    is_active: bool = True
    sync_time: str = "02:00"
    historical_import_days: int = 365
    status: str = ""
    last_error: str = ""
    circuit_open: bool = False
    consecutive_failures: int = 0
    last_sync_at: str = ""
    last_success_at: str = ""
    edit_error: str = ""
    version: int = 0

    testing: bool = False
    test_done: bool = False
    test_ok: bool = False
    test_message: str = ""
    test_identity: str = ""
    test_details: str = ""

    discovering: bool = False
    discovery_message: str = ""
    discovery_ok: bool = False
    discovered: list[DiscoveredField] = []
    mappings: list[MappingRow] = []
    mapping_error: str = ""

    runs: list[RunRow] = []
    sync_running: bool = False
    sync_kind: str = ""
    sync_status: str = ""
    sync_fetched: int = 0
    sync_upserted: int = 0
    sync_pages: int = 0
    sync_errors: int = 0
    sync_estimate: int = 0
    sync_message: str = ""

    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_error: str = ""

    @rx.var
    def sync_percent(self) -> int:
        """Progress of the running sync against the size of the last finished run of the same kind."""
        if not self.sync_running:
            return 100 if self.sync_status else 0
        if self.sync_estimate <= 0:
            return 0
        return min(99, int(100 * self.sync_fetched / self.sync_estimate))

    @rx.event
    async def load(self):
        await self.require_admin()
        self.source_id = int_param(self, "source_id")
        self.test_done = False
        self.discovered = []
        self.discovery_message = ""
        self.webhook_secret = self.webhook_error = ""
        self.webhook_url = portal_base_url(self) + f"/api/webhooks/{self.source_id}"
        await self._reload()
        if not self.not_found:
            project, tenant = await self.call(admin_queries.project_with_tenant, self.project_id)
            self.project_label = f"{tenant.name} / {project.key}"

    async def _reload(self) -> None:
        try:
            s = await self.call(sources.get_source_public, self.source_id)
        except Exception as exc:  # noqa: BLE001
            self.not_found = error_message(exc)
            return
        self.not_found = ""
        self.name, self.source_type = s.name, s.source_type
        spec = SOURCE_FORMS.get(s.source_type)
        self.type_label = spec.label if spec else s.source_type
        self.tenant_id, self.project_id = s.tenant_id, s.project_id
        self.base_url, self.username = s.base_url, s.username or ""
        self.token_set, self.token_masked = s.token_set, s.token_masked
        self.config_text = config_as_text(s.config_json)
        self.is_active, self.sync_time, self.historical_import_days = s.is_active, s.sync_time, s.historical_import_days
        self.status, self.last_error = s.status, s.last_error or ""
        self.circuit_open, self.consecutive_failures = s.circuit_open, s.consecutive_failures
        self.last_sync_at, self.last_success_at = _fmt(s.last_sync_at) or "never", _fmt(s.last_success_at) or "never"
        self.mappings = [
            MappingRow(
                key=key,
                field=str((s.field_mappings.get(key) or {}).get("field", "")),
                values="; ".join(
                    f"{a}={b}" for a, b in ((s.field_mappings.get(key) or {}).get("values") or {}).items()
                ),
            )
            for key in _mappable()
        ]
        await self._reload_runs()
        self.version += 1

    async def _reload_runs(self) -> None:
        try:
            history = await self.call(sources.run_history, self.source_id, limit=20)
        except Exception as exc:  # noqa: BLE001 - e.g. the tenant schema lags behind: show why
            self.sync_message = f"run history unavailable: {exc}"
            history = []
        self.runs = [
            RunRow(
                id=r.id,
                kind=r.kind,
                status=r.status,
                started_at=_fmt(r.started_at),
                finished_at=_fmt(r.finished_at),
                items=f"{r.items_fetched} / {r.items_upserted}",
                prs=f"{r.prs_fetched} / {r.prs_upserted}"
                if not r.deployments_fetched
                else f"{r.deployments_fetched} / {r.deployments_upserted} deployments",
                errors_count=r.errors_count,
                pages=r.pages,
                error=r.error or "",
            )
            for r in history
        ]
        running = next((r for r in history if r.status in ("queued", "running")), None)
        if running is not None:
            self.sync_running, self.sync_kind = True, running.kind
            self.sync_fetched = running.items_fetched + running.prs_fetched + running.deployments_fetched
            self.sync_upserted = running.items_upserted + running.prs_upserted + running.deployments_upserted
            self.sync_pages, self.sync_errors = running.pages, running.errors_count
            self._estimate_from(history, running.kind)
        elif self.sync_running:
            self.sync_running = False

    def _estimate_from(self, history: list[Any], kind: str) -> None:
        done = next(
            (r for r in history if r.kind == kind and r.status in ("succeeded", "partial") and r.finished_at), None
        )
        self.sync_estimate = (done.items_fetched + done.prs_fetched + done.deployments_fetched) if done else 0

    @rx.event
    async def save(self, form: dict[str, Any]):
        user = await self.require_admin()
        try:
            token = str(form.get("token") or "")
            data = sources.SourceUpdate(
                name=form_str(form, "name") or None,
                base_url=form_str(form, "base_url") or None,
                username=form_str(form, "username"),
                token="" if form.get("clear_token") else (token or None),
                config_json=config_from_form(self.source_type, form, await self._config()),
                is_active=bool(form.get("is_active")),
                sync_time=form_str(form, "sync_time") or None,
                historical_import_days=form_int(form, "historical_import_days", self.historical_import_days),
            )
            await self.call(sources.update_source, self.source_id, data, self.actor_of(user))
        except Exception as exc:  # noqa: BLE001
            self.edit_error = error_message(exc)
            return None
        self.edit_error = ""
        await self._reload()
        return rx.toast.success("Source saved")

    async def _config(self) -> dict[str, Any]:
        s = await self.call(sources.get_source_public, self.source_id)
        return dict(s.config_json)

    @rx.event(background=True)
    async def test_connection(self):
        async with self:
            await self.require_admin()
            self.testing, self.test_done = True, False
            source_id = self.source_id
        result = await self.call(sources.test_connection, source_id)
        async with self:
            self.testing, self.test_done = False, True
            self.test_ok, self.test_message = result.ok, _without_identity(result.message, result.identity)
            self.test_identity = result.identity
            self.test_details = display_fields(result.details, "; ")

    @rx.event(background=True)
    async def discover(self):
        async with self:
            await self.require_admin()
            self.discovering = True
            self.discovery_message = ""
            source_id = self.source_id
        found = await self.call(sources.discover_fields, source_id)
        async with self:
            self.discovering = False
            self.discovery_ok, self.discovery_message = found.ok, found.message
            self.discovered = [
                DiscoveredField(
                    id=f.id,
                    name=f.name,
                    field_type=f.field_type,
                    options=", ".join(f.options[:8]) + (" ..." if len(f.options) > 8 else ""),
                    proposed_for=f.proposed_for or "",
                )
                for f in found.fields
            ]

    @rx.event
    def use_proposals(self):
        """Pre-fill empty mapping rows with the discovered proposals (saved only with Save mapping)."""
        proposals: dict[str, str] = {}
        for f in self.discovered:
            if f["proposed_for"] and f["proposed_for"] not in proposals:
                proposals[f["proposed_for"]] = f["id"]
        self.mappings = [
            MappingRow(key=m["key"], field=m["field"] or proposals.get(m["key"], ""), values=m["values"])
            for m in self.mappings
        ]
        self.version += 1

    @rx.event
    async def save_mapping(self, form: dict[str, Any]):
        user = await self.require_admin()
        mappings: dict[str, Any] = {}
        try:
            for key in _mappable():
                tool_field = form_str(form, f"map_{key}")
                if not tool_field:
                    continue
                values: dict[str, str] = {}
                for pair in form_str(form, f"map_{key}_values").split(";"):
                    if "=" in pair:
                        a, b = pair.split("=", 1)
                        values[a.strip()] = b.strip()
                    elif pair.strip():
                        raise ValueError(f"value map of {key}: write option=value pairs separated by ';'")
                mappings[key] = {"field": tool_field, **({"values": values} if values else {})}
            await self.call(sources.save_field_mappings, self.source_id, mappings, self.actor_of(user))
        except ValueError as exc:
            self.mapping_error = str(exc)
            return None
        except Exception as exc:  # noqa: BLE001
            self.mapping_error = error_message(exc)
            return None
        self.mapping_error = ""
        await self._reload()
        return rx.toast.success(f"Field mapping saved ({len(mappings)} fields)")

    @rx.event
    async def sync(self, kind: str):
        user = await self.require_admin()
        try:
            requested = await self.call(sources.trigger_sync, self.source_id, self.actor_of(user), SyncKind(kind))
        except Exception as exc:  # noqa: BLE001
            self.sync_message = error_message(exc)
            return None
        self.sync_running, self.sync_kind, self.sync_status = True, kind, "queued"
        self.sync_fetched = self.sync_upserted = self.sync_pages = self.sync_errors = 0
        self.sync_message = f"{kind} sync queued (task {requested.task_id[:8]}): waiting for a worker"
        history = await self.call(sources.run_history, self.source_id, limit=20)
        self._estimate_from(history, kind)
        return None

    @rx.event
    async def generate_webhook_secret(self):
        """A new webhook secret (replacing any older one), shown once with the URL to paste in the tool."""
        user = await self.require_admin()
        try:
            secret = await self.call(webhooks.rotate_webhook_secret, self.source_id, self.actor_of(user))
        except Exception as exc:  # noqa: BLE001
            self.webhook_error = error_message(exc)
            return
        self.webhook_error = ""
        self.webhook_url = portal_base_url(self) + f"/api/webhooks/{self.source_id}"
        self.webhook_secret = secret

    @rx.event
    def hide_webhook_secret(self):
        self.webhook_secret = ""

    @rx.event
    async def reset_circuit(self):
        user = await self.require_admin()
        await self.call(sources.reset_circuit, self.source_id, self.actor_of(user))
        await self._reload()
        return rx.toast.success("Circuit reset: syncs may run again")

    @rx.event
    async def on_live(self, events: list[dict[str, Any]]):
        mine = [e for e in events if str(e.get("source_id", "")) == str(self.source_id)]
        if not mine:
            return
        await self.require_admin()
        finished = False
        for e in mine:
            kind = str(e.get("type", ""))
            if kind == "sync.started":
                self.sync_running, self.sync_status = True, "running"
                self.sync_kind = str(e.get("kind", self.sync_kind))
                self.sync_message = "sync running"
            elif kind == "sync.progress":
                self.sync_running, self.sync_status = True, "running"
                self.sync_fetched = sum(
                    int(e.get(k, 0)) for k in ("items_fetched", "prs_fetched", "deployments_fetched")
                )
                self.sync_upserted = sum(
                    int(e.get(k, 0)) for k in ("items_upserted", "prs_upserted", "deployments_upserted")
                )
                self.sync_pages = int(e.get("pages", 0))
                self.sync_errors = int(e.get("errors_count", 0))
                self.sync_message = f"{self.sync_fetched} records read, {self.sync_upserted} saved"
            elif kind == "sync.finished":
                self.sync_running, self.sync_status = False, str(e.get("status", "succeeded"))
                self.sync_message = f"sync {self.sync_status}"
                finished = True
            elif kind == "sync.failed":
                self.sync_running, self.sync_status = False, "failed"
                self.sync_message = f"sync failed: {e.get('error', '')}"
                finished = True
        if finished:
            await self._reload()


def _mappable() -> tuple[str, ...]:
    return MAPPABLE_FIELDS


def _without_identity(message: str, identity: str | None) -> str:
    """The connectors' message without its leading "Connected as <identity>;", which the page shows in bold."""
    prefix = f"Connected as {identity}" if identity else None
    if not prefix or not message.startswith(prefix):
        return message
    rest = message[len(prefix) :].lstrip(";,. ").strip()
    return rest[:1].upper() + rest[1:]
