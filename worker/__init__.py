"""The Celery worker and beat: every background task, on top of services and etl.

    celery -A worker worker --loglevel=info
    celery -A worker beat --loglevel=info        # exactly one

The app and its settings are `core.queue`; the tasks are grouped by domain:
`worker.syncs` (syncs, reconciliation, the nightly schedule), `worker.derived`
(compliance, metrics, insights, alerts), `worker.exceptions` (DMT exception expiry),
`worker.retention` (archive and verify, the nightly plan), `worker.exports`,
`worker.notifications` (email, Slack and Teams deliveries, digests) and `worker.housekeeping`
(the task outbox's dispatcher, the nightly prune). Other layers
enqueue by task name through `core.queue.app.send_task` and never import this
package. A sync delivered twice is harmless: the load is idempotent and a
per-source lock keeps two syncs of one source from running at once.
"""

from __future__ import annotations

from typing import Any

from celery import signals

from core.queue import app, load_plugins
from core.realtime import reset_client
from etl.sync import tune_allocator
from models.db import dispose_engines
from worker import derived, exceptions, exports, housekeeping, notifications, retention, syncs

__all__ = ["app", "derived", "exceptions", "exports", "housekeeping", "notifications", "retention", "syncs"]


@signals.worker_process_init.connect
def _after_fork(**_: Any) -> None:
    """A forked pool process must not reuse its parent's sockets; its malloc is tuned before any sync thread."""
    dispose_engines()
    reset_client()
    tune_allocator()


load_plugins()
