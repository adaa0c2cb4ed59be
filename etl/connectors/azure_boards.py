"""Azure Boards (Azure DevOps Services / Server work item tracking).

Settings:
- ``base_url``: the organisation (``https://dev.azure.com/acme``) or, on Server,
  the collection (``https://tfs.acme.com/DefaultCollection``).
- ``token``: a personal access token, sent as basic auth with an empty user.
- ``config_json``: ``project`` (or ``SourceSettings.project_key``), ``team``
  (default ``"<project> Team"``, for sprint dates), ``history`` (where the
  state history comes from, see below: ``"revisions"``, the default,
  ``"updates"`` or ``"none"``; the older ``fetch_updates: true`` means the
  default), ``revision_lookback_days`` (default 90, see below),
  ``history_start`` (ISO date a full sync starts from, default 2005-01-01),
  ``batch_size`` (<= 200), ``fields_only`` (see below).

How a sync reads the tool:
1. WIQL (``POST {project}/_apis/wit/wiql``) lists ids changed in
   [start, end), by ``System.ChangedDate``. The service refuses queries whose
   result passes 20,000 items (VS402337); such a window is split in halves,
   recursively, until each half fits.
2. ``POST _apis/wit/workitemsbatch`` fetches them, 200 ids at a time. The API
   forbids ``$expand`` together with ``fields``: by default we expand
   relations (which returns every field) because relations carry the links to
   pull requests and parents; with ``fields_only: true`` we send the needed
   field list (at most 100) and get no relations.
3. State categories come from ``workitemtypes/{type}/states`` and sprint dates
   from the team's ``teamsettings/iterations`` (falling back to the project's
   iteration classification nodes for iterations the team has not selected).
4. History (start and done times, reopenings, sprint history, blocked time)
   comes in bulk from the reporting revisions API
   (``GET {project}/_apis/wit/reporting/workitemrevisions``): every revision
   of the project, up to 1,000 a request, paged by ``continuationToken``
   (``nextLink`` / ``isLastBatch``), with only the fields the history needs.
   A full sync reads it from the beginning; an incremental one from
   ``revision_lookback_days`` before its start (``startDateTime``), which holds
   the whole history of every item created since then; the few changed items
   older than that get their own ``workItems/{id}/updates``, as does every
   item where the reporting API is unavailable (404/403/400: an old Server,
   a token without the scope) and every item with ``history: "updates"``.

The raw record handed to the normaliser is a batch element exactly as the API
returns it, plus a ``"_dmt"`` key the connector adds::

    {"state_categories": {"New": "Proposed", "Active": "InProgress", ...},
     "iteration": {"id", "name", "path", "attributes": {"startDate", "finishDate", "timeFrame"}} | None,
     "updates": [<compact history: {"rev", "fields": {name: {"newValue"[, "oldValue"]}}}>] | None}

The compact history (`compact_updates`) keeps, of each update, only the
fields the normaliser reads, so the bulk path and the per-item path hand the
normaliser the same record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from etl.connectors.azure_devops import API_VERSION, AzureDevOpsConnector
from etl.connectors.base import (
    ConnectionResult,
    DiscoveredField,
    FieldMapping,
    NormalizedWorkItem,
    SourceConfigError,
    SourceDataError,
    SourceNotFound,
    SourcePermissionError,
    SourceSettings,
)
from etl.connectors.http import CursorGuard
from etl.connectors.linking import azure_work_item_key
from etl.connectors.registry import register_connector
from etl.connectors.values import (
    canonical_dmt_value,
    identity_parts,
    parse_datetime,
    snake,
    to_bool,
    to_float,
    to_int,
)

#: Service limits (see the module docstring).
WIQL_RESULT_CAP = 20_000
BATCH_MAX_IDS = 200
BATCH_MAX_FIELDS = 100
WIQL_CAP_ERROR = "VS402337"
#: Revisions per reporting request (the service's `$maxPageSize` ceiling).
REVISIONS_PAGE_SIZE = 1000
#: An incremental sync reads revisions from this many days before its start (config revision_lookback_days).
REVISION_LOOKBACK_DAYS = 90
#: The fields whose history the normaliser reads: when, state, sprint, blocked (field or tag).
HISTORY_FIELDS = (
    "System.ChangedDate",
    "System.State",
    "System.IterationPath",
    "System.Tags",
    "Microsoft.VSTS.CMMI.Blocked",
)
HISTORY_MODES = ("revisions", "updates", "none")

#: Azure's state categories -> ours.
STATE_CATEGORY_MAP = {
    "Proposed": "todo",
    "InProgress": "in_progress",
    "Resolved": "done",
    "Completed": "done",
    "Removed": "done",
}
# When a type's states could not be read: the default process templates' state names.
_STATE_NAME_FALLBACK = {
    "new": "todo",
    "to do": "todo",
    "proposed": "todo",
    "approved": "todo",
    "design": "todo",
    "active": "in_progress",
    "committed": "in_progress",
    "in progress": "in_progress",
    "doing": "in_progress",
    "resolved": "done",
    "closed": "done",
    "done": "done",
    "completed": "done",
    "removed": "done",
}
_ITEM_TYPES = {
    "user story": "story",
    "product backlog item": "story",
    "requirement": "story",
    "bug": "bug",
    "task": "task",
    "epic": "epic",
    "feature": "feature",
    "issue": "issue",
    "impediment": "issue",
}
#: Default tool fields for DMT mapping keys when the source's field_mappings says nothing.
DEFAULT_FIELDS = {
    "story_points": (
        "Microsoft.VSTS.Scheduling.StoryPoints",
        "Microsoft.VSTS.Scheduling.Effort",
        "Microsoft.VSTS.Scheduling.Size",
    ),
    "sprint": ("System.IterationPath",),
}
#: Fields requested in ``fields_only`` mode (plus the mapped ones).
BASE_FIELDS = (
    "System.Id",
    "System.Title",
    "System.WorkItemType",
    "System.State",
    "System.Reason",
    "System.TeamProject",
    "System.AreaPath",
    "System.IterationPath",
    "System.IterationId",
    "System.AssignedTo",
    "System.CreatedDate",
    "System.ChangedDate",
    "System.Tags",
    "System.Parent",
    "Microsoft.VSTS.Common.Priority",
    "Microsoft.VSTS.Common.ActivatedDate",
    "Microsoft.VSTS.Common.ResolvedDate",
    "Microsoft.VSTS.Common.ClosedDate",
    "Microsoft.VSTS.Common.StateChangeDate",
    "Microsoft.VSTS.Scheduling.StoryPoints",
    "Microsoft.VSTS.Scheduling.Effort",
    "Microsoft.VSTS.Scheduling.Size",
    "Microsoft.VSTS.CMMI.Blocked",
)
#: Name patterns proposing a DMT mapping for a discovered field.
PROPOSALS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("story_points", re.compile(r"story ?points?|^effort$|^size$", re.I)),
    ("sprint", re.compile(r"^iteration path$|^sprint$", re.I)),
    ("ac_quality", re.compile(r"\bac\b.*quality|acceptance criteria.*(quality|testab)", re.I)),
    ("unit_test_task", re.compile(r"unit ?test.*task", re.I)),
    ("unit_testing_status", re.compile(r"unit ?test(ing)?.*status", re.I)),
    ("coverage", re.compile(r"coverage", re.I)),
    ("pr_links", re.compile(r"\bpr\b.*link|pull ?request", re.I)),
    ("ci_evidence", re.compile(r"\bci\b|build (url|evidence)|pipeline (url|run)", re.I)),
    ("dmt_signoff", re.compile(r"dmt.*sign|sign.?off", re.I)),
    ("exception_approved_by", re.compile(r"exception.*approv", re.I)),
    ("exception_reason", re.compile(r"exception.*reason", re.I)),
    ("exception_expires_at", re.compile(r"exception.*expir", re.I)),
)
_FIELD_TYPES = {
    "string": "string",
    "plainText": "string",
    "html": "string",
    "integer": "number",
    "double": "number",
    "dateTime": "date",
    "boolean": "boolean",
    "identity": "user",
    "treePath": "string",
    "picklistString": "option",
    "picklistInteger": "option",
    "picklistDouble": "option",
}
_PR_ARTIFACT = re.compile(r"^vstfs:///Git/PullRequestId/", re.I)
_WEB_PR = re.compile(r"/pull/\d+|/pullrequest/\d+", re.I)


# --------------------------------------------------------------------------- mapped fields
def mapped_value(fields: Mapping[str, Any], mapping: FieldMapping, key: str) -> Any:
    """The value of the field mapped to `key` (falling back to DEFAULT_FIELDS), with its value map applied."""
    field_id = mapping.field_id(key)
    candidates = (field_id,) if field_id else DEFAULT_FIELDS.get(key, ())
    value = None
    for candidate in candidates:
        if fields.get(candidate) not in (None, ""):
            value = fields[candidate]
            break
    values = mapping.values_of(key)
    if values and value is not None and not isinstance(value, dict | list):
        lookup = {str(k).lower(): v for k, v in values.items()}
        value = lookup.get(str(value).lower(), value)
    return value


def dmt_fields(fields: Mapping[str, Any], mapping: FieldMapping) -> dict[str, Any]:
    """The DMT columns (ac_quality, coverage, sign-off, exception...) from mapped custom fields."""
    out: dict[str, Any] = {}
    out["ac_quality"] = snake(mapped_value(fields, mapping, "ac_quality"))
    out["has_unit_test_task"] = to_bool(mapped_value(fields, mapping, "unit_test_task"))
    out["unit_testing_status"] = canonical_dmt_value(snake(mapped_value(fields, mapping, "unit_testing_status")))
    out["coverage_percent"] = to_float(mapped_value(fields, mapping, "coverage"))
    ci = mapped_value(fields, mapping, "ci_evidence")
    out["ci_evidence_url"] = str(ci).strip() if ci not in (None, "") else None
    signoff = mapped_value(fields, mapping, "dmt_signoff")
    out["dmt_signoff"] = to_bool(signoff)
    out["dmt_signoff_by"] = identity_parts(signoff)[0] if isinstance(signoff, dict) else None
    approver = mapped_value(fields, mapping, "exception_approved_by")
    out["exception_approved_by"] = identity_parts(approver)[0] if approver else None
    reason = mapped_value(fields, mapping, "exception_reason")
    out["exception_reason"] = str(reason) if reason not in (None, "") else None
    out["exception_expires_at"] = parse_datetime(mapped_value(fields, mapping, "exception_expires_at"))
    return out


def _id_from_url(url: str | None) -> str | None:
    match = re.search(r"/workItems/(\d+)", url or "", re.I)
    return match.group(1) if match else None


def _category(state: str | None, categories: Mapping[str, str] | None) -> str:
    if state is None:
        return "todo"
    category = (categories or {}).get(state)
    if category in STATE_CATEGORY_MAP:
        return STATE_CATEGORY_MAP[category]
    return _STATE_NAME_FALLBACK.get(state.strip().lower(), "in_progress" if categories is None else "todo")


def _blocked_in(fields: Mapping[str, Any], side: str) -> bool | None:
    """Whether an update's old/new side marks the item blocked (CMMI Blocked field or a "Blocked" tag)."""
    flags: list[bool] = []
    if "Microsoft.VSTS.CMMI.Blocked" in fields:
        flags.append(bool(to_bool(fields["Microsoft.VSTS.CMMI.Blocked"].get(side))))
    if "System.Tags" in fields:
        tags = str(fields["System.Tags"].get(side) or "")
        flags.append(any(t.strip().lower() == "blocked" for t in tags.split(";")))
    return any(flags) if flags else None


