"""The connector contract: settings, the typed field mapping, results, and the base class.

Connectors never touch the database. They speak the tool's real API through
the shared HTTP layer (`etl/connectors/http.py`), yield raw records page by
page, and normalise each one with a pure function of (raw payload, field
mapping, facts the connector learnt from the tool). `etl/sync.py` loads what
they yield.

A source's field mapping is parsed once, by `FieldMapping.parse`, when an
admin saves it (`services.sources.save_field_mappings`), and travels typed in
`SourceSettings.field_mappings` to the normalisers. What a connector learns
from the tool at run time (Jira's status categories, ClickUp's sprint lists,
...) lives in the connector's own attributes, never in the mapping.
"""

from __future__ import annotations

import abc
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, TypedDict

from pydantic import BaseModel, ConfigDict

from etl.connectors.errors import (
    FieldMappingError,
    SourceAuthError,
    SourceConfigError,
    SourceDataError,
    SourceError,
    SourceNotFound,
    SourcePermissionError,
    SourceRateLimited,
    SourceUnavailable,
)
from etl.connectors.http import SourceHttpClient
from etl.connectors.linking import linking_options
from etl.connectors.values import DEFAULT_SIGNOFF_MARKER, signoff_pattern, slug

__all__ = [
    "INCIDENT_CRITERIA",
    "MAPPABLE_FIELDS",
    "BaseConnector",
    "ConnectionResult",
    "DeploymentCommit",
    "DiscoveredField",
    "FieldMapping",
    "FieldMappingError",
    "HttpSetup",
    "IncidentRule",
    "MappedField",
    "NormalizedDeployment",
    "NormalizedPullRequest",
    "NormalizedWorkItem",
    "PullRequestOptions",
    "SourceAuthError",
    "SourceConfigError",
    "SourceDataError",
    "SourceError",
    "SourceNotFound",
    "SourcePermissionError",
    "SourceRateLimited",
    "SourceSettings",
    "SourceUnavailable",
]

# --------------------------------------------------------------------------- field mapping
#: The DMT fields a source can map to one of its tool's fields.
MAPPABLE_FIELDS = (
    "story_points",
    "sprint",
    "epic",
    "ac_quality",
    "unit_test_task",
    "unit_testing_status",
    "coverage",
    "pr_links",
    "ci_evidence",
    "dmt_signoff",
    "exception_approved_by",
    "exception_reason",
    "exception_expires_at",
    "incident",
)
#: What the `incident` rule reads from a work item: its type, a label, or its priority.
INCIDENT_CRITERIA = ("type", "label", "priority")

#: Tool field types that cannot hold a DMT field's value: such a mapping is refused when saved.
INCOMPATIBLE_TYPES: dict[str, frozenset[str]] = {
    "story_points": frozenset({"date", "datetime", "user", "boolean", "sprint"}),
    "coverage": frozenset({"date", "datetime", "user", "boolean", "sprint"}),
    "exception_expires_at": frozenset({"number", "boolean", "user", "sprint"}),
}
#: What a field type looks like ("number", "option", "option-with-child", "picklistString", ...).
_FIELD_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$")
#: A value map's targets: our value for a tool option (text, or a flag for sign-off style fields).
MappedValue = str | bool | int | float


