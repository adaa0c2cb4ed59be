"""Sprint, developer, compliance and DORA reports as CSV or XLSX, built by a Celery task.

`start_export` records a job in tenant.export_jobs and queues `run_export`
(task name `dmt.exports.run`); the task writes the file under
settings.export_dir/<tenant>/, updates the job's progress and publishes
`export.progress` / `export.finished` live events. Files are read back only
through `export_file`, which checks the job belongs to the caller's tenant
AND to the caller. Reports reuse services.dashboards, so a viewer's developer
report is anonymised exactly like the page they see.
"""

from __future__ import annotations

import csv
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import col, select

from core.errors import NotFound, ValidationFailed
from core.queue import RUN_EXPORT
from core.queue import app as celery_app
from core.realtime import publish_event
from core.settings import get_settings
from models.base import utcnow
from models.db import public_session, tenant_session
from models.public import Tenant, User, UserProjectRole
from models.tenant import ExportJob
from services import dashboards as dash
from services.auth import CurrentUser
from services.dashboards import dora

log = logging.getLogger(__name__)

REPORTS = ("sprint", "developer", "compliance", "dora")
FORMATS = ("csv", "xlsx")
FLAG_PAGE = 200
MEDIA_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class ExportRequest(BaseModel):
    project_id: int
    report: str = Field(pattern="^(sprint|developer|compliance|dora)$")
    file_format: str = Field(default="csv", pattern="^(csv|xlsx)$")
    sprint_id: int | None = None  # sprint report: also list this sprint's items
    status: str | None = None  # compliance report: open, resolved or all (None)
    period: str | None = None  # DORA report: 30d, 90d, 180d or 365d (default 90d)
    environment: str | None = None  # DORA report: default production


class ExportJobPublic(BaseModel):
    id: int
    project_id: int | None
    report: str
    file_format: str
    status: str
    progress: float
    rows: int | None = None
    error: str = ""
    created_at: str = ""
    finished_at: str = ""
    download_url: str = ""
    filename: str = ""

    @classmethod
    def of(cls, job: ExportJob) -> ExportJobPublic:
        done = job.status == "finished"
        return cls(
            id=job.id or 0,
            project_id=job.project_id,
            report=job.report,
            file_format=job.file_format,
            status=job.status,
            progress=round(job.progress or 0.0, 3),
            rows=job.rows,
            error=job.error or "",
            created_at=job.created_at.isoformat() if job.created_at else "",
            finished_at=job.finished_at.isoformat() if job.finished_at else "",
            download_url=f"/api/exports/{job.id}/download" if done else "",
            filename=filename_of(job) if done else "",
        )


@dataclass(frozen=True)
class ExportFile:
    path: Path
    filename: str
    media_type: str


@dataclass
class Sheet:
    name: str
    header: list[str]
    rows: list[list[Any]]


def filename_of(job: ExportJob) -> str:
    return f"dmt-{job.report}-report-{job.id}.{job.file_format}"


# --------------------------------------------------------------------------- jobs
def start_export(user: CurrentUser, request: ExportRequest) -> ExportJobPublic:
    """Record an export job for one of the user's projects and queue it."""
    dash.require_project(user, request.project_id)
    if request.report == "dora":
        dora.period_window(request.period)  # an unknown period is refused now, not in the worker
    if request.sprint_id is not None:
        with tenant_session(user.tenant_slug or "") as session:
            dash._get_sprint(session, request.project_id, request.sprint_id)
    with tenant_session(user.tenant_slug or "") as session:
        job = ExportJob(
            user_id=user.id,
            project_id=request.project_id,
            report=request.report,
            file_format=request.file_format,
            params=request.model_dump(exclude={"project_id", "report", "file_format"}),
        )
        session.add(job)
        session.commit()
        session.refresh(job)
    _enqueue(user.tenant_slug or "", job.id or 0)
    return ExportJobPublic.of(job)


