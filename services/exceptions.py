"""DMT exceptions: a named person approves, with a reason, until an expiry date.

While valid, an exception satisfies `unit_testing_not_done`,
`missing_unit_test_task` and `low_coverage`; `exception_expiring` warns
`Project.exception_warning_days` before it lapses. Exceptions recorded in the
tool (the item's exception_* fields) are honoured by the evaluation as well.
"""

from __future__ import annotations

from datetime import datetime

from core.errors import NotFound, ValidationFailed
from models.base import utcnow
from models.db import get_tenant_by_slug, public_session, tenant_session
from models.tenant import DmtException, WorkItem
from services import audit, notifications
from services.alerts import evaluate_and_alert
from services.audit import Actor


def approve_exception(
    tenant_slug: str,
    work_item_id: int,
    *,
    approved_by: str,
    reason: str,
    expires_at: datetime,
    actor: Actor,
    evaluate: bool = True,
) -> DmtException:
    """Record an approved exception, notify the project's leads, and re-evaluate the item."""
    approved_by = (approved_by or "").strip()
    reason = (reason or "").strip()
    if not approved_by:
        raise ValidationFailed("an exception needs the name of the person approving it", field="approved_by")
    if not reason:
        raise ValidationFailed("an exception needs a reason", field="reason")
    if expires_at.tzinfo is None:
        raise ValidationFailed("expiry must carry a time zone", field="expires_at")
    if expires_at <= utcnow():
        raise ValidationFailed("expiry must be in the future", field="expires_at")
    with public_session() as ps:
        tenant = get_tenant_by_slug(ps, tenant_slug)
        with tenant_session(tenant_slug) as session:
            item = session.get(WorkItem, work_item_id)
            if item is None or item.is_deleted:
                raise NotFound(f"work item {work_item_id} not found")
            row = DmtException(
                work_item_id=work_item_id,
                approved_by=approved_by,
                approved_by_user_id=actor.user_id,
                reason=reason,
                expires_at=expires_at,
            )
            session.add(row)
            session.flush()
            audit.record(
                ps, actor, "dmt_exception.approve", "dmt_exception", row.id,
                new=audit.snapshot(row), tenant_id=tenant.id,
            )
            ps.commit()
            session.commit()
            project_id, key = item.project_id, item.item_key or f"#{item.id}"
    notifications.create_for_project_roles(
        tenant.id or 0,
        project_id,
        kind="exception_approved",
        title=f"DMT exception approved for {key}",
        body=f"{approved_by} approved an exception until {expires_at:%Y-%m-%d}: {reason}",
        data={"work_item_id": work_item_id, "exception_id": row.id, "expires_at": expires_at.isoformat()},
        link="/compliance",
        tenant_slug=tenant_slug,
    )
    if evaluate:
        evaluate_and_alert(tenant_slug, [work_item_id])
    return row