class MappedField(BaseModel):
    """One DMT field's mapping: the tool's field id, its type (as discovery reported it), a value map."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str
    type: str | None = None
    values: dict[str, MappedValue] = {}

    def to_json(self) -> dict[str, Any]:
        """The stored form: {"field": id} plus "type" and "values" when set."""
        stored: dict[str, Any] = {"field": self.field}
        if self.type:
            stored["type"] = self.type
        if self.values:
            stored["values"] = dict(self.values)
        return stored


class FieldMapping(BaseModel):
    """A source's field mapping: DMT field (one of MAPPABLE_FIELDS) -> MappedField.

    Build it with `FieldMapping.parse`, from the stored JSON
    (``{"story_points": {"field": "customfield_10016", "type": "number", "values": {...}}}``;
    a bare field id ``{"story_points": "customfield_10016"}`` is read too, as saved by
    earlier versions) or from what an admin typed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    fields: dict[str, MappedField] = {}

    @classmethod
    def parse(cls, raw: FieldMapping | Mapping[str, Any] | None) -> FieldMapping:
        """Validate a mapping; raises FieldMappingError naming the DMT field and what is wrong with it.

        Empty entries (None, "", {}) are dropped: that field is not mapped.
        """
        if isinstance(raw, FieldMapping):
            return raw
        if raw is None:
            return EMPTY_MAPPING
        if not isinstance(raw, Mapping):
            raise FieldMappingError("a field mapping maps DMT fields to tool fields: an object is expected")
        parsed: dict[str, MappedField] = {}
        for key, spec in raw.items():
            if key not in MAPPABLE_FIELDS:
                raise FieldMappingError(
                    f"{key!r} is not a mappable field (one of {', '.join(MAPPABLE_FIELDS)})", key=str(key)
                )
            if spec in (None, "", {}):
                continue
            parsed[key] = _parse_mapped_field(key, spec)
        return cls(fields=parsed) if parsed else EMPTY_MAPPING

    def get(self, key: str) -> MappedField | None:
        """The mapping of one DMT field, None when it is not mapped."""
        return self.fields.get(key)

    def field_id(self, key: str) -> str | None:
        """The tool field id a DMT field is mapped to."""
        mapped = self.fields.get(key)
        return mapped.field if mapped is not None else None

    def values_of(self, key: str) -> Mapping[str, MappedValue]:
        """The value map of one DMT field (empty when none)."""
        mapped = self.fields.get(key)
        return mapped.values if mapped is not None else {}

    def field_ids(self) -> list[str]:
        """Every mapped tool field id, in mapping order."""
        return [mapped.field for mapped in self.fields.values()]

    def to_json(self) -> dict[str, Any]:
        """The stored JSON form (what `parse` reads back)."""
        return {key: mapped.to_json() for key, mapped in self.fields.items()}

    def incident_rule(self) -> IncidentRule | None:
        """Which work items are incidents (the `incident` mapping), None when the source names none."""
        mapped = self.fields.get("incident")
        if mapped is None:
            return None
        names = tuple(sorted(name for name, ours in mapped.values.items() if ours is not False and ours != 0))
        return IncidentRule(criterion=mapped.field, names=names) if names else None


@dataclass(frozen=True)
class IncidentRule:
    """Work items are incidents when their `criterion` (type, label or priority) is one of `names`.

    Stored as the `incident` entry of a field mapping:
    ``{"incident": {"field": "label", "values": {"incident": true, "outage": true}}}``.
    Names compare without case; a type also matches in its normalised form
    ("Production Incident" matches item type ``production_incident``).
    """

    criterion: str
    names: tuple[str, ...]

    def matches(self, item_type: str | None, labels: list[str] | None, priority: str | None) -> bool:
        """Whether a normalised work item with these values is an incident (the SQL in etl/dora.py agrees)."""
        wanted = {n.lower() for n in self.names}
        if self.criterion == "type":
            return bool(item_type) and (
                item_type.lower() in wanted or item_type.lower() in {slug(n) for n in self.names}
            )
        if self.criterion == "label":
            return any(str(label).lower() in wanted for label in labels or [])
        return bool(priority) and priority.lower() in wanted


def _parse_incident_rule(spec: Any) -> MappedField:
    """The `incident` mapping: a criterion (type, label or priority) and the names that mark an incident."""
    if not isinstance(spec, Mapping):
        raise FieldMappingError(
            'the incident rule needs a criterion and names, e.g. {"field": "label", "values": {"incident": true}}',
            key="incident",
        )
    criterion = str(spec.get("field") or "").strip().lower()
    if criterion not in INCIDENT_CRITERIA:
        raise FieldMappingError(
            f"the incident rule reads a work item's {', '.join(INCIDENT_CRITERIA[:-1])} or {INCIDENT_CRITERIA[-1]}, "
            f"not {spec.get('field')!r}",
            key="incident",
        )
    values = spec.get("values") or {}
    if isinstance(values, list | tuple):
        values = {str(v): True for v in values}
    if not isinstance(values, Mapping) or not values:
        raise FieldMappingError(f"the incident rule needs at least one {criterion} name", key="incident")
    names: dict[str, MappedValue] = {}
    for name, ours in values.items():
        if not isinstance(name, str) or not name.strip() or not isinstance(ours, bool | int | float | str):
            raise FieldMappingError(f"the incident rule names {criterion}s: {name!r} is not one", key="incident")
        names[name.strip()] = (
            bool(ours) if not isinstance(ours, str) else ours.strip().lower() not in ("", "false", "0", "no")
        )
    return MappedField(field=criterion, type=None, values=names)


