"""A faithful fake of the ClickUp API v2 (served under /api/v2).

Shapes follow tests/fixtures/clickup (real payloads): ids as short
strings, timestamps as millisecond strings, `status.type`, `custom_fields`
arrays carrying `type_config.options`, drop-down values as the option
orderindex, numbers as strings. `/team/{id}/task` pages 100 tasks at a time
with `last_page`, filters `date_updated_gt`/`date_updated_lt`, hides closed
tasks unless `include_closed=true` and subtasks unless `subtasks=true`.
Time in status (`/task/{id}/time_in_status`, `/task/bulk_time_in_status/task_ids`)
comes from the same generated history.

Tasks are generated lazily from (seed, index): size=100_000 costs nothing until
the first task search builds the sorted `date_updated` index.
"""

from __future__ import annotations

import bisect
import copy
import hashlib
import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.fakes.dmt_profile import draw_profile
from tests.fakes.jira import DEFAULT_PEOPLE
from tests.fakes.server import FaultControls, install_faults

SPRINT_DAYS = 14
SPRINT_COUNT = 13
PAGE_SIZE = 100

# name, colour, type, orderindex
STATUSES: dict[str, tuple[str, str, str, int]] = {
    "todo": ("to do", "#d3d3d3", "open", 0),
    "progress": ("in progress", "#4194f6", "custom", 1),
    "blocked": ("blocked", "#e50000", "custom", 2),
    "review": ("in review", "#a875ff", "custom", 3),
    "done": ("complete", "#6bc950", "closed", 4),
}


def _uuid(seed: int, name: str) -> str:
    digest = hashlib.sha1(f"{seed}:{name}".encode()).hexdigest()  # noqa: S324 - stable ids, not security
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


# Custom field keys -> (name, type, options)
CUSTOM_FIELDS: list[tuple[str, str, str, list[str]]] = [
    ("ac_quality", "Acceptance Criteria Quality", "drop_down", ["Testable", "Not Testable", "Missing"]),
    ("unit_test_task", "Unit Test Task", "checkbox", []),
    ("unit_testing_status", "Unit Testing Status", "drop_down", ["Done", "In Progress", "Not Started", "N/A"]),
    ("coverage", "Coverage", "number", []),
    ("pr_links", "PR Link", "url", []),
    ("ci_evidence", "CI Evidence", "url", []),
    ("dmt_signoff", "DMT Sign-off", "checkbox", []),
    ("exception_approved_by", "Exception Approved By", "users", []),
    ("exception_reason", "Exception Reason", "text", []),
    ("exception_expires_at", "Exception Expiry", "date", []),
    ("story_points", "Story Points", "number", []),
]


@dataclass
class _Plan:
    created: datetime
    sprint_idx: int | None
    events: list[tuple[datetime, str, str]]  # (at, from status, to status)
    final_status: str
    updated: datetime


