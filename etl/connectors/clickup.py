"""ClickUp (API v2) connector.

Tasks come from `GET /team/{team_id}/task`, pages 0, 1, ... of 100 until
`last_page` (or a short page), filtered with `date_updated_gt` / `date_updated_lt`
(milliseconds), `include_closed=true`, `subtasks=true`, `order_by=updated`.
The personal token goes in the Authorization header as is (no "Bearer").

What the task payload cannot tell, and what we use instead (kept honest):

* started_at: ClickUp has no status history in the task. When the workspace has
  the Time in Status ClickApp, the connector adds the answer of
  `/task/bulk_time_in_status/task_ids` (100 tasks a request, ids gathered across
  pages) to each task that needs a history, as `_time_in_status`: tasks whose
  status is not a to-do one (done tasks have a cycle time, active ones may have
  been blocked) and tasks tagged blocked. started_at is the earliest `since` of
  an in-progress ("custom") status: a task that went from to-do straight to
  done (or closed) has no start time and no cycle time, as in every connector.
  Without the ClickApp, started_at is the task's own `start_date` if set
  (category in progress/done), else None. We never invent it from date_created.
* done_at: `date_done`, else `date_closed`, only when the status is done/closed.
* blocked: a status whose name contains "blocked" or a "blocked" tag;
  blocked_hours from time in status (statuses named *blocked*) when available.
* reopened_count: ClickUp exposes no transition history, so it stays 0.
* sprint: the task's list when that list is in a Sprint folder
  (config_json["sprint_folder_ids"], or a folder/list named like "Sprint");
  dates come from `GET /list/{id}` (start_date/due_date), kept per run in the
  connector's `sprint_lists` and handed to the normaliser.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from etl.connectors.base import (
    BaseConnector,
    ConnectionResult,
    DiscoveredField,
    FieldMapping,
    HttpSetup,
    NormalizedWorkItem,
    SourceConfigError,
    SourceDataError,
    SourceError,
    SourceNotFound,
    SourceSettings,
)
from etl.connectors.http import CursorGuard, RequestBudget
from etl.connectors.registry import register_connector
from etl.connectors.values import mapped_option, propose_from_name, to_float, truthy, urls

DEFAULT_BASE_URL = "https://api.clickup.com/api/v2"
#: ClickUp's limit per token (Free Forever, Unlimited and Business plans; Business Plus 1,000, Enterprise
#: 10,000: config rate_limit_per_minute).
RATE_LIMIT_PER_MINUTE = 100
PAGE_SIZE = 100  # fixed by ClickUp
TIME_IN_STATUS_BATCH = 100  # bulk_time_in_status takes at most 100 task ids
DEFAULT_SPRINT_PATTERN = r"\bsprint\b"

_CATEGORY_BY_TYPE = {"open": "todo", "custom": "in_progress", "closed": "done", "done": "done"}
_PRIORITY_NAMES = {1: "urgent", 2: "high", 3: "normal", 4: "low"}


def parse_clickup_time(value: Any) -> datetime | None:
    """ClickUp timestamps: milliseconds since the epoch, usually as strings; None/""/junk -> None."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    # Always milliseconds, as ClickUp documents. A short value is corrupt; reading it as seconds
    # could land in the future and push the incremental sync cursor past real updates.
    seconds = number / 1000
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def custom_field_value(field: dict[str, Any]) -> Any:
    """A task custom field's value in plain terms: option names, numbers, bools, URLs, datetimes, names."""
    if "value" not in field:
        return None
    value = field.get("value")
    if value is None or value == "":
        return None
    kind = field.get("type")
    options = (field.get("type_config") or {}).get("options") or []

    def option_name(ref: Any) -> str | None:
        for option in options:
            if str(option.get("id")) == str(ref) or (
                isinstance(ref, int | str) and str(option.get("orderindex")) == str(ref)
            ):
                return option.get("name") or option.get("label")
        return None

    if kind == "drop_down":
        return option_name(value) or (str(value) if not isinstance(value, int) else None)
    if kind == "labels":
        refs = value if isinstance(value, list) else [value]
        return [n for n in (option_name(r) for r in refs) if n]
    if kind in ("number", "currency", "emoji"):
        return to_float(value)
    if kind == "checkbox":
        return value is True or str(value).lower() == "true"
    if kind == "date":
        return parse_clickup_time(value)
    if kind in ("users", "people"):
        people = value if isinstance(value, list) else [value]
        names = [p.get("username") or p.get("email") for p in people if isinstance(p, dict)]
        return [n for n in names if n]
    if kind in ("automatic_progress", "manual_progress") and isinstance(value, dict):
        return to_float(value.get("percent_complete"))
    return value