def _parse_mapped_field(key: str, spec: Any) -> MappedField:
    if key == "incident":
        return _parse_incident_rule(spec)
    if isinstance(spec, str):
        spec = {"field": spec}
    if not isinstance(spec, Mapping) or not str(spec.get("field") or "").strip():
        raise FieldMappingError(f"the mapping for {key!r} needs a tool field id", key=key)
    field_type = spec.get("type")
    if field_type in ("", None):
        field_type = None
    elif not isinstance(field_type, str) or not _FIELD_TYPE.match(field_type):
        raise FieldMappingError(f"the field type for {key!r} must be a type name such as number or option", key=key)
    elif field_type.lower() in INCOMPATIBLE_TYPES.get(key, ()):
        raise FieldMappingError(f"{key!r} cannot be read from a {field_type} field: pick another field", key=key)
    values = spec.get("values") or {}
    if not isinstance(values, Mapping):
        raise FieldMappingError(f"the value map for {key!r} must map tool options to our values", key=key)
    for option, ours in values.items():
        if not isinstance(option, str) or not isinstance(ours, str | bool | int | float):
            raise FieldMappingError(
                f"the value map for {key!r} must map option texts to values; {option!r} -> {ours!r} is not one",
                key=key,
            )
    return MappedField(field=str(spec["field"]).strip(), type=field_type, values=dict(values))


EMPTY_MAPPING = FieldMapping()


# --------------------------------------------------------------------------- config
@dataclass
class SourceSettings:
    """Everything a connector needs; it need not be saved in the database.

    `token` is the decrypted secret: built by services from SourceConfig just
    before use and never sent to a client. `field_mappings` is always a
    FieldMapping; a mapping in its stored JSON form is parsed on construction.
    """

    source_type: str
    base_url: str
    token: str | None = None
    username: str | None = None
    config_json: dict[str, Any] = field(default_factory=dict)
    field_mappings: FieldMapping = EMPTY_MAPPING
    request_budget_per_minute: int = 600
    source_id: int | None = None
    project_key: str | None = None

    def __post_init__(self) -> None:
        self.field_mappings = FieldMapping.parse(self.field_mappings)


@dataclass(frozen=True)
class PullRequestOptions:
    """What a pull request normaliser reads besides the payload, from the source's config and mapping."""

    signoff_marker: str = DEFAULT_SIGNOFF_MARKER
    project_keys: tuple[str, ...] = ()
    clickup_hash_ids: bool = False
    #: PRs carrying this label are signed off (the mapping of dmt_signoff to ``label:<name>``).
    signoff_label: str | None = None

    @classmethod
    def of(
        cls, config_json: Mapping[str, Any] | None, mapping: FieldMapping | Mapping[str, Any] | None = None
    ) -> PullRequestOptions:
        """Options from a source's config_json (signoff_marker, project_keys, clickup_hash_ids) and mapping."""
        config = config_json or {}
        linking = linking_options(config)
        signoff_field = FieldMapping.parse(mapping).field_id("dmt_signoff")
        return cls(
            signoff_marker=str(config.get("signoff_marker") or DEFAULT_SIGNOFF_MARKER),
            project_keys=tuple(linking["project_keys"]),
            clickup_hash_ids=linking["clickup_hash_ids"],
            signoff_label=signoff_field[6:] if signoff_field and signoff_field.startswith("label:") else None,
        )

    @cached_property
    def signoff(self) -> re.Pattern[str]:
        """The sign-off marker as a whole word, any case."""
        return signoff_pattern(self.signoff_marker)

    def linking(self) -> dict[str, Any]:
        """Keyword arguments for `linking.find_work_item_keys`."""
        return {"project_keys": list(self.project_keys), "clickup_hash_ids": self.clickup_hash_ids}


# --------------------------------------------------------------------------- results
@dataclass
class ConnectionResult:
    ok: bool
    identity: str  # who we are at the tool ("Jane Doe <jane@acme.com>", "octocat")
    details: dict[str, Any] = field(default_factory=dict)  # what we can see: projects, repos, ...
    message: str = ""


