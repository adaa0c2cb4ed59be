"""GitHub pull requests (github.com and GitHub Enterprise Server).

Settings:
- ``base_url``: ``https://api.github.com`` (default when empty) or, for
  GitHub Enterprise Server, ``https://ghe.acme.com/api/v3``.
- ``token``: a personal access token or app token, sent as ``Authorization: Bearer``.
- ``config_json``: ``repositories`` (list of ``"owner/repo"``; or ``repository``,
  or ``owner`` + ``repo``), ``signoff_marker`` (default ``"DMT-OK"``),
  ``project_keys`` / ``clickup_hash_ids`` (see `linking`), ``per_page``
  (<= 100, PRs per page), ``api`` (``"graphql"``, the default, or ``"rest"``),
  ``etags`` (REST path, see below).

How a sync reads the tool:

- GraphQL (default, `etl.connectors.github_graphql`): one query per page of 100 pull
  requests ordered by update time, newest first, with their reviews, review requests,
  comments, commits, labels and the head commit's status-check rollup; lists that overflow
  the page are completed by batched follow-up queries; paging stops at the first PR updated
  before the cursor. About 10-15 requests per 1,000 PRs, within GitHub's point budget
  (each answer's ``rateLimit`` is read and honoured).
- REST (``config_json.api: "rest"``, held back): ``GET /repos/{o}/{r}/pulls?state=all&sort=updated&direction=desc``
  in pages following the ``Link`` header, stopping at the first PR updated before the
  cursor; for each PR in range its reviews, commits, issue comments, ``pulls/{n}`` (additions,
  deletions, review-comment count) and the head commit's check runs and combined status:
  six requests per PR.

`test_connection` and `discover_fields` use REST on both paths.

ETags (REST path): on incremental runs (a start is given) the first page of each repository
is requested with ``If-None-Match``; a 304 means nothing changed in that
repository since the last run (the list is sorted by update time), costs no rate
limit, and ends that repository. The ETags live in ``connector.etags``
(``{"owner/repo": etag}``), seeded from ``config_json["etags"]``; the pipeline
persists ``connector.etags`` back into config_json after a successful run.

Known limit: a check run finishing after the PR's last update does not bump
``updated_at``, so an incremental run does not see that CI change until the
next PR update (a backfill does).

The raw record is the pulls list element as GitHub's REST API sends it (on the GraphQL
path: the same fields, mapped by `github_graphql.rest_shaped_pull`), plus a ``"_dmt"`` key
the connector adds::

    {"repository": "owner/repo",
     "reviews": [<GET /pulls/{n}/reviews elements>],
     "commits": [<GET /pulls/{n}/commits elements>],
     "comments": [<GET /issues/{n}/comments elements>],
     "check_runs": [<check-runs "check_runs" elements>],
     "status": <GET /commits/{sha}/status object> | None,
     "details": <GET /pulls/{n} object> | None,
     "api": "graphql" (GraphQL path only)}

``comments_count`` counts issue comments and review (inline) comments.

PRs have no custom fields: `discover_fields` lists the repositories' labels
(``label:<name>``); mapping ``dmt_signoff`` to a label marks PRs carrying it as
signed off.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from etl.connectors.base import (
    BaseConnector,
    ConnectionResult,
    DiscoveredField,
    HttpSetup,
    NormalizedPullRequest,
    PullRequestOptions,
    SourceConfigError,
    SourceDataError,
    SourcePermissionError,
    SourceSettings,
)
from etl.connectors.github_graphql import GitHubGraphQL, graphql_endpoint
from etl.connectors.http import CursorGuard, parse_link_header
from etl.connectors.linking import find_work_item_keys
from etl.connectors.registry import register_connector
from etl.connectors.values import count_of, parse_datetime, to_int

DEFAULT_BASE_URL = "https://api.github.com"
#: The ways to read pull requests (config_json.api); the first is the default.
APIS = ("graphql", "rest")
API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
#: Label names that propose the dmt_signoff mapping in discovery.
SIGNOFF_LABEL = re.compile(r"dmt.*sign|sign.?off", re.I)

_DECISIVE = {"APPROVED", "CHANGES_REQUESTED", "DISMISSED"}
_CHECK_FAILURES = {"failure", "timed_out", "cancelled", "action_required", "startup_failure", "stale"}
_STATUS_FAILURES = {"failure", "error"}
_NOREPLY = "users.noreply.github.com"


_FAR_FUTURE = datetime(9998, 1, 1, tzinfo=UTC)


def _sort_time(value: Any) -> datetime:
    return parse_datetime(value) or _FAR_FUTURE


def _login(user: Any) -> str | None:
    return user.get("login") if isinstance(user, Mapping) else None


def ci_from_checks(
    check_runs: list[Mapping[str, Any]] | None, status: Mapping[str, Any] | None
) -> tuple[str | None, str | None]:
    """(ci_status, ci_url) from check runs and the combined commit status: failure > pending > success."""
    entries: list[tuple[str, str | None]] = []
    for run in check_runs or []:
        if not isinstance(run, Mapping):
            continue
        url = run.get("html_url") or run.get("details_url")
        if run.get("status") != "completed":
            entries.append(("pending", url))
        elif run.get("conclusion") in _CHECK_FAILURES:
            entries.append(("failure", url))
        else:
            entries.append(("success", url))
    for item in (status or {}).get("statuses") or []:
        if not isinstance(item, Mapping):
            continue
        state = str(item.get("state") or "")
        kind = "failure" if state in _STATUS_FAILURES else ("pending" if state == "pending" else "success")
        entries.append((kind, item.get("target_url")))
    for wanted in ("failure", "pending", "success"):
        matching = [url for kind, url in entries if kind == wanted]
        if matching:
            return wanted, next((u for u in matching if u), None)
    return None, None


def _reviews(extras: Mapping[str, Any], author: str | None) -> list[Mapping[str, Any]]:
    """Submitted reviews by someone other than the author, oldest first."""
    reviews = [
        r
        for r in extras.get("reviews") or []
        if isinstance(r, Mapping)
        and r.get("state") != "PENDING"
        and _login(r.get("user"))
        and _login(r.get("user")) != author
    ]
    reviews.sort(key=lambda r: _sort_time(r.get("submitted_at")))
    return reviews


def _review_fields(reviews: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Reviewers with their decisive state, first review and first approval times, counts."""
    by_reviewer: dict[str, dict[str, Any]] = {}
    first_approval: dict[str, datetime] = {}
    for review in reviews:
        login = _login(review.get("user")) or ""
        state = str(review.get("state") or "COMMENTED")
        submitted = parse_datetime(review.get("submitted_at"))
        entry = by_reviewer.setdefault(
            login, {"login": login, "name": None, "email": None, "state": state, "submitted_at": None}
        )
        if state in _DECISIVE or entry["state"] not in _DECISIVE:
            entry["state"] = state
        entry["submitted_at"] = submitted.isoformat() if submitted else entry["submitted_at"]
        if state == "APPROVED" and submitted and login not in first_approval:
            first_approval[login] = submitted
    approving = [login for login, entry in by_reviewer.items() if entry["state"] == "APPROVED"]
    review_times = [t for t in (parse_datetime(r.get("submitted_at")) for r in reviews) if t]
    approval_times = [first_approval[login] for login in approving if login in first_approval]
    return {
        "first_review_at": min(review_times) if review_times else None,
        "approved_at": min(approval_times) if approval_times else None,
        "reviewers": list(by_reviewer.values()),
        "review_count": len(reviews),
        "approvals_count": len(approving),
    }


