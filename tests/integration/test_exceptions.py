"""DMT exceptions as a workflow: roles, the four-eyes rule, tenant isolation, recomputation and expiry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select

from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from models.base import utcnow
from models.db import public_session, tenant_session
from models.public import AuditLog, Notification, Project
from models.tenant import ComplianceFlag, DmtException, WorkItem
from services import exceptions as svc
from services.alerts import evaluate_and_alert
from services.auth import CurrentUser
from services.dashboards import FlagFilters, list_flags
from services.dashboards.item_lists import item_drill
from tests.integration.test_compliance_support import add_item, compliant_fields, make_project, make_user
from worker import app as celery_app
from worker import exceptions as exception_tasks

UNTESTED = compliant_fields() | {"unit_testing_status": "not_started", "has_unit_test_task": False,
                                 "coverage_percent": 10.0}  # fmt: skip
TESTING_RULES = {"unit_testing_not_done", "missing_unit_test_task", "low_coverage"}


def person(tenant: Any, project: Project, role: str, name: str) -> CurrentUser:
    """A signed-in company user holding `role` on `project` (as services.auth builds it)."""
    email = f"{name.lower()}-{utcnow().timestamp():.6f}@example.com"
    user_id = make_user(tenant, project, role, email=email)
    return CurrentUser(
        id=user_id, email=email, full_name=name, role="company_user", tenant_id=tenant.id,
        tenant_slug=tenant.slug, tenant_name=tenant.name, project_roles={project.id or 0: role},
    )  # fmt: skip


def open_flags(slug: str, item_id: int) -> set[str]:
    with tenant_session(slug) as s:
        rows = s.exec(
            select(ComplianceFlag.rule_id).where(ComplianceFlag.work_item_id == item_id, ComplianceFlag.status == "open")
        ).all()
    return set(rows)


def compliant(slug: str, item_id: int) -> bool | None:
    with tenant_session(slug) as s:
        row = s.get(WorkItem, item_id)
        assert row is not None
        return row.dmt_compliant


def kinds_for(user: CurrentUser) -> list[str]:
    with public_session() as s:
        rows = s.exec(select(Notification.kind).where(Notification.user_id == user.id)).all()
    return sorted(rows)


def audit_actions(tenant_id: int, exception_id: int) -> list[str]:
    with public_session() as s:
        rows = s.exec(
            select(AuditLog.action)
            .where(AuditLog.tenant_id == tenant_id, AuditLog.entity_type == "dmt_exception",
                   AuditLog.entity_id == str(exception_id))
            .order_by(AuditLog.id)
        ).all()  # fmt: skip
    return list(rows)


def move_expiry(slug: str, exception_id: int, delta: timedelta) -> None:
    """Time passes: the exception's expiry is `delta` from now."""
    with tenant_session(slug) as s:
        s.execute(sa.update(DmtException).where(DmtException.id == exception_id).values(expires_at=utcnow() + delta))
        s.commit()


@pytest.fixture
def team(make_tenant) -> dict[str, Any]:
    tenant = make_tenant("exc")
    project = make_project(tenant)
    people = {
        role: person(tenant, project, role, name)
        for role, name in (("developer", "Dev"), ("tech_lead", "Lead"), ("project_manager", "Pam"), ("viewer", "Vic"))
    }
    item_id = add_item(tenant.slug, project.id, **UNTESTED)
    evaluate_and_alert(tenant.slug)
    assert TESTING_RULES <= open_flags(tenant.slug, item_id)
    return {"tenant": tenant, "project": project, "item": item_id, **people}


def in_a_month() -> Any:
    return utcnow() + timedelta(days=30)


