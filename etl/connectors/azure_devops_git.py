"""Azure DevOps Git pull requests (Azure DevOps Services / Server).

Settings:
- ``base_url``: the organisation (``https://dev.azure.com/acme``) or the Server collection.
- ``token``: a personal access token (basic auth, empty user), scopes Code (read)
  and, for linked work items in bulk, Work Items (read).
- ``config_json``: ``project`` (or ``SourceSettings.project_key``), ``repositories``
  (names or ids; empty: every repository of the project), ``signoff_marker``
  (default ``"DMT-OK"``), ``project_keys`` / ``clickup_hash_ids`` (see `linking`),
  ``page_size`` (``$top``, default and at most 1,000), ``fetch_commits`` (``"auto"``, the
  default: only for PRs whose title, branch, description and linked work items
  name no work item or whose author has no e-mail; ``true``: always, which
  DORA's lead time wants (see "first_commit_at" below); ``false``: never),
  ``workers`` (PRs enriched at once, default 32), ``ci``
  (where CI evidence comes from: ``"auto"``, the default, the repository's
  pull request builds in bulk and, for a PR without one, its statuses;
  ``"builds"``; ``"statuses"``: every PR's status list, as external CI posts it).

How a sync reads the tool: ``GET {project}/_apis/git/repositories/{repo}/pullrequests``
with ``searchCriteria.status=all`` paged by ``$top``/``$skip`` (1,000 a page; the
service may answer fewer than asked, so a short page ends the list only after a full
one or when under 100 PRs, else the next page is asked). Pull requests
carry no "updated" time, so an incremental run (start given) asks three
questions and merges the answers by id: every *active* PR (votes and comments
can change any time), PRs *created* since the cursor and PRs *closed* since
the cursor (``searchCriteria.queryTimeRangeType`` + ``minTime``).

Only PRs that changed since the cursor are enriched (every PR of a full sync; a PR
created or closed since the cursor; an active one whose threads moved since: every
vote, comment, push and reviewer change writes a thread, so an incremental run reads
the threads of the other active PRs first, concurrently, and leaves out those that did
not move: their stored rows are current). A changed PR gets its linked work items, its
threads (first review, sign-off marker, vote times), its statuses when no build
answers for it (CI evidence, see ``ci``), and commits when ``fetch_commits``
asks for them, several PRs at once (``workers``)
inside the source's request budget and Azure DevOps' rate-limit headers
(`AzureThrottle`). Linked work items come for the changed PRs of a list page in
``POST {project}/_apis/wit/artifacturiquery`` (the artifact URIs of up to 500 PRs a
query); where that is refused (a token without the work item scope, an old Server),
per PR from ``pullRequests/{id}/workitems``. CI evidence comes, for a whole repository
at once, from its pull request validation builds (``GET {project}/_apis/build/builds``
with ``reasonFilter=pullRequest``, 1,000 a request, paged by the
``x-ms-continuationtoken`` header; a build names its PR in ``triggerInfo["pr.number"]``
or its ``refs/pull/{id}/merge`` branch), each turned into a status entry.

Requests of a full sync: one threads list per PR (no bulk thread read exists), one
commits list per PR ``fetch_commits`` asks for, and per repository one list page per
1,000 PRs, one builds page per 1,000 builds and one work item query per 500 PRs.

first_commit_at (DORA's lead time) comes only from a PR's commits, so with
``fetch_commits: auto`` the PRs whose commits are not read (those naming a work item,
with an author e-mail) have none and their lead time starts at the PR's creation. It
cannot be had without a request per PR: the list element names three commits by id
only (``lastMergeSourceCommit``, ``lastMergeTargetCommit``, ``lastMergeCommit``, no
dates); threads record the pushes made after the PR was opened (``RefUpdate``: push
time and new commit ids, nothing for the commits it was opened with, no author
dates); builds carry their source commit id and queue times. Bulk commit reads
(``commitsbatch``) take either commit ids, which would give the head commit's date
(the last commit, not the first), or one ``itemVersion``/``compareVersion`` range,
i.e. one request per PR again. ``fetch_commits: true`` gives every PR its
first_commit_at for one commits request per PR. A PR's commits are read to the end
(250 a request, ``x-ms-continuationtoken``): the service lists them newest first, so a
first page alone would miss the oldest, the one first_commit_at is about.

The raw record is the pullrequests list element exactly as returned, plus a
``"_dmt"`` key the connector adds::

    {"threads": [<threads elements>], "work_items": [<workitems refs {"id", "url"}>],
     "statuses": [<statuses elements>], "commits": [<commits elements>] | None}

Reviewer votes: 10 approved, 5 approved with suggestions, 0 no vote,
-5 waiting for author, -10 rejected. A vote thread names the voter either by
``CodeReviewVotedByTfId`` or by ``CodeReviewVotedByIdentity``, a key into the
thread's ``identities`` map; both are read.
"""