def _enqueue(tenant_slug: str, job_id: int) -> None:
    """Send to the Celery workers; when none answers (or no broker), build in a thread of this process."""
    try:
        # No worker answering (a bare portal, the browser tests): a queued job would never run.
        if celery_app.control.ping(timeout=0.5):
            celery_app.send_task(RUN_EXPORT, args=[tenant_slug, job_id])
            return
        log.warning("export %s: no Celery worker answered; building in-process", job_id)
    except Exception as exc:  # noqa: BLE001 - broker down: still give the user their file
        log.warning("export %s: broker unavailable (%s); building in-process", job_id, exc)
    threading.Thread(target=run_export, args=(tenant_slug, job_id), daemon=True).start()


def list_exports(user: CurrentUser, limit: int = 20) -> list[ExportJobPublic]:
    """The user's own recent exports, newest first."""
    with tenant_session(dash._require_company(user)) as session:
        rows = session.exec(
            select(ExportJob)
            .where(ExportJob.user_id == user.id)
            .order_by(col(ExportJob.created_at).desc(), col(ExportJob.id).desc())
            .limit(limit)
        ).all()
    return [ExportJobPublic.of(j) for j in rows]


def get_export(user: CurrentUser, job_id: int) -> ExportJobPublic:
    return ExportJobPublic.of(_own_job(user, job_id))


def _own_job(user: CurrentUser, job_id: int) -> ExportJob:
    with tenant_session(dash._require_company(user)) as session:
        job = session.get(ExportJob, job_id)
    if job is None or job.user_id != user.id:
        raise NotFound(f"export {job_id} not found")
    return job


def export_file(user: CurrentUser, job_id: int) -> ExportFile:
    """The finished file of the user's own export job (else NotFound)."""
    job = _own_job(user, job_id)
    if job.status != "finished" or not job.file_path:
        raise NotFound(f"export {job_id} is not ready ({job.status})")
    root = _tenant_dir(user.tenant_slug or "").resolve()
    path = Path(job.file_path).resolve()
    if root not in path.parents or not path.is_file():
        raise NotFound(f"the file of export {job_id} is no longer available: export again")
    return ExportFile(path=path, filename=filename_of(job), media_type=MEDIA_TYPES[job.file_format])


def _tenant_dir(tenant_slug: str) -> Path:
    return Path(get_settings().export_dir) / tenant_slug


# --------------------------------------------------------------------------- the task
def _user_of(tenant_slug: str, user_id: int) -> CurrentUser:
    """Rebuild the requesting user on the worker, from the database (roles as of now)."""
    with public_session() as session:
        user = session.get(User, user_id)
        tenant = session.exec(select(Tenant).where(Tenant.slug == tenant_slug)).first()
        if user is None or tenant is None or user.tenant_id != tenant.id or not user.is_active:
            raise NotFound("the user who asked for this export no longer has access")
        roles = {
            r.project_id: r.role
            for r in session.exec(select(UserProjectRole).where(UserProjectRole.user_id == user_id))
        }
        return CurrentUser(
            id=user.id or 0,
            email=user.email,
            full_name=user.full_name,
            role=user.role,
            tenant_id=tenant.id,
            tenant_slug=tenant.slug,
            tenant_name=tenant.name,
            project_roles=roles,
        )


def _update(tenant_slug: str, job_id: int, **values: Any) -> None:
    with tenant_session(tenant_slug) as session:
        job = session.get(ExportJob, job_id)
        if job is None:
            return
        for k, v in values.items():
            setattr(job, k, v)
        session.add(job)
        session.commit()


