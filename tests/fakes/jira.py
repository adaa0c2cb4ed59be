"""A faithful fake of the Jira REST API (Cloud and Server / Data Center flavours).

Payloads copy the real shapes (see tests/fixtures/jira):
nested `fields`, `status.statusCategory`, avatar and `self` URLs, custom field
ids, `changelog.histories`. Paging is the real one: Cloud `/rest/api/3/search/jql`
with an opaque `nextPageToken` and `isLast`, Server `/rest/api/2/search` with
`startAt`/`maxResults`/`total`; the search truncates changelogs longer than
`changelog_limit`; `/rest/api/3/changelog/bulkfetch` (Cloud, many issues at once) and
`/rest/api/3/issue/{id}/changelog` page the rest.

Issues are generated lazily from (seed, index), so `generate_dataset(size=100_000)`
is instant; the sorted `updated` index is built on the first search (about a
second for 100k). `update_issue` / `delete_issue` / `add_issue` change the data
between syncs.

    dataset = generate_dataset(seed=1, size=500)
    app = create_app(dataset, FaultControls(), deployment="cloud")
    parent.mount("/jira", app)          # or serve(app) from tests/fakes/server.py
"""

from __future__ import annotations

import base64
import bisect
import copy
import hashlib
import json
import random
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from tests.fakes.dmt_profile import draw_profile
from tests.fakes.server import FaultControls, install_faults

DEFAULT_PEOPLE: list[dict[str, str]] = [
    {"name": "Alice Martin", "email": "alice.martin@acme.example"},
    {"name": "Bruno Silva", "email": "bruno.silva@acme.example"},
    {"name": "Chen Wei", "email": "chen.wei@acme.example"},
    {"name": "Dana Kowalski", "email": "dana.kowalski@acme.example"},
    {"name": "Emeka Obi", "email": "emeka.obi@acme.example"},
    {"name": "Fatima Zahra", "email": "fatima.zahra@acme.example"},
    {"name": "Gustav Lind", "email": "gustav.lind@acme.example"},
    {"name": "Hana Sato", "email": "hana.sato@acme.example"},
]

# Status id, name, category key, category id, colour, category name
STATUSES: dict[str, tuple[str, str, str, int, str, str]] = {
    "todo": ("10000", "To Do", "new", 2, "blue-gray", "To Do"),
    "progress": ("3", "In Progress", "indeterminate", 4, "yellow", "In Progress"),
    "review": ("10001", "In Review", "indeterminate", 4, "yellow", "In Progress"),
    "blocked": ("10002", "Blocked", "indeterminate", 4, "yellow", "In Progress"),
    "done": ("10003", "Done", "done", 3, "green", "Done"),
}
ISSUE_TYPES = {
    "Story": ("10001", False, 0),
    "Bug": ("10004", False, 0),
    "Task": ("10002", False, 0),
    "Epic": ("10000", False, 1),
}
#: Issue type names on sites in other languages (what a Chinese Jira shows).
LOCALISED_TYPES = {"zh": {"Story": "故事", "Bug": "缺陷", "Task": "任务", "Epic": "史诗", "Sub-task": "子任务"}}
PRIORITIES = [("1", "Highest"), ("2", "High"), ("3", "Medium"), ("4", "Low"), ("5", "Lowest")]

# Custom field ids, as a real Cloud site numbers them.
F_STORY_POINTS = "customfield_10016"
F_SPRINT = "customfield_10020"
F_EPIC = "customfield_10014"
F_FLAGGED = "customfield_10021"
F_AC = "customfield_10100"
F_UNIT_STATUS = "customfield_10102"
F_COVERAGE = "customfield_10103"
F_PR = "customfield_10104"
F_CI = "customfield_10105"
F_SIGNOFF = "customfield_10106"
F_EXC_BY = "customfield_10107"
F_EXC_REASON = "customfield_10108"
F_EXC_EXPIRY = "customfield_10109"

OPTION_FIELDS: dict[str, list[tuple[str, str]]] = {
    F_AC: [("10300", "Testable"), ("10301", "Not Testable"), ("10302", "Missing")],
    F_UNIT_STATUS: [("10310", "Done"), ("10311", "In Progress"), ("10312", "Not Started"), ("10313", "N/A")],
    F_SIGNOFF: [("10320", "Signed off")],
    F_FLAGGED: [("10019", "Impediment")],
}

#: The mapping a tenant would save for this fake (what discover_fields proposes).
FIELD_MAPPINGS: dict[str, Any] = {
    "story_points": {"field": F_STORY_POINTS},
    "sprint": {"field": F_SPRINT},
    "epic": {"field": F_EPIC},
    "ac_quality": {
        "field": F_AC,
        "values": {"Testable": "testable", "Not Testable": "not_testable", "Missing": "missing"},
    },
    "unit_testing_status": {
        "field": F_UNIT_STATUS,
        "values": {"Done": "done", "In Progress": "in_progress", "Not Started": "not_started", "N/A": "not_applicable"},
    },
    "coverage": {"field": F_COVERAGE},
    "pr_links": {"field": F_PR},
    "ci_evidence": {"field": F_CI},
    "dmt_signoff": {"field": F_SIGNOFF},
    "exception_approved_by": {"field": F_EXC_BY},
    "exception_reason": {"field": F_EXC_REASON},
    "exception_expires_at": {"field": F_EXC_EXPIRY},
}

SPRINT_DAYS = 14
SPRINT_COUNT = 13  # ~6 months


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _account_id(email: str) -> str:
    return "5b10" + hashlib.sha1(email.encode()).hexdigest()[:20]  # noqa: S324 - an id, not security


@dataclass
class _Plan:
    """The cheap skeleton of one issue: enough to sort and filter without building JSON."""

    created: datetime
    sprint_idx: int | None  # index into the dataset's sprints (None: backlog)
    carried: bool  # also sat in the previous sprint
    events: list[tuple[datetime, str, Any, Any]]  # (at, kind, from, to); kind: status/flag/label/sprint
    final_status: str
    flagged_now: bool
    updated: datetime