from __future__ import annotations

import collections
import itertools
import re
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import quote

from etl.connectors.azure_devops import API_VERSION, AzureDevOpsConnector
from etl.connectors.base import (
    ConnectionResult,
    DiscoveredField,
    NormalizedPullRequest,
    PullRequestOptions,
    SourceAuthError,
    SourceConfigError,
    SourceDataError,
    SourceNotFound,
    SourcePermissionError,
    SourceSettings,
)
from etl.connectors.http import CursorGuard
from etl.connectors.linking import azure_work_item_key, find_work_item_keys
from etl.connectors.registry import register_connector
from etl.connectors.values import count_of, identity_parts, parse_datetime

VOTE_STATES = {10: "APPROVED", 5: "APPROVED_WITH_SUGGESTIONS", 0: "NO_VOTE", -5: "WAITING_FOR_AUTHOR", -10: "REJECTED"}
_STATE = {"active": "open", "completed": "merged", "abandoned": "closed"}
_CI_STATES = {
    "succeeded": "success",
    "failed": "failure",
    "error": "failure",
    "pending": "pending",
    "notSet": "pending",
}
_FAR_FUTURE = datetime(9998, 1, 1, tzinfo=UTC)
#: Pull requests enriched at once (config workers); every request still passes the source's budget.
DEFAULT_WORKERS = 32
MAX_WORKERS = 64
#: ``$top`` of a pull request list page (config page_size, at most this): the most the service answers at once.
MAX_PAGE_SIZE = 1000
#: A page shorter than asked but at least this long may be the service capping ``$top``, not the end.
TRUSTED_SHORT_PAGE = 100
CI_SOURCES = ("auto", "builds", "statuses")
BUILDS_PAGE_SIZE = 1000
#: ``$top`` of a pull request's commits page (more come by x-ms-continuationtoken).
COMMITS_PAGE_SIZE = 250
#: List pages read ahead while the workers enrich the earlier ones.
PAGES_AHEAD = 2
#: PRs whose linked work items one artifact URI query asks for.
ARTIFACT_QUERY_PULLS = 500
#: An incremental sync reads the builds of this many days before its start (PRs older than that: statuses).
BUILD_LOOKBACK_DAYS = 30


def _branch(ref: Any) -> str | None:
    return re.sub(r"^refs/heads/", "", str(ref)) if ref else None


def _prop(thread: Mapping[str, Any], name: str) -> Any:
    value = (thread.get("properties") or {}).get(name)
    return value.get("$value") if isinstance(value, Mapping) else value


def _vote(value: Any) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return 0


def _web_url(raw: Mapping[str, Any]) -> str | None:
    repo = raw.get("repository") or {}
    number = raw.get("pullRequestId")
    if repo.get("webUrl"):
        return f"{repo['webUrl']}/pullrequest/{number}"
    api = str(raw.get("url") or "")
    project = (repo.get("project") or {}).get("name")
    if "/_apis/" in api and project and repo.get("name"):
        return f"{api.split('/_apis/')[0]}/{quote(project)}/_git/{quote(repo['name'])}/pullrequest/{number}"
    return None


def _voter(thread: Mapping[str, Any]) -> str:
    """The id of who voted in a VoteUpdate thread: CodeReviewVotedByTfId, or the identity
    CodeReviewVotedByIdentity points at in the thread's ``identities`` map."""
    voter = _prop(thread, "CodeReviewVotedByTfId")
    if not voter:
        key = _prop(thread, "CodeReviewVotedByIdentity")
        identity = (thread.get("identities") or {}).get(str(key)) if key not in (None, "") else None
        voter = identity.get("id") if isinstance(identity, Mapping) else None
    return str(voter or "")


def _thread_moved_since(threads: list[Any], since: datetime) -> bool:
    """Whether any thread (a vote, a comment, a push, a reviewer change) was written or updated since `since`."""
    for thread in threads:
        if isinstance(thread, Mapping):
            for stamp in (thread.get("lastUpdatedDate"), thread.get("publishedDate")):
                moment = parse_datetime(stamp)
                if moment is not None and moment >= since:
                    return True
    return False


_BUILD_BRANCH = re.compile(r"^refs/pull/(\d+)/")
#: A build's result (completed) or status (not yet) -> the state of a PR status entry.
_BUILD_STATES = {"succeeded": "succeeded", "partiallySucceeded": "succeeded", "failed": "failed", "canceled": "error"}