def _signoff_fields(
    raw: Mapping[str, Any],
    reviews: list[Mapping[str, Any]],
    comments: list[Mapping[str, Any]],
    author: str | None,
    options: PullRequestOptions,
) -> dict[str, Any]:
    """Signed off by the first non-author comment or review carrying the marker, or by the sign-off label."""
    marker = options.signoff
    signoff_by: str | None = None
    signed: list[tuple[datetime | None, str]] = []
    for comment in comments:
        login = _login(comment.get("user"))
        if login and login != author and marker.search(str(comment.get("body") or "")):
            signed.append((parse_datetime(comment.get("created_at")), login))
    for review in reviews:
        if marker.search(str(review.get("body") or "")):
            signed.append((parse_datetime(review.get("submitted_at")), _login(review.get("user")) or ""))
    if signed:
        signoff_by = min(signed, key=lambda s: s[0] or _FAR_FUTURE)[1]  # the first to sign off
    labels = [str(label.get("name")) for label in raw.get("labels") or [] if isinstance(label, Mapping)]
    label_signoff = options.signoff_label is not None and options.signoff_label in labels
    return {"dmt_signoff": bool(signoff_by) or label_signoff, "dmt_signoff_by": signoff_by}


def _author_identity(commits: list[Mapping[str, Any]], author: str | None) -> tuple[str | None, str | None]:
    """(email, name) of the PR author from their commits; GitHub's no-reply addresses are no email."""
    author_email = author_name = None
    for commit in commits:
        if _login(commit.get("author")) == author:
            git_author = (commit.get("commit") or {}).get("author") or {}
            email = git_author.get("email")
            if email and not str(email).endswith(_NOREPLY):
                return email, git_author.get("name")
            author_name = author_name or git_author.get("name")
    return author_email, author_name


