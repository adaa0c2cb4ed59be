"""Shared builders for the compliance, metrics, insights and notification tests (no tests here)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from models.db import public_session, tenant_session
from models.public import Project, User, UserProjectRole
from models.tenant import DeveloperIdentity, PullRequest, Sprint, WorkItem, WorkItemPullRequest

NOW = datetime.now(UTC).replace(microsecond=0)


def make_project(tenant: Any, **kwargs: Any) -> Project:
    with public_session() as s:
        p = Project(tenant_id=tenant.id, key=kwargs.pop("key", f"P{uuid.uuid4().hex[:6]}"), name="Proj", **kwargs)
        s.add(p)
        s.commit()
        s.refresh(p)
        return p


def make_user(tenant: Any, project: Project | None = None, role: str | None = None, email: str | None = None) -> int:
    with public_session() as s:
        u = User(email=email or f"u{uuid.uuid4().hex[:8]}@example.com", password_hash="x", tenant_id=tenant.id)
        s.add(u)
        s.commit()
        s.refresh(u)
        if project is not None and role:
            s.add(UserProjectRole(user_id=u.id, project_id=project.id, role=role))
            s.commit()
        return u.id or 0


def make_identity(slug: str, name: str = "Dev", user_id: int | None = None, email: str | None = None) -> int:
    with tenant_session(slug) as s:
        i = DeveloperIdentity(display_name=name, user_id=user_id, primary_email=email)
        s.add(i)
        s.commit()
        return i.id or 0


def compliant_fields() -> dict[str, Any]:
    """DMT fields of an item that passes every rule (given a linked PR)."""
    return {
        "ac_quality": "testable",
        "has_unit_test_task": True,
        "unit_testing_status": "done",
        "coverage_percent": 91.0,
        "ci_evidence_url": "https://ci.example.com/build/1",
        "dmt_signoff": True,
        "pr_links": ["https://github.com/o/r/pull/1"],
    }


def add_item(slug: str, project_id: int, **fields: Any) -> int:
    data: dict[str, Any] = {
        "source_id": 1,
        "project_id": project_id,
        "source_type": "jira",
        "source_item_id": uuid.uuid4().hex[:12],
        "status_category": "done",
        "updated_at_source": NOW - timedelta(days=1),
    }
    data.update(fields)
    with tenant_session(slug) as s:
        item = WorkItem(**data)
        s.add(item)
        s.commit()
        return item.id or 0


def update_item(slug: str, item_id: int, **fields: Any) -> None:
    with tenant_session(slug) as s:
        item = s.get(WorkItem, item_id)
        assert item is not None
        for k, v in fields.items():
            setattr(item, k, v)
        s.add(item)
        s.commit()


def add_pr(slug: str, project_id: int, item_ids: list[int] | None = None, **fields: Any) -> int:
    data: dict[str, Any] = {
        "source_id": 2,
        "project_id": project_id,
        "source_type": "github",
        "source_pr_id": uuid.uuid4().hex[:12],
    }
    data.update(fields)
    with tenant_session(slug) as s:
        pr = PullRequest(**data)
        s.add(pr)
        s.flush()
        for item_id in item_ids or []:
            s.add(WorkItemPullRequest(work_item_id=item_id, pull_request_id=pr.id))
        s.commit()
        return pr.id or 0


def add_sprint(slug: str, project_id: int, name: str, start: datetime, end: datetime, **fields: Any) -> int:
    with tenant_session(slug) as s:
        sp = Sprint(project_id=project_id, name=name, start_date=start, end_date=end, **fields)
        s.add(sp)
        s.commit()
        return sp.id or 0
