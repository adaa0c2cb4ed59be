"""The admin overview's figures: tenants, sources by status, syncs and failures per day over every tenant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.db import public_session, tenant_session
from models.enums import SourceStatus, SyncStatus
from models.public import Project, SourceConfig
from models.tenant import SyncRun
from services.system_overview import system_overview

NOW = datetime(2019, 3, 10, 12, 0, tzinfo=UTC)  # far from any other test's sync runs


def _source(tenant_id: int, status: str, circuit_open: bool = False) -> int:
    with public_session() as session:
        project = Project(tenant_id=tenant_id, key=f"P{status[:3].upper()}", name=f"Project {status}")
        session.add(project)
        session.flush()
        source = SourceConfig(
            tenant_id=tenant_id,
            project_id=project.id,
            name=f"Source {status}",
            source_type="jira",
            base_url="https://jira.example.com",
            status=status,
            circuit_open=circuit_open,
        )
        session.add(source)
        session.commit()
        return source.id or 0


def _runs(slug: str, source_id: int, *runs: tuple[datetime, str]) -> None:
    with tenant_session(slug) as session:
        for started, status in runs:
            session.add(SyncRun(source_id=source_id, kind="incremental", status=status, started_at=started))
        session.commit()


def test_overview_counts_sources_and_sums_syncs_per_day_over_tenants(make_tenant) -> None:
    acme = make_tenant("acme")
    globex = make_tenant("globex")
    ok_source = _source(acme.id, SourceStatus.OK)
    failed_source = _source(globex.id, SourceStatus.FAILED, circuit_open=True)
    today, yesterday = NOW - timedelta(hours=1), NOW - timedelta(days=1)
    _runs(
        acme.slug,
        ok_source,
        (today, SyncStatus.SUCCEEDED),
        (yesterday, SyncStatus.SUCCEEDED),
        (NOW - timedelta(days=30), SyncStatus.FAILED),  # before the window
    )
    _runs(globex.slug, failed_source, (today, SyncStatus.FAILED), (today, SyncStatus.PARTIAL))

    overview = system_overview(days=14, now=NOW)

    assert overview.tenants_active >= 2
    by_status = {s.status: s.sources for s in overview.sources_by_status}
    assert by_status[SourceStatus.OK] >= 1 and by_status[SourceStatus.FAILED] >= 1
    assert overview.sources == sum(by_status.values())
    assert overview.circuits_open >= 1
    assert len(overview.sync_days) == 14
    assert overview.sync_days[-1].day == "2019-03-10" and overview.sync_days[0].day == "2019-02-25"
    days = {d.day: d for d in overview.sync_days}
    assert (days["2019-03-10"].syncs, days["2019-03-10"].failures) == (3, 1)
    assert (days["2019-03-09"].syncs, days["2019-03-09"].failures) == (1, 0)
    assert overview.syncs_total == 4 and overview.failures_total == 1
    assert overview.unreadable_tenants == []
    assert overview.checked_at == "2019-03-10 12:00:00 UTC"