def _repository(raw: Mapping[str, Any], extras: Mapping[str, Any]) -> str:
    base = raw.get("base") or {}
    return str(
        extras.get("repository")
        or ((base.get("repo") or {}).get("full_name"))
        or "/".join(str(raw.get("url", "")).split("/repos/", 1)[-1].split("/")[:2])
        or ""
    )


def normalize_github_pull(raw: Mapping[str, Any], options: PullRequestOptions | None = None) -> NormalizedPullRequest:
    """One pulls list element (plus the connector's "_dmt" extras) -> pull_requests columns.

    `options` carries the source's sign-off marker and label and its linking options.
    """
    if not isinstance(raw, Mapping) or raw.get("id") in (None, "") or raw.get("number") in (None, ""):
        raise SourceDataError("a GitHub pull request without id or number was returned")
    options = options or PullRequestOptions()
    extras = raw.get("_dmt") or {}
    details = extras.get("details") or {}
    author = _login(raw.get("user"))
    head = raw.get("head") or {}
    base = raw.get("base") or {}
    reviews = _reviews(extras, author)
    comments = [c for c in extras.get("comments") or [] if isinstance(c, Mapping)]
    commits = [c for c in extras.get("commits") or [] if isinstance(c, Mapping)]
    author_email, author_name = _author_identity(commits, author)
    merged_at = parse_datetime(raw.get("merged_at"))
    state = "merged" if merged_at else ("closed" if raw.get("state") == "closed" else "open")
    ci_status, ci_url = ci_from_checks(extras.get("check_runs"), extras.get("status"))
    commit_messages = [str((c.get("commit") or {}).get("message") or "") for c in commits]
    keys = find_work_item_keys(
        raw.get("title"), head.get("ref"), raw.get("body"), *commit_messages, **options.linking()
    )
    comments_total = len(comments) if extras.get("comments") is not None else (to_int(raw.get("comments")) or 0)
    comments_total += to_int(details.get("review_comments") or raw.get("review_comments")) or 0
    commits_total = to_int(details.get("commits") or raw.get("commits"))
    reviewed = _review_fields(reviews)
    signoff = _signoff_fields(raw, reviews, comments, author, options)
    commit_times = [
        t for t in (parse_datetime(((c.get("commit") or {}).get("author") or {}).get("date")) for c in commits) if t
    ]
    return {
        "source_pr_id": str(raw["id"]),
        "number": to_int(raw.get("number")),
        "repository": _repository(raw, extras),
        "title": str(raw.get("title") or ""),
        "body": raw.get("body"),
        "url": raw.get("html_url"),
        "state": state,
        "is_draft": bool(raw.get("draft")),
        "author_login": author,
        "author_email": author_email,
        "author_name": author_name,
        "source_branch": head.get("ref"),
        "target_branch": base.get("ref"),
        "created_at_source": parse_datetime(raw.get("created_at")),
        "updated_at_source": parse_datetime(raw.get("updated_at")),
        "first_review_at": reviewed["first_review_at"],
        "approved_at": reviewed["approved_at"],
        "merged_at": merged_at,
        "closed_at": parse_datetime(raw.get("closed_at")),
        "reviewers": reviewed["reviewers"],
        "review_count": reviewed["review_count"],
        "approvals_count": reviewed["approvals_count"],
        "comments_count": comments_total,
        "commits_count": commits_total if commits_total is not None else len(commits),
        "additions": to_int(details.get("additions") if details else raw.get("additions")),
        "deletions": to_int(details.get("deletions") if details else raw.get("deletions")),
        "ci_status": ci_status,
        "ci_url": ci_url,
        **signoff,  # type: ignore[typeddict-item]
        "linked_keys": keys,
        "merge_commit_sha": (raw.get("merge_commit_sha") or None) if merged_at else None,
        "first_commit_at": min(commit_times) if commit_times else None,
        "raw_data": dict(raw),
    }


