"""Data retention: create a job per tenant and quarter, then archive, verify, hard delete (typed phrase), restore."""

from __future__ import annotations

from typing import Any, TypedDict

import reflex as rx

from admin_app.state.base import AdminState, error_message, form_str
from services import admin_queries, retention


class JobRow(TypedDict):
    id: int
    tenant: str
    tenant_slug: str
    quarter: str
    status: str
    archive_uri: str
    row_counts: str
    total_rows: int
    error: str
    created_at: str
    archived_at: str
    verified_at: str
    deleted_at: str
    restored_at: str
    phrase: str


class TenantChoice(TypedDict):
    value: str
    label: str


class RetentionState(AdminState):
    rows: list[JobRow] = []
    tenants: list[TenantChoice] = []
    f_tenant: str = ""
    new_tenant: str = ""
    create_error: str = ""
    action_error: str = ""
    notice: str = ""
    busy_job: int = 0
    busy_action: str = ""
    delete_open: bool = False
    delete_job_id: int = 0
    delete_tenant: str = ""
    delete_quarter: str = ""
    delete_rows: str = ""
    delete_phrase: str = ""
    typed_phrase: str = ""
    delete_error: str = ""

    @rx.var
    def phrase_matches(self) -> bool:
        """The typed text equals the confirmation phrase (the server checks again)."""
        return self.delete_phrase != "" and self.typed_phrase.strip() == self.delete_phrase

    @rx.event
    async def load(self):
        await self.require_admin()
        tenants = await self.call(admin_queries.tenant_overview)
        self.tenants = [TenantChoice(value=str(t["id"]), label=t["name"]) for t in tenants]
        if not self.new_tenant and self.tenants:
            self.new_tenant = self.tenants[0]["value"]
        self.create_error = self.action_error = self.notice = ""
        await self._query()

    async def _query(self) -> None:
        jobs = await self.call(admin_queries.retention_jobs, int(self.f_tenant) if self.f_tenant.isdigit() else None)
        self.rows = [JobRow(**{k: j[k] for k in JobRow.__annotations__}) for j in jobs]

    @rx.event
    async def set_filter(self, value: str):
        await self.require_admin()
        self.f_tenant = value
        await self._query()

    @rx.event
    def set_new_tenant(self, value: str):
        self.new_tenant = value

    @rx.event
    async def create(self, form: dict[str, Any]):
        user = await self.require_admin()
        try:
            tenant_id = int(form_str(form, "tenant") or self.new_tenant or 0)
            if not tenant_id:
                self.create_error = "choose the tenant whose data the job archives"
                return None
            job = await self.call(retention.create_job, tenant_id, form_str(form, "quarter"), self.actor_of(user))
        except Exception as exc:  # noqa: BLE001
            self.create_error = error_message(exc)
            return None
        self.create_error = ""
        self.notice = f"Retention job {job.id} created for {job.quarter}: archive it next."
        await self._query()
        return None

    async def _run(self, job_id: int, action: str) -> None:
        """One long step in a thread, with the job's button in a loading state."""
        async with self:
            user = await self.require_admin()
            actor = self.actor_of(user)
            self.busy_job, self.busy_action, self.action_error, self.notice = job_id, action, "", ""
        try:
            if action == "archive":
                job = await self.call(retention.archive_job, job_id, actor)
                total = sum(int(m.get("rows", 0)) for m in ((job.manifest or {}).get("tables") or {}).values())
                message = f"Job {job_id} archived: {total} rows written to {job.archive_uri}."
            elif action == "verify":
                await self.call(retention.verify_job, job_id, actor)
                message = f"Job {job_id} verified: the archive matches the database row for row."
            else:
                restored = await self.call(retention.restore_job, job_id, actor)
                message = f"Job {job_id} restored: {sum(restored.values())} rows are back."
        except Exception as exc:  # noqa: BLE001
            async with self:
                self.busy_job, self.busy_action = 0, ""
                self.action_error = f"{action.capitalize()} of job {job_id} failed: {_in_words(exc)}"
                await self._query()
            return
        async with self:
            self.busy_job, self.busy_action, self.notice = 0, "", message
            await self._query()

    @rx.event(background=True)
    async def archive(self, job_id: int):
        await self._run(job_id, "archive")

    @rx.event(background=True)
    async def verify(self, job_id: int):
        await self._run(job_id, "verify")

    @rx.event(background=True)
    async def restore(self, job_id: int):
        await self._run(job_id, "restore")

    @rx.event
    async def start_delete(self, job_id: int):
        await self.require_admin()
        job = next((r for r in self.rows if r["id"] == job_id), None)
        if job is None:
            return
        self.delete_job_id, self.delete_tenant, self.delete_quarter = job_id, job["tenant"], job["quarter"]
        self.delete_rows, self.delete_phrase = job["row_counts"], job["phrase"]
        self.typed_phrase, self.delete_error, self.delete_open = "", "", True

    @rx.event
    def set_delete_open(self, value: bool):
        self.delete_open = value
        if not value:
            self.typed_phrase = self.delete_error = ""

    @rx.event
    def set_typed_phrase(self, value: str):
        self.typed_phrase = value

    @rx.event(background=True)
    async def confirm_delete(self, form: dict[str, Any]):
        async with self:
            user = await self.require_admin()
            actor = self.actor_of(user)
            job_id = self.delete_job_id
            typed = form_str(form, "confirmation") or self.typed_phrase
            self.busy_job, self.busy_action, self.delete_error = job_id, "delete", ""
        try:
            job = await self.call(retention.delete_job_data, job_id, typed, actor)
        except Exception as exc:  # noqa: BLE001
            async with self:
                self.busy_job, self.busy_action = 0, ""
                self.delete_error = _in_words(exc)
            return
        async with self:
            self.busy_job, self.busy_action, self.delete_open, self.typed_phrase = 0, "", False, ""
            self.notice = f"Job {job_id}: the {job.quarter} data was hard deleted (the archive can restore it)."
            await self._query()


def _in_words(exc: Exception) -> str:
    try:
        return error_message(exc)
    except Exception:  # noqa: BLE001 - not a service error: still say what happened
        return f"{type(exc).__name__}: {exc}"