def test_request_then_approve_covers_the_chosen_rules_and_recomputes_the_item_at_once(team) -> None:
    tenant, item_id, dev, lead = team["tenant"], team["item"], team["developer"], team["tech_lead"]
    requested = svc.request_exception(
        dev, item_id, rules=["unit_testing_not_done", "low_coverage"], reason="legacy module", expires_at=in_a_month()
    )
    assert requested.status == "requested" and requested.requested_by == "Dev"
    assert requested.rules == ["unit_testing_not_done", "low_coverage"]  # catalogue order
    # A request alone changes nothing.
    assert TESTING_RULES <= open_flags(tenant.slug, item_id)
    assert "exception_requested" in kinds_for(lead) and "exception_requested" in kinds_for(team["project_manager"])
    assert "exception_requested" not in kinds_for(dev)

    pending = svc.list_exceptions(lead, svc.ExceptionFilters(decidable_only=True))
    assert [r.id for r in pending.items] == [requested.id] and pending.items[0].can_decide
    assert svc.list_exceptions(dev, svc.ExceptionFilters(decidable_only=True)).total == 0

    approved = svc.approve_request(lead, requested.id, "tests follow in the next sprint")
    assert approved.status == "approved" and approved.approved_by == "Lead" and approved.decision_note
    # Recomputed at once: the covered rules pass, the uncovered one still fails.
    still_open = open_flags(tenant.slug, item_id)
    assert "unit_testing_not_done" not in still_open and "low_coverage" not in still_open
    assert "missing_unit_test_task" in still_open
    assert compliant(tenant.slug, item_id) is False
    assert "exception_approved" in kinds_for(dev) and "exception_approved" in kinds_for(team["project_manager"])
    assert audit_actions(tenant.id, requested.id) == ["dmt_exception.request", "dmt_exception.approve"]

    flags = list_flags(lead, FlagFilters(status=None, page_size=50)).items
    by_rule = {f.rule_id: f for f in flags if f.item_id == item_id}
    assert by_rule["low_coverage"].exception_status == "approved" and by_rule["low_coverage"].exception_covers
    assert by_rule["low_coverage"].exception_until == approved.valid_until
    assert by_rule["missing_unit_test_task"].exception_id == requested.id
    assert not by_rule["missing_unit_test_task"].exception_covers

    [drilled] = item_drill(dev, team["project"].id, item_id).items
    assert (drilled.exception_status, drilled.exception_until) == ("approved", approved.valid_until)

    shown = svc.item_exceptions(team["viewer"], [item_id])[item_id]
    assert [r.status for r in shown] == ["approved"] and not shown[0].can_revoke
    assert shown[0].requested_by == "a project member"  # viewers do not see names
    assert shown[0].approved_by == "Lead"  # the approver is a named person by design


def test_covering_every_testing_rule_makes_the_item_compliant_and_revoking_reopens_the_flags(team) -> None:
    tenant, item_id = team["tenant"], team["item"]
    x = svc.request_exception(
        team["tech_lead"], item_id, rules=sorted(TESTING_RULES), reason="generated code", expires_at=in_a_month()
    )
    svc.approve_request(team["project_manager"], x.id, "agreed")
    assert not TESTING_RULES & open_flags(tenant.slug, item_id)
    assert compliant(tenant.slug, item_id) is True

    with pytest.raises(PermissionDenied):
        svc.revoke_exception(team["developer"], x.id, "no")
    revoked = svc.revoke_exception(team["tech_lead"], x.id, "the module has a harness now")
    assert revoked.status == "revoked" and revoked.revoked_by == "Lead"
    assert TESTING_RULES <= open_flags(tenant.slug, item_id)
    assert compliant(tenant.slug, item_id) is False
    with tenant_session(tenant.slug) as s:
        reopened = s.exec(select(ComplianceFlag).where(ComplianceFlag.work_item_id == item_id,
                                                       ComplianceFlag.rule_id == "unit_testing_not_done")).one()  # fmt: skip
    assert reopened.reopened_count == 1
    assert "exception_revoked" in kinds_for(team["project_manager"])
    assert audit_actions(tenant.id, x.id) == ["dmt_exception.request", "dmt_exception.approve", "dmt_exception.revoke"]
    with pytest.raises(Conflict):
        svc.revoke_exception(team["tech_lead"], x.id, "twice")