def _priority(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        return value.get("priority") or None
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return _PRIORITY_NAMES.get(int(value), str(value))
    return str(value)


def is_sprint_list(
    task: Mapping[str, Any], sprint_folder_ids: Iterable[str] = (), sprint_pattern: str | None = None
) -> bool:
    """Whether a task's list is a sprint: its folder is one of `sprint_folder_ids`, else folder or list name matches."""
    folder = task.get("folder") or {}
    task_list = task.get("list") or {}
    folder_ids = {str(f) for f in sprint_folder_ids or []}
    if folder_ids:
        return str(folder.get("id")) in folder_ids
    pattern = re.compile(sprint_pattern or DEFAULT_SPRINT_PATTERN, re.I)
    return bool(pattern.search(str(folder.get("name") or "")) or pattern.search(str(task_list.get("name") or "")))


class _MappedValues:
    """A task's mapped fields: custom fields by id, or built-in task attributes (e.g. "points")."""

    def __init__(self, raw: Mapping[str, Any], mapping: FieldMapping) -> None:
        self.raw = raw
        self.mapping = mapping
        self.by_id = {str(f.get("id")): f for f in raw.get("custom_fields") or [] if isinstance(f, dict)}

    def value(self, key: str) -> Any:
        field_id = self.mapping.field_id(key)
        if not field_id:
            return None
        if field_id in self.raw and field_id not in self.by_id:  # a built-in task attribute, e.g. "points"
            return self.raw.get(field_id)
        found = self.by_id.get(str(field_id))
        return custom_field_value(found) if found else None

    def text(self, key: str) -> str | None:
        v = self.value(key)
        if isinstance(v, list):
            v = v[0] if v else None
        if v is None:
            return None
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)


def _time_in_status(raw: Mapping[str, Any]) -> tuple[datetime | None, float, datetime | None]:
    """(started_at, blocked minutes, blocked since) from the Time in Status ClickApp's answer, when fetched."""
    tis = raw.get("_time_in_status") if isinstance(raw.get("_time_in_status"), dict) else None
    started_at: datetime | None = None
    blocked_minutes = 0.0
    blocked_since: datetime | None = None
    if tis:
        history = [h for h in tis.get("status_history") or [] if isinstance(h, dict)]
        # Work starts in an in-progress ("custom") status; arriving in done or closed from to-do is no start.
        starts = [
            parse_clickup_time((h.get("total_time") or {}).get("since"))
            for h in history
            if str(h.get("type") or "").lower() == "custom"
        ]
        starts = [s for s in starts if s is not None]
        started_at = min(starts) if starts else None
        for h in history:
            if "blocked" in str(h.get("status") or "").lower():
                blocked_minutes += float(to_float((h.get("total_time") or {}).get("by_minute")) or 0)
        current = tis.get("current_status") or {}
        if "blocked" in str(current.get("status") or "").lower():
            blocked_since = parse_clickup_time((current.get("total_time") or {}).get("since"))
    return started_at, blocked_minutes, blocked_since