def _repositories(config: Mapping[str, Any]) -> list[str]:
    repos = config.get("repositories") or config.get("repository") or []
    if isinstance(repos, str):
        repos = [r for r in re.split(r"[,\s]+", repos) if r]
    if not repos and config.get("owner") and config.get("repo"):
        repos = [f"{config['owner']}/{config['repo']}"]
    cleaned = []
    for repo in repos:
        parts = str(repo).strip().strip("/").split("/")
        if len(parts) != 2 or not all(parts):
            raise SourceConfigError(f"GitHub repository {repo!r} must be written owner/name")
        cleaned.append("/".join(parts))
    return cleaned


class GitHubConnector(BaseConnector):
    """GitHub pull requests (see the module docstring for settings, ETags and the raw shape)."""

    provides_pull_requests = True

    def __init__(self, settings: SourceSettings, **http_options: Any) -> None:
        super().__init__(settings, **http_options)
        config = settings.config_json or {}
        self.repositories = _repositories(config)
        if not self.repositories:
            raise SourceConfigError("GitHub needs at least one repository: set config_json.repositories to owner/name")
        self.per_page = max(1, min(100, int(config.get("per_page") or 100)))
        self.api = str(config.get("api") or APIS[0]).lower()
        if self.api not in APIS:
            raise SourceConfigError(f"GitHub's api must be one of {', '.join(APIS)}, not {config.get('api')!r}")
        self._graphql: GitHubGraphQL | None = None
        #: ETag of each repository's first pulls page, {"owner/repo": etag}; persist after a run.
        self.etags: dict[str, str] = dict(config.get("etags") or {})
        #: Repositories answered 304 (unchanged) in the last extract.
        self.not_modified: list[str] = []
        self.options = PullRequestOptions.of(config, self.field_mapping)

    def http_setup(self) -> HttpSetup:
        if not self.settings.token:
            raise SourceConfigError("GitHub needs a token")
        return HttpSetup(
            self.settings.base_url or DEFAULT_BASE_URL,
            headers={**API_HEADERS, "Authorization": f"Bearer {self.settings.token}"},
            label=f"github:{self.settings.source_id or self.repositories[0]}",
        )

    @property
    def graphql(self) -> GitHubGraphQL:
        """The GraphQL reader, sharing this source's HTTP client (created on first use)."""
        if self._graphql is None or self._graphql.http is not self.http:
            endpoint = graphql_endpoint(self.http.base_url)
            sleep = self._http_options.get("sleep")
            self._graphql = GitHubGraphQL(self.http, endpoint, **({"sleep": sleep} if sleep else {}))
        return self._graphql

    def _get_object(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        data, _ = self.http.get_json(path, params=params)
        if not isinstance(data, dict):
            raise SourceDataError(f"GitHub answered {path} with {type(data).__name__}, expected an object")
        return data

    def _get_all(self, path: str, params: Mapping[str, Any] | None = None, key: str | None = None) -> list[Any]:
        """Every element of a paged list (Link header), or of `key` inside each page object."""
        out: list[Any] = []
        for data, _ in self.http.get_paged_link_header(path, params={"per_page": 100, **(params or {})}):
            page = data.get(key) if key and isinstance(data, dict) else data
            if not isinstance(page, list):
                raise SourceDataError(f"GitHub answered {path} with {type(data).__name__}, expected a list")
            out.extend(page)
        return out

    # -- connection & fields --------------------------------------------------
    def test_connection(self) -> ConnectionResult:
        try:
            user = self._get_object("user")
        except SourcePermissionError:
            # GitHub App installation tokens may not read /user; the repositories still tell us enough.
            user = {"login": "GitHub App installation"}
        login = user.get("login") or "unknown"
        repos = {}
        for repo in self.repositories:
            data = self._get_object(f"repos/{repo}")
            repos[repo] = {
                "private": data.get("private"),
                "default_branch": data.get("default_branch"),
                "permissions": data.get("permissions"),
            }
        identity = f"{user.get('name')} ({login})" if user.get("name") else str(login)
        details: dict[str, Any] = {"repositories": repos, "api": self.api}
        message = f"Connected as {identity}; {count_of(len(repos), 'repository', 'repositories')} visible"
        if self.api == "graphql":
            budget = self.graphql.rate_limit()
            details["graphql"] = budget
            message += f"; GraphQL budget {budget['remaining']} of {budget['limit']} points this hour"
        return ConnectionResult(ok=True, identity=identity, details=details, message=message)

    def discover_fields(self) -> list[DiscoveredField]:
        """Labels of the repositories (PRs have no custom fields), as ``label:<name>``."""
        seen: dict[str, DiscoveredField] = {}
        for repo in self.repositories:
            for label in self._get_all(f"repos/{repo}/labels"):
                name = str((label or {}).get("name") or "")
                if name and f"label:{name}" not in seen:
                    seen[f"label:{name}"] = DiscoveredField(
                        id=f"label:{name}",
                        name=name,
                        field_type="label",
                        proposed_for="dmt_signoff" if SIGNOFF_LABEL.search(name) else None,
                    )
        return list(seen.values())

    # -- extraction -----------------------------------------------------------
    def _enrich(self, repo: str, pull: dict[str, Any]) -> dict[str, Any]:
        number = pull["number"]
        sha = (pull.get("head") or {}).get("sha")
        extras: dict[str, Any] = {
            "repository": repo,
            "reviews": self._get_all(f"repos/{repo}/pulls/{number}/reviews"),
            "commits": self._get_all(f"repos/{repo}/pulls/{number}/commits"),
            "comments": self._get_all(f"repos/{repo}/issues/{number}/comments"),
            "check_runs": [],
            "status": None,
            # The list element lacks additions, deletions and the review-comment count.
            "details": self._get_object(f"repos/{repo}/pulls/{number}"),
        }
        if sha:
            extras["check_runs"] = self._get_all(f"repos/{repo}/commits/{quote(sha)}/check-runs", key="check_runs")
            extras["status"] = self._get_object(f"repos/{repo}/commits/{quote(sha)}/status")
        pull["_dmt"] = extras
        return pull

    def _pull_pages(self, repo: str, start: datetime | None, end: datetime | None) -> Iterator[list[dict[str, Any]]]:
        url: str | None = f"repos/{repo}/pulls"
        params: dict[str, Any] | None = {
            "state": "all",
            "sort": "updated",
            "direction": "desc",
            "per_page": self.per_page,
        }
        first = True
        cursors = CursorGuard(f"pull requests of {repo}")
        while url:
            headers = (
                {"If-None-Match": self.etags[repo]} if first and start is not None and repo in self.etags else None
            )
            data, response = self.http.get_json(url, params=params, headers=headers)
            if response.status_code == 304:
                self.not_modified.append(repo)
                return
            if first and response.headers.get("etag"):
                self.etags[repo] = response.headers["etag"]
            if not isinstance(data, list):
                raise SourceDataError(f"GitHub answered the pulls list of {repo} with {type(data).__name__}")
            page: list[dict[str, Any]] = []
            reached_cursor = False
            for pull in data:
                if not isinstance(pull, dict) or pull.get("number") is None:
                    raise SourceDataError(f"GitHub returned a pull request of {repo} without a number")
                updated = parse_datetime(pull.get("updated_at"))
                if start is not None and updated is not None and updated < start:
                    reached_cursor = True
                    break
                if end is not None and updated is not None and updated >= end:
                    continue
                page.append(self._enrich(repo, pull))
            if page:
                yield page
            if reached_cursor:
                return
            url = parse_link_header(response.headers.get("link")).get("next")
            if url:
                cursors.advance(url)
            params = None
            first = False

    def extract_pull_requests(self, start: datetime | None, end: datetime | None) -> Iterator[list[dict[str, Any]]]:
        """Pages of raw pull requests updated in [start, end), newest first, repository by repository."""
        self.not_modified = []
        for repo in self.repositories:
            if self.api == "graphql":
                yield from self.graphql.pull_request_pages(repo, start, end, self.per_page)
            else:
                yield from self._pull_pages(repo, start, end)

    def list_pull_request_ids(self) -> Iterator[list[str]]:
        for repo in self.repositories:
            if self.api == "graphql":
                yield from self.graphql.pull_request_ids(repo)
                continue
            params = {"state": "all", "sort": "created", "direction": "desc", "per_page": self.per_page}
            for data, _ in self.http.get_paged_link_header(f"repos/{repo}/pulls", params=params):
                if not isinstance(data, list):
                    raise SourceDataError(f"GitHub answered the pulls list of {repo} with {type(data).__name__}")
                yield [str(p["id"]) for p in data if isinstance(p, dict) and p.get("id") is not None]

    def normalize_pull_request(self, raw: dict[str, Any]) -> NormalizedPullRequest:
        return normalize_github_pull(raw, self.options)


register_connector("github", GitHubConnector)