def build_pull_request_id(build: Mapping[str, Any]) -> int | None:
    """The PR a validation build ran for: triggerInfo "pr.number", else its refs/pull/{id}/merge branch."""
    number = (build.get("triggerInfo") or {}).get("pr.number")
    if number is None:
        match = _BUILD_BRANCH.match(str(build.get("sourceBranch") or ""))
        number = match.group(1) if match else None
    try:
        return int(str(number))
    except (TypeError, ValueError):
        return None


def build_as_status(build: Mapping[str, Any]) -> dict[str, Any]:
    """A pull request build as the PR status entry the normaliser reads (state, context, targetUrl, dates)."""
    if build.get("status") == "completed":
        state = _BUILD_STATES.get(str(build.get("result")), "error")
    else:
        state = "pending"
    definition = build.get("definition") or {}
    return {
        "id": build.get("id"),
        "state": state,
        "description": f"Build {build.get('buildNumber') or build.get('id')} {build.get('result') or build.get('status')}",
        "context": {"name": str(definition.get("name") or definition.get("id") or "build"), "genre": "azure-pipelines"},
        "targetUrl": ((build.get("_links") or {}).get("web") or {}).get("href"),
        "creationDate": build.get("queueTime"),
        "updatedDate": build.get("finishTime") or build.get("startTime") or build.get("queueTime"),
    }


def pull_request_artifact(pull: Mapping[str, Any]) -> str | None:
    """The PR's artifact URI, as work item links name it: vstfs:///Git/PullRequestId/{project}%2F{repo}%2F{id}."""
    repo = pull.get("repository") or {}
    project_id = (repo.get("project") or {}).get("id")
    if not project_id or not repo.get("id") or pull.get("pullRequestId") is None:
        return None
    return f"vstfs:///Git/PullRequestId/{project_id}%2F{repo['id']}%2F{pull['pullRequestId']}"


@dataclass
class _Threads:
    """What a PR's threads say: review activity, vote times, approvals, comments, sign-offs."""

    review_events: list[datetime] = field(default_factory=list)
    approvals: dict[str, datetime] = field(default_factory=dict)
    vote_times: dict[str, datetime] = field(default_factory=dict)
    comment_count: int = 0
    commenters: set[str] = field(default_factory=set)
    signoffs: list[tuple[datetime, str]] = field(default_factory=list)
    last_activity: list[datetime] = field(default_factory=list)


def _read_threads(
    threads: list[Any], author_id: Any, is_author: Callable[[Mapping[str, Any]], bool], marker: re.Pattern[str]
) -> _Threads:
    """Human comments, and the system threads that record each vote."""
    seen = _Threads()
    for thread in threads:
        if not isinstance(thread, Mapping) or thread.get("isDeleted"):
            continue
        updated = parse_datetime(thread.get("lastUpdatedDate"))
        if updated:
            seen.last_activity.append(updated)
        if _prop(thread, "CodeReviewThreadType") == "VoteUpdate":
            voter = _voter(thread)
            when = parse_datetime(thread.get("publishedDate"))
            if voter and when and voter != author_id:
                seen.review_events.append(when)
                seen.vote_times[voter] = when
                if _vote(_prop(thread, "CodeReviewVoteResult")) >= 5:
                    seen.approvals.setdefault(voter, when)
        for comment in thread.get("comments") or []:
            if not isinstance(comment, Mapping) or comment.get("isDeleted") or comment.get("commentType") == "system":
                continue
            seen.comment_count += 1
            who = comment.get("author") or {}
            when = parse_datetime(comment.get("publishedDate"))
            if is_author(who) or who.get("isContainer"):
                continue
            seen.commenters.add(str(who.get("uniqueName") or who.get("id")))  # same key as reviewers["login"]
            if when:
                seen.review_events.append(when)
            if marker.search(str(comment.get("content") or "")):
                seen.signoffs.append((when or _FAR_FUTURE, identity_parts(who)[0] or str(who.get("uniqueName") or "")))
    return seen