def _blocked_fields(
    status_name: str,
    tags: list[str],
    updated: datetime | None,
    blocked_minutes: float,
    blocked_since: datetime | None,
) -> dict[str, Any]:
    """is_blocked, blocked_since, blocked_hours and blocked_reason: a *blocked* status or a "blocked" tag."""
    blocked_by_status = "blocked" in status_name.lower()
    blocked_by_tag = any(t.lower() == "blocked" for t in tags)
    is_blocked = blocked_by_status or blocked_by_tag
    if is_blocked and blocked_since is None:
        blocked_since = updated
    reasons = ([f"status {status_name}"] if blocked_by_status else []) + (["tag blocked"] if blocked_by_tag else [])
    return {
        "is_blocked": is_blocked,
        "blocked_since": blocked_since,
        "blocked_hours": round(blocked_minutes / 60, 2),
        "blocked_reason": "; ".join(reasons) or None,
    }


def _sprint_fields(
    raw: Mapping[str, Any],
    lists: Mapping[str, Mapping[str, Any]],
    sprint_folder_ids: Iterable[str],
    sprint_pattern: str | None,
) -> dict[str, Any]:
    """The task's list when it is a sprint list, with the dates `/list/{id}` gave; earlier sprint lists too."""
    task_list = raw.get("list") or {}
    sprint_name = sprint_id = None
    sprint_start = sprint_end = None
    sprint_history: list[str] = []
    if task_list.get("id") and is_sprint_list(raw, sprint_folder_ids, sprint_pattern):
        info = lists.get(str(task_list["id"])) or {}
        sprint_id = str(task_list["id"])
        sprint_name = str(info.get("name") or task_list.get("name") or sprint_id)
        sprint_start = parse_clickup_time(info.get("start_date"))
        sprint_end = parse_clickup_time(info.get("due_date"))
        for location in raw.get("locations") or []:  # tasks in multiple lists: earlier sprints
            info_other = lists.get(str(location.get("id"))) or {}
            name = info_other.get("name") or location.get("name")
            if name and re.search(sprint_pattern or DEFAULT_SPRINT_PATTERN, str(name), re.I):
                sprint_history.append(str(name))
        sprint_history.append(sprint_name)
    sprint_state = None
    if sprint_start and sprint_end:
        now = datetime.now(UTC)
        sprint_state = "closed" if sprint_end <= now else ("active" if sprint_start <= now else "future")
    return {
        "sprint_name": sprint_name,
        "sprint_source_id": sprint_id,
        "sprint_state": sprint_state,
        "sprint_start": sprint_start,
        "sprint_end": sprint_end,
        "sprint_history": list(dict.fromkeys(sprint_history)),
    }


def _task_links(raw: Mapping[str, Any], task_id: str) -> list[dict[str, Any]]:
    links: list[dict[str, Any]] = []
    if raw.get("custom_id"):
        links.append({"type": "custom_id", "key": str(raw["custom_id"])})
    for dep in raw.get("dependencies") or []:
        if isinstance(dep, dict):
            other = dep.get("depends_on") if dep.get("task_id") == task_id else dep.get("task_id")
            links.append({"type": "depends on", "key": f"CU-{other}", "id": str(other)})
    for linked in raw.get("linked_tasks") or []:
        if isinstance(linked, dict):
            other = linked.get("link_id") if linked.get("task_id") == task_id else linked.get("task_id")
            links.append({"type": "relates to", "key": f"CU-{other}", "id": str(other)})
    return links


def _dmt_fields(mapped: _MappedValues) -> dict[str, Any]:
    """The DMT columns from the mapped custom fields."""
    mapping = mapped.mapping
    unit_task = mapped.value("unit_test_task")
    signoff_value = mapped.value("dmt_signoff")
    approved_by = mapped.value("exception_approved_by")
    expires = mapped.value("exception_expires_at")
    return {
        "ac_quality": mapped_option(mapped.text("ac_quality"), mapping.values_of("ac_quality")),
        "has_unit_test_task": unit_task
        if isinstance(unit_task, bool)
        else truthy(unit_task, mapping.values_of("unit_test_task")),
        "unit_testing_status": mapped_option(
            mapped.text("unit_testing_status"), mapping.values_of("unit_testing_status")
        ),
        "coverage_percent": to_float(mapped.value("coverage")),
        "pr_links": urls(mapped.value("pr_links")),
        "ci_evidence_url": next(iter(urls(mapped.value("ci_evidence"))), None),
        "dmt_signoff": signoff_value
        if isinstance(signoff_value, bool)
        else truthy(signoff_value, mapping.values_of("dmt_signoff")),
        "dmt_signoff_by": None,
        "exception_approved_by": (approved_by[0] if approved_by else None)
        if isinstance(approved_by, list)
        else (str(approved_by) if approved_by else None),
        "exception_reason": mapped.text("exception_reason"),
        "exception_expires_at": expires if isinstance(expires, datetime) else parse_clickup_time(expires),
    }


