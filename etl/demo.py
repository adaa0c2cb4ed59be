"""Demo history: a realistic, deterministic project history loaded through the real load path.

    load_demo_history("acme", project_id=1, work_item_source_id=1, pull_request_source_id=2, seed=42)

Generates NORMALISED records (what a connector's normaliser returns) for
13 two-week sprints (12 closed, the active one) plus a planned future
sprint: about 400 work items and 300 pull requests, with every DMT state
represented: compliant items, each kind of rule failure, approved exceptions
(rows in tenant.dmt_exceptions, some expiring soon, one expired), blocked
and reopened items, bugs, PRs merged without review and unlinked chores.
The records go through `etl.loader` exactly as a sync's would, then
compliance and metrics are computed the same way.

The same seed gives the same history; dates are anchored on the current
day (`now` can be given to pin them), so dashboards always show a current
sprint. Loading twice on the same day changes nothing.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from etl.compliance import evaluate_compliance
from etl.connectors.base import NormalizedPullRequest, NormalizedWorkItem
from etl.loader import LoadResult, load_pull_requests, load_work_items
from etl.metrics import rebuild_metrics
from etl.sync import call_quietly
from models.base import utcnow
from models.db import public_session, tenant_schema_of, tenant_session
from models.enums import SyncKind, SyncStatus
from models.public import Project, SourceConfig
from models.tenant import SyncRun

log = logging.getLogger(__name__)

SPRINT_DAYS = 14
BATCH = 1000

DEVELOPERS = (
    ("Amara Okafor", "amara.okafor", "amokafor"),
    ("Bruno Costa", "bruno.costa", "bcosta"),
    ("Chen Wei", "chen.wei", "chenwei-dev"),
    ("Dana Kowalski", "dana.kowalski", "dkowalski"),
    ("Elif Demir", "elif.demir", "elifd"),
    ("Farid Haddad", "farid.haddad", "fhaddad"),
    ("Grace Lindqvist", "grace.lindqvist", "glindqvist"),
    ("Hugo Martin", "hugo.martin", "jmorales-dev"),  # GitHub login with no public e-mail: maps by hand
)
APPROVERS = ("Priya Nair (QA lead)", "Tom Becker (Engineering manager)")
FEATURES = (
    "checkout", "search", "login", "billing", "invoices", "notifications", "reports", "profile",
    "onboarding", "exports", "audit trail", "permissions", "dashboard", "API tokens", "webhooks",
)  # fmt: skip
VERBS = ("Add", "Improve", "Fix", "Refactor", "Support", "Validate", "Speed up", "Localise")

#: What a done item demonstrates, with its weight.
ARCHETYPES = (
    ("compliant", 48),
    ("missing_ac_quality", 6),
    ("missing_unit_test_task", 5),
    ("unit_testing_not_done", 5),
    ("low_coverage", 7),
    ("missing_pr_link", 5),
    ("missing_ci_evidence", 5),
    ("missing_dmt_signoff", 6),
    ("exception_approved", 5),
    ("exception_expiring", 3),
    ("exception_expired", 2),
    ("several_failures", 3),
)


@dataclass
class DemoException:
    source_item_id: str
    approved_by: str
    reason: str
    expires_at: datetime
    created_at: datetime


@dataclass
class DemoHistory:
    items: list[NormalizedWorkItem] = field(default_factory=list)
    pull_requests: list[NormalizedPullRequest] = field(default_factory=list)
    exceptions: list[DemoException] = field(default_factory=list)
    sprint_names: list[str] = field(default_factory=list)


@dataclass
class DemoSummary:
    sprints: int
    work_items: LoadResult
    pull_requests: LoadResult
    exceptions: int


def _anchor(now: datetime | None) -> datetime:
    now = (now or utcnow()).astimezone(UTC)
    monday = now - timedelta(days=now.weekday())
    return monday.replace(hour=9, minute=0, second=0, microsecond=0)


def generate_demo_history(seed: int, project_key: str = "DEMO", sprints: int = 13, now: datetime | None = None) -> DemoHistory:
    """The demo records for one project: a pure function of (seed, key, sprints, week of `now`)."""
    rnd = random.Random(seed)
    anchor = _anchor(now)
    # "Now" to the day, so that two loads on the same day produce the same records.
    current = (now or utcnow()).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    # The active sprint started last Monday-ish: it contains `current`.
    active_start = anchor - timedelta(days=7)
    starts = [active_start - timedelta(days=SPRINT_DAYS * (sprints - 1 - i)) for i in range(sprints + 1)]
    names = [f"{project_key} Sprint {i + 1}" for i in range(sprints + 1)]
    history = DemoHistory(sprint_names=names)
    base_url = f"https://{project_key.lower()}.atlassian.example"
    repo = f"acme/{project_key.lower()}-service"
    item_no = 0
    pr_no = 0
    carried: list[tuple[NormalizedWorkItem, int]] = []

    def dev() -> tuple[str, str, str]:
        return DEVELOPERS[rnd.randrange(len(DEVELOPERS))]

    for s, start in enumerate(starts):
        end = start + timedelta(days=SPRINT_DAYS)
        state = "closed" if end <= current else ("active" if start <= current else "future")
        count = rnd.randint(26, 34) if state != "future" else rnd.randint(12, 16)
        for _ in range(count):
            item_no += 1
            name, user, login = dev()
            key = f"{project_key}-{item_no}"
            kind = rnd.choices(["story", "bug", "task", "subtask"], weights=[60, 20, 15, 5])[0]
            feature = rnd.choice(FEATURES)
            title = (
                f"{feature.capitalize()} fails when {rnd.choice(['the session expires', 'input is empty', 'two users edit'])}"
                if kind == "bug"
                else f"{rnd.choice(VERBS)} {feature}"
            )
            created = start - timedelta(days=rnd.randint(0, 20), hours=rnd.randint(0, 8))
            points = float(rnd.choice([1, 2, 3, 3, 5, 5, 8, 13])) if kind in ("story", "bug") else None
            item: dict[str, Any] = {
                "source_item_id": str(10_000 + item_no),
                "item_key": key,
                "url": f"{base_url}/browse/{key}",
                "item_type": kind,
                "title": title,
                "priority": rnd.choices(["Highest", "High", "Medium", "Low"], weights=[5, 25, 55, 15])[0],
                "story_points": points,
                "labels": sorted({feature.split()[0], rnd.choice(["backend", "frontend", "api"])}),
                "sprint_name": names[s],
                "sprint_source_id": str(100 + s),
                "sprint_state": state,
                "sprint_start": start,
                "sprint_end": end,
                "sprint_history": [names[s]],
                "assignee_name": name,
                "assignee_email": f"{user}@acme.example",
                "assignee_account_id": f"557058:{seed % 1000:03d}{DEVELOPERS.index((name, user, login)):02d}",
                "created_at_source": created,
                "reopened_count": 0,
                "is_blocked": False,
                "blocked_hours": 0.0,
                "links": [],
                "pr_links": [],
            }
            # Where the item is in its life.
            if state == "closed":
                phase = "done" if rnd.random() < 0.9 else "carried"
            elif state == "active":
                elapsed = (current - start) / timedelta(days=SPRINT_DAYS)
                phase = rnd.choices(["done", "in_progress", "todo"], weights=[max(elapsed, 0.1), 0.45, 0.3])[0]
            else:
                phase = "todo"
            started = start + timedelta(days=rnd.uniform(0, 5))
            done = started + timedelta(days=rnd.uniform(0.5, 7.5))
            if phase == "done":
                done = min(done, end - timedelta(hours=2), current - timedelta(hours=1))
                started = min(started, done - timedelta(hours=4))
            if phase == "carried":
                carried.append((item, s))  # type: ignore[arg-type]
                item.update(status="In Progress", status_category="in_progress", started_at=started)
            elif phase == "done":
                item.update(status="Done", status_category="done", started_at=started, done_at=done)
            elif phase == "in_progress":
                item.update(status=rnd.choice(["In Progress", "In Review"]), status_category="in_progress", started_at=min(started, current))
            else:
                item.update(status="To Do", status_category="todo")
            # Blocked time and reopened items.
            if phase != "todo" and rnd.random() < 0.12:
                hours = round(rnd.uniform(4, 72), 1)
                item["blocked_hours"] = hours
                item["blocked_reason"] = rnd.choice(["Waiting for API credentials", "Upstream bug", "Needs design decision", "Test environment down"])
            if phase == "in_progress" and state == "active" and rnd.random() < 0.25:
                item.update(is_blocked=True, blocked_since=current - timedelta(hours=rnd.randint(5, 60)))
                item["blocked_reason"] = item.get("blocked_reason") or "Waiting on another team"
            if phase == "done" and rnd.random() < 0.08:
                item["reopened_count"] = rnd.randint(1, 2)
            pr_no = _dmt_fields(rnd, item, phase, history, pr_no, repo, login, name, user, current)
            item["updated_at_source"] = max(
                t for t in (item.get("done_at"), item.get("started_at"), item.get("blocked_since"), created) if t
            ) + timedelta(minutes=rnd.randint(1, 90))
            history.items.append(item)  # type: ignore[arg-type]
        # Items not finished in a closed sprint move to the next one and finish there.
        for item, from_sprint in [c for c in carried if c[1] == s - 1]:
            nxt = s
            nxt_state = "closed" if starts[nxt] + timedelta(days=SPRINT_DAYS) <= current else "active"
            done_at = min(starts[nxt] + timedelta(days=rnd.uniform(1, 6)), current - timedelta(hours=1))
            item.update(
                sprint_name=names[nxt], sprint_source_id=str(100 + nxt), sprint_state=nxt_state,
                sprint_start=starts[nxt], sprint_end=starts[nxt] + timedelta(days=SPRINT_DAYS),
                sprint_history=[names[from_sprint], names[nxt]], status="Done", status_category="done", done_at=done_at,
            )  # fmt: skip
            item["updated_at_source"] = done_at + timedelta(minutes=30)
            dev_name, dev_user = item["assignee_name"], item["assignee_email"].split("@")[0]
            dev_login = next(d[2] for d in DEVELOPERS if d[0] == dev_name)
            pr_no = _dmt_fields(rnd, item, "done", history, pr_no, repo, dev_login, dev_name, dev_user, current)
    # Chores: PRs that name no work item (dependency bumps, CI tweaks).
    for _ in range(max(8, sprints)):
        pr_no += 1
        name, user, login = dev()
        created = starts[0] + timedelta(days=rnd.uniform(0, SPRINT_DAYS * sprints))
        created = min(created, current - timedelta(days=1))
        history.pull_requests.append(
            _pr(rnd, pr_no, repo, f"chore: bump {rnd.choice(['httpx', 'pydantic', 'ruff', 'node'])}", None,
                login, name, user, created, merged=created + timedelta(hours=5), ci="success", signoff=False, reviewed=rnd.random() < 0.5)
        )  # fmt: skip
    return history


def _dmt_fields(
    rnd: random.Random,
    item: dict[str, Any],
    phase: str,
    history: DemoHistory,
    pr_no: int,
    repo: str,
    login: str,
    name: str,
    user: str,
    current: datetime,
) -> int:
    """Fill the DMT fields (and the PRs) of an item according to a drawn archetype."""
    reviewer = DEVELOPERS[(DEVELOPERS.index(next(d for d in DEVELOPERS if d[2] == login)) + 1) % len(DEVELOPERS)]
    if phase == "todo":
        item.update(ac_quality=rnd.choice(["testable", "missing", None]), has_unit_test_task=rnd.random() < 0.5)
        return pr_no
    if phase in ("in_progress", "carried"):
        item.update(
            ac_quality=rnd.choice(["testable", "testable", "not_testable"]),
            has_unit_test_task=True,
            unit_testing_status=rnd.choice(["not_started", "in_progress"]),
        )
        if rnd.random() < 0.5:
            pr_no += 1
            created = min(item["started_at"] + timedelta(days=1), current - timedelta(hours=2))
            history.pull_requests.append(
                _pr(rnd, pr_no, repo, f"{item['item_key']}: {item['title']}", item["item_key"], login, name, user,
                    created, merged=None, ci=rnd.choice(["pending", "success", "failure"]), signoff=False, reviewed=rnd.random() < 0.5)
            )  # fmt: skip
        return pr_no
    archetype = rnd.choices([a for a, _ in ARCHETYPES], weights=[w for _, w in ARCHETYPES])[0]
    fails = {archetype} if archetype != "several_failures" else set(rnd.sample(
        ["missing_ac_quality", "unit_testing_not_done", "low_coverage", "missing_ci_evidence", "missing_dmt_signoff"], 3))  # fmt: skip
    done = item["done_at"]
    build = f"https://ci.acme.example/{repo}/builds/{rnd.randint(10_000, 99_999)}"
    item.update(
        ac_quality="testable" if "missing_ac_quality" not in fails else rnd.choice(["missing", "not_testable"]),
        has_unit_test_task="missing_unit_test_task" not in fails,
        unit_testing_status="done",
        coverage_percent=round(rnd.uniform(81, 97), 1),
        ci_evidence_url=None if "missing_ci_evidence" in fails else (build if rnd.random() < 0.5 else None),
        dmt_signoff="missing_dmt_signoff" not in fails and rnd.random() < 0.4,
    )
    if item["dmt_signoff"]:
        item["dmt_signoff_by"] = reviewer[0]
    if "unit_testing_not_done" in fails:
        item["unit_testing_status"] = rnd.choice(["in_progress", "not_started"])
    if "low_coverage" in fails:
        item["coverage_percent"] = round(rnd.uniform(35, 74), 1) if rnd.random() < 0.8 else None
    if archetype.startswith("exception_"):
        # Tests postponed under an approved exception: testing unfinished, coverage low.
        item.update(unit_testing_status="in_progress", coverage_percent=round(rnd.uniform(20, 60), 1))
        expires = {
            "exception_approved": current + timedelta(days=rnd.randint(30, 90)),
            "exception_expiring": current + timedelta(days=rnd.randint(1, 5)),
            "exception_expired": current - timedelta(days=rnd.randint(2, 20)),
        }[archetype]
        approver = rnd.choice(APPROVERS)
        reason = rnd.choice([
            "Hotfix for a production incident; regression tests follow in the next sprint.",
            "Legacy module without a test harness; covered by the migration epic.",
            "Third-party SDK cannot be mocked yet; contract tests planned.",
        ])  # fmt: skip
        history.exceptions.append(DemoException(item["source_item_id"], approver, reason, expires, done - timedelta(hours=3)))
        if rnd.random() < 0.5:  # some teams also record it in the tool's fields
            item.update(exception_approved_by=approver, exception_reason=reason, exception_expires_at=expires)
    if "missing_pr_link" in fails:
        return pr_no
    for n in range(1 if rnd.random() < 0.85 else 2):
        pr_no += 1
        created = item["started_at"] + timedelta(hours=rnd.uniform(4, 40))
        merged = max(created + timedelta(hours=2), done - timedelta(hours=rnd.uniform(1, 6)))
        ci = None if "missing_ci_evidence" in fails else rnd.choices(["success", "failure"], weights=[92, 8])[0]
        pr = _pr(
            rnd, pr_no, repo, f"{item['item_key']}: {item['title']}" + (" (follow-up)" if n else ""), item["item_key"],
            login, name, user, created, merged=merged, ci=ci,
            signoff="missing_dmt_signoff" not in fails and not item["dmt_signoff"], reviewed=rnd.random() < 0.93,
            reviewer=reviewer,
        )  # fmt: skip
        if ci == "failure" and not item.get("ci_evidence_url"):
            item["ci_evidence_url"] = build  # a later green build recorded on the item
        history.pull_requests.append(pr)
        if rnd.random() < 0.4:
            item["pr_links"] = [*item["pr_links"], pr["url"]]
    return pr_no


def _pr(
    rnd: random.Random,
    number: int,
    repo: str,
    title: str,
    key: str | None,
    login: str,
    name: str,
    user: str,
    created: datetime,
    *,
    merged: datetime | None,
    ci: str | None,
    signoff: bool,
    reviewed: bool,
    reviewer: tuple[str, str, str] | None = None,
) -> NormalizedPullRequest:
    reviewer = reviewer or DEVELOPERS[rnd.randrange(len(DEVELOPERS))]
    first_review = created + timedelta(hours=rnd.uniform(0.5, 30)) if reviewed else None
    if merged is not None and first_review is not None and first_review > merged:
        first_review = merged - timedelta(minutes=30)
    approved = first_review + timedelta(hours=rnd.uniform(0.2, 6)) if first_review else None
    if merged is not None and approved is not None and approved > merged:
        approved = merged - timedelta(minutes=10)
    branch = f"feature/{key.lower()}" if key else f"chore/{number}"
    no_email = login == "jmorales-dev"
    return {
        "source_pr_id": str(900_000 + number),
        "number": number,
        "repository": repo,
        "title": title[:300],
        "body": f"Implements {key}.\n\nTesting: unit tests added." if key else "Routine maintenance.",
        "url": f"https://github.example/{repo}/pull/{number}",
        "state": "merged" if merged else "open",
        "is_draft": merged is None and rnd.random() < 0.2,
        "author_login": login,
        "author_email": None if no_email else f"{user}@acme.example",
        "author_name": name,
        "source_branch": branch,
        "target_branch": "main",
        "created_at_source": created,
        "updated_at_source": (merged or first_review or created) + timedelta(minutes=5),
        "first_review_at": first_review,
        "approved_at": approved,
        "merged_at": merged,
        "closed_at": merged,
        "reviewers": (
            [{"login": reviewer[2], "name": reviewer[0], "email": f"{reviewer[1]}@acme.example", "state": "APPROVED",
              "submitted_at": approved.isoformat() if approved else None}]
            if reviewed else []
        ),
        "review_count": 1 if reviewed else 0,
        "approvals_count": 1 if reviewed and approved else 0,
        "comments_count": rnd.randint(0, 12),
        "commits_count": rnd.randint(1, 9),
        "additions": rnd.randint(5, 600),
        "deletions": rnd.randint(0, 250),
        "ci_status": ci,
        "ci_url": f"https://ci.acme.example/{repo}/runs/{number}" if ci else None,
        "dmt_signoff": signoff,
        "dmt_signoff_by": reviewer[0] if signoff else None,
        "linked_keys": [key] if key else [],
        "raw_data": {"demo": True, "number": number},
    }


def _batches(records: list[Any], size: int = BATCH) -> Iterator[list[Any]]:
    for i in range(0, len(records), size):
        yield records[i : i + size]


def load_demo_history(
    tenant_slug: str,
    project_id: int,
    work_item_source_id: int,
    pull_request_source_id: int | None = None,
    seed: int = 42,
    *,
    sprints: int = 13,
    now: datetime | None = None,
) -> DemoSummary:
    """Generate the demo history for a project and load it through the sync's load path."""
    with public_session() as session:
        project = session.get(Project, project_id)
        wi_source = session.get(SourceConfig, work_item_source_id)
        pr_source = session.get(SourceConfig, pull_request_source_id) if pull_request_source_id else None
        if project is None or wi_source is None or wi_source.project_id != project_id:
            raise ValueError(f"source {work_item_source_id} is not a source of project {project_id}")
        if pull_request_source_id and (pr_source is None or pr_source.project_id != project_id):
            raise ValueError(f"source {pull_request_source_id} is not a source of project {project_id}")
    history = generate_demo_history(seed, project.key, sprints, now)
    items_result, prs_result = LoadResult(), LoadResult()
    started = utcnow()
    with tenant_session(tenant_slug) as session:
        for batch in _batches(history.items):
            items_result.add(load_work_items(
                session, batch, source_id=work_item_source_id, project_id=project_id, source_type=wi_source.source_type
            ))  # fmt: skip
            session.commit()
        if pr_source is not None:
            for batch in _batches(history.pull_requests):
                prs_result.add(load_pull_requests(
                    session, batch, source_id=pr_source.id or 0, project_id=project_id, source_type=pr_source.source_type
                ))  # fmt: skip
                session.commit()
        exceptions = _load_exceptions(session, work_item_source_id, history.exceptions)
        for source_id, fetched, result, is_items in (
            (work_item_source_id, len(history.items), items_result, True),
            (pull_request_source_id, len(history.pull_requests), prs_result, False),
        ):
            if source_id:
                session.add(SyncRun(
                    source_id=source_id, kind=SyncKind.DEMO, status=SyncStatus.SUCCEEDED, started_at=started,
                    finished_at=utcnow(),
                    items_fetched=fetched if is_items else 0, items_upserted=(result.inserted + result.updated) if is_items else 0,
                    prs_fetched=0 if is_items else fetched, prs_upserted=0 if is_items else result.inserted + result.updated,
                ))  # fmt: skip
        session.commit()
    call_quietly(evaluate_compliance, tenant_slug, None)
    call_quietly(rebuild_metrics, tenant_slug, None)
    log.info("demo history for %s/%s: %d items, %d PRs, %d exceptions", tenant_slug, project.key,
             len(history.items), len(history.pull_requests), exceptions)  # fmt: skip
    return DemoSummary(
        sprints=len(history.sprint_names),
        work_items=items_result,
        pull_requests=prs_result,
        exceptions=exceptions,
    )