def _history_from_updates(
    updates: list[dict[str, Any]], categories: Mapping[str, str] | None
) -> tuple[datetime | None, datetime | None, int, list[str], float, datetime | None]:
    """(first start, last done, reopen count, sprint paths, blocked hours, blocked since) from the update history.

    Blocked time is counted between updates that set and clear the block; a block still
    open is counted up to the last update, so the result does not depend on the clock.
    """
    started: datetime | None = None
    done: datetime | None = None
    reopened = 0
    sprints: list[str] = []
    blocked_hours = 0.0
    blocked_since: datetime | None = None
    last_change: datetime | None = None
    for update in sorted(updates, key=lambda u: (to_int(u.get("rev")) or 0, str(u.get("id")))):
        fields = update.get("fields") or {}
        # revisedDate is when this revision was superseded, so the change time is ChangedDate's new value.
        when = parse_datetime((fields.get("System.ChangedDate") or {}).get("newValue"))
        last_change = when or last_change
        iteration = (fields.get("System.IterationPath") or {}).get("newValue")
        if iteration and iteration not in sprints:
            sprints.append(iteration)
        blocked = _blocked_in(fields, "newValue")
        if blocked and blocked_since is None and when:
            blocked_since = when
        elif blocked is False and blocked_since is not None and when:
            blocked_hours += (when - blocked_since).total_seconds() / 3600
            blocked_since = None
        state = fields.get("System.State")
        if not state or "newValue" not in state:
            continue
        old_cat = _category(state.get("oldValue"), categories) if state.get("oldValue") else None
        new_cat = _category(state.get("newValue"), categories)
        if new_cat == "in_progress" and started is None:
            started = when
        if new_cat == "done":
            done = when  # straight from to-do to done: no start time (no cycle time), as in every connector
        if old_cat == "done" and new_cat != "done":
            reopened += 1
            done = None
    if blocked_since is not None and last_change is not None:
        blocked_hours += max(0.0, (last_change - blocked_since).total_seconds() / 3600)
    return started, done, reopened, sprints, round(blocked_hours, 2), blocked_since