@dataclass
class JiraDataset:
    """Lazy, seeded Jira data for one project plus the edits made since."""

    seed: int
    size: int
    project_key: str = "ACME"
    people: list[dict[str, str]] = field(default_factory=lambda: list(DEFAULT_PEOPLE))
    start: datetime | None = None
    token: str = "jira-api-token"
    api_user_email: str = ""
    time_zone: str = "America/Los_Angeles"
    changelog_limit: int = 20
    project_id: str = "10000"
    #: Cloud's POST /rest/api/3/changelog/bulkfetch; False: a site answering 404 there (the connector falls back).
    bulk_changelog: bool = True
    #: The site's language: "zh" names issue types as a Chinese site does ("故事", "缺陷"); /issuetype
    #: still gives each type's untranslatedName.
    language: str = "en"

    def __post_init__(self) -> None:
        if self.start is None:
            today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            self.start = today - timedelta(days=SPRINT_DAYS * (SPRINT_COUNT - 1) + 7)
        self.start = self.start.astimezone(UTC)
        # Everything generated happened at or before as_of: mid last sprint, in the past.
        self.as_of = self.start + timedelta(days=SPRINT_DAYS * (SPRINT_COUNT - 1) + 6)
        self.api_user_email = self.api_user_email or self.people[0]["email"]
        self._start_ts = self.start.timestamp()
        self._as_of_ts = self.as_of.timestamp()
        self.tz = ZoneInfo(self.time_zone)
        self.sprints = [
            {
                "id": 1 + k,
                "name": f"{self.project_key} Sprint {k + 1}",
                "state": "closed"
                if self.start + timedelta(days=SPRINT_DAYS * (k + 1)) <= self.as_of
                else ("active" if self.start + timedelta(days=SPRINT_DAYS * k) <= self.as_of else "future"),
                "boardId": 1,
                "goal": "",
                "startDate": self.start + timedelta(days=SPRINT_DAYS * k),
                "endDate": self.start + timedelta(days=SPRINT_DAYS * (k + 1)),
            }
            for k in range(SPRINT_COUNT)
        ]
        self._sprint_ts = [sp["startDate"].timestamp() for sp in self.sprints]
        self._started_sprints = [k for k, sp in enumerate(self.sprints) if sp["startDate"] <= self.as_of]
        self._overrides: dict[int, dict[str, Any]] = {}
        self._deleted: set[int] = set()
        self._added = 0
        self._index: list[tuple[int, int]] | None = None
        self._updated_of: dict[int, int] = {}
        self._lock = threading.RLock()
        self._malformed_pages = 0

    def type_name(self, english: str) -> str:
        """An issue type's name as the site shows it (its language)."""
        return LOCALISED_TYPES.get(self.language, {}).get(english, english)

    # -- people ---------------------------------------------------------------
    def user(self, person: dict[str, str], base: str, *, with_email: bool = True) -> dict[str, Any]:
        account = _account_id(person["email"])
        initials = "".join(p[0] for p in person["name"].split()[:2]).upper()
        avatar = f"https://avatar-management--avatars.us-west-2.prod.public.atl-paas.net/initials/{initials}-5.png"
        user: dict[str, Any] = {
            "self": f"{base}/rest/api/3/user?accountId={account}",
            "accountId": account,
            "avatarUrls": {f"{s}x{s}": f"{avatar}?size={s}&s={s}" for s in (48, 24, 16, 32)},
            "displayName": person["name"],
            "active": True,
            "timeZone": self.time_zone,
            "accountType": "atlassian",
        }
        if with_email:
            user["emailAddress"] = person["email"]
        return user

    def fmt(self, dt: datetime | None) -> str | None:
        """Jira's timestamp format, in the API user's zone: 2024-01-01T10:00:00.000-0800."""
        if dt is None:
            return None
        local = dt.astimezone(self.tz)
        return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}" + local.strftime("%z")

    # -- generation -----------------------------------------------------------
    def _rng(self, index: int) -> random.Random:
        return random.Random(self.seed * 1_000_003 + index * 7919)

    def _plan(self, rng: random.Random, index: int, *, full: bool = True) -> _Plan | float:
        """The issue's history. Arithmetic in float epoch seconds keeps a 100k index build quick;
        with full=False only the `updated` timestamp (seconds) is returned."""
        hour = 3600.0
        as_of = self._as_of_ts
        if rng.random() < 0.08:
            sprint_idx = None
            created = self._start_ts + rng.uniform(0, as_of - self._start_ts)
        else:
            sprint_idx = rng.choice(self._started_sprints)
            created = self._sprint_ts[sprint_idx] - hour * rng.uniform(2, 240)
        events: list[tuple[float, str, Any, Any]] = []
        carried = False
        status = "todo"
        flagged = False
        roll = rng.random()
        if sprint_idx is not None:
            sprint_start = self._sprint_ts[sprint_idx]
            t = sprint_start + hour * rng.uniform(1, 96)
            carried = sprint_idx > 0 and rng.random() < 0.1
            if carried:
                events.append((sprint_start, "sprint", sprint_idx - 1, sprint_idx))
            events.append((t, "status", "todo", "progress"))
            status = "progress"
            if roll < 0.12:  # flagged as impediment, usually cleared
                t += hour * rng.uniform(2, 30)
                events.append((t, "flag", None, "Impediment"))
                flagged = True
                if rng.random() < 0.75:
                    t += hour * rng.uniform(4, 72)
                    events.append((t, "flag", "Impediment", None))
                    flagged = False
            elif roll < 0.2:  # blocked through the workflow
                t += hour * rng.uniform(2, 30)
                events.append((t, "status", "progress", "blocked"))
                status = "blocked"
                if rng.random() < 0.7:
                    t += hour * rng.uniform(4, 72)
                    events.append((t, "status", "blocked", "progress"))
                    status = "progress"
            if status == "progress" and not flagged and rng.random() < 0.9:
                t += hour * rng.uniform(4, 100)
                events.append((t, "status", "progress", "review"))
                t += hour * rng.uniform(1, 48)
                events.append((t, "status", "review", "done"))
                status = "done"
                if rng.random() < 0.06:  # reopened and finished again
                    t += hour * rng.uniform(4, 72)
                    events.append((t, "status", "done", "progress"))
                    t += hour * rng.uniform(4, 48)
                    events.append((t, "status", "progress", "done"))
            if rng.random() < 0.04:  # a busy issue: long changelog the search truncates
                for _ in range(self.changelog_limit + rng.randint(5, 40)):
                    t += 60 * rng.uniform(5, 90)
                    events.append((t, "label", None, rng.choice(["backend", "frontend", "api", "ux", "infra"])))
        # Nothing can have happened after as_of: drop later events and replay the rest.
        kept = [e for e in events if e[0] <= as_of]
        updated = min(max([created] + [e[0] for e in kept]), as_of)
        if not full:
            return updated
        final, flagged_now = "todo", False
        for _, kind, _, to in kept:
            if kind == "status":
                final = to
            elif kind == "flag":
                flagged_now = to is not None

        def dt(ts: float) -> datetime:
            return datetime.fromtimestamp(ts, tz=UTC)

        return _Plan(
            dt(created),
            sprint_idx,
            carried,
            [(dt(at), kind, old, new) for at, kind, old, new in kept],
            final,
            flagged_now,
            dt(updated),
        )

    def _updated_ms(self, index: int) -> int:
        if index in self._overrides:
            return self._overrides[index]["_updated_ms"]
        return int(self._plan(self._rng(index), index, full=False) * 1000)  # type: ignore[operator]

    def index(self) -> list[tuple[int, int]]:
        """(updated ms, index) for every live issue, sorted."""
        with self._lock:
            if self._index is None:
                entries = []
                for i in range(self.size + self._added):
                    if i in self._deleted:
                        continue
                    ms = self._updated_ms(i)
                    self._updated_of[i] = ms
                    entries.append((ms, i))
                entries.sort()
                self._index = entries
            return self._index

    def key_of(self, index: int) -> str:
        return f"{self.project_key}-{index + 1}"

    def index_of(self, key_or_id: str) -> int | None:
        text = str(key_or_id)
        if text.isdigit():
            i = int(text) - 10000
        elif text.upper().startswith(self.project_key.upper() + "-") and text.split("-")[-1].isdigit():
            i = int(text.split("-")[-1]) - 1
        else:
            return None
        if 0 <= i < self.size + self._added and i not in self._deleted:
            return i
        return None

    def is_generated(self, index: int) -> bool:
        """True while the issue is exactly as generated (never edited through the API): its JSON never changes."""
        with self._lock:
            return index not in self._overrides

    def issue(self, index: int) -> dict[str, Any]:
        """The full issue (Cloud shape, base URL placeholder) with its complete changelog."""
        with self._lock:
            if index in self._overrides:
                return self._overrides[index]
        return self._build(index)

    def _build(self, index: int) -> dict[str, Any]:
        rng = self._rng(index)
        plan = self._plan(rng, index)
        assert isinstance(plan, _Plan)
        base = "{base}"
        people = self.people
        type_roll = rng.random()
        if index < min(5, self.size // 20):
            type_name = "Epic"
        else:
            type_name = "Story" if type_roll < 0.55 else ("Bug" if type_roll < 0.8 else "Task")
        type_id, subtask, level = ISSUE_TYPES[type_name]
        assignee = rng.choice(people) if rng.random() < 0.92 else None
        reporter = rng.choice(people)
        status_id, status_name, cat_key, cat_id, colour, cat_name = STATUSES[plan.final_status]
        key = self.key_of(index)
        issue_id = str(10000 + index)
        done = plan.final_status == "done"
        started = any(e[1] == "status" and e[3] == "progress" for e in plan.events)
        points = None if rng.random() < 0.12 or type_name == "Epic" else rng.choice([1, 2, 3, 5, 5, 8, 13])
        sprint_values = []
        if plan.sprint_idx is not None:
            if plan.carried:
                sprint_values.append(self._sprint_json(plan.sprint_idx - 1))
            sprint_values.append(self._sprint_json(plan.sprint_idx))
        epic_count = min(5, self.size // 20)
        epic = (
            self.key_of(rng.randrange(epic_count))
            if epic_count and type_name != "Epic" and rng.random() < 0.6
            else None
        )

        def option(field_id: str, name: str | None) -> dict[str, Any] | None:
            if name is None:
                return None
            option_id = next(o for o, v in OPTION_FIELDS[field_id] if v == name)
            return {"self": f"{base}/rest/api/3/customFieldOption/{option_id}", "value": name, "id": option_id}

        profile = draw_profile(rng, done=done, started=bool(started))
        ac = profile.ac_quality
        unit = profile.unit_testing
        coverage = None if profile.coverage is None and rng.random() < 0.5 else profile.coverage
        pr = None
        ci = None
        if profile.has_pr:
            pr_number = 100 + index
            pr = f"https://github.com/acme/shop/pull/{pr_number}"
            if rng.random() < 0.1:
                pr += f" https://github.com/acme/api/pull/{pr_number + 7}"
            if profile.has_ci:
                ci = f"https://ci.acme.example/builds/{5000 + index}"
        signoff = [option(F_SIGNOFF, "Signed off")] if profile.signed_off else None
        exception = rng.random() < 0.05
        expiry = (plan.created + timedelta(days=rng.choice([-30, 20, 60, 120]))).date() if exception else None
        fields: dict[str, Any] = {
            "statuscategorychangedate": self.fmt(
                next((e[0] for e in reversed(plan.events) if e[1] == "status"), plan.created)
            ),
            "issuetype": {
                "self": f"{base}/rest/api/3/issuetype/{type_id}",
                "id": type_id,
                "description": f"A {type_name.lower()}",
                "iconUrl": f"{base}/rest/api/2/universal_avatar/view/type/issuetype/avatar/10315?size=medium",
                "name": self.type_name(type_name),
                "subtask": subtask,
                "avatarId": 10315,
                "hierarchyLevel": level,
            },
            "timespent": None,
            "project": {
                "self": f"{base}/rest/api/3/project/{self.project_id}",
                "id": self.project_id,
                "key": self.project_key,
                "name": f"{self.project_key.title()} Shop",
                "projectTypeKey": "software",
                "simplified": False,
                "avatarUrls": {
                    f"{s}x{s}": f"{base}/rest/api/3/universal_avatar/view/type/project/avatar/10400?size={n}"
                    for s, n in ((48, "large"), (24, "small"), (16, "xsmall"), (32, "medium"))
                },
            },
            "resolution": {"self": f"{base}/rest/api/3/resolution/10000", "id": "10000", "name": "Done"}
            if done
            else None,
            "resolutiondate": self.fmt(plan.updated) if done else None,
            "created": self.fmt(plan.created),
            "updated": self.fmt(plan.updated),
            "priority": {
                "self": f"{base}/rest/api/3/priority/{PRIORITIES[2][0]}",
                "iconUrl": f"{base}/images/icons/priorities/medium.svg",
                **dict(zip(("id", "name"), rng.choice(PRIORITIES), strict=True)),
            },
            "labels": sorted({e[3] for e in plan.events if e[1] == "label"}),
            "assignee": self.user(assignee, base) if assignee else None,
            "reporter": self.user(reporter, base),
            "creator": self.user(reporter, base),
            "status": {
                "self": f"{base}/rest/api/3/status/{status_id}",
                "description": "",
                "iconUrl": f"{base}/",
                "name": status_name,
                "id": status_id,
                "statusCategory": {
                    "self": f"{base}/rest/api/3/statuscategory/{cat_id}",
                    "id": cat_id,
                    "key": cat_key,
                    "colorName": colour,
                    "name": cat_name,
                },
            },
            "summary": f"{rng.choice(['Checkout', 'Search', 'Profile', 'Cart', 'Payments', 'Login'])} "
            f"{rng.choice(['shows wrong total', 'needs pagination', 'supports SSO', 'loads slowly', 'export to CSV'])}"
            f" ({key})",
            "subtasks": [
                {
                    "id": str(900000 + index),
                    "key": f"{key}-UT",
                    "self": f"{base}/rest/api/3/issue/{900000 + index}",
                    "fields": {"summary": f"Unit tests for {key}", "issuetype": {"name": "Sub-task", "subtask": True}},
                }
            ]
            if profile.unit_test_task
            else [],
            "issuelinks": [],
            "description": {
                "type": "doc",
                "version": 1,
                "content": [{"type": "paragraph", "content": [{"type": "text", "text": "As a customer I want it."}]}],
            },
            F_STORY_POINTS: points,
            F_SPRINT: sprint_values or None,
            F_EPIC: epic,
            F_FLAGGED: [option(F_FLAGGED, "Impediment")] if plan.flagged_now else None,
            F_AC: option(F_AC, ac),
            F_UNIT_STATUS: option(F_UNIT_STATUS, unit),
            F_COVERAGE: coverage,
            F_PR: pr,
            F_CI: ci,
            F_SIGNOFF: signoff,
            F_EXC_BY: self.user(rng.choice(people), base) if exception else None,
            F_EXC_REASON: {
                "type": "doc",
                "version": 1,
                "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": "Legacy module without a test harness"}]}
                ],
            }
            if exception
            else None,
            F_EXC_EXPIRY: expiry.isoformat() if isinstance(expiry, date) else None,
        }
        histories = [self._history(index, n, e, rng.choice(people), base) for n, e in enumerate(plan.events)]
        return {
            "expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
            "id": issue_id,
            "self": f"{base}/rest/api/3/issue/{issue_id}",
            "key": key,
            "fields": fields,
            "changelog": {"startAt": 0, "maxResults": len(histories), "total": len(histories), "histories": histories},
            "_updated_ms": _ms(plan.updated),
        }

    def _sprint_json(self, k: int) -> dict[str, Any]:
        s = self.sprints[k]
        data = {
            "id": s["id"],
            "name": s["name"],
            "state": s["state"],
            "boardId": s["boardId"],
            "goal": s["goal"],
            "startDate": s["startDate"].strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "endDate": s["endDate"].strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        }
        if s["state"] == "closed":
            data["completeDate"] = s["endDate"].strftime("%Y-%m-%dT%H:%M:%S.000Z")
        return data

    def _history(
        self, index: int, n: int, event: tuple[datetime, str, Any, Any], person: dict[str, str], base: str
    ) -> dict[str, Any]:
        at, kind, old, new = event
        if kind == "status":
            item = {
                "field": "status",
                "fieldtype": "jira",
                "fieldId": "status",
                "from": STATUSES[old][0],
                "fromString": STATUSES[old][1],
                "to": STATUSES[new][0],
                "toString": STATUSES[new][1],
            }
        elif kind == "flag":
            item = {
                "field": "Flagged",
                "fieldtype": "custom",
                "fieldId": F_FLAGGED,
                "from": "[10019]" if old else None,
                "fromString": old,
                "to": "[10019]" if new else None,
                "toString": new,
            }
        elif kind == "sprint":
            item = {
                "field": "Sprint",
                "fieldtype": "custom",
                "fieldId": F_SPRINT,
                "from": str(self.sprints[old]["id"]),
                "fromString": self.sprints[old]["name"],
                "to": f"{self.sprints[old]['id']}, {self.sprints[new]['id']}",
                "toString": f"{self.sprints[old]['name']}, {self.sprints[new]['name']}",
            }
        else:
            item = {
                "field": "labels",
                "fieldtype": "jira",
                "fieldId": "labels",
                "from": None,
                "fromString": "",
                "to": None,
                "toString": new,
            }
        return {
            "id": str(100000 + index * 100 + n),
            "author": self.user(person, base),
            "created": self.fmt(at),
            "items": [item],
        }

    # -- edits between syncs -------------------------------------------------
    def _reindex(self, index: int, new_ms: int | None) -> None:
        if self._index is None:
            return
        old = self._updated_of.pop(index, None)
        if old is not None:
            pos = bisect.bisect_left(self._index, (old, index))
            if pos < len(self._index) and self._index[pos] == (old, index):
                self._index.pop(pos)
        if new_ms is not None:
            bisect.insort(self._index, (new_ms, index))
            self._updated_of[index] = new_ms

    def update_issue(
        self,
        key: str,
        *,
        summary: str | None = None,
        status: str | None = None,
        story_points: float | None = None,
        flagged: bool | None = None,
        at: datetime | None = None,
        custom: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Edit an issue as a user would (status is a STATUSES key); bumps `updated` and the changelog."""
        at = at or datetime.now(UTC)
        with self._lock:
            index = self.index_of(key)
            if index is None:
                raise KeyError(key)
            issue = copy.deepcopy(self.issue(index))
            fields = issue["fields"]
            histories = issue["changelog"]["histories"]
            person = self.people[index % len(self.people)]
            if summary is not None:
                fields["summary"] = summary
            if story_points is not None:
                fields[F_STORY_POINTS] = story_points
            old_status = next(k for k, v in STATUSES.items() if v[0] == fields["status"]["id"])
            if status is not None and status != old_status:
                old = old_status
                histories.append(self._history(index, len(histories), (at, "status", old, status), person, "{base}"))
                sid, name, cat_key, cat_id, colour, cat_name = STATUSES[status]
                fields["status"].update({"id": sid, "name": name, "self": f"{{base}}/rest/api/3/status/{sid}"})
                fields["status"]["statusCategory"].update(
                    {"id": cat_id, "key": cat_key, "colorName": colour, "name": cat_name}
                )
                fields["statuscategorychangedate"] = self.fmt(at)
                fields["resolutiondate"] = self.fmt(at) if status == "done" else None
            if flagged is not None:
                was = bool(fields.get(F_FLAGGED))
                if flagged != was:
                    histories.append(
                        self._history(
                            index,
                            len(histories),
                            (at, "flag", "Impediment" if was else None, "Impediment" if flagged else None),
                            person,
                            "{base}",
                        )
                    )
                fields[F_FLAGGED] = (
                    [{"self": "{base}/rest/api/3/customFieldOption/10019", "value": "Impediment", "id": "10019"}]
                    if flagged
                    else None
                )
            fields.update(custom or {})
            fields["updated"] = self.fmt(at)
            issue["changelog"].update({"maxResults": len(histories), "total": len(histories)})
            issue["_updated_ms"] = _ms(at)
            self._overrides[index] = issue
            self._reindex(index, issue["_updated_ms"])
            return issue

    def delete_issue(self, key: str) -> None:
        with self._lock:
            index = self.index_of(key)
            if index is None:
                raise KeyError(key)
            self._deleted.add(index)
            self._overrides.pop(index, None)
            self._reindex(index, None)

    def add_issue(self, summary: str, *, at: datetime | None = None) -> str:
        """Create a new To Do story; returns its key."""
        at = at or datetime.now(UTC)
        with self._lock:
            index = self.size + self._added
            self._added += 1
            issue = copy.deepcopy(self._build(index))
            issue["fields"]["summary"] = summary
            self._overrides[index] = issue
        self.update_issue(self.key_of(index), status="todo", at=at)
        return self.key_of(index)

    def live_count(self) -> int:
        return len(self.index())

    def break_next_search(self, count: int = 1) -> None:
        """The next `count` search pages answer 200 with a truncated, invalid JSON body."""
        with self._lock:
            self._malformed_pages += count

    def take_malformed(self) -> bool:
        with self._lock:
            if self._malformed_pages:
                self._malformed_pages -= 1
                return True
            return False


def generate_dataset(
    seed: int,
    size: int,
    project_key: str = "ACME",
    people: list[dict[str, str]] | None = None,
    start: datetime | None = None,
    **options: Any,
) -> JiraDataset:
    """A seeded project of `size` issues over ~6 months of two-week sprints (built lazily)."""
    return JiraDataset(
        seed=seed, size=size, project_key=project_key, people=list(people or DEFAULT_PEOPLE), start=start, **options
    )


# --------------------------------------------------------------------------- JQL
class JqlError(ValueError):
    pass


_CLAUSE_PROJECT = re.compile(r'^project\s*(=|in)\s*\(?\s*"?([A-Za-z0-9_]+)"?\s*\)?$', re.I)
_CLAUSE_UPDATED = re.compile(r'^(updated|updatedDate)\s*(>=|>|<=|<)\s*"?([0-9/: -]+?)"?$', re.I)


def parse_jql(jql: str, dataset: JiraDataset) -> tuple[str | None, list[tuple[str, int]], str]:
    """(project key, [(op, ms)], order field) of the JQL subset connectors send; JqlError otherwise."""
    order = "updated"
    text = jql.strip()
    match = re.search(r"\border\s+by\s+(\w+)(\s+(asc|desc))?\s*$", text, re.I)
    if match:
        order = match.group(1).lower()
        text = text[: match.start()].strip()
    project: str | None = None
    bounds: list[tuple[str, int]] = []
    for clause in re.split(r"\s+AND\s+", text, flags=re.I) if text else []:
        clause = clause.strip()
        while clause.startswith("(") and clause.endswith(")"):
            clause = clause[1:-1].strip()
        if m := _CLAUSE_PROJECT.match(clause):
            project = m.group(2)
        elif m := _CLAUSE_UPDATED.match(clause):
            raw = m.group(3).strip().replace("/", "-")
            try:
                fmt = "%Y-%m-%d %H:%M" if " " in raw else "%Y-%m-%d"
                local = datetime.strptime(raw, fmt).replace(tzinfo=dataset.tz)
            except ValueError:
                raise JqlError(f"Date value '{raw}' for field 'updated' is invalid.") from None
            bounds.append((m.group(2), _ms(local)))
        else:
            raise JqlError(f"Error in the JQL Query: the clause '{clause}' is not supported by this fake.")
    return project, bounds, order


# --------------------------------------------------------------------------- app
def create_app(dataset: JiraDataset, controls: FaultControls | None = None, *, deployment: str = "cloud") -> FastAPI:
    """The fake Jira site; deployment "cloud" (basic email:token) or "server" (bearer PAT)."""
    app = FastAPI(title=f"fake Jira {deployment}")
    if controls is not None:
        install_faults(app, controls)
    cloud = deployment == "cloud"

    def api_version(request: Request) -> str:
        return request.url.path.split("/rest/api/", 1)[-1].split("/", 1)[0]

    def base_of(request: Request) -> str:
        # root_path carries the mount prefix ("/jira") when mounted in a combined server.
        root = str(request.scope.get("root_path") or "").rstrip("/")
        return f"{request.url.scheme}://{request.url.netloc}{root}"

    def render(obj: Any, request: Request, issues_json: list[str] | None = None) -> Response:
        """The JSON answer with the {base} placeholder filled; `issues_json` (already JSON) becomes its "issues"."""
        text = json.dumps(obj, separators=(",", ":"))  # compact, as Jira answers
        if issues_json is not None:
            text = text[:-1] + ("," if len(text) > 2 else "") + '"issues":[' + ",".join(issues_json) + "]}"
        return Response(text.replace("{base}", base_of(request)), media_type="application/json")

    # A search result's JSON per (issue, fields asked, changelog expanded): generated issues never change,
    # so each is built and serialised once, like a real site's index serving a page from storage.
    search_json_cache: dict[tuple[int, frozenset[str] | None, bool], str] = {}

    def search_issue_json(index: int, wanted: set[str] | None, with_changelog: bool) -> str:
        key = (index, frozenset(wanted) if wanted is not None else None, with_changelog)
        generated = dataset.is_generated(index)  # an issue edited through the API is rendered afresh
        cached = search_json_cache.get(key) if generated else None
        if cached is not None:
            return cached
        full = dataset.issue(index)
        issue: dict[str, Any] = {
            "expand": full["expand"],
            "id": full["id"],
            "self": full["self"],
            "key": full["key"],
            "fields": server_fields({k: v for k, v in full["fields"].items() if wanted is None or k in wanted}),
        }
        if with_changelog:
            histories = full["changelog"]["histories"]
            limit = dataset.changelog_limit
            issue["changelog"] = {
                "startAt": 0,
                "maxResults": min(limit, len(histories)),
                "total": len(histories),
                "histories": histories[:limit],
            }
        text = json.dumps(issue, separators=(",", ":"))
        if generated:
            search_json_cache[key] = text
        return text

    changelog_json_cache: dict[tuple[int, str, str, int, int], str] = {}
    entries_cache: dict[int, list[tuple[datetime, int, int, str]]] = {}

    def changelog_entries(index: int) -> list[tuple[datetime, int, int, str]]:
        """(created, issue id, position, history JSON) of an issue's whole changelog, for the bulk API (cached)."""
        generated = dataset.is_generated(index)
        cached = entries_cache.get(index) if generated else None
        if cached is not None:
            return cached
        full = dataset.issue(index)
        entries = [
            (datetime.strptime(h["created"], "%Y-%m-%dT%H:%M:%S.%f%z"), int(full["id"]), n, json.dumps(h, separators=(",", ":")))
            for n, h in enumerate(full["changelog"]["histories"])
        ]
        if generated:
            entries_cache[index] = entries
        return entries

    def changelog_page_json(index: int, issue_id: str, version: str, start: int, max_results: int) -> str:
        """One page of `/issue/{id}/changelog` as JSON with the {base} placeholder (cached like search results)."""
        key = (index, issue_id, version, start, max_results)
        generated = dataset.is_generated(index)
        cached = changelog_json_cache.get(key) if generated else None
        if cached is not None:
            return cached
        histories = dataset.issue(index)["changelog"]["histories"]
        url = f"{{base}}/rest/api/{version}/issue/{issue_id}/changelog"
        body: dict[str, Any] = {
            "self": f"{url}?startAt={start}&maxResults={max_results}",
            "maxResults": max_results,
            "startAt": start,
            "total": len(histories),
            "isLast": start + max_results >= len(histories),
            "values": histories[start : start + max_results],
        }
        if not body["isLast"]:
            body["nextPage"] = f"{url}?startAt={start + max_results}&maxResults={max_results}"
        text = json.dumps(body, separators=(",", ":"))
        if generated:
            changelog_json_cache[key] = text
        return text

    def prerender_search_pages(fields: Iterable[str] | None = None) -> None:
        """Serialise every issue as a search asking for `fields` (default *all) with its changelog returns it,
        and the changelog pages of the issues whose changelog the search truncates (as the Cloud connector asks
        for them), before serving."""
        wanted = set(fields) if fields is not None else None
        for _, index in dataset.index():
            search_issue_json(index, wanted, True)
            full = dataset.issue(index)
            total = len(full["changelog"]["histories"])
            if total > dataset.changelog_limit:
                changelog_entries(index)
                for start in range(0, total, 100):
                    changelog_page_json(index, str(full["id"]), "3", start, 100)

    app.state.prerender_search_pages = prerender_search_pages

    def server_fields(fields: dict[str, Any]) -> dict[str, Any]:
        if cloud:
            return fields
        out = dict(fields)
        sprints = out.get(F_SPRINT)
        if sprints:
            out[F_SPRINT] = [
                "com.atlassian.greenhopper.service.sprint.Sprint@{:x}[id={},rapidViewId={},state={},name={},"
                "startDate={},endDate={},completeDate={},sequence={},goal=]".format(
                    0x5A0 + s["id"],
                    s["id"],
                    s["boardId"],
                    s["state"].upper(),
                    s["name"],
                    s["startDate"],
                    s["endDate"],
                    s.get("completeDate") or "<null>",
                    s["id"],
                )
                for s in sprints
            ]
        for name in ("description", F_EXC_REASON):
            value = out.get(name)
            if isinstance(value, dict) and value.get("type") == "doc":
                out[name] = " ".join(
                    node.get("text", "") for para in value.get("content", []) for node in para.get("content", [])
                )
        return out

    def unauthorised() -> Response:
        if cloud:
            return PlainTextResponse("Client must be authenticated to access this resource.", status_code=401)
        return JSONResponse(
            {
                "errorMessages": ["You are not authenticated. Authentication required to perform this operation."],
                "errors": {},
            },
            status_code=401,
        )

    def authorised(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if header.startswith("Bearer "):
            return not cloud and header[7:] == dataset.token
        if header.startswith("Basic "):
            try:
                user, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            return user.lower() == dataset.api_user_email.lower() and secret == dataset.token
        return False

    @app.middleware("http")
    async def auth(request: Request, call_next):  # type: ignore[no-untyped-def]
        if request.url.path.endswith("/serverInfo"):
            return await call_next(request)  # anonymous, as on a real site
        if not authorised(request):
            return unauthorised()
        return await call_next(request)

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"errorMessages": [message], "errors": {}}, status_code=status)

    api_versions = ("2", "3")

    @app.get("/rest/api/2/serverInfo")
    @app.get("/rest/api/3/serverInfo")
    def server_info(request: Request) -> dict[str, Any]:
        return {
            "baseUrl": base_of(request),
            "version": "1001.0.0-SNAPSHOT" if cloud else "9.12.2",
            "versionNumbers": [1001, 0, 0] if cloud else [9, 12, 2],
            "deploymentType": "Cloud" if cloud else "DataCenter",
            "buildNumber": 100250 if cloud else 9120002,
            "buildDate": "2026-11-20T00:00:00.000+0000",
            "serverTime": dataset.fmt(datetime.now(UTC)),
            "scmInfo": "0c8c7d2b1b3e4d",
            "serverTitle": "Jira",
        }

    # Registered before /issue/{issue_id} so that path does not swallow it.
    @app.get("/rest/api/2/issue/createmeta")
    def createmeta(request: Request, projectKeys: str = "") -> Any:
        if cloud:
            return error(404, "createmeta was removed; use /rest/api/3/issue/createmeta/{project}/issuetypes")
        field_specs = {
            fid: {
                "required": False,
                "name": next(f["name"] for f in _field_list() if f["id"] == fid),
                "allowedValues": [{"id": oid, "value": name} for oid, name in opts],
            }
            for fid, opts in OPTION_FIELDS.items()
        }
        return {
            "expand": "projects",
            "projects": [
                {
                    "id": dataset.project_id,
                    "key": dataset.project_key,
                    "issuetypes": [
                        {"id": tid, "name": name, "fields": field_specs} for name, (tid, _, _) in ISSUE_TYPES.items()
                    ],
                }
            ]
            if dataset.project_key in projectKeys.split(",")
            else [],
        }

    for version in api_versions:

        @app.get(f"/rest/api/{version}/myself")
        def myself(request: Request) -> Any:
            person = next(p for p in dataset.people if p["email"].lower() == dataset.api_user_email.lower())
            user = dataset.user(person, base_of(request))
            user.update({"locale": "en_US", "groups": {"size": 2, "items": []}, "applicationRoles": {"size": 1}})
            if not cloud:
                user.update({"key": "JIRAUSER10000", "name": person["email"].split("@")[0]})
            return user

        @app.get(f"/rest/api/{version}/project/{{key}}")
        def project(key: str, request: Request) -> Any:
            if key.upper() not in (dataset.project_key.upper(), dataset.project_id):
                return error(404, f"No project could be found with key '{key}'.")
            base = base_of(request)
            return {
                "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
                "self": f"{base}/rest/api/3/project/{dataset.project_id}",
                "id": dataset.project_id,
                "key": dataset.project_key,
                "name": f"{dataset.project_key.title()} Shop",
                "projectTypeKey": "software",
                "simplified": False,
                "style": "classic",
                "lead": dataset.user(dataset.people[0], base),
                "issueTypes": [
                    {
                        "self": f"{base}/rest/api/3/issuetype/{tid}",
                        "id": tid,
                        "name": name,
                        "subtask": sub,
                        "hierarchyLevel": lvl,
                    }
                    for name, (tid, sub, lvl) in ISSUE_TYPES.items()
                ],
            }

        @app.get(f"/rest/api/{version}/field")
        def fields(request: Request) -> Any:
            return render(_field_list(), request)

        @app.get(f"/rest/api/{version}/issuetype")
        def issue_types(request: Request) -> Any:
            base = base_of(request)
            return [
                {
                    "self": f"{base}/rest/api/{api_version(request)}/issuetype/{tid}",
                    "id": tid,
                    "description": f"A {name.lower()}",
                    "name": dataset.type_name(name),
                    "untranslatedName": name,
                    "subtask": sub,
                    "avatarId": 10315,
                    "hierarchyLevel": lvl,
                }
                for name, (tid, sub, lvl) in ISSUE_TYPES.items()
            ]

        @app.get(f"/rest/api/{version}/status")
        def statuses(request: Request) -> Any:
            base = base_of(request)
            version = api_version(request)
            return [
                {
                    "self": f"{base}/rest/api/{version}/status/{sid}",
                    "description": "",
                    "iconUrl": f"{base}/images/icons/statuses/generic.png",
                    "name": name,
                    "id": sid,
                    "statusCategory": {
                        "self": f"{base}/rest/api/{version}/statuscategory/{cid}",
                        "id": cid,
                        "key": ckey,
                        "colorName": colour,
                        "name": cname,
                    },
                }
                for sid, name, ckey, cid, colour, cname in STATUSES.values()
            ]

        @app.get(f"/rest/api/{version}/issue/{{issue_id}}/changelog")
        def changelog(issue_id: str, request: Request, startAt: int = 0, maxResults: int = 100) -> Any:
            index = dataset.index_of(issue_id)
            if index is None:
                return error(404, "Issue does not exist or you do not have permission to see it.")
            text = changelog_page_json(index, issue_id, api_version(request), startAt, max(1, min(maxResults, 100)))
            return Response(text.replace("{base}", base_of(request)), media_type="application/json")

        @app.get(f"/rest/api/{version}/issue/{{issue_id}}")
        def get_issue(issue_id: str, request: Request, expand: str = "") -> Any:
            index = dataset.index_of(issue_id)
            if index is None:
                return error(404, "Issue does not exist or you do not have permission to see it.")
            issue = {k: v for k, v in dataset.issue(index).items() if not k.startswith("_")}
            issue["fields"] = server_fields(issue["fields"])
            if "changelog" not in expand:
                issue.pop("changelog", None)
            return render(issue, request)

        @app.get(f"/rest/api/{version}/field/{{field_id}}/context")
        def contexts(field_id: str) -> Any:
            if not cloud or field_id not in OPTION_FIELDS:
                return error(404, f"The custom field was not found: {field_id}")
            ctx = str(10100 + int(field_id.split("_")[-1]) % 1000)
            return {
                "maxResults": 50,
                "startAt": 0,
                "total": 1,
                "isLast": True,
                "values": [
                    {"id": ctx, "name": "Default Configuration Scheme", "isGlobalContext": True, "isAnyIssueType": True}
                ],
            }

        @app.get(f"/rest/api/{version}/field/{{field_id}}/context/{{ctx}}/option")
        def options(field_id: str, ctx: str) -> Any:
            if not cloud or field_id not in OPTION_FIELDS:
                return error(404, f"The custom field was not found: {field_id}")
            values = [{"id": oid, "value": name, "disabled": False} for oid, name in OPTION_FIELDS[field_id]]
            return {"maxResults": 100, "startAt": 0, "total": len(values), "isLast": True, "values": values}

    def matching(jql: str) -> tuple[list, str]:
        """The (updated, index) entries a JQL selects, and its ORDER BY field."""
        project, bounds, order = parse_jql(jql, dataset)
        if project is not None and project.upper() != dataset.project_key.upper():
            raise JqlError(f"The value '{project}' does not exist for the field 'project'.")
        entries = dataset.index()
        lo, hi = 0, len(entries)
        for op, ms in bounds:
            if op == ">=":
                lo = max(lo, bisect.bisect_left(entries, (ms, -1)))
            elif op == ">":
                lo = max(lo, bisect.bisect_left(entries, (ms + 1, -1)))
            elif op == "<":
                hi = min(hi, bisect.bisect_left(entries, (ms, -1)))
            else:
                hi = min(hi, bisect.bisect_left(entries, (ms + 1, -1)))
        return (entries[lo:hi] if hi > lo else []), order

    def run_search(jql: str, start: int, max_results: int, fields_param: Any, expand: Any) -> tuple[list[str], int]:
        """One page of the issues a JQL selects, each already JSON, and how many it selects in all."""
        selected, order = matching(jql)
        if order in ("created", "key", "id"):
            selected = sorted(selected, key=lambda e: e[1])
        page = selected[start : start + max_results]
        wanted = _wanted_fields(fields_param)
        expands = set(str(expand or "").replace(" ", "").split(",")) if not isinstance(expand, list) else set(expand)
        issues = [search_issue_json(index, wanted, "changelog" in expands) for _, index in page]
        return issues, len(selected)

    def page_cap(fields_param: Any, expand: Any) -> int:
        wanted = _wanted_fields(fields_param)
        light = wanted is not None and wanted <= {"id", "key", "updated", "created"} and not expand
        return 5000 if (light and cloud) else (1000 if light else 100)

    async def params_of(request: Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query_params)
        if request.method == "POST":
            try:
                body = await request.json()
            except ValueError:
                body = {}
            params.update(body or {})
        return params

    def malformed() -> Response:
        return Response(b'{"issues": [{"id": "10001", "key": "ACME-2", "fields": {"summ', media_type="application/json")

    if cloud:

        @app.api_route("/rest/api/3/search/jql", methods=["GET", "POST"])
        async def search_jql(request: Request) -> Any:
            params = await params_of(request)
            if dataset.take_malformed():
                return malformed()
            jql = str(params.get("jql") or "")
            if not jql.strip():
                return error(400, "Unbounded JQL queries are not allowed here. Please add a search restriction.")
            token = params.get("nextPageToken")
            start = 0
            if token:
                try:
                    decoded = json.loads(base64.urlsafe_b64decode(str(token).encode()).decode())
                    start = int(decoded["o"])
                    if decoded["q"] != hashlib.sha1(jql.encode()).hexdigest()[:12]:  # noqa: S324
                        raise ValueError("token for another query")
                except (ValueError, KeyError, TypeError):
                    return error(400, "The provided next page token is invalid or expired.")
            expand = params.get("expand")
            fields_param = params.get("fields") or "*navigable"
            max_results = max(1, min(int(params.get("maxResults") or 50), page_cap(fields_param, expand)))
            try:
                issues, total = run_search(jql, start, max_results, fields_param, expand)
            except JqlError as exc:
                return error(400, str(exc))
            body: dict[str, Any] = {"isLast": start + len(issues) >= total}
            if not body["isLast"]:
                body["nextPageToken"] = base64.urlsafe_b64encode(
                    json.dumps({"o": start + len(issues), "q": hashlib.sha1(jql.encode()).hexdigest()[:12]}).encode()  # noqa: S324
                ).decode()
            return render(body, request, issues)

        @app.post("/rest/api/3/search/approximate-count")
        async def approximate_count(request: Request) -> Any:
            try:
                body = await request.json()
            except ValueError:
                body = None
            jql = str((body or {}).get("jql") or "") if isinstance(body, dict) else ""
            if not jql.strip():
                return error(400, "Unbounded JQL queries are not allowed here. Please add a search restriction.")
            try:
                selected, _ = matching(jql)
            except JqlError as exc:
                return error(400, str(exc))
            return {"count": len(selected)}

        @app.post("/rest/api/3/changelog/bulkfetch")
        async def bulk_changelogs(request: Request) -> Any:
            """Changelogs of up to 1,000 issues, oldest entry first (then smallest issue id), paged by token:
            {"issueChangeLogs": [{"issueId", "changeHistories"}], "nextPageToken"}; fieldIds (<= 10) keeps the
            entries changing those fields."""
            if not dataset.bulk_changelog:
                return error(404, "null for uri: /rest/api/3/changelog/bulkfetch")
            try:
                body = await request.json()
            except ValueError:
                body = None
            wanted = body.get("issueIdsOrKeys") if isinstance(body, dict) else None
            if not isinstance(wanted, list) or not wanted:
                return error(400, "issueIdsOrKeys must contain at least one issue ID or key.")
            if len(wanted) > 1000:
                return error(400, "The maximum number of issues that can be requested is 1000.")
            field_ids = body.get("fieldIds") or []
            if not isinstance(field_ids, list) or len(field_ids) > 10:
                return error(400, "The maximum number of field IDs is 10.")
            page_size = max(1, min(int(body.get("maxResults") or 1000), 10000))
            offset = 0
            if body.get("nextPageToken"):
                try:
                    offset = int(json.loads(base64.urlsafe_b64decode(str(body["nextPageToken"])))["o"])
                except (ValueError, KeyError, TypeError):
                    return error(400, "The nextPageToken is invalid.")
            entries: list[tuple[datetime, int, int, str]] = []
            for key in dict.fromkeys(str(k) for k in wanted):
                index = dataset.index_of(key)
                if index is None:
                    continue  # issues that do not exist or the user cannot see are left out
                if not field_ids:
                    entries.extend(changelog_entries(index))
                    continue
                for created, issue_id, n, text in changelog_entries(index):
                    history = json.loads(text)
                    items = [i for i in history.get("items", []) if i.get("fieldId") in field_ids]
                    if items:
                        entries.append((created, issue_id, n, json.dumps({**history, "items": items}, separators=(",", ":"))))
            entries.sort(key=lambda e: (e[0], e[1], e[2]))
            page = entries[offset : offset + page_size]
            grouped: dict[int, list[str]] = {}
            for _, issue_id, _, text in page:
                grouped.setdefault(issue_id, []).append(text)
            logs = ",".join(f'{{"issueId":"{i}","changeHistories":[{",".join(h)}]}}' for i, h in grouped.items())
            token = ""
            if offset + page_size < len(entries):
                token = base64.urlsafe_b64encode(json.dumps({"o": offset + page_size}).encode()).decode()
                token = f',"nextPageToken":"{token}"'
            text = '{"issueChangeLogs":[' + logs + "]" + token + "}"
            return Response(text.replace("{base}", base_of(request)), media_type="application/json")

        @app.api_route("/rest/api/2/search", methods=["GET", "POST"])
        @app.api_route("/rest/api/3/search", methods=["GET", "POST"])
        def removed_search() -> Any:
            return error(
                410,
                "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
                "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046",
            )

    else:

        @app.api_route("/rest/api/2/search", methods=["GET", "POST"])
        async def search(request: Request) -> Any:
            params = await params_of(request)
            if dataset.take_malformed():
                return malformed()
            jql = str(params.get("jql") or "")
            expand = params.get("expand")
            fields_param = params.get("fields") or "*navigable"
            start = max(0, int(params.get("startAt") or 0))
            max_results = max(1, min(int(params.get("maxResults") or 50), page_cap(fields_param, expand)))
            try:
                issues, total = run_search(jql, start, max_results, fields_param, expand)
            except JqlError as exc:
                return error(400, str(exc))
            return render(
                {"expand": "schema,names", "startAt": start, "maxResults": max_results, "total": total},
                request,
                issues,
            )

    return app


