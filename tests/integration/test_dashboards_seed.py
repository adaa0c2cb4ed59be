"""A small, hand-counted dataset for the dashboard, export and API isolation tests (no tests here).

Tenant layout (every figure the tests assert is derived here by hand):

    sprint S1 (closed)  done: story 3 Ann ok, story 5 Bob ok, story 8 Ann NOT ok, bug 1 Bob ok
                        not done: story 2 Cid          -> committed 19 pts / 5 items, completed 17 / 4
    sprint S2 (closed)  done: story 5 Ann ok, story 5 Cid ok                  -> committed 10, completed 10
    sprint S3 (active)  done: story 8 Bob NOT ok, task 2 Ann ok; in progress: story 5 Cid (blocked)
                                                                              -> committed 15, completed 10
    flags: missing_pr_link critical open (S1 story 8), low_coverage high open (S3 story 8),
           missing_ci_evidence medium resolved (S2 story 5 Ann)
    PRs:   org/api merged, reviewed after 2 h, merged after 10 h; org/api merged, never reviewed,
           merged after 4 h; org/api open; org/web merged, reviewed after 30 h, merged after 48 h
           (all by Ann, opened five days ago: inside S3)
    Every item was created at its sprint's start, so it counts as committed, and S1's bug was
    found inside S1's window (a defect of S1), as etl/metrics.py defines them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from models.db import tenant_session
from models.enums import ProjectRole
from models.tenant import (
    AIPrediction,
    ComplianceFlag,
    DeveloperIdentity,
    ExportJob,
    PullRequest,
    Sprint,
    WorkItem,
)
from services.audit import Actor
from services.auth import CurrentUser, authenticate
from services.projects import ProjectCreate, create_project
from services.users import UserCreate, create_user, set_project_role

NOW = datetime.now(UTC).replace(microsecond=0)
PASSWORD = "seed-password-123"
SYSTEM = Actor.system("test")


@dataclass
class Seeded:
    slug: str
    tenant_id: int
    project_id: int
    sprints: dict[str, int] = field(default_factory=dict)
    identities: dict[str, int] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)  # role -> email
    items: dict[str, int] = field(default_factory=dict)
    flags: dict[str, int] = field(default_factory=dict)
    insight_id: int = 0
    export_id: int = 0

    def user(self, role: str) -> CurrentUser:
        return authenticate(self.users[role], PASSWORD)


def _user(tenant_id: int, project_id: int, role: ProjectRole, name: str) -> str:
    email = f"{name.lower()}-{uuid.uuid4().hex[:6]}@example.com"
    u = create_user(UserCreate(email=email, password=PASSWORD, full_name=name, tenant_id=tenant_id), SYSTEM)
    set_project_role(u.id or 0, project_id, role, SYSTEM)
    return email


def seed_tenant(tenant: Any) -> Seeded:
    """Project, users (viewer, developer linked to Ann, tech lead, manager) and the data above."""
    project = create_project(
        ProjectCreate(tenant_id=tenant.id, key=f"P{uuid.uuid4().hex[:5].upper()}", name="Alpha"), SYSTEM
    )
    pid = project.id or 0
    s = Seeded(slug=tenant.slug, tenant_id=tenant.id, project_id=pid)
    s.users["viewer"] = _user(tenant.id, pid, ProjectRole.VIEWER, "Vera")
    s.users["developer"] = _user(tenant.id, pid, ProjectRole.DEVELOPER, "Ann")
    s.users["tech_lead"] = _user(tenant.id, pid, ProjectRole.TECH_LEAD, "Lee")
    s.users["project_manager"] = _user(tenant.id, pid, ProjectRole.PROJECT_MANAGER, "Pam")

    with tenant_session(tenant.slug) as db:
        ids = {}
        for name, email in (("Ann", s.users["developer"]), ("Bob", None), ("Cid", None)):
            ident = DeveloperIdentity(display_name=f"{name} Example", primary_email=email)
            db.add(ident)
            db.flush()
            ids[name] = ident.id or 0
        s.identities = ids
        spans = {"S1": (-42, -28, "closed"), "S2": (-28, -14, "closed"), "S3": (-7, 7, "active")}
        for name, (a, b, state) in spans.items():
            sp = Sprint(
                project_id=pid,
                name=name,
                state=state,
                start_date=NOW + timedelta(days=a),
                end_date=NOW + timedelta(days=b),
            )
            db.add(sp)
            db.flush()
            s.sprints[name] = sp.id or 0

        def item(label: str, sprint: str, itype: str, pts: float, who: str, done: bool, ok: bool | None, **kw: Any):
            start, end = spans[sprint][0], spans[sprint][1]
            done_at = NOW + timedelta(days=min(start + 3, end - 1) if sprint != "S3" else -2) if done else None
            if label == "s3_task":
                done_at = NOW - timedelta(days=1)
            w = WorkItem(
                source_id=1,
                project_id=pid,
                source_type="jira",
                source_item_id=uuid.uuid4().hex[:10],
                item_key=f"ALPHA-{len(s.items) + 1}",
                url=f"https://jira.example.com/browse/ALPHA-{len(s.items) + 1}",
                item_type=itype,
                title=f"{label} title",
                status="Done" if done else "In Progress",
                status_category="done" if done else "in_progress",
                story_points=pts,
                sprint_id=s.sprints[sprint],
                sprint_name=sprint,
                assignee_identity_id=ids[who],
                assignee_name=f"{who} Example",
                created_at_source=NOW + timedelta(days=start),
                started_at=(done_at - timedelta(days=2)) if done_at else NOW - timedelta(days=3),
                done_at=done_at,
                dmt_compliant=ok,
                **kw,
            )
            db.add(w)
            db.flush()
            s.items[label] = w.id or 0

        item("s1_a", "S1", "story", 3, "Ann", True, True)
        item("s1_b", "S1", "story", 5, "Bob", True, True)
        item("s1_c", "S1", "story", 8, "Ann", True, False)
        item("s1_bug", "S1", "bug", 1, "Bob", True, True)
        item("s1_open", "S1", "story", 2, "Cid", False, None)
        item("s2_a", "S2", "story", 5, "Ann", True, True)
        item("s2_c", "S2", "story", 5, "Cid", True, True)
        item("s3_b", "S3", "story", 8, "Bob", True, False)
        item("s3_task", "S3", "task", 2, "Ann", True, True)
        item("s3_open", "S3", "story", 5, "Cid", False, None, is_blocked=True, blocked_hours=10.0)

        def flag(label: str, item_label: str, rule: str, severity: str, status: str = "open") -> None:
            f = ComplianceFlag(
                work_item_id=s.items[item_label],
                project_id=pid,
                rule_id=rule,
                severity=severity,
                message=f"{rule} message",
                status=status,
                resolution="auto" if status == "resolved" else None,
                resolved_at=NOW if status == "resolved" else None,
            )
            db.add(f)
            db.flush()
            s.flags[label] = f.id or 0

        flag("critical", "s1_c", "missing_pr_link", "critical")
        flag("high", "s3_b", "low_coverage", "high")
        flag("resolved", "s2_a", "missing_ci_evidence", "medium", "resolved")

        def pr(num: int, repo: str, state: str, review_h: float | None, merge_h: float | None) -> None:
            created = NOW - timedelta(days=5)
            db.add(
                PullRequest(
                    source_id=2,
                    project_id=pid,
                    source_type="github",
                    source_pr_id=f"{repo}#{num}",
                    number=num,
                    repository=repo,
                    title=f"PR {num}",
                    state=state,
                    author_identity_id=ids["Ann"],
                    created_at_source=created,
                    first_review_at=created + timedelta(hours=review_h) if review_h is not None else None,
                    review_count=1 if review_h is not None else 0,
                    merged_at=created + timedelta(hours=merge_h) if merge_h is not None else None,
                )
            )

        pr(1, "org/api", "merged", 2, 10)
        pr(2, "org/api", "merged", None, 4)
        pr(3, "org/api", "open", None, None)
        pr(4, "org/web", "merged", 30, 48)

        db.add(
            AIPrediction(
                project_id=pid,
                kind="forecast_velocity",
                title="Velocity forecast",
                summary="next sprint",
                outputs={"velocity": {"p50": 12.0, "p85": 9.0, "mean": 11.0, "samples": 2}},
            )
        )
        ins = AIPrediction(
            project_id=pid,
            kind="developer_risk",
            title="Review load is uneven",
            summary="One developer reviews most pull requests.",
            analysis="Reviews concentrate on one person.",
            actions=["Rotate reviewers", "Pair on reviews"],
        )
        db.add(ins)
        db.flush()
        s.insight_id = ins.id or 0
        job = ExportJob(user_id=0, project_id=pid, report="sprint", file_format="csv", status="queued")
        db.add(job)
        db.flush()
        s.export_id = job.id or 0
        db.commit()
    return s