def run_export(tenant_slug: str, job_id: int) -> dict[str, Any]:
    """Build the report file of one job; progress and the outcome go to the job row and live events."""
    with tenant_session(tenant_slug) as session:
        job = session.get(ExportJob, job_id)
        if job is None:
            raise NotFound(f"export {job_id} not found")
        job_data = job.model_copy()
    _update(tenant_slug, job_id, status="running", progress=0.05)
    events = {"job_id": job_id, "user_id": job_data.user_id}
    publish_event("export.progress", tenant_slug, progress=0.05, **events)

    def progress(share: float) -> None:
        value = round(0.05 + 0.85 * min(max(share, 0.0), 1.0), 3)
        _update(tenant_slug, job_id, progress=value)
        publish_event("export.progress", tenant_slug, progress=value, **events)

    try:
        user = _user_of(tenant_slug, job_data.user_id)
        sheets = build_report(user, job_data.project_id or 0, job_data.report, job_data.params or {}, progress)
        folder = _tenant_dir(tenant_slug)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{job_id}-{job_data.report}.{job_data.file_format}"
        (write_xlsx if job_data.file_format == "xlsx" else write_csv)(sheets, path)
        rows = sum(len(s.rows) for s in sheets)
        _update(
            tenant_slug, job_id, status="finished", progress=1.0, file_path=str(path), rows=rows, finished_at=utcnow()
        )
        publish_event("export.finished", tenant_slug, status="finished", rows=rows, **events)
        return {"job_id": job_id, "status": "finished", "rows": rows}
    except Exception as exc:  # every failure ends the job with a message
        message = exc.message if hasattr(exc, "message") else f"the export failed: {exc}"
        log.exception("export %s failed", job_id)
        _update(tenant_slug, job_id, status="failed", error=str(message)[:1000], finished_at=utcnow())
        publish_event("export.finished", tenant_slug, status="failed", error=str(message), **events)
        return {"job_id": job_id, "status": "failed", "error": str(message)}


# --------------------------------------------------------------------------- reports
def _n(value: Any) -> Any:
    return "" if value is None else value


def build_report(
    user: CurrentUser,
    project_id: int,
    report: str,
    params: dict[str, Any],
    progress: Callable[[float], None] = lambda _share: None,
) -> list[Sheet]:
    """The sheets of one report, read through the same service calls as the pages."""
    if report == "sprint":
        return _sprint_report(user, project_id, params, progress)
    if report == "developer":
        return _developer_report(user, project_id, progress)
    if report == "compliance":
        return _compliance_report(user, project_id, params, progress)
    if report == "dora":
        return _dora_report(user, project_id, params, progress)
    raise ValidationFailed(f"unknown report {report!r}; use one of: {', '.join(REPORTS)}", field="report")


def _sprint_report(
    user: CurrentUser, project_id: int, params: dict[str, Any], progress: Callable[[float], None]
) -> list[Sheet]:
    series = dash.velocity_series(user, project_id)
    progress(0.4)
    sprints = Sheet(
        "Sprints",
        [
            "Sprint",
            "State",
            "Start",
            "End",
            "Committed points",
            "Completed points",
            "Committed items",
            "Completed items",
            "Avg cycle time (days)",
            "Blocked items",
            "Defects",
            "Defect density",
            "DMT compliance (%)",
            "Open flags",
            "Open critical flags",
        ],
        [
            [
                p.sprint_name,
                p.state,
                p.start[:10],
                p.end[:10],
                p.committed_points,
                p.completed_points,
                p.committed_items,
                p.completed_items,
                _n(p.avg_cycle_time_days),
                p.blocked_items,
                p.defects,
                _n(p.defect_density),
                _n(p.compliance_rate),
                p.open_flags,
                p.open_critical_flags,
            ]
            for p in series.points
        ],
    )
    sheets = [sprints]
    if params.get("sprint_id"):
        detail = dash.sprint_detail(user, project_id, int(params["sprint_id"]), limit=100_000)
        sheets.append(
            Sheet(
                f"Items {detail.sprint.sprint_name}"[:31],
                [
                    "Key",
                    "Title",
                    "Type",
                    "Status",
                    "Points",
                    "Assignee",
                    "Done at",
                    "DMT compliant",
                    "Open flags",
                    "Link",
                ],
                [
                    [
                        i.key,
                        i.title,
                        i.item_type,
                        i.status,
                        _n(i.story_points),
                        i.assignee,
                        i.done_at[:19],
                        i.compliant,
                        i.open_flags,
                        i.url,
                    ]
                    for i in detail.items
                ],
            )
        )
    progress(1.0)
    return sheets


