"""Exports at the spec's paths (section 4.3): start a sprint, developer, compliance or DORA report, follow its
progress, download it. Jobs are the caller's own; `?project_id=` defaults to the first project."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from api.deps import CompanyUserDep, ProjectIdDep
from services import dashboards as dash
from services import exports

router = APIRouter(prefix="/api/exports", tags=["exports"])

FileFormat = Literal["csv", "xlsx"]


class ReportOptions(BaseModel):
    file_format: FileFormat = "csv"


class ComplianceReportOptions(ReportOptions):
    status: Literal["open", "resolved", "all"] = Field(default="all", description="which flags to list")


class DoraReportOptions(ReportOptions):
    period: Literal["30d", "90d", "180d", "365d"] = Field(default="90d", description="the period, ending now")
    environment: str | None = Field(default=None, max_length=200, description="default: production")


def _start(user, project_id: int, report: str, file_format: str, **params) -> exports.ExportJobPublic:
    request = exports.ExportRequest(project_id=project_id, report=report, file_format=file_format, **params)
    return exports.start_export(user, request)


@router.post("/sprint", response_model=exports.ExportJobPublic, status_code=202)
def export_sprint(
    user: CompanyUserDep,
    project_id: ProjectIdDep,
    sprint_id: int | None = Query(None, description="sprint whose items are listed; default: the current sprint"),
    body: ReportOptions | None = None,
) -> exports.ExportJobPublic:
    """Queue the sprint report: every sprint's figures, and the items of one sprint."""
    chosen = dash.chosen_sprint(user, project_id, sprint_id)
    options = body or ReportOptions()
    return _start(user, project_id, "sprint", options.file_format, sprint_id=chosen.id if chosen else None)


@router.post("/developer", response_model=exports.ExportJobPublic, status_code=202)
def export_developers(
    user: CompanyUserDep, project_id: ProjectIdDep, body: ReportOptions | None = None
) -> exports.ExportJobPublic:
    """Queue the developer report (anonymised like the developers page for roles that see no names)."""
    return _start(user, project_id, "developer", (body or ReportOptions()).file_format)


@router.post("/compliance", response_model=exports.ExportJobPublic, status_code=202)
def export_compliance(
    user: CompanyUserDep, project_id: ProjectIdDep, body: ComplianceReportOptions | None = None
) -> exports.ExportJobPublic:
    """Queue the compliance report: the project's DMT flags (open, resolved or all)."""
    options = body or ComplianceReportOptions()
    status = None if options.status == "all" else options.status
    return _start(user, project_id, "compliance", options.file_format, status=status)


@router.post("/dora", response_model=exports.ExportJobPublic, status_code=202)
def export_dora(
    user: CompanyUserDep, project_id: ProjectIdDep, body: DoraReportOptions | None = None
) -> exports.ExportJobPublic:
    """Queue the DORA report: the four keys with their bands, the trend, the deployments and incidents behind them."""
    options = body or DoraReportOptions()
    return _start(user, project_id, "dora", options.file_format, period=options.period, environment=options.environment)


@router.get("", response_model=list[exports.ExportJobPublic])
def list_exports(user: CompanyUserDep) -> list[exports.ExportJobPublic]:
    """Your latest export jobs."""
    return exports.list_exports(user)


@router.get("/{job_id}/status", response_model=exports.ExportJobPublic)
def export_status(job_id: int, user: CompanyUserDep) -> exports.ExportJobPublic:
    """Status and progress (0-1) of one of your export jobs; `download_url` once finished."""
    return exports.get_export(user, job_id)


@router.get("/{job_id}/download")
def download(job_id: int, user: CompanyUserDep) -> FileResponse:
    """The finished file; only the user who asked for it, in their own tenant, may fetch it."""
    f = exports.export_file(user, job_id)
    return FileResponse(f.path, media_type=f.media_type, filename=f.filename)
