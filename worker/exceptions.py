"""Exception expiry: hourly, approved DMT exceptions past their expiry are marked expired (their items are
re-evaluated, so the flags they covered reopen) and those lapsing within three days are announced once."""

from __future__ import annotations

from celery.schedules import crontab

from core.queue import app, register_periodic
from models.db import active_tenant_slugs
from services.exceptions import expire_and_warn

EXPIRE_EXCEPTIONS = "dmt.expire_exceptions"
EXPIRE_EXCEPTIONS_ALL = "dmt.expire_exceptions_all_tenants"


@app.task(name=EXPIRE_EXCEPTIONS)
def expire_exceptions_task(tenant_slug: str) -> dict[str, list[int]]:
    """One tenant: expire what lapsed, re-evaluate its items, send the `exception_expiring` notices."""
    report = expire_and_warn(tenant_slug)
    return {"expired": report.expired, "lapsed_requests": report.lapsed_requests, "warned": report.warned}


@app.task(name=EXPIRE_EXCEPTIONS_ALL)
def expire_exceptions_all_tenants() -> list[str]:
    """Hourly: one expiry task per active tenant."""
    slugs = active_tenant_slugs()
    for slug in slugs:
        expire_exceptions_task.apply_async(args=[slug])
    return slugs


register_periodic("expire-exceptions-hourly", EXPIRE_EXCEPTIONS_ALL, crontab(minute=5))