def _developer_report(user: CurrentUser, project_id: int, progress: Callable[[float], None]) -> list[Sheet]:
    devs = dash.developers(user, project_id)
    totals = Sheet(
        "Developers",
        [
            "Developer",
            "Sprints active",
            "Items completed",
            "Points completed",
            "Avg cycle time (days)",
            "DMT compliance (%)",
            "Defects completed",
            "PRs merged",
            "Reviews given",
        ],
        [
            [
                d.name,
                d.sprints_active,
                d.items_completed,
                d.points_completed,
                _n(d.avg_cycle_time_days),
                _n(d.compliance_rate),
                d.defects_completed,
                d.prs_merged,
                d.reviews_given,
            ]
            for d in devs.developers
        ],
    )
    per_sprint = Sheet(
        "Per sprint",
        [
            "Developer",
            "Sprint",
            "Items",
            "Points",
            "Avg cycle time (days)",
            "DMT compliance (%)",
            "Team avg items",
            "Team avg points",
        ],
        [],
    )
    for n, d in enumerate(devs.developers, start=1):
        detail = dash.developer_detail(user, project_id, d.identity_id)
        for p in detail.series:
            per_sprint.rows.append(
                [
                    d.name,
                    p.sprint_name,
                    p.items,
                    p.points,
                    _n(p.avg_cycle_time_days),
                    _n(p.compliance_rate),
                    _n(p.team_avg_items),
                    _n(p.team_avg_points),
                ]
            )
        progress(n / max(1, len(devs.developers)))
    return [totals, per_sprint]


def _compliance_report(
    user: CurrentUser, project_id: int, params: dict[str, Any], progress: Callable[[float], None]
) -> list[Sheet]:
    status = params.get("status") or None
    sheet = Sheet(
        "Flags",
        [
            "Flag",
            "Project",
            "Rule",
            "Severity",
            "Status",
            "Item",
            "Title",
            "Sprint",
            "Assignee",
            "Opened",
            "Resolved",
            "Resolved by",
            "Resolution",
            "Message",
            "Link",
        ],
        [],
    )
    for page, total_pages in _flag_pages(user, project_id, status):
        for f in page.items:
            sheet.rows.append(
                [
                    f.id,
                    f.project_key,
                    f.rule_id,
                    f.severity,
                    f.status,
                    f.item_key,
                    f.item_title,
                    f.sprint_name,
                    f.assignee,
                    f.opened_at[:19],
                    f.resolved_at[:19],
                    f.resolved_by,
                    f.resolution,
                    f.message,
                    f.item_url,
                ]
            )
        progress(page.page / total_pages)
    return [sheet]


DORA_PAGE = 500


