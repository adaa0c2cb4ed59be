"""Data retention: create a job per tenant and quarter, then archive and verify on the worker (live progress),
hard delete (typed phrase) and restore. The nightly schedule creates and archives the jobs of old quarters."""

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
    deletion: str
    progress: int
    progress_text: str


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

    async def _queue(self, job_id: int, action: str) -> None:
        """Archive or verify: queued on the worker; the row follows its progress live (`on_live`)."""
        user = await self.require_admin()
        self.action_error, self.notice = "", ""
        step = retention.queue_archive if action == "archive" else retention.queue_verify
        try:
            await self.call(step, job_id, self.actor_of(user))
        except Exception as exc:  # noqa: BLE001
            self.action_error = f"{action.capitalize()} of job {job_id} failed: {_in_words(exc)}"
        else:
            self.notice = f"Job {job_id}: {action} queued on the worker; its progress shows in the table."
        await self._query()

    @rx.event
    async def archive(self, job_id: int):
        await self._queue(job_id, "archive")

    @rx.event
    async def verify(self, job_id: int):
        await self._queue(job_id, "verify")

    @rx.event(background=True)
    async def restore(self, job_id: int):
        """Put an archive's rows back (in a thread, with the job's button in a loading state)."""
        async with self:
            user = await self.require_admin()
            actor = self.actor_of(user)
            self.busy_job, self.busy_action, self.action_error, self.notice = job_id, "restore", "", ""
        try:
            restored = await self.call(retention.restore_job, job_id, actor)
        except Exception as exc:  # noqa: BLE001
            async with self:
                self.busy_job, self.busy_action = 0, ""
                self.action_error = f"Restore of job {job_id} failed: {_in_words(exc)}"
                await self._query()
            return
        async with self:
            self.busy_job, self.busy_action = 0, ""
            self.notice = f"Job {job_id} restored: {sum(restored.values())} rows are back."
            await self._query()

    @rx.event
    async def on_live(self, events: list[dict[str, Any]]):
        """Retention events of the worker: move the progress bars, re-read the jobs when a step ends."""
        mine = [e for e in events if str(e.get("type", "")).startswith("retention.")]
        if not mine:
            return
        await self.require_admin()
        shown = {r["id"] for r in self.rows}
        finished = False
        for event in mine:
            job_id = int(event.get("job_id") or 0)
            if job_id not in shown:
                finished = finished or event.get("type") == "retention.queued"  # a job the schedule created
                continue
            percent, text = retention.progress_words(event)
            self.rows = [
                JobRow(**{**r, "progress": percent, "progress_text": text}) if r["id"] == job_id else r
                for r in self.rows
            ]
            if event.get("type") == "retention.finished":
                finished = True
                self.notice = _finished_words(event)
        if finished:
            await self._query()

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
            summary = retention.deletion_summary(job.manifest)
            self.notice = (
                f"Job {job_id}: the {job.quarter} data was hard deleted ({summary}) - the archive can restore it."
            )
            await self._query()


def _finished_words(event: dict[str, Any]) -> str:
    job_id, phase, status = event.get("job_id"), event.get("phase"), event.get("status")
    if event.get("error"):
        return f"Job {job_id}: {phase} ended {status}: {event['error']}"
    if phase == "archive":
        return f"Job {job_id} archived: {event.get('rows', 0)} rows written; verify it next."
    if phase == "verify":
        return f"Job {job_id} verified: the archive matches the database row for row."
    return f"Job {job_id}: {phase} {status}."


def _in_words(exc: Exception) -> str:
    try:
        return error_message(exc)
    except Exception:  # noqa: BLE001 - not a service error: still say what happened
        return f"{type(exc).__name__}: {exc}"
