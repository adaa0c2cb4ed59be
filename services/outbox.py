"""The task outbox: tasks recorded with the change that needs them, sent to the broker afterwards.

A use case that must start background work no matter what (a webhook's sync)
adds a `TaskOutbox` row in its own transaction (`add_task`), so the work is
recorded exactly when the change is. `dispatch` sends unsent rows to Celery by
task name, under `FOR UPDATE SKIP LOCKED` so concurrent dispatchers never send
a row twice at once; a broker that cannot be reached leaves the row for the
next attempt (with backoff). The worker's periodic `dmt.dispatch_outbox` task
runs `dispatch` every few seconds, so a broker outage delays a task but never
loses it. Delivery is at least once: the tasks sent this way are idempotent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from core.queue import app as celery_app
from models.base import utcnow
from models.db import public_session
from models.public import TaskOutbox

log = logging.getLogger(__name__)

#: Task name of the periodic dispatcher (registered by the worker package).
DISPATCH_OUTBOX = "dmt.dispatch_outbox"
#: How often beat runs the dispatcher.
DISPATCH_INTERVAL_SECONDS = 5.0
#: Longest wait between two attempts at a row the broker refused.
MAX_BACKOFF_SECONDS = 300


@dataclass
class DispatchReport:
    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def add_task(session: Session, task_name: str, args: list[Any], origin: str = "") -> TaskOutbox:
    """Record a task to send in `session`'s transaction (the caller commits); returns the row, flushed.

    Unlike the other service functions this one takes the caller's session on purpose: the
    outbox row must commit (or roll back) together with the change that asked for the task.
    """
    row = TaskOutbox(task_name=task_name, args=list(args), origin=origin[:300])
    session.add(row)
    session.flush()
    return row


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(MAX_BACKOFF_SECONDS, 2 ** min(attempts, 16)))


def dispatch(ids: list[int] | None = None, *, limit: int = 200, app: Any = None) -> DispatchReport:
    """Send due, unsent outbox rows (or just `ids`) to the broker; record what was sent and what failed.

    `app` is the Celery app to publish through (the platform's by default).
    The broker is asked once per row, without kombu's own retries, so a broker
    outage costs each row one quick failure and leaves it for a later run.
    """
    app = app or celery_app
    report = DispatchReport()
    now = utcnow()
    with public_session() as session:
        query = select(TaskOutbox).where(TaskOutbox.sent_at.is_(None))
        query = query.where(TaskOutbox.id.in_(ids)) if ids is not None else query.where(TaskOutbox.available_at <= now)
        rows = session.exec(query.order_by(TaskOutbox.id).limit(limit).with_for_update(skip_locked=True)).all()
        for row in rows:
            try:
                result = app.send_task(row.task_name, args=row.args, retry=False)
            except Exception as exc:  # noqa: BLE001 - any broker failure: keep the row for the next run
                row.attempts += 1
                row.last_error = f"{type(exc).__name__}: {exc}"[:500]
                row.available_at = utcnow() + _backoff(row.attempts)
                report.failed.append(row.id or 0)
                report.errors.append(row.last_error)
                log.warning("outbox row %s (%s) not sent: %s", row.id, row.task_name, row.last_error)
            else:
                row.sent_at = utcnow()
                row.task_id = str(result.id)[:64]
                row.attempts += 1
                report.sent.append(row.id or 0)
            session.add(row)
        session.commit()
    return report


def task_id_of(outbox_id: int | None) -> str | None:
    """The Celery task id an outbox row was sent as, or None while it waits."""
    if outbox_id is None:
        return None
    with public_session() as session:
        return session.exec(select(TaskOutbox.task_id).where(TaskOutbox.id == outbox_id)).first()


def pending_count() -> int:
    """Rows not yet sent (for health pages and `dmt doctor`)."""
    with public_session() as session:
        return int(
            session.exec(select(sa.func.count()).select_from(TaskOutbox).where(TaskOutbox.sent_at.is_(None))).one()
        )
