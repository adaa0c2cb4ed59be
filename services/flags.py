"""Compliance flags: manual resolution by a person (who, when and why are recorded).

A manually resolved flag stays resolved while the item is unchanged; if the
item changes in its tool afterwards and still fails the rule, the next
evaluation reopens it (see etl/compliance.py).
"""

from __future__ import annotations

from core.errors import NotFound, ValidationFailed
from core.realtime import publish_event
from models.base import utcnow
from models.db import get_tenant_by_slug, public_session, tenant_session
from models.tenant import ComplianceFlag
from services import audit
from services.audit import Actor


def resolve_flag(tenant_slug: str, flag_id: int, actor: Actor, note: str) -> ComplianceFlag:
    """Resolve one open flag by hand, with a note; audited in the control plane."""
    note = (note or "").strip()
    if not note:
        raise ValidationFailed("say why the flag is resolved", field="note")
    with public_session() as ps:
        tenant = get_tenant_by_slug(ps, tenant_slug)
        with tenant_session(tenant_slug) as session:
            flag = session.get(ComplianceFlag, flag_id, with_for_update=True)
            if flag is None:
                raise NotFound(f"compliance flag {flag_id} not found")
            if flag.status == "resolved":
                raise ValidationFailed(f"compliance flag {flag_id} is already resolved")
            old = audit.snapshot(flag)
            now = utcnow()
            flag.status = "resolved"
            flag.resolution = "manual"
            flag.resolved_by = actor.email
            flag.resolved_at = now
            flag.resolution_note = note
            session.add(flag)
            session.flush()
            audit.record(
                ps, actor, "compliance_flag.resolve", "compliance_flag", flag_id,
                old=old, new=audit.snapshot(flag), tenant_id=tenant.id,
            )
            # The audit row must exist before the flag change is visible.
            ps.commit()
            session.commit()
    publish_event("compliance.flag_resolved", tenant_slug, flag_id=flag_id, project_id=flag.project_id, by=actor.email)
    return flag
