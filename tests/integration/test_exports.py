"""Exports: the task writes CSV/XLSX files with the report rows; only the owner downloads them."""

from __future__ import annotations

import csv
import io

import pytest

from core.errors import NotFound
from models.db import tenant_session
from models.tenant import ExportJob
from services import exports
from tests.integration.test_dashboards_seed import Seeded, seed_tenant
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def seeded(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    import os
    import uuid

    from core.settings import reset_settings_cache
    from services.audit import Actor
    from services.tenants import TenantCreate, create_tenant

    os.environ["EXPORT_DIR"] = str(tmp_path_factory.mktemp("exports"))
    reset_settings_cache()
    tenant = create_tenant(TenantCreate(name="Exp", slug=f"exp_{uuid.uuid4().hex[:6]}"), Actor.system("test"))
    return seed_tenant(tenant)


def _job(s: Seeded, role: str, report: str, fmt: str, **params) -> int:
    """Record a job as start_export does, then run the task body synchronously."""
    user = s.user(role)
    with tenant_session(s.slug) as db:
        job = ExportJob(user_id=user.id, project_id=s.project_id, report=report, file_format=fmt, params=params)
        db.add(job)
        db.commit()
        db.refresh(job)
    result = exports.run_export(s.slug, job.id or 0)
    assert result["status"] == "finished", result
    return job.id or 0


def test_sprint_report_csv_has_a_row_per_sprint_and_the_items(seeded: Seeded) -> None:
    job_id = _job(seeded, "tech_lead", "sprint", "csv", sprint_id=seeded.sprints["S1"])
    f = exports.export_file(seeded.user("tech_lead"), job_id)
    rows = list(csv.reader(io.StringIO(f.path.read_text(encoding="utf-8-sig"))))
    assert rows[0] == ["# Sprints"]
    sprints = {r[0]: r for r in rows[2:5]}
    assert set(sprints) == {"S1", "S2", "S3"} and sprints["S1"][5] == "17.0"
    assert ["# Items S1"] in rows
    assert sum(1 for r in rows if r and r[0].startswith("ALPHA-")) == 5
    assert f.filename.endswith(".csv") and f.media_type == "text/csv"
    info = exports.get_export(seeded.user("tech_lead"), job_id)
    assert info.status == "finished" and info.progress == 1.0 and info.download_url.endswith("/download")


def test_developer_report_xlsx_is_anonymised_for_viewers(seeded: Seeded) -> None:
    from openpyxl import load_workbook

    job_id = _job(seeded, "viewer", "developer", "xlsx")
    wb = load_workbook(exports.export_file(seeded.user("viewer"), job_id).path)
    assert wb.sheetnames == ["Developers", "Per sprint"]
    names = [r[0] for r in wb["Developers"].iter_rows(min_row=2, values_only=True)]
    assert sorted(names) == sorted(f"Developer {i}" for i in seeded.identities.values())
    lead_job = _job(seeded, "tech_lead", "developer", "xlsx")
    wb = load_workbook(exports.export_file(seeded.user("tech_lead"), lead_job).path)
    assert "Ann Example" in [r[0] for r in wb["Developers"].iter_rows(min_row=2, values_only=True)]


def test_compliance_report_xlsx_lists_the_flags(seeded: Seeded) -> None:
    from openpyxl import load_workbook

    job_id = _job(seeded, "tech_lead", "compliance", "xlsx")
    ws = load_workbook(exports.export_file(seeded.user("tech_lead"), job_id).path)["Flags"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:4] == ("Flag", "Project", "Rule", "Severity")
    assert {r[2] for r in rows[1:]} == {"missing_pr_link", "low_coverage", "missing_ci_evidence"}


def test_only_the_owner_can_download(seeded: Seeded) -> None:
    job_id = _job(seeded, "tech_lead", "compliance", "csv")
    with pytest.raises(NotFound):
        exports.export_file(seeded.user("project_manager"), job_id)
    with pytest.raises(NotFound):
        exports.get_export(seeded.user("viewer"), job_id)
    assert job_id not in [j.id for j in exports.list_exports(seeded.user("viewer"))]


def test_start_export_queues_and_finishes(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    """start_export records the job and hands it to the queue; here the 'worker' runs it at once."""
    sent: list[tuple[str, int]] = []
    monkeypatch.setattr(
        exports, "_enqueue", lambda slug, job_id: (sent.append((slug, job_id)), exports.run_export(slug, job_id))
    )
    job = exports.start_export(
        seeded.user("project_manager"),
        exports.ExportRequest(project_id=seeded.project_id, report="sprint", file_format="xlsx"),
    )
    assert job.status in ("queued", "running", "finished")

    def ended() -> exports.ExportJobPublic | None:
        info = exports.get_export(seeded.user("project_manager"), job.id)
        return info if info.status in ("finished", "failed") else None

    info = wait_until(ended, timeout=30, what="the export job to end")
    assert info.status == "finished", info
    assert sent == [(seeded.slug, job.id)]


def test_start_export_refuses_foreign_projects(seeded: Seeded) -> None:
    with pytest.raises(NotFound):
        exports.start_export(
            seeded.user("viewer"), exports.ExportRequest(project_id=seeded.project_id + 10_000, report="sprint")
        )
