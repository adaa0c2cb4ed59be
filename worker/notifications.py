"""Notification delivery tasks: planning new notifications' deliveries, the daily digests, one task per
delivery with retries and backoff (services.delivery does the work; dead ones are the health page's dead letters)."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from core.queue import app, register_periodic
from services.delivery import (
    DELIVER,
    PLAN_DELIVERIES,
    PLAN_DIGESTS,
    PLAN_INTERVAL_SECONDS,
    deliver,
    plan_digests,
    plan_pending_deliveries,
)


@app.task(name=PLAN_DELIVERIES, ignore_result=True)
def plan_deliveries_task() -> dict[str, int]:
    """Every few seconds: the deliveries of notifications written since the last run, queued through the outbox."""
    report = plan_pending_deliveries()
    return {
        "notifications": report.notifications,
        "deliveries": len(report.deliveries),
        "requeued": len(report.requeued),
    }


@app.task(name=PLAN_DIGESTS)
def plan_digests_task() -> list[int]:
    """Hourly: today's digest for each user who has one due and not yet written (one per user and day)."""
    return plan_digests()


@app.task(name=DELIVER, bind=True, max_retries=None, acks_late=True)
def deliver_task(self: Any, delivery_id: int) -> dict[str, Any]:
    """Send one email or chat post; on a failure a retry may fix, retry after the backoff the delivery says."""
    outcome = deliver(delivery_id)
    if outcome.status == "retry":
        raise self.retry(countdown=outcome.retry_in)
    return {"delivery_id": delivery_id, "status": outcome.status, "error": outcome.error}


register_periodic("plan-notification-deliveries", PLAN_DELIVERIES, PLAN_INTERVAL_SECONDS)
register_periodic("plan-notification-digests-hourly", PLAN_DIGESTS, crontab(minute=2))
