"""DMT compliance engine against a real PostgreSQL tenant schema."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from etl.compliance import NewCriticalFlags, evaluate_compliance
from models.base import utcnow
from models.db import public_session, tenant_session
from models.public import AuditLog, Notification
from models.tenant import ComplianceFlag, CoverageEvidence, WorkItem
from services.alerts import evaluate_and_alert
from services.audit import Actor
from services.exceptions import approve_exception
from services.flags import resolve_flag
from tests.integration.test_compliance_support import (
    NOW,
    add_item,
    add_pr,
    compliant_fields,
    make_identity,
    make_project,
    make_user,
    update_item,
)


def flags_of(slug: str, item_id: int) -> dict[str, ComplianceFlag]:
    with tenant_session(slug) as s:
        rows = s.exec(select(ComplianceFlag).where(ComplianceFlag.work_item_id == item_id)).all()
        return {f.rule_id: f for f in rows}


def item(slug: str, item_id: int) -> WorkItem:
    with tenant_session(slug) as s:
        row = s.get(WorkItem, item_id)
        assert row is not None
        return row


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("cmp")


def test_compliant_done_item_gets_no_flags_and_is_marked_compliant(tenant) -> None:
    p = make_project(tenant)
    i = add_item(tenant.slug, p.id, **compliant_fields())
    result = evaluate_compliance(tenant.slug)
    assert result.opened == 0 and result.evaluated_items == 1
    assert flags_of(tenant.slug, i) == {}
    assert item(tenant.slug, i).dmt_compliant is True
    assert item(tenant.slug, i).compliance_failures == []


def test_done_story_without_pr_gets_critical_flag(tenant) -> None:
    p = make_project(tenant)
    fields = compliant_fields() | {"pr_links": []}
    i = add_item(tenant.slug, p.id, **fields)
    result = evaluate_compliance(tenant.slug)
    flags = flags_of(tenant.slug, i)
    assert set(flags) == {"missing_pr_link"}
    assert flags["missing_pr_link"].severity == "critical"
    assert "pull request" in flags["missing_pr_link"].message
    assert result.opened == 1 and result.new_critical == 1
    assert item(tenant.slug, i).dmt_compliant is False
    assert item(tenant.slug, i).compliance_failures == ["missing_pr_link"]


def test_bare_done_item_fails_every_rule_but_expiring_exception(tenant) -> None:
    p = make_project(tenant)
    i = add_item(tenant.slug, p.id)
    evaluate_compliance(tenant.slug)
    assert set(flags_of(tenant.slug, i)) == {
        "missing_ac_quality", "missing_unit_test_task", "unit_testing_not_done", "low_coverage",
        "missing_pr_link", "missing_ci_evidence", "missing_dmt_signoff",
    }
    assert flags_of(tenant.slug, i)["unit_testing_not_done"].severity == "critical"


def test_in_progress_items_get_the_same_checks_at_info_and_todo_and_deleted_are_skipped(tenant) -> None:
    p = make_project(tenant)
    wip = add_item(tenant.slug, p.id, status_category="in_progress")
    todo = add_item(tenant.slug, p.id, status_category="todo")
    gone = add_item(tenant.slug, p.id, is_deleted=True)
    result = evaluate_compliance(tenant.slug)
    assert result.evaluated_items == 1
    assert {f.severity for f in flags_of(tenant.slug, wip).values()} == {"info"}
    assert len(flags_of(tenant.slug, wip)) == 7
    assert item(tenant.slug, wip).dmt_compliant is None
    assert flags_of(tenant.slug, todo) == {} and flags_of(tenant.slug, gone) == {}


def test_two_evaluations_in_a_row_change_nothing(tenant) -> None:
    p = make_project(tenant)
    ids = [add_item(tenant.slug, p.id), add_item(tenant.slug, p.id, **compliant_fields())]
    evaluate_compliance(tenant.slug)
    before = {i: (item(tenant.slug, i).model_dump(), {k: f.model_dump() for k, f in flags_of(tenant.slug, i).items()})
              for i in ids}
    again = evaluate_compliance(tenant.slug)
    assert (again.opened, again.resolved, again.reopened, again.severity_changed) == (0, 0, 0, 0)
    assert again.unchanged == 7
    after = {i: (item(tenant.slug, i).model_dump(), {k: f.model_dump() for k, f in flags_of(tenant.slug, i).items()})
             for i in ids}
    assert after == before


def test_passing_rule_auto_resolves_and_failing_again_reopens(tenant) -> None:
    p = make_project(tenant)
    i = add_item(tenant.slug, p.id, **(compliant_fields() | {"dmt_signoff": False}))
    evaluate_compliance(tenant.slug)
    assert flags_of(tenant.slug, i)["missing_dmt_signoff"].status == "open"
    update_item(tenant.slug, i, dmt_signoff=True)
    r = evaluate_compliance(tenant.slug)
    f = flags_of(tenant.slug, i)["missing_dmt_signoff"]
    assert r.resolved == 1 and f.status == "resolved" and f.resolution == "auto" and f.resolved_at
    assert item(tenant.slug, i).dmt_compliant is True
    update_item(tenant.slug, i, dmt_signoff=False)
    r = evaluate_compliance(tenant.slug)
    f = flags_of(tenant.slug, i)["missing_dmt_signoff"]
    assert r.reopened == 1 and f.status == "open" and f.reopened_count == 1 and f.resolved_at is None


def test_manual_resolve_is_recorded_audited_and_reopened_only_after_the_item_changes(tenant) -> None:
    p = make_project(tenant)
    i = add_item(tenant.slug, p.id, **(compliant_fields() | {"dmt_signoff": False}))
    evaluate_compliance(tenant.slug)
    flag = flags_of(tenant.slug, i)["missing_dmt_signoff"]
    resolved = resolve_flag(tenant.slug, flag.id, Actor(user_id=None, email="lead@example.com"), "signed on paper")
    assert resolved.resolved_by == "lead@example.com" and resolved.resolution == "manual"
    with public_session() as s:
        audit = s.exec(select(AuditLog).where(AuditLog.action == "compliance_flag.resolve")).all()
    assert [a.entity_id for a in audit if a.tenant_id == tenant.id] == [str(flag.id)]
    r = evaluate_compliance(tenant.slug)
    assert r.reopened == 0 and flags_of(tenant.slug, i)["missing_dmt_signoff"].status == "resolved"
    # Edited in the tool after the manual resolve (NOW is import time; the resolve happened just now).
    update_item(tenant.slug, i, updated_at_source=utcnow() + timedelta(minutes=5), title="edited")
    r = evaluate_compliance(tenant.slug)
    f = flags_of(tenant.slug, i)["missing_dmt_signoff"]
    assert r.reopened == 1 and f.status == "open" and f.reopened_count == 1 and f.resolved_by is None


def test_project_rules_config_switches_rules_overrides_severity_and_threshold(tenant) -> None:
    p = make_project(
        tenant,
        coverage_threshold=95.0,
        rules_config={"missing_dmt_signoff": {"enabled": False}, "missing_ci_evidence": {"severity": "critical"}},
    )
    i = add_item(tenant.slug, p.id, **(compliant_fields() | {"dmt_signoff": False, "ci_evidence_url": None}))
    evaluate_compliance(tenant.slug)
    flags = flags_of(tenant.slug, i)
    assert set(flags) == {"missing_ci_evidence", "low_coverage"}
    assert flags["missing_ci_evidence"].severity == "critical"


def test_ci_evidence_and_signoff_and_coverage_can_come_from_prs_and_evidence_rows(tenant) -> None:
    p = make_project(tenant)
    base = compliant_fields() | {"ci_evidence_url": None, "dmt_signoff": None, "coverage_percent": None, "pr_links": []}
    a = add_item(tenant.slug, p.id, **base)
    add_pr(tenant.slug, p.id, [a], ci_status="success", dmt_signoff=True, coverage_percent=85.0)
    b = add_item(tenant.slug, p.id, **(base | {"dmt_signoff": True}))
    pr_b = add_pr(tenant.slug, p.id, [b], ci_status="failure")
    with tenant_session(tenant.slug) as s:
        s.add(CoverageEvidence(pull_request_id=pr_b, coverage_percent=88.0, build_url="https://ci/9",
                               build_status="success"))
        s.commit()
    c = add_item(tenant.slug, p.id, **(base | {"dmt_signoff": True}))
    add_pr(tenant.slug, p.id, [c], ci_status="failure", coverage_percent=50.0)
    evaluate_compliance(tenant.slug)
    assert flags_of(tenant.slug, a) == {}
    assert flags_of(tenant.slug, b) == {}
    assert set(flags_of(tenant.slug, c)) == {"missing_ci_evidence", "low_coverage"}


def test_approved_exception_satisfies_testing_rules_warns_before_expiry_and_notifies(tenant) -> None:
    p = make_project(tenant, exception_warning_days=7)
    lead = make_user(tenant, p, "tech_lead")
    fields = compliant_fields() | {"unit_testing_status": "not_started", "has_unit_test_task": False,
                                   "coverage_percent": 10.0}
    i = add_item(tenant.slug, p.id, **fields)
    evaluate_and_alert(tenant.slug)
    assert set(flags_of(tenant.slug, i)) == {"unit_testing_not_done", "missing_unit_test_task", "low_coverage"}
    approve_exception(tenant.slug, i, approved_by="Ada Lovelace", reason="legacy module, tests next sprint",
                      expires_at=NOW + timedelta(days=30), actor=Actor(user_id=lead, email="lead@example.com"))
    flags = flags_of(tenant.slug, i)
    assert {k for k, f in flags.items() if f.status == "open"} == set()
    assert item(tenant.slug, i).dmt_compliant is True
    with public_session() as s:
        notes = s.exec(select(Notification).where(Notification.user_id == lead)).all()
    assert sorted(n.kind for n in notes) == ["critical_flags", "exception_approved"]
    # A second exception expiring within the warning window raises exception_expiring.
    approve_exception(tenant.slug, i, approved_by="Ada Lovelace", reason="short one",
                      expires_at=NOW + timedelta(days=3), actor=Actor(user_id=lead, email="lead@example.com"))
    flags = flags_of(tenant.slug, i)
    assert flags["exception_expiring"].status == "open" and flags["exception_expiring"].severity == "low"
    assert item(tenant.slug, i).dmt_compliant is True  # a warning, not a failure


def test_exception_fields_from_the_tool_are_honoured_and_expired_ones_are_not(tenant) -> None:
    p = make_project(tenant)
    fields = compliant_fields() | {"unit_testing_status": "not_started", "exception_approved_by": "Grace"}
    valid = add_item(tenant.slug, p.id, **(fields | {"exception_expires_at": NOW + timedelta(days=60)}))
    expired = add_item(tenant.slug, p.id, **(fields | {"exception_expires_at": NOW - timedelta(days=1)}))
    evaluate_compliance(tenant.slug)
    assert flags_of(tenant.slug, valid) == {}
    assert set(flags_of(tenant.slug, expired)) == {"unit_testing_not_done"}


def test_new_critical_flags_make_one_notification_per_user_per_evaluation(tenant) -> None:
    p = make_project(tenant)
    lead = make_user(tenant, p, "tech_lead")
    pm = make_user(tenant, p, "project_manager")
    viewer = make_user(tenant, p, "viewer")
    dev_user = make_user(tenant)
    dev = make_identity(tenant.slug, "Dev", user_id=dev_user)
    for _ in range(3):
        add_item(tenant.slug, p.id, assignee_identity_id=dev, **(compliant_fields() | {"pr_links": []}))
    add_item(tenant.slug, p.id, **(compliant_fields() | {"pr_links": []}))
    evaluate_and_alert(tenant.slug)
    with public_session() as s:
        notes = s.exec(select(Notification).where(Notification.tenant_id == tenant.id)).all()
    by_user = {n.user_id: n for n in notes}
    assert len(notes) == 3 and set(by_user) == {lead, pm, dev_user} and viewer not in by_user
    assert by_user[lead].data["count"] == 4 and by_user[dev_user].data["count"] == 3
    assert by_user[lead].kind == "critical_flags" and by_user[lead].severity == "critical"
    evaluate_and_alert(tenant.slug)
    with public_session() as s:
        assert len(s.exec(select(Notification).where(Notification.tenant_id == tenant.id)).all()) == 3


def test_an_evaluation_returns_its_new_critical_flags_and_notifies_nobody(tenant) -> None:
    p = make_project(tenant)
    make_user(tenant, p, "tech_lead")
    dev_user = make_user(tenant)
    dev = make_identity(tenant.slug, "Dev", user_id=dev_user)
    for _ in range(2):
        add_item(tenant.slug, p.id, assignee_identity_id=dev, **(compliant_fields() | {"pr_links": []}))
    add_item(tenant.slug, p.id, **(compliant_fields() | {"pr_links": []}))
    result = evaluate_compliance(tenant.slug)
    assert result.new_critical == 3
    assert sorted(result.new_critical_flags, key=lambda g: g.count) == [
        NewCriticalFlags(project_id=p.id, assignee_user_id=None, count=1),
        NewCriticalFlags(project_id=p.id, assignee_user_id=dev_user, count=2),
    ]
    with public_session() as s:
        assert s.exec(select(Notification).where(Notification.tenant_id == tenant.id)).all() == []
    assert evaluate_compliance(tenant.slug).new_critical_flags == ()  # nothing new the second time


def test_incremental_evaluation_only_touches_the_given_items(tenant) -> None:
    p = make_project(tenant)
    a = add_item(tenant.slug, p.id, **(compliant_fields() | {"pr_links": []}))
    b = add_item(tenant.slug, p.id, **(compliant_fields() | {"pr_links": []}))
    r = evaluate_compliance(tenant.slug, [a])
    assert r.evaluated_items == 1 and r.opened == 1
    assert flags_of(tenant.slug, b) == {} and item(tenant.slug, b).dmt_compliant is None
    update_item(tenant.slug, a, pr_links=["https://x/pull/2"])
    r = evaluate_compliance(tenant.slug, [a])
    assert r.resolved == 1
    assert evaluate_compliance(tenant.slug, []).evaluated_items == 0


def test_deleted_or_reopened_items_lose_their_open_flags(tenant) -> None:
    p = make_project(tenant)
    a = add_item(tenant.slug, p.id, **(compliant_fields() | {"pr_links": []}))
    b = add_item(tenant.slug, p.id, **(compliant_fields() | {"pr_links": []}))
    evaluate_compliance(tenant.slug)
    update_item(tenant.slug, a, is_deleted=True)
    update_item(tenant.slug, b, status_category="todo")
    r = evaluate_compliance(tenant.slug)
    assert r.resolved == 2
    assert item(tenant.slug, b).dmt_compliant is None and item(tenant.slug, b).compliance_failures == []