def _reviewers(
    raw: Mapping[str, Any], is_author: Callable[[Mapping[str, Any]], bool], vote_times: Mapping[str, datetime]
) -> tuple[list[dict[str, Any]], list[str]]:
    """(reviewers with their votes and vote times, ids of those approving); groups and the author left out."""
    reviewers: list[dict[str, Any]] = []
    approving: list[str] = []
    for reviewer in raw.get("reviewers") or []:
        if not isinstance(reviewer, Mapping) or is_author(reviewer) or reviewer.get("isContainer"):
            continue
        vote = _vote(reviewer.get("vote"))
        name, unique, rid = identity_parts(reviewer)
        when = vote_times.get(str(rid))
        reviewers.append(
            {
                "login": unique,
                "name": name,
                "email": unique if unique and "@" in unique else None,
                "state": VOTE_STATES.get(vote, str(vote)),
                "vote": vote,
                "submitted_at": when.isoformat() if when else None,
                "is_required": bool(reviewer.get("isRequired")),
            }
        )
        if vote >= 5:
            approving.append(str(rid))
    return reviewers, approving


def _ci(statuses: list[Any] | None) -> tuple[str | None, str | None]:
    """(ci_status, ci_url): the latest status per context decides; failure > pending > success."""
    latest: dict[str, Mapping[str, Any]] = {}
    for status in statuses or []:
        if not isinstance(status, Mapping) or status.get("state") == "notApplicable":
            continue
        context = status.get("context") or {}
        key = f"{context.get('genre')}/{context.get('name')}"
        previous = latest.get(key)
        if previous is None or (_vote(status.get("id")), str(status.get("creationDate"))) >= (
            _vote(previous.get("id")),
            str(previous.get("creationDate")),
        ):
            latest[key] = status
    for wanted in ("failure", "pending", "success"):
        hits = [s for s in latest.values() if _CI_STATES.get(str(s.get("state"))) == wanted]
        if hits:
            return wanted, next((s.get("targetUrl") for s in hits if s.get("targetUrl")), None)
    return None, None


def _linked_keys(
    raw: Mapping[str, Any],
    extras: Mapping[str, Any],
    commits: list[Mapping[str, Any]] | None,
    options: PullRequestOptions,
) -> list[str]:
    """Keys in the title, branch, description and commit messages, plus the linked work items (``AB#id``)."""
    messages = [str(c.get("comment") or "") for c in commits or []]
    keys = find_work_item_keys(
        raw.get("title"),
        _branch(raw.get("sourceRefName")),
        raw.get("description"),
        *messages,
        **options.linking(),
    )
    for ref in extras.get("work_items") or []:
        if isinstance(ref, Mapping) and str(ref.get("id") or "").isdigit():
            key = azure_work_item_key(ref["id"])
            if key not in keys:
                keys.append(key)
    return keys


def normalize_azure_devops_pull(
    raw: Mapping[str, Any], options: PullRequestOptions | None = None
) -> NormalizedPullRequest:
    """One pullrequests list element (plus the connector's "_dmt" extras) -> pull_requests columns.

    `options` carries the source's sign-off marker and its linking options.
    """
    if not isinstance(raw, Mapping) or raw.get("pullRequestId") in (None, ""):
        raise SourceDataError("an Azure DevOps pull request without pullRequestId was returned")
    options = options or PullRequestOptions()
    extras = raw.get("_dmt") or {}
    author = raw.get("createdBy") or {}
    author_id = author.get("id")
    author_name, author_unique, _ = identity_parts(author)
    repo = raw.get("repository") or {}

    def is_author(identity: Mapping[str, Any]) -> bool:
        return bool(identity) and (
            (author_id and identity.get("id") == author_id)
            or (author_unique and identity.get("uniqueName") == author_unique)
        )

    threads = _read_threads(extras.get("threads") or [], author_id, is_author, options.signoff)
    reviewers, approving = _reviewers(raw, is_author, threads.vote_times)
    approval_times = [threads.approvals[r] for r in approving if r in threads.approvals]
    ci_status, ci_url = _ci(extras.get("statuses"))
    commits = (
        [c for c in extras.get("commits") or [] if isinstance(c, Mapping)]
        if extras.get("commits") is not None
        else None
    )
    author_email = author_unique if author_unique and "@" in author_unique else None
    for commit in commits or []:
        git_author = commit.get("author") or {}
        if not author_email and git_author.get("email") and git_author.get("name") == author_name:
            author_email = git_author["email"]
    created = parse_datetime(raw.get("creationDate"))
    closed = parse_datetime(raw.get("closedDate"))
    status = str(raw.get("status") or "active")
    commit_times = [t for t in (parse_datetime((c.get("author") or {}).get("date")) for c in commits or []) if t]
    merge_commit = (raw.get("lastMergeCommit") or {}).get("commitId") if status == "completed" else None
    updated = max([t for t in (created, closed, *threads.last_activity) if t], default=None)
    return {
        "source_pr_id": str(raw["pullRequestId"]),
        "number": _vote(raw.get("pullRequestId")) or None,
        "repository": str(repo.get("name") or ""),
        "title": str(raw.get("title") or ""),
        "body": raw.get("description"),
        "url": _web_url(raw),
        "state": _STATE.get(status, "open"),
        "is_draft": bool(raw.get("isDraft")),
        "author_login": author_unique,
        "author_email": author_email,
        "author_name": author_name,
        "source_branch": _branch(raw.get("sourceRefName")),
        "target_branch": _branch(raw.get("targetRefName")),
        "created_at_source": created,
        "updated_at_source": updated,
        "first_review_at": min(threads.review_events) if threads.review_events else None,
        "approved_at": min(approval_times) if approval_times else None,
        "merged_at": closed if status == "completed" else None,
        "closed_at": closed if status in ("completed", "abandoned") else None,
        "reviewers": reviewers,
        "review_count": len({r["login"] for r in reviewers if r["vote"] != 0} | threads.commenters),
        "approvals_count": len(approving),
        "comments_count": threads.comment_count,
        "commits_count": len(commits) if commits is not None else 0,
        "additions": None,
        "deletions": None,
        "ci_status": ci_status,
        "ci_url": ci_url,
        "dmt_signoff": bool(threads.signoffs),
        "dmt_signoff_by": min(threads.signoffs)[1] if threads.signoffs else None,
        "linked_keys": _linked_keys(raw, extras, commits, options),
        "merge_commit_sha": str(merge_commit) if merge_commit else None,
        "first_commit_at": min(commit_times) if commit_times else None,
        "raw_data": dict(raw),
    }