@dataclass
class DiscoveredField:
    id: str  # the tool's field id (customfield_10016, a ClickUp field uuid, Microsoft.VSTS...)
    name: str
    field_type: str  # number, string, option, array, date, user, ...
    options: list[str] = field(default_factory=list)  # for select fields
    proposed_for: str | None = None  # one of MAPPABLE_FIELDS when the name/schema suggests it


class NormalizedWorkItem(TypedDict, total=False):
    """Output of normalize_work_item: the columns of tenant.work_items a connector fills."""

    source_item_id: str  # required
    item_key: str | None
    url: str | None
    item_type: str  # story, bug, task, subtask, epic
    title: str
    status: str
    status_category: str  # todo, in_progress, done
    priority: str | None
    story_points: float | None
    parent_source_id: str | None
    labels: list[str]
    sprint_name: str | None
    sprint_source_id: str | None
    sprint_state: str | None
    sprint_start: datetime | None
    sprint_end: datetime | None
    sprint_complete: datetime | None  # when a closed sprint was completed (its window ends there)
    sprint_history: list[str]
    assignee_name: str | None
    assignee_email: str | None
    assignee_account_id: str | None
    created_at_source: datetime | None
    updated_at_source: datetime | None
    started_at: datetime | None
    done_at: datetime | None
    reopened_count: int
    is_blocked: bool
    blocked_since: datetime | None
    blocked_hours: float
    blocked_reason: str | None
    ac_quality: str | None
    has_unit_test_task: bool | None
    unit_testing_status: str | None
    coverage_percent: float | None
    pr_links: list[str]
    ci_evidence_url: str | None
    dmt_signoff: bool | None
    dmt_signoff_by: str | None
    exception_approved_by: str | None
    exception_reason: str | None
    exception_expires_at: datetime | None
    links: list[dict[str, Any]]
    raw_data: dict[str, Any]


class NormalizedPullRequest(TypedDict, total=False):
    """Output of normalize_pull_request: the columns of tenant.pull_requests a connector fills."""

    source_pr_id: str  # required
    number: int | None
    repository: str
    title: str
    body: str | None
    url: str | None
    state: str  # open, merged, closed
    is_draft: bool
    author_login: str | None
    author_email: str | None
    author_name: str | None
    source_branch: str | None
    target_branch: str | None
    created_at_source: datetime | None
    updated_at_source: datetime | None
    first_review_at: datetime | None
    approved_at: datetime | None
    merged_at: datetime | None
    closed_at: datetime | None
    reviewers: list[dict[str, Any]]  # {"login", "name", "email", "state", "submitted_at"}
    review_count: int
    approvals_count: int
    comments_count: int
    commits_count: int
    additions: int | None
    deletions: int | None
    ci_status: str | None
    ci_url: str | None
    dmt_signoff: bool
    dmt_signoff_by: str | None
    linked_keys: list[str]
    merge_commit_sha: str | None  # the commit the merge put on the target branch (deployments ship it)
    first_commit_at: datetime | None  # the PR's earliest commit (lead time for changes starts there)
    raw_data: dict[str, Any]


class DeploymentCommit(TypedDict, total=False):
    """A commit a deployment shipped."""

    sha: str  # required
    authored_at: datetime | None
    author_login: str | None
    message: str


class NormalizedDeployment(TypedDict, total=False):
    """Output of normalize_deployment: the columns of tenant.deployments, and the commits it shipped."""

    source_deployment_id: str  # required
    kind: str  # deployment, workflow_run, pipeline_run, record
    name: str
    repository: str
    environment: str
    status: str  # success, failure, cancelled, in_progress
    commit_sha: str | None
    ref: str | None
    url: str | None
    creator_login: str | None
    created_at_source: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    updated_at_source: datetime | None
    previous_sha: str | None
    changes_count: int
    is_revert: bool
    #: The commits between the previous successful deployment to the environment and this one;
    #: None when not known (a failed deployment, or the first one seen): the stored ones are kept.
    changes: list[DeploymentCommit] | None
    raw_data: dict[str, Any]