def _wanted_fields(fields_param: Any) -> set[str] | None:
    """None means every field (*all / *navigable); else the explicit set."""
    if isinstance(fields_param, list):
        names = [str(f) for f in fields_param]
    else:
        names = [f.strip() for f in str(fields_param or "").split(",") if f.strip()]
    if not names or any(n in ("*all", "*navigable") for n in names):
        return None
    return {n for n in names if not n.startswith("-")}


def _field_list() -> list[dict[str, Any]]:
    def custom(fid: str, name: str, kind: str, custom_type: str, items: str | None = None) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": kind, "custom": custom_type, "customId": int(fid.split("_")[1])}
        if items:
            schema["items"] = items
        return {
            "id": fid,
            "key": fid,
            "name": name,
            "untranslatedName": name,
            "custom": True,
            "orderable": True,
            "navigable": True,
            "searchable": True,
            "clauseNames": [f"cf[{fid.split('_')[1]}]", name],
            "schema": schema,
        }

    cf = "com.atlassian.jira.plugin.system.customfieldtypes:"
    system = [
        ("summary", "Summary", {"type": "string", "system": "summary"}),
        ("status", "Status", {"type": "status", "system": "status"}),
        ("issuetype", "Issue Type", {"type": "issuetype", "system": "issuetype"}),
        ("assignee", "Assignee", {"type": "user", "system": "assignee"}),
        ("created", "Created", {"type": "datetime", "system": "created"}),
        ("updated", "Updated", {"type": "datetime", "system": "updated"}),
        ("labels", "Labels", {"type": "array", "items": "string", "system": "labels"}),
        ("priority", "Priority", {"type": "priority", "system": "priority"}),
        ("description", "Description", {"type": "string", "system": "description"}),
    ]
    fields = [
        {
            "id": fid,
            "key": fid,
            "name": name,
            "custom": False,
            "orderable": True,
            "navigable": True,
            "searchable": True,
            "clauseNames": [fid],
            "schema": schema,
        }
        for fid, name, schema in system
    ]
    fields += [
        custom(F_STORY_POINTS, "Story point estimate", "number", "com.pyxis.greenhopper.jira:jsw-story-points"),
        custom(F_SPRINT, "Sprint", "array", "com.pyxis.greenhopper.jira:gh-sprint", "json"),
        custom(F_EPIC, "Epic Link", "any", "com.pyxis.greenhopper.jira:gh-epic-link"),
        custom(F_FLAGGED, "Flagged", "array", cf + "multicheckboxes", "option"),
        custom(F_AC, "Acceptance Criteria Quality", "option", cf + "select"),
        custom(F_UNIT_STATUS, "Unit Testing Status", "option", cf + "select"),
        custom(F_COVERAGE, "Coverage", "number", cf + "float"),
        custom(F_PR, "PR Link", "string", cf + "textfield"),
        custom(F_CI, "CI Evidence", "string", cf + "url"),
        custom(F_SIGNOFF, "DMT Sign-off", "array", cf + "multicheckboxes", "option"),
        custom(F_EXC_BY, "Exception Approved By", "user", cf + "userpicker"),
        custom(F_EXC_REASON, "Exception Reason", "string", cf + "textarea"),
        custom(F_EXC_EXPIRY, "Exception Expiry", "date", cf + "datepicker"),
        custom("customfield_10200", "Team", "string", cf + "textfield"),
    ]
    return fields


def add_to_combined_app(parent: FastAPI, dataset: JiraDataset, prefix: str = "/jira", **options: Any) -> FastAPI:
    """Mount a fake Jira under `prefix` of a combined demo server; returns the mounted app."""
    app = create_app(dataset, options.pop("controls", None), **options)
    parent.mount(prefix, app)
    return app