def normalize_clickup_task(
    raw: dict[str, Any],
    mapping: FieldMapping | Mapping[str, Any] | None,
    base_url: str = DEFAULT_BASE_URL,
    *,
    lists: Mapping[str, Mapping[str, Any]] | None = None,
    sprint_folder_ids: Iterable[str] = (),
    sprint_pattern: str | None = None,
) -> NormalizedWorkItem:
    """Normalise one task as `/team/{id}/task` returns it (plus `_time_in_status` when fetched).

    `lists` ({list id: {name, start_date, due_date}}), `sprint_folder_ids` and
    `sprint_pattern` are what the connector knows about sprint lists.
    """
    if not isinstance(raw, dict) or not raw.get("id"):
        raise SourceDataError("a ClickUp task without an id was returned")
    mapped = _MappedValues(raw, FieldMapping.parse(mapping))
    task_id = str(raw["id"])
    status = raw.get("status") or {}
    status_name = str(status.get("status") or "")
    status_type = str(status.get("type") or "").lower()
    category = _CATEGORY_BY_TYPE.get(status_type) or ("todo" if not status_name else "in_progress")
    tags = [str(t.get("name")) for t in raw.get("tags") or [] if isinstance(t, dict) and t.get("name")]
    assignees = [a for a in raw.get("assignees") or [] if isinstance(a, dict)]
    assignee = assignees[0] if assignees else {}
    updated = parse_clickup_time(raw.get("date_updated"))
    done_at = (
        (parse_clickup_time(raw.get("date_done")) or parse_clickup_time(raw.get("date_closed")))
        if (category == "done")
        else None
    )
    # Time in status (ClickApp) is the only status history ClickUp offers; else the task's own start date.
    started_at, blocked_minutes, blocked_since = _time_in_status(raw)
    if started_at is None and category in ("in_progress", "done"):
        started_at = parse_clickup_time(raw.get("start_date"))
    points = mapped.value("story_points") if mapped.mapping.get("story_points") is not None else raw.get("points")
    lowered_tags = {t.lower() for t in tags}
    item_type = "subtask" if raw.get("parent") else ("bug" if "bug" in lowered_tags else "task")
    if raw.get("custom_item_id") == 1:
        item_type = "milestone"
    result: NormalizedWorkItem = {
        "source_item_id": task_id,
        "item_key": f"CU-{task_id}",
        "url": raw.get("url") or f"https://app.clickup.com/t/{task_id}",
        "item_type": item_type,
        "title": str(raw.get("name") or "")[:1000],
        "status": status_name,
        "status_category": category,
        "priority": _priority(raw.get("priority")),
        "story_points": to_float(points),
        "parent_source_id": str(raw["parent"]) if raw.get("parent") else None,
        "labels": tags,
        **_sprint_fields(raw, lists or {}, sprint_folder_ids, sprint_pattern),  # type: ignore[typeddict-item]
        "assignee_name": assignee.get("username"),
        "assignee_email": assignee.get("email") or None,
        "assignee_account_id": str(assignee["id"]) if assignee.get("id") is not None else None,
        "created_at_source": parse_clickup_time(raw.get("date_created")),
        "updated_at_source": updated,
        "started_at": started_at,
        "done_at": done_at,
        "reopened_count": 0,
        **_blocked_fields(status_name, tags, updated, blocked_minutes, blocked_since),  # type: ignore[typeddict-item]
        **_dmt_fields(mapped),  # type: ignore[typeddict-item]
        "links": _task_links(raw, task_id),
        "raw_data": {k: v for k, v in raw.items() if k not in ("description", "text_content", "checklists")},
    }
    return result