@dataclass
class ClickUpDataset:
    """Lazy, seeded ClickUp workspace: one space, a Sprints folder of 2-week lists and a backlog list."""

    seed: int
    size: int
    project_key: str = "ACME"
    people: list[dict[str, str]] = field(default_factory=lambda: list(DEFAULT_PEOPLE))
    start: datetime | None = None
    token: str = "pk_4200042_FAKETOKEN0000000000000000000000"
    team_id: str = "9015012345"
    space_id: str = "90150111"
    sprint_folder_id: str = "90150222"
    backlog_list_id: str = "90150333"

    def __post_init__(self) -> None:
        if self.start is None:
            today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            self.start = today - timedelta(days=SPRINT_DAYS * (SPRINT_COUNT - 1) + 7)
        self.start = self.start.astimezone(UTC)
        self.as_of = self.start + timedelta(days=SPRINT_DAYS * (SPRINT_COUNT - 1) + 6)
        self.users = [
            {
                "id": 4_200_000 + n,
                "username": p["name"],
                "color": "#7b68ee",
                "initials": "".join(w[0] for w in p["name"].split()[:2]).upper(),
                "email": p["email"],
                "profilePicture": f"https://attachments.clickup.com/profilePictures/{4_200_000 + n}_abc.jpg",
            }
            for n, p in enumerate(self.people)
        ]
        self.sprint_lists = []
        for k in range(SPRINT_COUNT):
            s = self.start + timedelta(days=SPRINT_DAYS * k)
            e = s + timedelta(days=SPRINT_DAYS) - timedelta(milliseconds=1)
            self.sprint_lists.append(
                {
                    "id": str(901500000 + k),
                    "name": f"Sprint {k + 1} ({s.month}/{s.day} - {e.month}/{e.day})",
                    "start_date": str(_ms(s)),
                    "due_date": str(_ms(e)),
                    "start": s,
                    "end": e,
                }
            )
        self.fields = []
        for key, name, kind, options in CUSTOM_FIELDS:
            config: dict[str, Any] = {}
            if kind == "drop_down":
                config = {
                    "default": 0,
                    "placeholder": None,
                    "new_drop_down": True,
                    "options": [
                        {"id": _uuid(self.seed, f"{key}:{o}"), "name": o, "color": None, "orderindex": n}
                        for n, o in enumerate(options)
                    ],
                }
            elif kind == "number":
                config = {}
            self.fields.append(
                {
                    "key": key,
                    "id": _uuid(self.seed, key),
                    "name": name,
                    "type": kind,
                    "type_config": config,
                    "date_created": str(_ms(self.start)),
                    "hide_from_guests": False,
                    "required": False,
                }
            )
        self._start_ts = self.start.timestamp()
        self._as_of_ts = self.as_of.timestamp()
        self._sprint_ts = [sl["start"].timestamp() for sl in self.sprint_lists]
        self._started_sprints = [k for k, sl in enumerate(self.sprint_lists) if sl["start"] <= self.as_of]
        self._overrides: dict[int, dict[str, Any]] = {}
        self._deleted: set[int] = set()
        self._added = 0
        self._index: list[tuple[int, int]] | None = None
        self._updated_of: dict[int, int] = {}
        self._lock = threading.RLock()
        self._malformed_pages = 0

    # -- ids and mappings -----------------------------------------------------
    def field_id(self, key: str) -> str:
        return next(f["id"] for f in self.fields if f["key"] == key)

    def field_mappings(self) -> dict[str, Any]:
        """The mapping a tenant would save for this workspace."""
        values = {
            "ac_quality": {"Testable": "testable", "Not Testable": "not_testable", "Missing": "missing"},
            "unit_testing_status": {
                "Done": "done",
                "In Progress": "in_progress",
                "Not Started": "not_started",
                "N/A": "not_applicable",
            },
        }
        out: dict[str, Any] = {}
        for key, *_ in CUSTOM_FIELDS:
            out[key] = {"field": self.field_id(key)}
            if key in values:
                out[key]["values"] = values[key]
        return out

    def task_id(self, index: int) -> str:
        # ClickUp ids: short base-36 strings.
        n = 86_000_000 + index * 7 + self.seed % 7
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"
        out = ""
        while n:
            n, r = divmod(n, 36)
            out = digits[r] + out
        return out

    def index_of(self, task_id: str) -> int | None:
        try:
            n = int(task_id, 36) - 86_000_000 - self.seed % 7
        except ValueError:
            return None
        if n % 7 or not 0 <= n // 7 < self.size + self._added or n // 7 in self._deleted:
            return None
        return n // 7

    # -- generation -----------------------------------------------------------
    def _rng(self, index: int) -> random.Random:
        return random.Random(self.seed * 2_000_003 + index * 104_729)

    def _plan(self, rng: random.Random, *, full: bool = True) -> _Plan | float:
        """The task's status history, in float epoch seconds (fast for 100k); full=False: just `updated`."""
        hour = 3600.0
        as_of = self._as_of_ts
        if rng.random() < 0.1:
            sprint_idx = None
            created = self._start_ts + rng.uniform(0, as_of - self._start_ts)
        else:
            sprint_idx = rng.choice(self._started_sprints)
            created = self._sprint_ts[sprint_idx] - hour * rng.uniform(2, 200)
        events: list[tuple[float, str, str]] = []
        status = "todo"
        if sprint_idx is not None:
            t = self._sprint_ts[sprint_idx] + hour * rng.uniform(1, 96)
            events.append((t, "todo", "progress"))
            status = "progress"
            if rng.random() < 0.15:
                t += hour * rng.uniform(2, 30)
                events.append((t, "progress", "blocked"))
                status = "blocked"
                if rng.random() < 0.7:
                    t += hour * rng.uniform(4, 72)
                    events.append((t, "blocked", "progress"))
                    status = "progress"
            if status == "progress" and rng.random() < 0.88:
                t += hour * rng.uniform(4, 100)
                events.append((t, "progress", "review"))
                t += hour * rng.uniform(1, 48)
                events.append((t, "review", "done"))
                status = "done"
        if status == "done" and int(created) % 20 == 0:
            # About one done task in twenty went from to-do straight to done (no start time, no cycle time).
            # Decided from a value already drawn, so every other task's data stays as it was.
            events = [(events[-1][0], "todo", "done")]
        kept = [e for e in events if e[0] <= as_of]
        updated = min(max([created] + [e[0] for e in kept]), as_of)
        if not full:
            return updated
        final = kept[-1][2] if kept else "todo"

        def dt(ts: float) -> datetime:
            return datetime.fromtimestamp(ts, tz=UTC)

        return _Plan(dt(created), sprint_idx, [(dt(at), a, b) for at, a, b in kept], final, dt(updated))

    def _updated_ms(self, index: int) -> int:
        if index in self._overrides:
            return int(self._overrides[index]["date_updated"])
        return int(self._plan(self._rng(index), full=False) * 1000)  # type: ignore[operator]

    def index(self) -> list[tuple[int, int]]:
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

    def task(self, index: int) -> dict[str, Any]:
        with self._lock:
            if index in self._overrides:
                return self._overrides[index]
        return self._build(index)

    def _status(self, key: str) -> dict[str, Any]:
        name, colour, kind, order = STATUSES[key]
        return {
            "id": f"sc{self.backlog_list_id}_{key}",
            "status": name,
            "color": colour,
            "orderindex": order,
            "type": kind,
        }

    def _build(self, index: int) -> dict[str, Any]:
        rng = self._rng(index)
        plan = self._plan(rng)
        assert isinstance(plan, _Plan)
        task_id = self.task_id(index)
        done = plan.final_status == "done"
        started = bool(plan.events)
        assignee = rng.choice(self.users) if rng.random() < 0.9 else None
        creator = rng.choice(self.users)
        if plan.sprint_idx is None:
            task_list = {"id": self.backlog_list_id, "name": "Backlog", "access": True}
            folder = {"id": "90150444", "name": "hidden", "hidden": True, "access": True}
        else:
            sl = self.sprint_lists[plan.sprint_idx]
            task_list = {"id": sl["id"], "name": sl["name"], "access": True}
            folder = {"id": self.sprint_folder_id, "name": "Sprints", "hidden": False, "access": True}
        is_bug = rng.random() < 0.25
        parent = None
        if index > 20 and rng.random() < 0.08:
            parent = self.task_id(rng.randrange(0, index))
        points = None if rng.random() < 0.15 else rng.choice([1, 2, 3, 5, 8, 13])
        custom_values: dict[str, Any] = {}

        def option(key: str, name: str | None) -> int | None:
            if name is None:
                return None
            options = next(f for f in self.fields if f["key"] == key)["type_config"]["options"]
            return next(o["orderindex"] for o in options if o["name"] == name)

        profile = draw_profile(rng, done=bool(done), started=bool(started))
        custom_values["ac_quality"] = option("ac_quality", profile.ac_quality)
        custom_values["unit_test_task"] = profile.unit_test_task
        custom_values["unit_testing_status"] = option("unit_testing_status", profile.unit_testing)
        # ClickUp returns number field values as strings.
        custom_values["coverage"] = None if profile.coverage is None else f"{profile.coverage:.1f}"
        if profile.has_pr:
            custom_values["pr_links"] = f"https://github.com/acme/shop/pull/{2000 + index}"
            if profile.has_ci:
                custom_values["ci_evidence"] = f"https://ci.acme.example/builds/{9000 + index}"
        custom_values["dmt_signoff"] = profile.signed_off
        if rng.random() < 0.05:
            approver = rng.choice(self.users)
            custom_values["exception_approved_by"] = [
                {k: approver[k] for k in ("id", "username", "email", "color", "initials", "profilePicture")}
            ]
            custom_values["exception_reason"] = "Legacy module without a test harness"
            custom_values["exception_expires_at"] = str(_ms(plan.created + timedelta(days=rng.choice([-30, 30, 90]))))
        custom_values["story_points"] = str(points) if points is not None and rng.random() < 0.5 else None
        custom_fields = []
        for f in self.fields:
            entry = {k: v for k, v in f.items() if k != "key"}
            v = custom_values.get(f["key"])
            if (v is not None and v is not False) or f["type"] == "checkbox":
                entry["value"] = v if f["type"] != "checkbox" else ("true" if v else "false")
            custom_fields.append(entry)
        tags = []
        if is_bug:
            tags.append({"name": "bug", "tag_fg": "#800000", "tag_bg": "#800000", "creator": creator["id"]})
        if plan.final_status == "blocked":
            tags.append({"name": "blocked", "tag_fg": "#e50000", "tag_bg": "#e50000", "creator": creator["id"]})
        done_ms = str(_ms(plan.events[-1][0])) if done else None
        first_start = next((e[0] for e in plan.events if e[2] == "progress"), None)
        return {
            "id": task_id,
            "custom_id": f"{self.project_key}-{index + 1}" if index % 3 == 0 else None,
            "custom_item_id": None,
            "name": f"{rng.choice(['Checkout', 'Search', 'Profile', 'Cart', 'Payments'])} "
            f"{rng.choice(['shows wrong total', 'needs pagination', 'supports SSO', 'loads slowly'])}",
            "text_content": "As a customer I want it.",
            "description": "As a customer I want it.",
            "status": self._status(plan.final_status),
            "orderindex": f"{index + 1}.00000000000000000000000000000000",
            "date_created": str(_ms(plan.created)),
            "date_updated": str(_ms(plan.updated)),
            "date_closed": done_ms,
            "date_done": done_ms,
            "archived": False,
            "creator": {k: creator[k] for k in ("id", "username", "color", "email", "profilePicture")},
            "assignees": [assignee] if assignee else [],
            "group_assignees": [],
            "watchers": [creator],
            "checklists": [],
            "tags": tags,
            "parent": parent,
            "top_level_parent": parent,
            "priority": rng.choice(
                [
                    None,
                    {"color": "#f50000", "id": "1", "orderindex": "1", "priority": "urgent"},
                    {"color": "#ffcc00", "id": "2", "orderindex": "2", "priority": "high"},
                    {"color": "#6fddff", "id": "3", "orderindex": "3", "priority": "normal"},
                ]
            ),
            "due_date": None,
            "start_date": str(_ms(first_start)) if first_start and rng.random() < 0.5 else None,
            "points": points,
            "time_estimate": None,
            "time_spent": 0,
            "custom_fields": custom_fields,
            "dependencies": [],
            "linked_tasks": [],
            "locations": [],
            "team_id": self.team_id,
            "url": f"https://app.clickup.com/t/{task_id}",
            "sharing": {"public": False, "public_share_expires_on": None, "public_fields": [], "token": None},
            "permission_level": "create",
            "list": task_list,
            "project": {k: folder[k] for k in ("id", "name", "hidden", "access")},
            "folder": folder,
            "space": {"id": self.space_id},
            "_events": [(str(_ms(at)), a, b) for at, a, b in plan.events],
        }

    def time_in_status(self, index: int) -> dict[str, Any]:
        task = self.task(index)
        created = int(task["date_created"])
        events = task["_events"]
        now_ms = max(int(task["date_updated"]), _ms(self.as_of))
        spans: dict[str, dict[str, Any]] = {}
        current = "todo"
        since = created
        for at, _, to in events:
            at_ms = int(at)
            entry = spans.setdefault(current, {"minutes": 0.0, "since": since})
            entry["minutes"] += max(0, at_ms - since) / 60000
            current, since = to, at_ms
        entry = spans.setdefault(current, {"minutes": 0.0, "since": since})
        entry["minutes"] += max(0, now_ms - since) / 60000
        name, colour, _, _ = STATUSES[current]

        def status_json(key: str, data: dict[str, Any]) -> dict[str, Any]:
            sname, scolour, kind, order = STATUSES[key]
            return {
                "status": sname,
                "color": scolour,
                "type": kind,
                "total_time": {"by_minute": int(data["minutes"]), "since": str(data["since"])},
                "orderindex": order,
            }

        return {
            "current_status": {
                "status": name,
                "color": colour,
                "total_time": {"by_minute": int(spans[current]["minutes"]), "since": str(since)},
            },
            "status_history": [status_json(k, v) for k, v in spans.items()],
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

    def update_task(
        self, task_id: str, *, name: str | None = None, status: str | None = None, at: datetime | None = None
    ) -> dict[str, Any]:
        """Rename or move a task (status is a STATUSES key); bumps date_updated."""
        at = at or datetime.now(UTC)
        with self._lock:
            index = self.index_of(task_id)
            if index is None:
                raise KeyError(task_id)
            task = copy.deepcopy(self.task(index))
            if name is not None:
                task["name"] = name
            if status is not None:
                old = next(k for k, v in STATUSES.items() if v[0] == task["status"]["status"])
                task["status"] = self._status(status)
                task["_events"].append((str(_ms(at)), old, status))
                closed = STATUSES[status][2] == "closed"
                task["date_closed"] = task["date_done"] = str(_ms(at)) if closed else None
            task["date_updated"] = str(_ms(at))
            self._overrides[index] = task
            self._reindex(index, _ms(at))
            return task

    def delete_task(self, task_id: str) -> None:
        with self._lock:
            index = self.index_of(task_id)
            if index is None:
                raise KeyError(task_id)
            self._deleted.add(index)
            self._overrides.pop(index, None)
            self._reindex(index, None)

    def break_next_search(self, count: int = 1) -> None:
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
) -> ClickUpDataset:
    """A seeded ClickUp workspace of `size` tasks over ~6 months of two-week sprint lists (lazy)."""
    return ClickUpDataset(
        seed=seed, size=size, project_key=project_key, people=list(people or DEFAULT_PEOPLE), start=start, **options
    )