def _load_exceptions(session: Any, source_id: int, exceptions: list[DemoException]) -> int:
    """Insert the approved exceptions once (matched by item, approver and reason)."""
    if not exceptions:
        return 0
    schema = tenant_schema_of(session)
    created = session.execute(
        sa.text(
            f"""INSERT INTO "{schema}".dmt_exceptions (work_item_id, approved_by, reason, expires_at, created_at)
                SELECT w.id, x.approved_by, x.reason, x.expires_at, x.created_at
                FROM unnest(CAST(:ids AS text[]), CAST(:by AS text[]), CAST(:reasons AS text[]),
                            CAST(:expires AS timestamptz[]), CAST(:created AS timestamptz[]))
                     AS x(source_item_id, approved_by, reason, expires_at, created_at)
                JOIN "{schema}".work_items w ON w.source_id = :source_id AND w.source_item_id = x.source_item_id
                WHERE NOT EXISTS (
                    SELECT 1 FROM "{schema}".dmt_exceptions e
                    WHERE e.work_item_id = w.id AND e.approved_by = x.approved_by AND e.reason = x.reason)"""
        ),
        {
            "ids": [e.source_item_id for e in exceptions],
            "by": [e.approved_by for e in exceptions],
            "reasons": [e.reason for e in exceptions],
            "expires": [e.expires_at for e in exceptions],
            "created": [e.created_at for e in exceptions],
            "source_id": source_id,
        },
    ).rowcount
    session.commit()
    return int(created or 0)