def _present(value: Any) -> bool:
    return value not in (None, "")


def compact_updates(updates: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The part of a work item's update history the normaliser reads, in revision order.

    Each update keeps only HISTORY_FIELDS: the new value (absent when the field was
    cleared) and, for the state, the old one. Updates that change none of them but
    the change date are dropped, except the last (blocked time runs to the last
    change). Both `workItems/{id}/updates` and `revisions_to_updates` go through
    this, so the bulk and the per-item path give the normaliser the same history.
    """
    kept: list[dict[str, Any]] = []
    ordered = sorted(
        (u for u in updates if isinstance(u, Mapping)), key=lambda u: (to_int(u.get("rev")) or 0, str(u.get("id")))
    )
    for position, update in enumerate(ordered):
        changes = update.get("fields") or {}
        fields: dict[str, dict[str, Any]] = {}
        for name in HISTORY_FIELDS:
            change = changes.get(name)
            if not isinstance(change, Mapping):
                continue
            entry: dict[str, Any] = {}
            if _present(change.get("newValue")):
                entry["newValue"] = change["newValue"]
            if name == "System.State" and _present(change.get("oldValue")):
                entry["oldValue"] = change["oldValue"]
            fields[name] = entry
        if set(fields) - {"System.ChangedDate"} or (fields and position == len(ordered) - 1):
            kept.append({"rev": to_int(update.get("rev")) or 0, "fields": fields})
    return kept


def revisions_to_updates(revisions: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Update-shaped changes (as `workItems/{id}/updates` gives them) from one item's full revisions.

    A revision holds every (non-empty) field's value at that revision; the change of
    revision n is what differs from revision n-1, as the updates API reports it.
    """
    changes: list[dict[str, Any]] = []
    previous: Mapping[str, Any] = {}
    for revision in sorted(revisions, key=lambda r: to_int(r.get("rev")) or 0):
        current = revision.get("fields") or {}
        diff: dict[str, dict[str, Any]] = {}
        for name in HISTORY_FIELDS:
            before, after = previous.get(name), current.get(name)
            before = before if _present(before) else None
            after = after if _present(after) else None
            if before == after:
                continue
            change: dict[str, Any] = {}
            if before is not None:
                change["oldValue"] = before
            if after is not None:
                change["newValue"] = after
            diff[name] = change
        changes.append({"rev": to_int(revision.get("rev")) or 0, "fields": diff})
        previous = current
    return changes


class RevisionHistories:
    """Compact histories of many items, gathered from the reporting revisions feed in one pass.

    Revisions arrive in the feed's order (by change); each item's last revision is kept
    and only revisions that change a history field are stored, so memory follows the
    number of state, sprint and blocked changes, not of edits.
    """

    def __init__(self, since: datetime | None) -> None:
        self.since = since
        self._last: dict[int, Mapping[str, Any]] = {}
        self._changes: dict[int, list[dict[str, Any]]] = {}

    def add(self, revision: Mapping[str, Any]) -> None:
        """Take one revision of the feed (``{"id", "rev", "fields"}``)."""
        item_id = to_int(revision.get("id"))
        if item_id is None:
            return
        previous = self._last.get(item_id)
        if previous is not None and (to_int(revision.get("rev")) or 0) <= (to_int(previous.get("rev")) or 0):
            return  # a revision seen already (the feed repeats one at a page boundary)
        pair = [previous, revision] if previous is not None else [revision]
        change = revisions_to_updates(pair)[-1]
        self._last[item_id] = revision
        bucket = self._changes.setdefault(item_id, [])
        if bucket and set(bucket[-1]["fields"]) == {"System.ChangedDate"}:
            bucket.pop()  # a change-date-only update matters only while it is the last
        bucket.append(change)

    def complete_for(self, created: datetime | None) -> bool:
        """Whether the feed holds the whole history of an item created at `created`."""
        return self.since is None or (created is not None and created > self.since)

    def updates_of(self, item_id: int) -> list[dict[str, Any]]:
        """The item's compact history (empty when the feed never mentioned it)."""
        return compact_updates(self._changes.get(item_id, []))

    def __len__(self) -> int:
        return len(self._last)


def _sprint_name(path: str | None, project: str | None) -> str | None:
    """ "Fabrikam\\Release 1\\Sprint 2" -> "Sprint 2"; the project root is no sprint."""
    if not path or "\\" not in path:
        return None if not path or path == project else path
    return path.rsplit("\\", 1)[1]


def _sprint_state(time_frame: Any) -> str | None:
    return (
        {"past": "closed", "current": "active", "future": "future"}.get(str(time_frame).lower()) if time_frame else None
    )


# --------------------------------------------------------------------------- normaliser
def _web_url(raw: Mapping[str, Any], project: Any, item_id: str) -> str | None:
    url = ((raw.get("_links") or {}).get("html") or {}).get("href")
    api_url = raw.get("url") or ""
    if not url and "/_apis/" in api_url and project:
        url = f"{api_url.split('/_apis/')[0]}/{quote(str(project))}/_workitems/edit/{item_id}"
    return url


def _relations(
    raw: Mapping[str, Any], fields: Mapping[str, Any], mapping: FieldMapping
) -> tuple[int | None, list[dict[str, Any]], list[str]]:
    """(parent id, links, pull request links) from the relations and the mapped PR field."""
    parent = to_int(fields.get("System.Parent"))
    links: list[dict[str, Any]] = []
    pr_links: list[str] = []
    for relation in raw.get("relations") or []:
        if not isinstance(relation, Mapping):
            continue
        rel, rel_url = relation.get("rel"), relation.get("url")
        attributes = relation.get("attributes") or {}
        if rel == "System.LinkTypes.Hierarchy-Reverse" and parent is None:
            parent = to_int(_id_from_url(rel_url))
        if rel == "ArtifactLink" and _PR_ARTIFACT.match(rel_url or ""):
            pr_links.append(rel_url)
        elif rel == "Hyperlink" and _WEB_PR.search(rel_url or ""):
            pr_links.append(rel_url)
        if rel in ("AttachedFile",):
            continue
        links.append({"type": rel, "target_id": _id_from_url(rel_url), "url": rel_url, "name": attributes.get("name")})
    mapped_prs = mapped_value(fields, mapping, "pr_links")
    if isinstance(mapped_prs, str):
        pr_links += [p for p in re.split(r"[\s,;]+", mapped_prs) if p]
    elif isinstance(mapped_prs, list):
        pr_links += [str(p) for p in mapped_prs if p]
    return parent, links, pr_links


def _sprint_fields(
    fields: Mapping[str, Any], mapping: FieldMapping, iteration: Mapping[str, Any], project: Any
) -> tuple[str | None, dict[str, Any]]:
    """(sprint name, the sprint columns but the history) from the iteration path and its team settings."""
    sprint_path = mapped_value(fields, mapping, "sprint")
    sprint_name = _sprint_name(sprint_path, project) if isinstance(sprint_path, str) else None
    attributes = iteration.get("attributes") or {}
    return sprint_name, {
        "sprint_name": sprint_name,
        "sprint_source_id": str(iteration.get("id")) if iteration.get("id") else (sprint_path if sprint_name else None),
        "sprint_state": _sprint_state(attributes.get("timeFrame")),
        "sprint_start": parse_datetime(attributes.get("startDate")),
        "sprint_end": parse_datetime(attributes.get("finishDate")),
    }


def _history_fields(
    fields: Mapping[str, Any],
    extras: Mapping[str, Any],
    status_category: str,
    sprint_name: str | None,
    project: Any,
) -> dict[str, Any]:
    """started_at, done_at, reopened_count, sprint_history and blocked time from the dates and the updates."""
    categories = extras.get("state_categories")
    started = parse_datetime(fields.get("Microsoft.VSTS.Common.ActivatedDate"))
    done = parse_datetime(fields.get("Microsoft.VSTS.Common.ClosedDate")) or parse_datetime(
        fields.get("Microsoft.VSTS.Common.ResolvedDate")
    )
    reopened = 0
    history: list[str] = []
    blocked_hours = 0.0
    history_blocked_since: datetime | None = None
    updates = extras.get("updates")
    if updates:
        h_start, h_done, reopened, paths, blocked_hours, history_blocked_since = _history_from_updates(
            updates, categories
        )
        started = started or h_start
        done = done or h_done
        history = [name for name in (_sprint_name(p, project) for p in paths) if name]
    state_changed = parse_datetime(fields.get("Microsoft.VSTS.Common.StateChangeDate"))
    if status_category == "done":
        done = done or state_changed  # never a start time: an item closed straight from New has none
    else:
        done = None  # reopened items keep an old ClosedDate on some processes
        if status_category == "in_progress":
            started = started or state_changed
    if sprint_name and sprint_name not in history:
        history.append(sprint_name)
    return {
        "sprint_history": history,
        "started_at": started,
        "done_at": done,
        "reopened_count": reopened,
        "blocked_hours": blocked_hours,
        "blocked_since": history_blocked_since or state_changed,
    }


def normalize_azure_work_item(
    raw: Mapping[str, Any], mapping: FieldMapping | Mapping[str, Any] | None = None
) -> NormalizedWorkItem:
    """One workitemsbatch / workitems element (plus the connector's "_dmt" extras) -> work_items columns."""
    if not isinstance(raw, Mapping) or raw.get("id") in (None, ""):
        raise SourceDataError("an Azure Boards work item without an id was returned")
    fields = raw.get("fields")
    if not isinstance(fields, Mapping):
        raise SourceDataError(f"Azure Boards work item {raw.get('id')} has no fields object")
    mapping = FieldMapping.parse(mapping)
    extras = raw.get("_dmt") or {}
    item_id = str(raw["id"])
    project = fields.get("System.TeamProject")
    state = fields.get("System.State")
    work_type = str(fields.get("System.WorkItemType") or "")
    status_category = _category(state, extras.get("state_categories"))
    parent, links, pr_links = _relations(raw, fields, mapping)
    sprint_name, sprint = _sprint_fields(fields, mapping, extras.get("iteration") or {}, project)
    history = _history_fields(fields, extras, status_category, sprint_name, project)
    assignee_name, assignee_email, assignee_id = identity_parts(fields.get("System.AssignedTo"))
    tags = fields.get("System.Tags") or ""
    labels = [t.strip() for t in str(tags).split(";") if t.strip()]
    blocked_flag = to_bool(fields.get("Microsoft.VSTS.CMMI.Blocked"))
    is_blocked = bool(blocked_flag) or any(label.lower() == "blocked" for label in labels)
    priority = fields.get("Microsoft.VSTS.Common.Priority")

    item: NormalizedWorkItem = {
        "source_item_id": item_id,
        "item_key": azure_work_item_key(item_id) if item_id.isdigit() else item_id,
        "url": _web_url(raw, project, item_id),
        "item_type": _ITEM_TYPES.get(work_type.lower(), snake(work_type) or "story"),
        "title": str(fields.get("System.Title") or ""),
        "status": str(state or ""),
        "status_category": status_category,
        "priority": str(priority) if priority not in (None, "") else None,
        "story_points": to_float(mapped_value(fields, mapping, "story_points")),
        "parent_source_id": str(parent) if parent is not None else None,
        "labels": labels,
        **sprint,  # type: ignore[typeddict-item]
        "sprint_history": history["sprint_history"],
        "assignee_name": assignee_name,
        "assignee_email": assignee_email,
        "assignee_account_id": assignee_id,
        "created_at_source": parse_datetime(fields.get("System.CreatedDate")),
        "updated_at_source": parse_datetime(fields.get("System.ChangedDate")),
        "started_at": history["started_at"],
        "done_at": history["done_at"],
        "reopened_count": history["reopened_count"],
        "is_blocked": is_blocked,
        "blocked_since": history["blocked_since"] if is_blocked else None,
        "blocked_hours": history["blocked_hours"],
        "blocked_reason": "Blocked" if is_blocked else None,
        "pr_links": list(dict.fromkeys(pr_links)),
        "links": links,
        "raw_data": dict(raw),
    }
    item.update(dmt_fields(fields, mapping))  # type: ignore[typeddict-item]
    return item


def propose_mapping(name: str, reference_name: str = "") -> str | None:
    """The DMT key a field's name suggests, if any."""
    if reference_name == "Microsoft.VSTS.Scheduling.StoryPoints":
        return "story_points"
    if reference_name == "System.IterationPath":
        return "sprint"
    if reference_name.startswith(("System.", "Microsoft.VSTS.")) and reference_name not in (
        "Microsoft.VSTS.Scheduling.Effort",
        "Microsoft.VSTS.Scheduling.Size",
    ):
        return None  # built-in fields only propose the two above
    for key, pattern in PROPOSALS:
        if pattern.search(name):
            return key
    return None


def _wiql_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# --------------------------------------------------------------------------- connector
class AzureBoardsConnector(AzureDevOpsConnector):
    """Azure Boards work items (see the module docstring for settings and the read strategy)."""

    provides_work_items = True
    tool_name = "Azure Boards"

    def __init__(self, settings: SourceSettings, **http_options: Any) -> None:
        super().__init__(settings, **http_options)
        config = settings.config_json or {}
        self.team: str = str(config.get("team") or f"{self.project} Team")
        mode = str(config.get("history") or "revisions").strip().lower()
        if mode not in HISTORY_MODES:
            raise SourceConfigError(f"Azure Boards history must be one of {', '.join(HISTORY_MODES)}, not {mode!r}")
        #: Where history comes from: the reporting revisions feed, per-item updates, or nowhere.
        self.history = mode
        self.revision_lookback = timedelta(days=float(config.get("revision_lookback_days") or REVISION_LOOKBACK_DAYS))
        self.fields_only = bool(config.get("fields_only", False))
        self.batch_size = max(1, min(BATCH_MAX_IDS, int(config.get("batch_size") or BATCH_MAX_IDS)))
        self.history_start = parse_datetime(config.get("history_start")) or datetime(2005, 1, 1, tzinfo=UTC)
        self._state_categories: dict[str, dict[str, str] | None] = {}
        self._iterations: dict[str, dict[str, Any]] | None = None
        self._nodes: dict[str, dict[str, Any]] | None = None
        #: Number of WIQL windows split because they hit the 20,000 cap (for progress and tests).
        self.windows_split = 0

    # -- connection & fields --------------------------------------------------
    def test_connection(self) -> ConnectionResult:
        identity = self._authenticated_identity()
        project = self._get(f"_apis/projects/{quote(self.project)}")
        return ConnectionResult(
            ok=True,
            identity=identity,
            details={"project": project.get("name"), "project_id": project.get("id"), "state": project.get("state")},
            message=f"Connected as {identity}; project {project.get('name')!r} is visible",
        )

    def discover_fields(self) -> list[DiscoveredField]:
        data = self._get(self._project_path("_apis/wit/fields"))
        found: list[DiscoveredField] = []
        for field in self._values(data, "fields"):
            if not isinstance(field, dict) or not field.get("referenceName"):
                continue
            ref, name = field["referenceName"], field.get("name") or field["referenceName"]
            options: list[str] = []
            if field.get("isPicklist") and field.get("picklistId"):
                try:
                    picklist = self._get(f"_apis/work/processes/lists/{field['picklistId']}")
                    options = [str(o) for o in picklist.get("items") or []]
                except SourceNotFound:
                    options = []
            found.append(
                DiscoveredField(
                    id=ref,
                    name=name,
                    field_type=_FIELD_TYPES.get(str(field.get("type")), str(field.get("type") or "string")),
                    options=options,
                    proposed_for=propose_mapping(name, ref),
                )
            )
        return found

    # -- WIQL -----------------------------------------------------------------
    def _wiql(self, start: datetime, end: datetime) -> list[int] | None:
        """Ids changed in [start, end), oldest first; None when the window passes the result cap."""
        query = (
            "SELECT [System.Id] FROM WorkItems "
            "WHERE [System.TeamProject] = @project "
            f"AND [System.ChangedDate] >= '{_wiql_date(start)}' AND [System.ChangedDate] < '{_wiql_date(end)}' "
            "ORDER BY [System.ChangedDate] ASC, [System.Id] ASC"
        )
        data, status = self._azure_json(
            "POST",
            self._project_path("_apis/wit/wiql"),
            params={"api-version": API_VERSION, "timePrecision": "true"},
            json_body={"query": query},
            ok_statuses=(400,),
        )
        if status == 400:
            message = str((data or {}).get("message", "")) if isinstance(data, dict) else ""
            if WIQL_CAP_ERROR in message:
                return None
            raise SourceConfigError(f"Azure DevOps rejected the WIQL query (400): {message[:300]}", status_code=400)
        items = data.get("workItems") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise SourceDataError("Azure DevOps WIQL answer has no 'workItems' list")
        try:
            return [int(item["id"]) for item in items]
        except (KeyError, TypeError, ValueError):
            raise SourceDataError("Azure DevOps WIQL answer has a work item without a numeric id") from None

    def iter_changed_ids(self, start: datetime | None, end: datetime | None) -> Iterator[list[int]]:
        """Ids changed in [start, end), window by window; windows over the cap are halved."""
        low = start or self.history_start
        high = end or (datetime.now(UTC) + timedelta(minutes=1))
        stack = [(low, high)]
        while stack:
            window_start, window_end = stack.pop()
            ids = self._wiql(window_start, window_end)
            if ids is None:
                if window_end - window_start <= timedelta(seconds=1):
                    raise SourceDataError(
                        f"more than {WIQL_RESULT_CAP} Azure Boards work items changed within one second "
                        f"at {window_start.isoformat()}; the window cannot be split further"
                    )
                middle = window_start + (window_end - window_start) / 2
                self.windows_split += 1
                stack.append((middle, window_end))  # popped second: keeps the oldest-first order
                stack.append((window_start, middle))
                continue
            if ids:
                yield ids

    # -- batch, categories, iterations ----------------------------------------
    def _batch_fields(self) -> list[str]:
        wanted = list(BASE_FIELDS)
        for field_id in self.field_mapping.field_ids():
            if field_id not in wanted:
                wanted.append(field_id)
        return wanted[:BATCH_MAX_FIELDS]

    def _fetch_batch(self, ids: list[int]) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"ids": ids, "errorPolicy": "Omit"}
        if self.fields_only:
            body["fields"] = self._batch_fields()
        else:
            body["$expand"] = "Relations"
        data, _ = self._azure_json(
            "POST", "_apis/wit/workitemsbatch", json_body=body, params={"api-version": API_VERSION}
        )
        if not isinstance(data, dict):
            raise SourceDataError("Azure DevOps workitemsbatch answer is not an object")
        # errorPolicy Omit returns null for ids deleted since the WIQL query ran.
        return [item for item in self._values(data, "workitemsbatch") if item]

    def state_categories(self, work_item_type: str) -> dict[str, str] | None:
        """{state name: category} for a work item type (cached); None if the type cannot be read."""
        if work_item_type not in self._state_categories:
            try:
                data = self._get(self._project_path(f"_apis/wit/workitemtypes/{quote(work_item_type)}/states"))
                self._state_categories[work_item_type] = {
                    str(s.get("name")): str(s.get("category"))
                    for s in self._values(data, "states")
                    if isinstance(s, dict)
                }
            except SourceNotFound:
                self._state_categories[work_item_type] = None
        return self._state_categories[work_item_type]

    def iterations(self) -> dict[str, dict[str, Any]]:
        """The team's iterations by path (cached); empty when the team does not exist."""
        if self._iterations is None:
            try:
                data = self._get(f"{quote(self.project)}/{quote(self.team)}/_apis/work/teamsettings/iterations")
                self._iterations = {
                    str(i.get("path")): i for i in self._values(data, "iterations") if isinstance(i, dict)
                }
            except SourceNotFound:
                self._iterations = {}
        return self._iterations

    def iteration_nodes(self) -> dict[str, dict[str, Any]]:
        """Every iteration of the project by path, from the classification nodes (cached).

        The fallback for items in iterations the team has not selected: same shape as a
        team iteration, with the time frame computed from the dates.
        """
        if self._nodes is None:
            nodes: dict[str, dict[str, Any]] = {}
            self._nodes = nodes
            try:
                root = self._get(self._project_path("_apis/wit/classificationnodes/Iterations"), {"$depth": 10})
            except SourceNotFound:
                return nodes
            now = datetime.now(UTC)

            def walk(node: Mapping[str, Any], path: str) -> None:
                attributes = dict(node.get("attributes") or {})
                start, finish = (
                    parse_datetime(attributes.get("startDate")),
                    parse_datetime(attributes.get("finishDate")),
                )
                if start and finish and "timeFrame" not in attributes:
                    attributes["timeFrame"] = "past" if finish < now else ("future" if start > now else "current")
                nodes[path] = {
                    "id": node.get("identifier") or node.get("id"),
                    "name": node.get("name"),
                    "path": path,
                    "attributes": attributes,
                }
                for child in node.get("children") or []:
                    if isinstance(child, Mapping):
                        walk(child, f"{path}\\{child.get('name')}")

            walk(root, str(root.get("name") or self.project))
        return self._nodes

    def iteration_for(self, path: str) -> dict[str, Any] | None:
        found = self.iterations().get(path)
        if found is None and "\\" in path:
            found = self.iteration_nodes().get(path)
        return found

    def _updates(self, item_id: int) -> list[dict[str, Any]]:
        """One item's history from ``workItems/{id}/updates`` (the per-item path), compacted."""
        updates: list[dict[str, Any]] = []
        skip = 0
        cursors = CursorGuard(f"updates of work item {item_id}")
        while True:
            data = self._get(self._project_path(f"_apis/wit/workItems/{item_id}/updates"), {"$top": 200, "$skip": skip})
            page = self._values(data, "updates")
            updates.extend(u for u in page if isinstance(u, dict))
            if len(page) < 200:
                return compact_updates(updates)
            cursors.advance(repr((page[0], page[-1])))  # a site ignoring $skip repeats its page
            skip += len(page)

    def revision_histories(self, since: datetime | None) -> RevisionHistories | None:
        """Every item's compact history from the reporting revisions feed (revisions after `since`).

        None when the feed is unavailable here (an old Server answers 404, a token
        without the work item scope 403, some collections 400): the caller falls
        back to per-item updates.
        """
        histories = RevisionHistories(since)
        base: dict[str, Any] = {
            "api-version": API_VERSION,
            "fields": ",".join(("System.Id", "System.Rev", *HISTORY_FIELDS)),
            "$maxPageSize": REVISIONS_PAGE_SIZE,
        }
        params: dict[str, Any] | None = dict(base)
        if since is not None:
            params["startDateTime"] = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        url = self._project_path("_apis/wit/reporting/workitemrevisions")
        cursors = CursorGuard(f"{self.tool_name} reporting revisions")
        while True:
            try:
                data, _ = self._azure_json("GET", url, params=params)
            except (SourceNotFound, SourcePermissionError, SourceConfigError):
                if len(histories):
                    raise  # the feed answered before: this is a failure, not a missing API
                return None
            if not isinstance(data, dict) or not isinstance(data.get("values"), list):
                raise SourceDataError("Azure DevOps reporting revisions answer has no 'values' list")
            for revision in data["values"]:
                if isinstance(revision, Mapping):
                    histories.add(revision)
            token = data.get("continuationToken")
            next_link = data.get("nextLink")
            if data.get("isLastBatch") is True or not (next_link or token):
                return histories
            cursors.advance(token or next_link)
            if token:  # our own query (fields, page size) from the token on: startDateTime goes with the first
                params = {**base, "continuationToken": token}
            else:
                url, params = str(next_link), None  # the link carries the query string and the watermark

    def _enrich(self, item: dict[str, Any], histories: RevisionHistories | None) -> dict[str, Any]:
        fields = item.get("fields") or {}
        work_type = fields.get("System.WorkItemType")
        path = fields.get("System.IterationPath")
        updates: list[dict[str, Any]] | None = None
        if self.history != "none" and item.get("id"):
            item_id = int(item["id"])
            if histories is not None and histories.complete_for(parse_datetime(fields.get("System.CreatedDate"))):
                updates = histories.updates_of(item_id)
            else:
                updates = self._updates(item_id)
        item["_dmt"] = {
            "state_categories": self.state_categories(str(work_type)) if work_type else None,
            "iteration": self.iteration_for(str(path)) if path else None,
            "updates": updates,
        }
        return item

    def _histories_for(self, start: datetime | None) -> RevisionHistories | None:
        """The revisions feed a sync of [start, ...) reads first; None: per-item updates (or no history)."""
        if self.history != "revisions":
            return None
        since = start - self.revision_lookback if start is not None else None
        return self.revision_histories(since)

    # -- extraction -----------------------------------------------------------
    def extract_work_items(self, start: datetime | None, end: datetime | None) -> Iterator[list[dict[str, Any]]]:
        """Pages (<= batch_size) of raw work items changed in [start, end), oldest change first."""
        histories = self._histories_for(start)
        pending: list[int] = []
        for ids in self.iter_changed_ids(start, end):
            pending.extend(ids)
            while len(pending) >= self.batch_size:
                chunk, pending = pending[: self.batch_size], pending[self.batch_size :]
                yield [self._enrich(item, histories) for item in self._fetch_batch(chunk)]
        if pending:
            yield [self._enrich(item, histories) for item in self._fetch_batch(pending)]

    def list_work_item_ids(self) -> Iterator[list[str]]:
        for ids in self.iter_changed_ids(None, None):
            yield [str(i) for i in ids]

    def normalize_work_item(self, raw: dict[str, Any]) -> NormalizedWorkItem:
        return normalize_azure_work_item(raw, self.field_mapping)


register_connector("azure_boards", AzureBoardsConnector)