def _public(task: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in task.items() if not k.startswith("_")}


def create_app(dataset: ClickUpDataset, controls: FaultControls | None = None) -> FastAPI:
    """The fake ClickUp API; routes live under /api/v2 like api.clickup.com."""
    app = FastAPI(title="fake ClickUp")
    if controls is not None:
        install_faults(app, controls)

    def err(status: int, message: str, code: str) -> JSONResponse:
        return JSONResponse({"err": message, "ECODE": code}, status_code=status)

    @app.middleware("http")
    async def auth(request: Request, call_next):  # type: ignore[no-untyped-def]
        header = request.headers.get("authorization")
        if not header:
            return err(401, "Authorization header required", "OAUTH_017")
        if header != dataset.token:  # the raw token; "Bearer pk_..." is refused too
            return err(401, "Token invalid", "OAUTH_025")
        response = await call_next(request)
        # ClickUp announces its per-token limit (100/min on Free Forever) on every answer.
        response.headers["X-RateLimit-Limit"] = "100"
        response.headers["X-RateLimit-Remaining"] = "99"
        response.headers["X-RateLimit-Reset"] = str(int(datetime.now(UTC).timestamp()) + 60)
        return response

    team_json = {
        "id": dataset.team_id,
        "name": f"{dataset.project_key.title()} Workspace",
        "color": "#7b68ee",
        "avatar": None,
        "members": [{"user": {**u, "role": 3, "custom_role": None, "last_active": None}} for u in dataset.users],
    }

    @app.get("/api/v2/user")
    def user() -> Any:
        u = dataset.users[0]
        return {"user": {**u, "week_start_day": 1, "global_font_support": False, "timezone": "Europe/Berlin"}}

    @app.get("/api/v2/team")
    def teams() -> Any:
        return {"teams": [team_json]}

    @app.get("/api/v2/team/{team_id}/space")
    def spaces(team_id: str) -> Any:
        if team_id != dataset.team_id:
            return err(401, "Team not authorized", "OAUTH_027")
        return {
            "spaces": [
                {
                    "id": dataset.space_id,
                    "name": "Product",
                    "private": False,
                    "statuses": [
                        {"status": n, "type": t, "orderindex": o, "color": c} for n, c, t, o in STATUSES.values()
                    ],
                    "multiple_assignees": True,
                    "features": {"sprints": {"enabled": True}, "points": {"enabled": True}},
                    "archived": False,
                }
            ]
        }

    def fields_json() -> dict[str, Any]:
        return {"fields": [{k: v for k, v in f.items() if k != "key"} for f in dataset.fields]}

    @app.get("/api/v2/space/{space_id}/field")
    def space_fields(space_id: str) -> Any:
        if space_id != dataset.space_id:
            return err(404, "Space not found", "SPAC_001")
        return fields_json()

    def list_json(list_id: str) -> dict[str, Any] | None:
        for sl in dataset.sprint_lists:
            if sl["id"] == list_id:
                return {
                    "id": sl["id"],
                    "name": sl["name"],
                    "orderindex": dataset.sprint_lists.index(sl),
                    "content": "",
                    "status": None,
                    "priority": None,
                    "assignee": None,
                    "task_count": None,
                    "due_date": sl["due_date"],
                    "start_date": sl["start_date"],
                    "folder": {"id": dataset.sprint_folder_id, "name": "Sprints", "hidden": False, "access": True},
                    "space": {"id": dataset.space_id, "name": "Product", "access": True},
                    "archived": False,
                    "override_statuses": False,
                    "permission_level": "create",
                }
        if list_id == dataset.backlog_list_id:
            return {
                "id": list_id,
                "name": "Backlog",
                "due_date": None,
                "start_date": None,
                "folder": {"id": "90150444", "name": "hidden", "hidden": True, "access": True},
                "space": {"id": dataset.space_id, "name": "Product", "access": True},
                "archived": False,
            }
        return None

    @app.get("/api/v2/list/{list_id}")
    def get_list(list_id: str) -> Any:
        data = list_json(list_id)
        return data if data else err(404, "List not found", "SUBCAT_016")

    @app.get("/api/v2/list/{list_id}/field")
    def list_fields(list_id: str) -> Any:
        return fields_json() if list_json(list_id) else err(404, "List not found", "SUBCAT_016")

    @app.get("/api/v2/task/bulk_time_in_status/task_ids")
    def bulk_time_in_status(request: Request) -> Any:
        ids = request.query_params.getlist("task_ids")
        if not ids or len(ids) > 100:
            return err(400, "Must provide between 1 and 100 task ids", "TASK_113")
        out = {}
        for task_id in ids:
            index = dataset.index_of(task_id)
            if index is not None:
                out[task_id] = dataset.time_in_status(index)
        return out

    @app.get("/api/v2/task/{task_id}/time_in_status")
    def time_in_status(task_id: str) -> Any:
        index = dataset.index_of(task_id)
        return dataset.time_in_status(index) if index is not None else err(404, "Task not found", "ITEM_013")

    @app.get("/api/v2/task/{task_id}")
    def get_task(task_id: str) -> Any:
        index = dataset.index_of(task_id)
        return _public(dataset.task(index)) if index is not None else err(404, "Task not found", "ITEM_013")

    @app.get("/api/v2/team/{team_id}/task")
    def team_tasks(team_id: str, request: Request) -> Any:
        if team_id != dataset.team_id:
            return err(401, "Team not authorized", "OAUTH_027")
        if dataset.take_malformed():
            return Response(b'{"tasks": [{"id": "86abc", "name": "trunc', media_type="application/json")
        q = request.query_params
        try:
            page = int(q.get("page") or 0)
            gt = int(q["date_updated_gt"]) if q.get("date_updated_gt") else None
            lt = int(q["date_updated_lt"]) if q.get("date_updated_lt") else None
        except ValueError:
            return err(400, "Invalid query parameter", "PUBAPITASK_001")
        include_closed = q.get("include_closed") == "true"
        subtasks = q.get("subtasks") == "true"
        reverse = q.get("reverse") == "true"
        entries = dataset.index()
        lo = bisect.bisect_right(entries, (gt, 1 << 62)) if gt is not None else 0
        hi = bisect.bisect_left(entries, (lt, -1)) if lt is not None else len(entries)
        selected = entries[lo:hi] if hi > lo else []
        # Default ClickUp order is newest update first; reverse=true flips it.
        ordered = selected if reverse else list(reversed(selected))
        if include_closed and subtasks:  # what connectors send: slice the index directly
            window = ordered[page * PAGE_SIZE : (page + 1) * PAGE_SIZE + 1]
            return {
                "tasks": [_public(dataset.task(i)) for _, i in window[:PAGE_SIZE]],
                "last_page": len(window) <= PAGE_SIZE,
            }
        # Closed and subtask filtering needs the task: apply it lazily while filling the page.
        tasks: list[dict[str, Any]] = []
        skip = page * PAGE_SIZE
        matched = 0
        more = False
        for _, index in ordered:
            task = dataset.task(index)
            if not include_closed and task["status"]["type"] == "closed":
                continue
            if not subtasks and task.get("parent"):
                continue
            if matched < skip:
                matched += 1
                continue
            if len(tasks) == PAGE_SIZE:
                more = True
                break
            tasks.append(_public(task))
        return {"tasks": tasks, "last_page": not more}

    return app


def add_to_combined_app(parent: FastAPI, dataset: ClickUpDataset, prefix: str = "/clickup", **options: Any) -> FastAPI:
    """Mount a fake ClickUp under `prefix`; its API base URL is then <server><prefix>/api/v2."""
    app = create_app(dataset, options.pop("controls", None))
    parent.mount(prefix, app)
    return app