class AzureDevOpsGitConnector(AzureDevOpsConnector):
    """Azure DevOps Git pull requests (see the module docstring for settings and the read strategy)."""

    provides_pull_requests = True
    tool_name = "Azure DevOps Git"

    def __init__(self, settings: SourceSettings, **http_options: Any) -> None:
        super().__init__(settings, **http_options)
        config = settings.config_json or {}
        repos = config.get("repositories") or config.get("repository") or []
        self.repository_names = [r for r in re.split(r"[,\s]+", repos) if r] if isinstance(repos, str) else list(repos)
        self.page_size = max(1, min(MAX_PAGE_SIZE, int(config.get("page_size") or MAX_PAGE_SIZE)))
        commits = config.get("fetch_commits", "auto")
        self.fetch_commits = _fetch_commits_setting(commits)
        self.workers = max(1, min(MAX_WORKERS, int(config.get("workers") or DEFAULT_WORKERS)))
        self.ci = str(config.get("ci") or "auto").strip().lower()
        if self.ci not in CI_SOURCES:
            raise SourceConfigError(f"Azure DevOps Git ci must be one of {', '.join(CI_SOURCES)}, not {self.ci!r}")
        self.options = PullRequestOptions.of(config, self.field_mapping)
        self._repos: list[dict[str, Any]] | None = None
        #: False once the bulk work item query was refused: per-PR work items for the rest of the run.
        self.bulk_work_items = True

    def _git(self, tail: str) -> str:
        return f"{quote(self.project)}/_apis/git/{tail}"

    def repositories(self) -> list[dict[str, Any]]:
        """The configured repositories (or all of the project's), as repository objects."""
        if self._repos is None:
            listed = [
                r for r in self._values(self._get(self._git("repositories")), "repositories") if isinstance(r, dict)
            ]
            if self.repository_names:
                wanted = {str(n).lower() for n in self.repository_names}
                self._repos = [
                    r for r in listed if str(r.get("name")).lower() in wanted or str(r.get("id")).lower() in wanted
                ]
                missing = (
                    wanted
                    - {str(r.get("name")).lower() for r in self._repos}
                    - {str(r.get("id")).lower() for r in self._repos}
                )
                if missing:
                    raise SourceNotFound(
                        f"Azure DevOps project {self.project!r} has no repository {', '.join(sorted(missing))}"
                    )
            else:
                self._repos = listed
        return self._repos

    def test_connection(self) -> ConnectionResult:
        identity = self._authenticated_identity()
        repos = [r.get("name") for r in self.repositories()]
        return ConnectionResult(
            ok=True,
            identity=identity,
            details={"project": self.project, "repositories": repos},
            message=f"Connected as {identity}; {count_of(len(repos), 'repository', 'repositories')} in {self.project}",
        )

    def discover_fields(self) -> list[DiscoveredField]:
        """Pull requests have no custom fields to map: always empty."""
        return []

    # -- extraction -----------------------------------------------------------
    def _list(self, repo_id: str, criteria: Mapping[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Pages of a pull request query, ``$top``/``$skip``.

        The service may answer fewer than ``$top`` (it caps what it returns): a short page ends
        the list when a full page was seen before or when it is shorter than TRUSTED_SHORT_PAGE;
        otherwise the next page is asked (an empty page ends it).
        """
        skip = 0
        full_seen = False
        cursors = CursorGuard(f"pull requests of repository {repo_id}")
        while True:
            params = {**criteria, "$top": self.page_size, "$skip": skip}
            page = self._values(self._get(self._git(f"repositories/{repo_id}/pullrequests"), params), "pull requests")
            for pull in page:
                if not isinstance(pull, dict) or pull.get("pullRequestId") is None:
                    raise SourceDataError("Azure DevOps returned a pull request without pullRequestId")
            if page:
                yield page
            full_seen = full_seen or len(page) >= self.page_size
            if not page or (len(page) < self.page_size and (full_seen or len(page) < TRUSTED_SHORT_PAGE)):
                return
            # a site ignoring $skip repeats its page
            cursors.advance((page[0]["pullRequestId"], page[-1]["pullRequestId"]))
            skip += len(page)

    def _pr_values(self, repo_id: str, pull: Mapping[str, Any], tail: str, what: str, **params: Any) -> list[Any]:
        base = f"repositories/{repo_id}/pullRequests/{pull['pullRequestId']}"
        return self._values(self._get(self._git(f"{base}/{tail}"), params or None), what)

    def linked_work_items(self, pulls: list[dict[str, Any]]) -> dict[int, list[Any]] | None:
        """{PR id: work item refs} for PRs, ARTIFACT_QUERY_PULLS a query; None when refused.

        A PR without an artifact URI (no project or repository id) is left out: it is asked on its own.
        """
        uris = {uri: pull["pullRequestId"] for pull in pulls if (uri := pull_request_artifact(pull))}
        if not self.bulk_work_items:
            return None
        found: dict[int, list[Any]] = {}
        listed = list(uris)
        for chunk in (listed[i : i + ARTIFACT_QUERY_PULLS] for i in range(0, len(listed), ARTIFACT_QUERY_PULLS)):
            refs = self._artifact_query(chunk)
            if refs is None:
                return None
            found.update({uris[uri]: value for uri, value in refs.items()})
        return found

    def _artifact_query(self, uris: list[str]) -> dict[str, list[Any]] | None:
        """{artifact URI: work item refs} in one ``artifacturiquery``; None when refused."""
        try:
            data, _ = self._azure_json(
                "POST",
                f"{quote(self.project)}/_apis/wit/artifacturiquery",
                params={"api-version": API_VERSION},
                json_body={"artifactUris": uris},
            )
        except (SourceAuthError, SourcePermissionError, SourceNotFound, SourceConfigError):
            # A token without the work item scope (401/403) or a Server without the API: per PR from now on.
            # A token refused everywhere fails on the next per-PR request, with its own message.
            self.bulk_work_items = False
            return None
        found = (data or {}).get("artifactUrisQueryResult") if isinstance(data, dict) else None
        if not isinstance(found, dict):
            raise SourceDataError("Azure DevOps artifacturiquery answer has no 'artifactUrisQueryResult' object")
        by_uri = {str(uri).lower(): refs for uri, refs in found.items()}
        # WorkItemReference {"id": 12, "url"} -> the ResourceRef shape pullRequests/{id}/workitems gives ({"id": "12"}).
        return {
            uri: [
                {"id": str(ref.get("id")), "url": ref.get("url")}
                for ref in by_uri.get(uri.lower()) or []
                if isinstance(ref, Mapping) and ref.get("id") is not None
            ]
            for uri in uris
        }

    def pull_request_builds(self, repo_id: str, since: datetime | None) -> dict[int, list[dict[str, Any]]] | None:
        """{PR id: its validation builds as status entries} for a repository (builds queued after `since`).

        None when the Build API is refused (a token without the Build scope, a
        collection without pipelines): the PRs' own statuses are read instead.
        """
        found: dict[int, list[dict[str, Any]]] = {}
        params: dict[str, Any] = {
            "api-version": API_VERSION,
            "repositoryId": repo_id,
            "repositoryType": "TfsGit",
            "reasonFilter": "pullRequest",
            "queryOrder": "queueTimeDescending",
            "$top": BUILDS_PAGE_SIZE,
        }
        if since is not None:
            params["minTime"] = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        cursors = CursorGuard(f"pull request builds of repository {repo_id}")
        while True:
            try:
                data, response = self._azure_json_response("GET", f"{quote(self.project)}/_apis/build/builds", params)
            except (SourceAuthError, SourcePermissionError, SourceNotFound, SourceConfigError):
                if found:
                    raise
                return None
            for build in self._values(data if isinstance(data, dict) else {}, "builds"):
                pr_id = build_pull_request_id(build) if isinstance(build, Mapping) else None
                if pr_id is not None:
                    found.setdefault(pr_id, []).append(build_as_status(build))
            token = response.headers.get("x-ms-continuationtoken")
            if not token:
                return found
            cursors.advance(token)
            params["continuationToken"] = token

    def _wants_commits(self, pull: Mapping[str, Any], work_items: list[Any]) -> bool:
        if self.fetch_commits is not None:
            return self.fetch_commits
        author = identity_parts(pull.get("createdBy") or {})[1] or ""
        named = find_work_item_keys(
            pull.get("title"), _branch(pull.get("sourceRefName")), pull.get("description"), **self.options.linking()
        )
        return not (named or work_items) or "@" not in author

    def _commits(self, repo_id: str, pull: Mapping[str, Any]) -> list[Any]:
        """Every commit of the PR (newest first), COMMITS_PAGE_SIZE a request, paged by x-ms-continuationtoken.

        The last page holds the oldest commits, where first_commit_at and often the work item key are.
        """
        path = self._git(f"repositories/{repo_id}/pullRequests/{pull['pullRequestId']}/commits")
        params: dict[str, Any] = {"api-version": API_VERSION, "$top": COMMITS_PAGE_SIZE}
        commits: list[Any] = []
        cursors = CursorGuard(f"commits of pull request {pull['pullRequestId']}")
        while True:
            data, response = self._azure_json_response("GET", path, params)
            commits.extend(self._values(data if isinstance(data, dict) else {}, "commits"))
            token = response.headers.get("x-ms-continuationtoken")
            if not token:
                return commits
            cursors.advance(token)
            params["continuationToken"] = token

    def _statuses(
        self, repo_id: str, pull: Mapping[str, Any], builds: dict[int, list[dict[str, Any]]] | None
    ) -> list[Any]:
        """The PR's CI evidence: its builds (bulk), else, unless ``ci`` is "builds", its own statuses."""
        if builds is not None and pull["pullRequestId"] in builds:
            return builds[pull["pullRequestId"]]
        if self.ci == "builds" and builds is not None:
            return []
        return self._pr_values(repo_id, pull, "statuses", "statuses")

    def _enrich(
        self,
        repo_id: str,
        pull: dict[str, Any],
        work_items: list[Any] | None,
        threads: list[Any] | None,
        builds: dict[int, list[dict[str, Any]]] | None,
    ) -> dict[str, Any]:
        """The PR with its threads, work items, statuses and (when wanted) commits under "_dmt"."""
        if threads is None:
            threads = self._threads(repo_id, pull)
        if work_items is None:
            work_items = self._pr_values(repo_id, pull, "workitems", "work items")
        extras: dict[str, Any] = {
            "threads": threads,
            "work_items": work_items,
            "statuses": self._statuses(repo_id, pull, builds),
            "commits": None,
        }
        if self._wants_commits(pull, work_items):
            extras["commits"] = self._commits(repo_id, pull)
        pull["_dmt"] = extras
        return pull

    def _threads(self, repo_id: str, pull: Mapping[str, Any]) -> list[Any]:
        return self._pr_values(repo_id, pull, "threads", "threads")

    def _changed_pages(
        self, repo_id: str, pages: list[list[dict[str, Any]]], since: datetime, pool: ThreadPoolExecutor
    ) -> tuple[list[list[dict[str, Any]]], dict[int, list[Any]]]:
        """(the pages' PRs that changed since `since`, {PR id: threads} already read).

        A PR created or closed since then changed; for any other (an active one) its threads,
        read concurrently, tell: every vote, comment, push and reviewer change writes one.
        """
        older = [pull for page in pages for pull in page if not _new_since(pull, since)]
        read = pool.map(partial(self._threads, repo_id), older)
        threads = dict(zip((pull["pullRequestId"] for pull in older), read, strict=True))
        kept = [
            [
                pull
                for pull in page
                if pull["pullRequestId"] not in threads or _thread_moved_since(threads[pull["pullRequestId"]], since)
            ]
            for page in pages
        ]
        return kept, threads

    def _submit_pages(
        self,
        repo_id: str,
        pages: list[list[dict[str, Any]]],
        since: datetime | None,
        pool: ThreadPoolExecutor,
        builds: dict[int, list[dict[str, Any]]] | None,
    ) -> list[list[Future[dict[str, Any]]]]:
        """Start enriching some pages of PRs that changed, their linked work items asked first in bulk.

        Without `since` every PR changed; with it, an active PR whose threads did not move is
        left out (its stored row is current) and costs its threads alone.
        """
        threads: dict[int, list[Any]] = {}
        if since is not None:
            pages, threads = self._changed_pages(repo_id, pages, since, pool)
        refs = self.linked_work_items([pull for page in pages for pull in page])
        return [
            [
                pool.submit(
                    self._enrich,
                    repo_id,
                    pull,
                    refs.get(pull["pullRequestId"]) if refs is not None else None,
                    threads.get(pull["pullRequestId"]),
                    builds,
                )
                for pull in page
            ]
            for page in pages
        ]

    def _queries(self, start: datetime | None) -> list[dict[str, Any]]:
        if start is None:
            return [{"searchCriteria.status": "all"}]
        since = start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return [
            {"searchCriteria.status": "active"},
            {
                "searchCriteria.status": "all",
                "searchCriteria.queryTimeRangeType": "created",
                "searchCriteria.minTime": since,
            },
            {
                "searchCriteria.status": "all",
                "searchCriteria.queryTimeRangeType": "closed",
                "searchCriteria.minTime": since,
            },
        ]

    def _new_pulls(self, repo_id: str, start: datetime | None, end: datetime | None) -> Iterator[list[dict[str, Any]]]:
        """Pages of the repository's PRs the queries for [start, end) name, each PR once."""
        seen: set[int] = set()
        for criteria in self._queries(start):
            for page in self._list(repo_id, criteria):
                fresh = []
                for pull in page:
                    created = parse_datetime(pull.get("creationDate"))
                    if pull["pullRequestId"] in seen or (end is not None and created is not None and created >= end):
                        continue
                    seen.add(pull["pullRequestId"])
                    fresh.append(pull)
                if fresh:
                    yield fresh

    def extract_pull_requests(self, start: datetime | None, end: datetime | None) -> Iterator[list[dict[str, Any]]]:
        """Pages of raw pull requests created, closed or changed (active ones) in [start, end).

        List pages are read in groups of ARTIFACT_QUERY_PULLS PRs (one work item query per
        group) while the workers enrich the pages before them; pages come out in list order.
        """
        pending: collections.deque[list[Future[dict[str, Any]]]] = collections.deque()

        def finished(futures: list[Future[dict[str, Any]]]) -> list[dict[str, Any]]:
            return [future.result() for future in futures]

        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="ado-git-pr") as pool:
            try:
                for repo in self.repositories():
                    repo_id = str(repo.get("id"))
                    builds = None
                    if self.ci != "statuses":
                        lookback = start - timedelta(days=BUILD_LOOKBACK_DAYS) if start is not None else None
                        builds = self.pull_request_builds(repo_id, lookback)
                    group: list[list[dict[str, Any]]] = []
                    pages = self._new_pulls(repo_id, start, end)
                    for fresh in itertools.chain(pages, [None]):
                        if fresh is not None:
                            group.append(fresh)
                        if group and (fresh is None or sum(map(len, group)) >= ARTIFACT_QUERY_PULLS):
                            pending.extend(self._submit_pages(repo_id, group, start, pool, builds))
                            group = []
                            while len(pending) > PAGES_AHEAD:
                                page = finished(pending.popleft())
                                if page:
                                    yield page
                while pending:
                    page = finished(pending.popleft())
                    if page:
                        yield page
            finally:
                for futures in pending:
                    for future in futures:
                        future.cancel()

    def list_pull_request_ids(self) -> Iterator[list[str]]:
        for repo in self.repositories():
            for page in self._list(str(repo.get("id")), {"searchCriteria.status": "all"}):
                yield [str(p["pullRequestId"]) for p in page]

    def normalize_pull_request(self, raw: dict[str, Any]) -> NormalizedPullRequest:
        return normalize_azure_devops_pull(raw, self.options)


def _fetch_commits_setting(value: Any) -> bool | None:
    """config fetch_commits: None for "auto"; a word from a form ("false", "no") read as such, not as a truthy string."""
    text = str(value).strip().lower()
    if text == "auto":
        return None
    return text in ("true", "1", "yes", "on") if isinstance(value, str) else bool(value)


def _new_since(pull: Mapping[str, Any], since: datetime) -> bool:
    """Created or closed at or after `since` (what the created/closed queries answer)."""
    for stamp in (pull.get("creationDate"), pull.get("closedDate")):
        moment = parse_datetime(stamp)
        if moment is not None and moment >= since:
            return True
    return False


register_connector("azure_devops_git", AzureDevOpsGitConnector)