_BUDGETS: dict[tuple[str, int], RequestBudget] = {}
_BUDGETS_LOCK = threading.Lock()


def minute_budget(limit: int, key: str | None) -> RequestBudget:
    """A token bucket that never lets more than `limit` requests into any 60 seconds.

    A bucket of capacity B refilled at r a minute admits B + r requests in a minute,
    so the capacity is a tenth of the limit and the refill the rest. One per source
    (`key`), shared by its threads; an unsaved source gets its own.
    """
    burst = max(1, limit // 10)
    if key is None:
        return RequestBudget(max(1, limit - burst), burst=burst)
    with _BUDGETS_LOCK:
        budget = _BUDGETS.get((key, limit))
        if budget is None:
            budget = _BUDGETS[(key, limit)] = RequestBudget(max(1, limit - burst), burst=burst)
        return budget


class ClickUpConnector(BaseConnector):
    """ClickUp workspace (team) tasks."""

    provides_work_items = True

    def __init__(self, settings: SourceSettings, **http_options: Any) -> None:
        config = settings.config_json or {}
        #: ClickUp counts requests per token and minute: the source's budget is held under that limit.
        self.rate_limit_per_minute = min(
            int(config.get("rate_limit_per_minute") or RATE_LIMIT_PER_MINUTE), settings.request_budget_per_minute
        )
        super().__init__(settings, **http_options)
        if "budget" not in self._http_options:
            self._http_options["budget"] = minute_budget(self.rate_limit_per_minute, self.budget_key)
        self.team_id = str(config.get("team_id") or settings.project_key or "").strip()
        if not settings.token:
            raise SourceConfigError("the ClickUp API token is missing")
        self.space_ids = [str(s) for s in config.get("space_ids") or []]
        self.list_ids = [str(s) for s in config.get("list_ids") or []]
        self.use_time_in_status = bool(config.get("time_in_status", True))
        #: Which lists are sprints: lists in these folders, else folders or lists named like the pattern.
        self.sprint_folder_ids = [str(f) for f in config.get("sprint_folder_ids") or []]
        self.sprint_pattern = str(config.get("sprint_list_pattern") or DEFAULT_SPRINT_PATTERN)
        #: Sprint lists met during this run, {list id: {name, start_date, due_date}} from `/list/{id}`.
        self.sprint_lists: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def http_setup(self) -> HttpSetup:
        return HttpSetup(
            self.settings.base_url or DEFAULT_BASE_URL,
            headers={"Authorization": self.settings.token or ""},  # ClickUp wants the raw token, no "Bearer"
            label=f"clickup:{self.settings.source_id or self.team_id}",
        )

    def _require_team(self) -> str:
        if not self.team_id:
            raise SourceConfigError("set the ClickUp workspace (team) id for this source")
        return self.team_id

    # -- connection and fields -------------------------------------------------
    def test_connection(self) -> ConnectionResult:
        data, _ = self.http.get_json("/user")
        user = (data or {}).get("user") or {}
        if not user:
            raise SourceDataError(f"{self.http.host} answered /user without a user")
        identity = str(user.get("username") or user.get("id"))
        if user.get("email"):
            identity = f"{identity} <{user['email']}>"
        teams_data, _ = self.http.get_json("/team")
        teams = [{"id": str(t.get("id")), "name": t.get("name")} for t in (teams_data or {}).get("teams") or []]
        details: dict[str, Any] = {"user_id": user.get("id"), "teams": teams}
        if self.team_id and self.team_id not in {t["id"] for t in teams}:
            visible = ", ".join(f"{t['name']} ({t['id']})" for t in teams) or "none"
            raise SourceNotFound(
                f"the workspace (team) {self.team_id} is not visible to this token; visible workspaces: {visible}"
            )
        team_name = next((t["name"] for t in teams if t["id"] == self.team_id), None)
        message = f"connected to ClickUp as {identity}" + (f"; workspace {team_name} is visible" if team_name else "")
        return ConnectionResult(ok=True, identity=identity, details=details, message=message)

    def _field_sources(self) -> list[str]:
        paths = [f"/list/{list_id}/field" for list_id in self.list_ids]
        space_ids = list(self.space_ids)
        if not space_ids and not self.list_ids:
            data, _ = self.http.get_json(f"/team/{self._require_team()}/space", params={"archived": "false"})
            space_ids = [str(s.get("id")) for s in (data or {}).get("spaces") or []]
        paths += [f"/space/{space_id}/field" for space_id in space_ids]
        return paths

    def discover_fields(self) -> list[DiscoveredField]:
        found: dict[str, DiscoveredField] = {
            "points": DiscoveredField(
                id="points", name="Sprint Points", field_type="number", proposed_for="story_points"
            )
        }
        for path in self._field_sources():
            data, _ = self.http.get_json(path)
            for field in (data or {}).get("fields") or []:
                field_id = str(field.get("id"))
                if not field_id or field_id in found:
                    continue
                kind = str(field.get("type") or "")
                options = [
                    str(o.get("name") or o.get("label"))
                    for o in (field.get("type_config") or {}).get("options") or []
                    if o.get("name") or o.get("label")
                ]
                field_type = {
                    "drop_down": "option",
                    "labels": "array",
                    "number": "number",
                    "currency": "number",
                    "checkbox": "boolean",
                    "date": "date",
                    "users": "user",
                    "url": "url",
                }.get(kind, "string")
                # The shared name rules; a ClickUp number field named "Story Points" is points.
                proposal = propose_from_name(field.get("name"), field_type)
                if proposal in ("sprint", "epic"):
                    proposal = None
                found[field_id] = DiscoveredField(
                    id=field_id,
                    name=str(field.get("name") or field_id),
                    field_type=field_type,
                    options=options,
                    proposed_for=proposal,
                )
        if any(f.proposed_for == "story_points" for k, f in found.items() if k != "points"):
            found["points"].proposed_for = None  # a custom points field is the better guess
        return list(found.values())

    # -- extraction ------------------------------------------------------------
    def normalize_work_item(self, raw: dict[str, Any]) -> NormalizedWorkItem:
        # sprint_lists only grows (under the lock) while pages are extracted; reading it is safe meanwhile.
        return normalize_clickup_task(
            raw,
            self.field_mapping,
            self.http.base_url,
            lists=self.sprint_lists,
            sprint_folder_ids=self.sprint_folder_ids,
            sprint_pattern=self.sprint_pattern,
        )

    def _task_pages(self, start: datetime | None, end: datetime | None) -> Iterator[list[dict[str, Any]]]:
        team = self._require_team()
        page = 0
        cursors = CursorGuard(f"{self.http.host} task list")
        while True:
            params: dict[str, Any] = {
                "page": page,
                "order_by": "updated",
                "reverse": "true",
                "subtasks": "true",
                "include_closed": "true",
            }
            if start is not None:
                params["date_updated_gt"] = _to_ms(start) - 1  # ClickUp's filter is strict; we want >= start
            if end is not None:
                params["date_updated_lt"] = _to_ms(end)
            if self.space_ids:
                params["space_ids[]"] = self.space_ids
            if self.list_ids:
                params["list_ids[]"] = self.list_ids
            data, _ = self.http.get_json(f"/team/{team}/task", params=params)
            if not isinstance(data, dict) or not isinstance(data.get("tasks"), list):
                raise SourceDataError(f"{self.http.host} answered the task list (page {page}) without a 'tasks' list")
            tasks = data["tasks"]
            if any(not isinstance(t, dict) or not t.get("id") for t in tasks):
                raise SourceDataError(f"{self.http.host} answered page {page} with tasks lacking an id")
            if tasks:
                yield tasks
            if data.get("last_page") is True or len(tasks) < PAGE_SIZE:
                return
            cursors.advance((tasks[0]["id"], tasks[-1]["id"]))  # a site ignoring `page` repeats its page
            page += 1

    def _remember_sprint_lists(self, tasks: list[dict[str, Any]]) -> None:
        for task in tasks:
            list_id = str((task.get("list") or {}).get("id") or "")
            if (
                not list_id
                or list_id in self.sprint_lists
                or not is_sprint_list(task, self.sprint_folder_ids, self.sprint_pattern)
            ):
                continue
            try:
                info, _ = self.http.get_json(f"/list/{list_id}")
            except SourceNotFound:
                info = {}
            with self._lock:
                self.sprint_lists[list_id] = {
                    "name": (info or {}).get("name") or (task.get("list") or {}).get("name"),
                    "start_date": (info or {}).get("start_date"),
                    "due_date": (info or {}).get("due_date"),
                }

    @staticmethod
    def needs_status_history(task: Mapping[str, Any]) -> bool:
        """Whether a task's time in status tells us anything: not in a to-do status now, or tagged blocked.

        A task still in to-do has no start time and no cycle time; when it moves on,
        its date_updated changes and the next sync asks for its history.
        """
        status_type = str((task.get("status") or {}).get("type") or "").lower()
        tagged = any(
            str(t.get("name") or "").lower() == "blocked" for t in task.get("tags") or [] if isinstance(t, dict)
        )
        return status_type != "open" or tagged

    def _time_in_status_of(self, task_ids: list[str]) -> dict[str, Any] | None:
        """The bulk time in status of up to 100 tasks; None when the ClickApp is off (then never asked again)."""
        try:
            data, _ = self.http.get_json("/task/bulk_time_in_status/task_ids", params={"task_ids": task_ids})
        except SourceError as exc:
            if exc.retryable:
                raise
            self.use_time_in_status = False  # ClickApp off (or no access): start_date for the rest of the run
            return None
        return data if isinstance(data, dict) else {}

    def _with_time_in_status(self, pages: Iterator[list[dict[str, Any]]]) -> Iterator[list[dict[str, Any]]]:
        """Pages with `_time_in_status` on the tasks that need it, asked 100 tasks at a time across pages.

        A page is held until every task of it that needs a history has it; at most
        one request's worth of tasks waits, so pages still stream.
        """
        held: list[list[dict[str, Any]]] = []
        waiting: list[dict[str, Any]] = []

        def ask(batch: list[dict[str, Any]]) -> None:
            data = self._time_in_status_of([str(t["id"]) for t in batch]) if self.use_time_in_status else None
            for task in batch:
                entry = (data or {}).get(str(task["id"]))
                if isinstance(entry, dict):
                    task["_time_in_status"] = entry

        for tasks in pages:
            held.append(tasks)
            if self.use_time_in_status:
                waiting.extend(t for t in tasks if self.needs_status_history(t))
            while len(waiting) >= TIME_IN_STATUS_BATCH:
                batch, waiting = waiting[:TIME_IN_STATUS_BATCH], waiting[TIME_IN_STATUS_BATCH:]
                ask(batch)
            # Every page whose waiting tasks are all answered can go.
            pending = {id(t) for t in waiting}
            while held and not any(id(t) in pending for t in held[0]):
                yield held.pop(0)
        if waiting:
            ask(waiting)
        yield from held

    def _with_sprint_lists(self, pages: Iterator[list[dict[str, Any]]]) -> Iterator[list[dict[str, Any]]]:
        for tasks in pages:
            self._remember_sprint_lists(tasks)
            yield tasks

    def extract_work_items(self, start: datetime | None, end: datetime | None) -> Iterator[list[dict[str, Any]]]:
        """Yield pages of 100 raw tasks updated in [start, end), with sprint lists and time in status."""
        yield from self._with_time_in_status(self._with_sprint_lists(self._task_pages(start, end)))

    def list_work_item_ids(self) -> Iterator[list[str]]:
        for tasks in self._task_pages(None, None):
            yield [str(t["id"]) for t in tasks]


register_connector("clickup", ClickUpConnector)
