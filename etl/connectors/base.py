"""The connector contract: what every tool adapter offers, and the errors it raises.

Connectors never touch the database. They speak the tool's real API through
the shared HTTP layer (`etl/connectors/http.py`), yield raw records page by
page, and normalise each one with a pure function of (raw payload, field
mapping). `etl/sync.py` loads what they yield.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict


# --------------------------------------------------------------------------- errors
class SourceError(Exception):
    """Base of every error a connector raises; the message is shown to admins as is."""

    retryable = False

    def __init__(self, message: str, *, status_code: int | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.url = url


class SourceAuthError(SourceError):
    """The credentials were refused (401): wrong or expired token, wrong username."""


class SourcePermissionError(SourceError):
    """Authenticated, but not allowed to read this resource (403)."""


class SourceNotFound(SourceError):
    """The site, project, team or repository does not exist at that address (404)."""


class SourceRateLimited(SourceError):
    """The tool kept answering 429 after our retries, or our own request budget ran out."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class SourceUnavailable(SourceError):
    """Network failure, timeout or 5xx after retries; or the circuit breaker is open."""

    retryable = True


class SourceDataError(SourceError):
    """The tool answered with something we cannot read (malformed JSON, missing keys)."""


class SourceConfigError(SourceError):
    """The source configuration itself is wrong (bad base URL, refused address, missing field)."""


# --------------------------------------------------------------------------- config
@dataclass
class SourceSettings:
    """Everything a connector needs; it need not be saved in the database.

    `token` is the decrypted secret: built by services from SourceConfig just
    before use and never sent to a client.
    """

    source_type: str
    base_url: str
    token: str | None = None
    username: str | None = None
    config_json: dict[str, Any] = field(default_factory=dict)
    field_mappings: dict[str, Any] = field(default_factory=dict)
    request_budget_per_minute: int = 600
    source_id: int | None = None
    project_key: str | None = None


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


#: Keys of SourceSettings.field_mappings. Each maps to {"field": "<tool field id>",
#: "values": {"<tool option>": "<our value>"}} (values optional).
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
)


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
    raw_data: dict[str, Any]


# --------------------------------------------------------------------------- connector
class BaseConnector(abc.ABC):
    """One tool. Subclasses register with `etl.connectors.registry.register_connector`."""

    source_type: str = ""
    provides_work_items: bool = False
    provides_pull_requests: bool = False

    def __init__(self, settings: SourceSettings) -> None:
        self.settings = settings

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

    def list_work_item_ids(self) -> Iterator[list[str]]:
        """Yield pages of every live work item id, for the deletion reconciliation."""
        return iter(())

    def list_pull_request_ids(self) -> Iterator[list[str]]:
        return iter(())

    def normalize_work_item(self, raw: dict[str, Any]) -> NormalizedWorkItem:
        raise SourceDataError(f"{self.source_type} does not provide work items")

    def normalize_pull_request(self, raw: dict[str, Any]) -> NormalizedPullRequest:
        raise SourceDataError(f"{self.source_type} does not provide pull requests")

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release HTTP connections."""


#: Option texts teams use for the same DMT value, after slugging ("N/A" -> "n_a").
DMT_VALUE_SYNONYMS = {
    "n_a": "not_applicable",
    "na": "not_applicable",
    "not_needed": "not_applicable",
    "complete": "done",
    "completed": "done",
    "passed": "done",
    "untestable": "not_testable",
    "not_started_yet": "not_started",
    "todo": "not_started",
    "to_do": "not_started",
}


def canonical_dmt_value(slug: str | None) -> str | None:
    """The platform's value for a slugged option text the mapping did not translate."""
    if slug is None:
        return None
    return DMT_VALUE_SYNONYMS.get(slug, slug)
