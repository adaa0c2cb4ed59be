"""Export tasks: build a queued report file (services.exports records the job and enqueues it by name)."""

from __future__ import annotations

from typing import Any

from core.queue import RUN_EXPORT, app
from services.exports import run_export


@app.task(name=RUN_EXPORT)
def run_export_task(tenant_slug: str, job_id: int) -> dict[str, Any]:
    """Celery entry point of `services.exports.run_export`."""
    return run_export(tenant_slug, job_id)
