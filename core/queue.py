"""The Celery app: broker, task settings and the beat schedule's registry.

The tasks themselves live in the top-level `worker` package, which imports
this app and is what the processes run:

    celery -A worker worker --loglevel=info
    celery -A worker beat --loglevel=info        # exactly one

Every other layer enqueues by task NAME, never by importing `worker`:

    from core.queue import SYNC_SOURCE, app
    app.send_task(SYNC_SOURCE, args=[tenant_slug, source_id, "incremental"])

Broker and result backend are settings.redis_url, read when the app is first
used (not at import). Tasks are acknowledged after they finish
(`task_acks_late`) and re-queued if the worker dies
(`task_reject_on_worker_lost`; with the Redis broker an unacknowledged message
comes back after `broker_transport_options.visibility_timeout`, env
DMT_VISIBILITY_TIMEOUT, default one hour).
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from celery import Celery

from core.settings import get_settings

#: Names of the tasks other layers enqueue (the worker registers its tasks under them).
SYNC_SOURCE = "dmt.sync_source"
RECONCILE_SOURCE = "dmt.reconcile_source"
RUN_EXPORT = "dmt.exports.run"

#: The queue tasks go to when none is named.
DEFAULT_QUEUE = "celery"

_VISIBILITY_TIMEOUT = int(os.environ.get("DMT_VISIBILITY_TIMEOUT", "3600"))


def redis_url() -> str:
    """Broker and result backend: the platform's Redis."""
    return get_settings().redis_url or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


app = Celery("dmt")
app.add_defaults(lambda: {"broker_url": redis_url(), "result_backend": redis_url()})
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_track_started=True,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=7 * 24 * 3600,
    timezone="UTC",
    enable_utc=True,
    task_default_queue=DEFAULT_QUEUE,
    broker_connection_retry_on_startup=True,
    broker_transport_options={"visibility_timeout": _VISIBILITY_TIMEOUT},
    result_backend_transport_options={"visibility_timeout": _VISIBILITY_TIMEOUT},
    beat_schedule={},
)


#: Tasks whose names start with this go to NOTIFICATION_QUEUE (deliveries may be given their own workers).
NOTIFICATION_TASK_PREFIX = "dmt.notifications."


def route_task(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any) -> dict[str, str] | None:
    """Celery router: notification tasks to the configured notification queue, the rest to the default one."""
    if name.startswith(NOTIFICATION_TASK_PREFIX):
        return {"queue": get_settings().notification_queue}
    return None


app.conf.task_routes = (route_task,)


#: Beat entries registered so far (kept here so registering never forces the app's configuration early).
_beat_schedule: dict[str, dict[str, Any]] = {}


def register_periodic(
    name: str, task: str, schedule: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None
) -> None:
    """Add a beat entry (seconds, timedelta or crontab) for a task by name."""
    _beat_schedule[name] = {"task": task, "schedule": schedule, "args": args, "kwargs": kwargs or {}}
    app.conf.update(beat_schedule=dict(_beat_schedule))


def load_plugins() -> None:
    """DMT_CONNECTOR_PLUGINS="module:function,...": extra connector registrations (tests, bench)."""
    for spec in filter(None, (s.strip() for s in os.environ.get("DMT_CONNECTOR_PLUGINS", "").split(","))):
        module, _, function = spec.partition(":")
        target = importlib.import_module(module)
        if function:
            getattr(target, function)()