# --------------------------------------------------------------------------- connector
@dataclass(frozen=True)
class HttpSetup:
    """How a connector reaches its tool: base URL, credentials, and the label its errors carry."""

    base_url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    auth: tuple[str, str] | None = None
    label: str = "source"


class BaseConnector(abc.ABC):
    """One tool. Subclasses register with `etl.connectors.registry.register_connector`.

    `http_options` go to the HTTP client (tests pass a `sleep`, a transport, ...).
    The client is created on first use from `http_setup()`, one per connector,
    shared by its threads, and every client of one source draws from one
    request budget (`budget_key`).
    """

    source_type: str = ""
    provides_work_items: bool = False
    provides_pull_requests: bool = False
    provides_deployments: bool = False

    def __init__(self, settings: SourceSettings, **http_options: Any) -> None:
        self.settings = settings
        self._http_options = http_options
        self._http: SourceHttpClient | None = None
        self._http_lock = threading.Lock()

    @property
    def field_mapping(self) -> FieldMapping:
        """The source's typed field mapping."""
        return self.settings.field_mappings

    # -- HTTP -----------------------------------------------------------------
    def http_setup(self) -> HttpSetup:
        """Where and how to call the tool; connectors that call one override it."""
        raise SourceConfigError(f"the {self.source_type or type(self).__name__} connector calls no HTTP API")

    @property
    def budget_key(self) -> str | None:
        """The request budget every client of this source shares ("source:42"); None for an unsaved source."""
        return f"source:{self.settings.source_id}" if self.settings.source_id is not None else None

    @property
    def http(self) -> SourceHttpClient:
        """The tool's HTTP client, created on first use (the base URL is checked then)."""
        client = self._http
        if client is not None:
            return client
        with self._http_lock:
            if self._http is None:
                setup = self.http_setup()
                self._http = SourceHttpClient(
                    setup.base_url,
                    headers=setup.headers,
                    auth=setup.auth,
                    budget_per_minute=self.settings.request_budget_per_minute,
                    budget_key=self.budget_key,
                    source_label=setup.label,
                    **self._http_options,
                )
            return self._http

    def close(self) -> None:
        """Release the HTTP connections (a later call opens a new client)."""
        with self._http_lock:
            client, self._http = self._http, None
        if client is not None:
            client.close()

    # -- the contract ---------------------------------------------------------
    @abc.abstractmethod
    def test_connection(self) -> ConnectionResult:
        """Call the real API: who are we, what can we see. Raises SourceError on failure."""

    @abc.abstractmethod
    def discover_fields(self) -> list[DiscoveredField]:
        """List the tool's fields, proposing mappings for the DMT fields by name and schema."""

    def extract_work_items(self, start: datetime | None, end: datetime | None) -> Iterator[list[dict[str, Any]]]:
        """Yield pages of raw work items updated in [start, end) (start None: everything)."""
        return iter(())

    def extract_pull_requests(self, start: datetime | None, end: datetime | None) -> Iterator[list[dict[str, Any]]]:
        """Yield pages of raw pull requests updated in [start, end)."""
        return iter(())

    def extract_deployments(self, start: datetime | None, end: datetime | None) -> Iterator[list[dict[str, Any]]]:
        """Yield pages of raw deployments created or changed in [start, end), with the commits each shipped."""
        return iter(())

    def list_work_item_ids(self) -> Iterator[list[str]]:
        """Yield pages of every live work item id, for the deletion reconciliation."""
        return iter(())

    def list_pull_request_ids(self) -> Iterator[list[str]]:
        """Yield pages of every live pull request id, for the deletion reconciliation."""
        return iter(())

    def normalize_work_item(self, raw: dict[str, Any]) -> NormalizedWorkItem:
        """One raw work item -> the columns of tenant.work_items."""
        raise SourceDataError(f"{self.source_type} does not provide work items")

    def normalize_pull_request(self, raw: dict[str, Any]) -> NormalizedPullRequest:
        """One raw pull request -> the columns of tenant.pull_requests."""
        raise SourceDataError(f"{self.source_type} does not provide pull requests")

    def normalize_deployment(self, raw: dict[str, Any]) -> NormalizedDeployment:
        """One raw deployment -> the columns of tenant.deployments and the commits it shipped."""
        raise SourceDataError(f"{self.source_type} does not provide deployments")