def test_roles_a_developer_cannot_approve_and_nobody_approves_their_own_request(team) -> None:
    item_id, dev, lead, pm, viewer = team["item"], team["developer"], team["tech_lead"], team["project_manager"], team["viewer"]  # fmt: skip
    with pytest.raises(PermissionDenied):
        svc.request_exception(viewer, item_id, rules=["low_coverage"], reason="r", expires_at=in_a_month())
    with pytest.raises(PermissionDenied):
        svc.request_exception(pm, item_id, rules=["low_coverage"], reason="r", expires_at=in_a_month())

    by_lead = svc.request_exception(lead, item_id, rules=["low_coverage"], reason="r", expires_at=in_a_month())
    with pytest.raises(Conflict):  # one waiting request per item
        svc.request_exception(dev, item_id, rules=["low_coverage"], reason="again", expires_at=in_a_month())
    with pytest.raises(PermissionDenied):
        svc.approve_request(dev, by_lead.id, "I am only a developer")
    with pytest.raises(PermissionDenied, match="own"):
        svc.approve_request(lead, by_lead.id, "my own request")
    with pytest.raises(PermissionDenied, match="own"):
        svc.reject_request(lead, by_lead.id, "my own request")
    assert not svc.get_exception(lead, by_lead.id).can_decide
    with pytest.raises(ValidationFailed):
        svc.reject_request(pm, by_lead.id, "   ")  # a decision needs a note
    rejected = svc.reject_request(pm, by_lead.id, "write the tests instead")
    assert rejected.status == "rejected" and rejected.rejected_by == "Pam" and rejected.approved_by == ""
    assert "exception_rejected" in kinds_for(lead)
    with pytest.raises(Conflict):
        svc.approve_request(pm, by_lead.id, "too late, it was rejected")
    assert audit_actions(team["tenant"].id, by_lead.id) == ["dmt_exception.request", "dmt_exception.reject"]


def test_requests_are_validated(team) -> None:
    dev, item_id = team["developer"], team["item"]
    for rules in ([], ["missing_pr_link"], ["no_such_rule"]):
        with pytest.raises(ValidationFailed) as refused:
            svc.request_exception(dev, item_id, rules=rules, reason="r", expires_at=in_a_month())
        assert refused.value.field == "rules"
    for expires in (utcnow() - timedelta(minutes=1), utcnow() + timedelta(days=svc.MAX_EXCEPTION_DAYS + 1)):
        with pytest.raises(ValidationFailed):
            svc.request_exception(dev, item_id, rules=["low_coverage"], reason="r", expires_at=expires)
    with pytest.raises(ValidationFailed):
        svc.request_exception(dev, item_id, rules=["low_coverage"], reason=" ", expires_at=in_a_month())


def test_another_tenants_item_and_exception_are_not_found(team, make_tenant) -> None:
    other = make_tenant("exo")
    other_project = make_project(other)
    their_dev = person(other, other_project, "developer", "Theirs")
    their_lead = person(other, other_project, "tech_lead", "TheirLead")
    their_item = add_item(other.slug, other_project.id, **UNTESTED)
    theirs = svc.request_exception(their_dev, their_item, rules=["low_coverage"], reason="r", expires_at=in_a_month())
    # Ids above this tenant's own ranges exist only in the other tenant.
    with pytest.raises(NotFound):
        svc.request_exception(team["developer"], their_item + 1000, rules=["low_coverage"], reason="r",
                              expires_at=in_a_month())  # fmt: skip
    with pytest.raises(NotFound):
        svc.approve_request(team["tech_lead"], theirs.id + 1000, "not mine")
    # An item of this tenant in a project the user has no role on is just as invisible.
    elsewhere = make_project(team["tenant"])
    hidden = add_item(team["tenant"].slug, elsewhere.id, **UNTESTED)
    with pytest.raises(NotFound):
        svc.request_exception(team["developer"], hidden, rules=["low_coverage"], reason="r", expires_at=in_a_month())
    assert svc.list_exceptions(team["tech_lead"]).total == 0
    assert [r.id for r in svc.list_exceptions(their_lead).items] == [theirs.id]


