"""Derived-data tasks: compliance, metrics, forecasts, insights and the alerts that follow, per tenant and daily.

Every metrics rebuild (this module's task, and every sync, whose load rebuilds
the sprints it touched) queues one forecast run for the tenant
(`queue_forecasts`): bursts of rebuilds coalesce into one run, which forecasts
every active project from its closed sprints (`etl.forecast.forecast_tenant`).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from celery.schedules import crontab

from core.queue import app, register_periodic
from core.realtime import redis_client
from etl.forecast import forecast_tenant
from etl.metrics import rebuild_metrics
from models.db import active_tenant_slugs
from services.alerts import evaluate_and_alert, notify_sprints_ending
from services.insights import generate_insights


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    return json.loads(json.dumps(value, default=str))


@app.task(name="dmt.evaluate_compliance")
def evaluate_compliance_task(tenant_slug: str, work_item_ids: list[int] | None = None) -> Any:
    """Re-evaluate the DMT rules for a tenant (or some of its items) and announce new critical flags."""
    return _jsonable(evaluate_and_alert(tenant_slug, work_item_ids))


#: A forecast run waiting for a tenant is marked in Redis; the mark expires after this long at the latest.
FORECAST_MARK_SECONDS = 600


def _forecast_mark(tenant_slug: str) -> str:
    return f"dmt:forecast-queued:{tenant_slug}"


def task_queue(task: Any) -> str | None:
    """The queue the running task was taken from (follow-ups go there too); None when run in-process."""
    info = getattr(task.request, "delivery_info", None) or {}
    return info.get("routing_key") or None


def queue_forecasts(tenant_slug: str, queue: str | None = None) -> bool:
    """Queue one forecast run for the tenant unless one is already waiting; True when queued.

    The run clears the mark when it starts, so a rebuild that finishes while it
    runs queues the next one: the last rebuild is always followed by a forecast.
    """
    mark = _forecast_mark(tenant_slug)
    if not redis_client().set(mark, "1", nx=True, ex=FORECAST_MARK_SECONDS):
        return False
    try:
        forecast_projects_task.apply_async(args=[tenant_slug], queue=queue)
    except Exception:
        redis_client().delete(mark)
        raise
    return True


@app.task(bind=True, name="dmt.rebuild_metrics")
def rebuild_metrics_task(self: Any, tenant_slug: str, sprint_ids: list[int] | None = None) -> Any:
    """Rebuild the sprint and developer read models of a tenant (or some sprints), then forecast."""
    result = _jsonable(rebuild_metrics(tenant_slug, sprint_ids))
    queue_forecasts(tenant_slug, task_queue(self))
    return result


@app.task(name="dmt.forecast_projects")
def forecast_projects_task(tenant_slug: str) -> dict[str, Any]:
    """Monte Carlo forecasts (next-sprint velocity, backlog finish dates) of every active project of a tenant."""
    redis_client().delete(_forecast_mark(tenant_slug))
    results = forecast_tenant(tenant_slug)
    return {str(pid): {"prediction_ids": r["prediction_ids"], "stored": r["stored"]} for pid, r in results.items()}


@app.task(name="dmt.generate_insights")
def generate_insights_task(tenant_slug: str, project_id: int | None = None) -> int:
    """Write the AI (or local statistical) insights of a tenant's projects; returns how many."""
    return len(generate_insights(tenant_slug, project_id))


@app.task(name="dmt.refresh_all_tenants")
def refresh_all_tenants() -> list[str]:
    """Daily: compliance (exceptions expire with time), then metrics, for every active tenant."""
    slugs = active_tenant_slugs()
    for slug in slugs:
        evaluate_compliance_task.apply_async(args=[slug], link=rebuild_metrics_task.si(slug))
    return slugs


@app.task(name="dmt.insights_all_tenants")
def insights_all_tenants() -> list[str]:
    """Daily: fresh insights for every active tenant, one task each."""
    slugs = active_tenant_slugs()
    for slug in slugs:
        generate_insights_task.apply_async(args=[slug])
    return slugs


@app.task(name="dmt.notify_sprints_ending")
def notify_sprints_ending_task() -> int:
    """Daily: tell leads about sprints ending within their project's notice period."""
    return sum(notify_sprints_ending(slug) for slug in active_tenant_slugs())


register_periodic("refresh-derived-daily", "dmt.refresh_all_tenants", crontab(hour=4, minute=0))
register_periodic("insights-daily", "dmt.insights_all_tenants", crontab(hour=5, minute=0))
register_periodic("sprints-ending-daily", "dmt.notify_sprints_ending", crontab(hour=7, minute=0))
