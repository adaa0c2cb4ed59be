"""Data retention on the worker: archive and verify one job (live progress), and the nightly plan that creates
the jobs of quarters older than each tenant's retention. Hard delete stays a person's step in the admin portal."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from core.queue import app, register_periodic
from services.audit import Actor
from services.retention import (
    RETENTION_ARCHIVE,
    RETENTION_SCHEDULE,
    RETENTION_VERIFY,
    plan_all_tenants,
    run_archive,
    run_verify,
)


def _actor(user_id: int | None, email: str, ip_address: str | None) -> Actor:
    return Actor(user_id=user_id, email=email, ip_address=ip_address)


@app.task(name=RETENTION_ARCHIVE)
def archive_task(
    job_id: int, user_id: int | None, email: str, ip_address: str | None, then_verify: bool = False
) -> dict[str, Any]:
    """Archive one retention job (and verify it right after when asked), as the person who queued it."""
    return run_archive(job_id, _actor(user_id, email, ip_address), then_verify=then_verify)


@app.task(name=RETENTION_VERIFY)
def verify_task(job_id: int, user_id: int | None, email: str, ip_address: str | None) -> dict[str, Any]:
    """Verify one archived retention job against the database."""
    return run_verify(job_id, _actor(user_id, email, ip_address))


@app.task(name=RETENTION_SCHEDULE)
def schedule_retention() -> list[dict[str, Any]]:
    """Nightly: per active tenant, create and queue the jobs of quarters older than its retention."""
    return [
        {"tenant": p.tenant_slug, "cutoff": p.cutoff.isoformat(), "created": p.created, "requeued": p.requeued}
        for p in plan_all_tenants()
    ]


register_periodic("retention-nightly", RETENTION_SCHEDULE, crontab(hour=1, minute=30))