def test_expiry_warns_three_days_before_once_then_expires_and_reopens_the_flags(team) -> None:
    tenant, item_id, dev, lead, pm = team["tenant"], team["item"], team["developer"], team["tech_lead"], team["project_manager"]  # fmt: skip
    x = svc.request_exception(dev, item_id, rules=sorted(TESTING_RULES), reason="hotfix", expires_at=in_a_month())
    svc.approve_request(lead, x.id, "ok for now")
    assert compliant(tenant.slug, item_id) is True
    assert svc.expire_and_warn(tenant.slug).warned == []  # a month away: nothing to say yet

    move_expiry(tenant.slug, x.id, timedelta(days=svc.EXPIRY_NOTICE_DAYS) - timedelta(hours=1))
    report = svc.expire_and_warn(tenant.slug)
    assert report.warned == [x.id] and report.expired == []
    assert "exception_expiring" in kinds_for(dev) and "exception_expiring" in kinds_for(pm)
    assert svc.expire_and_warn(tenant.slug).warned == []  # once
    assert kinds_for(dev).count("exception_expiring") == 1

    move_expiry(tenant.slug, x.id, -timedelta(minutes=1))
    report = exception_tasks.expire_exceptions_task.apply(args=[tenant.slug], throw=True).get()
    assert report["expired"] == [x.id]
    assert svc.get_exception(dev, x.id).status == "expired"
    assert TESTING_RULES <= open_flags(tenant.slug, item_id)
    assert compliant(tenant.slug, item_id) is False
    assert "exception_expired" in kinds_for(lead)
    assert svc.expire_and_warn(tenant.slug).expired == []  # done once
    assert audit_actions(tenant.id, x.id)[-2:] == ["dmt_exception.expiry_notice", "dmt_exception.expire"]


def test_a_request_nobody_decided_lapses_at_its_expiry(team) -> None:
    tenant, dev, lead = team["tenant"], team["developer"], team["tech_lead"]
    x = svc.request_exception(dev, team["item"], rules=["low_coverage"], reason="r", expires_at=in_a_month())
    move_expiry(tenant.slug, x.id, -timedelta(minutes=1))
    with pytest.raises(Conflict):
        svc.approve_request(lead, x.id, "too late")
    report = svc.expire_and_warn(tenant.slug)
    assert report.lapsed_requests == [x.id] and report.expired == []
    assert "exception_lapsed" in kinds_for(dev)


def test_the_expiry_task_runs_hourly_for_every_active_tenant(team, monkeypatch) -> None:
    entry = celery_app.conf.beat_schedule["expire-exceptions-hourly"]
    assert entry["task"] == exception_tasks.EXPIRE_EXCEPTIONS_ALL
    sent: list[list[Any]] = []
    monkeypatch.setattr(exception_tasks.expire_exceptions_task, "apply_async", lambda args, **kw: sent.append(args))
    slugs = exception_tasks.expire_exceptions_all_tenants.apply(throw=True).get()
    assert team["tenant"].slug in slugs and [team["tenant"].slug] in sent


def test_exceptions_recorded_directly_cover_the_testing_rules(team) -> None:
    tenant, item_id = team["tenant"], team["item"]
    row = svc.approve_exception(
        tenant.slug, item_id, approved_by="Ada Lovelace", reason="demo", expires_at=in_a_month(),
        actor=team["tech_lead"].actor(),
    )  # fmt: skip
    assert row.status == "approved" and set(row.rules) == TESTING_RULES
    assert compliant(tenant.slug, item_id) is True