def _dora_report(
    user: CurrentUser, project_id: int, params: dict[str, Any], progress: Callable[[float], None]
) -> list[Sheet]:
    """The four keys with their bands, the trend, and the deployments and incidents behind them."""
    period, environment = params.get("period") or None, params.get("environment") or None
    overview = dora.dora_overview(user, project_id, period, environment)
    keys = Sheet(
        "Four keys",
        ["Key", "Value", "Unit", "Shown as", "Band", "Detail", "Environment", "Period", "From", "To", "Failure window (h)"],
        [
            [k.label, _n(k.value), k.unit, k.display, k.band_label, k.detail, _n(overview.environment), overview.period,
             overview.since[:19], overview.until[:19], overview.failure_window_hours]
            for k in overview.keys
        ],
    )  # fmt: skip
    trend = Sheet(
        "Trend",
        ["From", "Deployments", "Failed in production", "Deployments per week", "Change failure rate (%)",
         "Lead time median (h)", "Lead time P85 (h)", "Incidents", "Time to restore median (h)"],
        [
            [p.start, p.deployments, p.failed_deployments, p.deployments_per_week, _n(p.change_failure_rate),
             _n(p.lead_time_median_hours), _n(p.lead_time_p85_hours), p.incidents, _n(p.restore_median_hours)]
            for p in overview.series
        ],
    )  # fmt: skip
    progress(0.3)
    deployments = Sheet(
        "Deployments",
        ["Finished", "Name", "Repository", "Environment", "Commit", "PRs shipped", "Commits", "Lead time median (h)",
         "Revert/hotfix", "Failed in production", "Why", "Link"],
        [],
    )  # fmt: skip
    page = 1
    while overview.has_data:
        chunk = dora.dora_deployments(user, project_id, period, environment, page=page, page_size=DORA_PAGE)
        deployments.rows.extend(
            [d.finished_at[:19], d.name, d.repository, d.environment, _n(d.commit_sha), d.prs, d.changes_count,
             _n(d.lead_time_median_hours), d.is_revert, d.failed, d.cause, _n(d.url)]
            for d in chunk.rows
        )  # fmt: skip
        if page * DORA_PAGE >= chunk.total:
            break
        page += 1
    progress(0.7)
    incidents = Sheet(
        "Incidents",
        ["Opened", "Resolved", "Item", "Title", "Status", "Priority", "Time to restore (h)", "Deployment before it",
         "Deployed", "Within the failure window", "Link"],
        [],
    )  # fmt: skip
    page = 1
    while overview.has_data:
        found = dora.dora_incidents(user, project_id, period, environment, page=page, page_size=DORA_PAGE)
        incidents.rows.extend(
            [i.opened_at[:19], (i.resolved_at or "")[:19], _n(i.item_key), i.title, i.status, _n(i.priority),
             _n(i.restore_hours), _n(i.deployment_name), (i.deployed_at or "")[:19], i.caused_failure, _n(i.url)]
            for i in found.rows
        )  # fmt: skip
        if page * DORA_PAGE >= found.total:
            break
        page += 1
    progress(1.0)
    return [keys, trend, deployments, incidents]


def _flag_pages(user: CurrentUser, project_id: int, status: str | None) -> Iterator[tuple[dash.FlagPage, int]]:
    page_no = 1
    while True:
        page = dash.list_flags(
            user,
            dash.FlagFilters(
                project_id=project_id,
                status=status,
                sort="opened_at",
                descending=True,
                page=page_no,
                page_size=FLAG_PAGE,
            ),
        )
        yield page, page.pages
        if page_no >= page.pages:
            return
        page_no += 1


# --------------------------------------------------------------------------- writers
#: A text cell starting with one of these is read as a formula by spreadsheet programs (OWASP CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Neutralise text a spreadsheet would run as a formula by prefixing a single quote; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def _safe_row(row: list[Any]) -> list[Any]:
    return [safe_cell(value) for value in row]


def write_csv(sheets: list[Sheet], path: Path) -> None:
    """One CSV; several sheets follow each other, each under a line naming it. Text cells are neutralised."""
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh)
        for n, sheet in enumerate(sheets):
            if len(sheets) > 1:
                if n:
                    writer.writerow([])
                writer.writerow([f"# {sheet.name}"])
            writer.writerow(_safe_row(sheet.header))
            writer.writerows(_safe_row(row) for row in sheet.rows)


def write_xlsx(sheets: list[Sheet], path: Path) -> None:
    """One workbook, a worksheet per sheet, header row bold and frozen; text cells neutralised like the CSV's."""
    # Imported here: openpyxl is large and only an .xlsx export needs it (CSV exports never load it).
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook(write_only=False)
    wb.remove(wb.active)
    for sheet in sheets:
        ws = wb.create_sheet(title=sheet.name[:31] or "Sheet")
        ws.append(_safe_row(sheet.header))
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in sheet.rows:
            ws.append(_safe_row(row))  # a neutralised cell is a plain string, never a formula
        ws.freeze_panes = "A2"
        for i, title in enumerate(sheet.header, start=1):
            width = max([len(str(title))] + [len(str(r[i - 1])) for r in sheet.rows[:200]])
            ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = min(60, max(10, width + 2))
    wb.save(path)
