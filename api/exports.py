"""Export routes: start a report, follow its progress, download it (own jobs only)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from api.deps import CompanyUserDep
from services import exports

router = APIRouter(prefix="/api/exports", tags=["exports"])


@router.post("", response_model=exports.ExportJobPublic, status_code=202)
def start(body: exports.ExportRequest, user: CompanyUserDep) -> exports.ExportJobPublic:
    """Queue a sprint, developer or compliance report (CSV or XLSX) for one of the caller's projects."""
    return exports.start_export(user, body)


@router.get("", response_model=list[exports.ExportJobPublic])
def list_exports(user: CompanyUserDep) -> list[exports.ExportJobPublic]:
    return exports.list_exports(user)


@router.get("/{job_id}", response_model=exports.ExportJobPublic)
def get_export(job_id: int, user: CompanyUserDep) -> exports.ExportJobPublic:
    return exports.get_export(user, job_id)


@router.get("/{job_id}/download")
def download(job_id: int, user: CompanyUserDep) -> FileResponse:
    """The finished file; only the user who asked for it, in their own tenant, may fetch it."""
    f = exports.export_file(user, job_id)
    return FileResponse(f.path, media_type=f.media_type, filename=f.filename)
