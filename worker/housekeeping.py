"""Housekeeping tasks: the task outbox's dispatcher and the nightly prune of the control plane."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from core.queue import app, register_periodic
from services.housekeeping import PRUNE_TASK, prune_control_plane
from services.outbox import DISPATCH_INTERVAL_SECONDS, DISPATCH_OUTBOX, dispatch


@app.task(name=DISPATCH_OUTBOX, ignore_result=True)
def dispatch_outbox() -> dict[str, Any]:
    """Send the outbox's due tasks to the broker (a webhook's sync recorded while the broker was down)."""
    report = dispatch()
    return {"sent": len(report.sent), "failed": len(report.failed)}


@app.task(name=PRUNE_TASK)
def prune_control_plane_task() -> dict[str, int]:
    """Delete old sign-in attempts, expired sessions and refresh tokens, old webhook deliveries."""
    return prune_control_plane().as_dict()


register_periodic("dispatch-outbox", DISPATCH_OUTBOX, DISPATCH_INTERVAL_SECONDS)
register_periodic("prune-control-plane-daily", PRUNE_TASK, crontab(hour=2, minute=45))
