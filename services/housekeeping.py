"""Housekeeping: old control-plane rows that only grow are pruned by a nightly task.

* sign-in attempts older than LOGIN_ATTEMPT_RETENTION_DAYS;
* portal sessions expired or signed out, and refresh tokens expired, more than
  EXPIRED_SESSION_RETENTION_DAYS ago (a revoked refresh token is kept until it
  expires, so presenting it again still revokes its family);
* webhook deliveries and sent outbox rows older than
  WEBHOOK_DELIVERY_RETENTION_DAYS, never younger than the webhook replay
  window (a delivery inside the window must stay known to be refused);
* notification deliveries (emails, chat posts) sent or dead more than
  NOTIFICATION_DELIVERY_RETENTION_DAYS ago.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from core.settings import get_settings
from models.base import utcnow
from models.db import public_session
from models.public import (
    LoginAttempt,
    NotificationDelivery,
    PortalSession,
    RefreshToken,
    TaskOutbox,
    WebhookDelivery,
)

#: Task name of the nightly prune (registered by the worker package).
PRUNE_TASK = "dmt.prune_control_plane"


@dataclass(frozen=True)
class PruneReport:
    login_attempts: int
    portal_sessions: int
    refresh_tokens: int
    webhook_deliveries: int
    outbox_rows: int
    notification_deliveries: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def prune_control_plane(now: datetime | None = None) -> PruneReport:
    """Delete what has outlived its retention; returns how many rows of each kind went."""
    s = get_settings()
    now = now or utcnow()
    attempts_before = now - timedelta(days=s.login_attempt_retention_days)
    sessions_before = now - timedelta(days=s.expired_session_retention_days)
    webhook_days = timedelta(days=s.webhook_delivery_retention_days)
    notifications_before = now - timedelta(days=s.notification_delivery_retention_days)
    deliveries_before = now - max(webhook_days, timedelta(seconds=s.webhook_max_age_seconds) + timedelta(days=1))
    with public_session() as session:

        def delete(statement: sa.Delete) -> int:
            return int(session.execute(statement).rowcount or 0)

        report = PruneReport(
            login_attempts=delete(sa.delete(LoginAttempt).where(LoginAttempt.at < attempts_before)),
            portal_sessions=delete(
                sa.delete(PortalSession).where(
                    sa.or_(PortalSession.expires_at < sessions_before, PortalSession.revoked_at < sessions_before)
                )
            ),
            refresh_tokens=delete(sa.delete(RefreshToken).where(RefreshToken.expires_at < sessions_before)),
            webhook_deliveries=delete(
                sa.delete(WebhookDelivery).where(WebhookDelivery.received_at < deliveries_before)
            ),
            outbox_rows=delete(
                sa.delete(TaskOutbox).where(TaskOutbox.sent_at.is_not(None), TaskOutbox.sent_at < deliveries_before)
            ),
            notification_deliveries=delete(
                sa.delete(NotificationDelivery).where(
                    NotificationDelivery.status != "pending", NotificationDelivery.updated_at < notifications_before
                )
            ),
        )
        session.commit()
    return report
