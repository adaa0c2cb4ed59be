"""GitHub pull requests through the GraphQL API (github.com and GitHub Enterprise Server).

One query reads a page of up to 100 pull requests of a repository, newest update first, with
everything the normaliser needs: author, state, times, branches, additions and deletions, labels,
review requests, reviews (state, time, body, how many inline comments each holds), issue comments
(for the sign-off marker), commits (messages and git authors, for linking and the author's
e-mail) and the head commit's status-check rollup (check runs and commit statuses). Paging stops
at the first pull request updated before the cursor. A nested list longer than the page query
asks for (a PR with more than 10 reviews, say) is completed by follow-up queries that fetch the
rest of several such lists at once, by node id.

Each answer is mapped to the shape of the REST pulls list element plus the connector's ``_dmt``
extras (`rest_shaped_pull`), so `etl.connectors.github.normalize_github_pull` reads both paths
and gives the same records for the same data. Where the two APIs differ, the mapping follows
REST: bots are ``name[bot]``, an empty body is None, a merged PR is ``closed`` with
``merged_at``, check and status states are lower case.

Rate limits: every query asks for ``rateLimit { cost remaining resetAt }``; when what is left is
less than the next query's cost, the reader waits until ``resetAt`` (if that is within the HTTP
client's longest wait; otherwise it raises SourceRateLimited with the wait, and the worker
retries the sync then). A ``RATE_LIMITED`` error is handled the same way. Secondary limits (403
or 429 with ``Retry-After``) and 5xx are waited out and retried by the HTTP layer.

Endpoints: ``https://api.github.com/graphql`` for github.com; for GitHub Enterprise Server the
REST base ``https://ghe.example.com/api/v3`` gives ``https://ghe.example.com/api/graphql``.
Pull request ids are ``fullDatabaseId`` (the REST ``id``; ``databaseId`` is deprecated for
64-bit ids). An older Enterprise Server whose schema lacks a field the query reads answers
with a query error; the sync then fails with a SourceConfigError that names the field and
points to the REST path (``config_json.api: "rest"``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from etl.connectors.errors import (
    SourceConfigError,
    SourceDataError,
    SourceNotFound,
    SourcePermissionError,
    SourceRateLimited,
)
from etl.connectors.http import CursorGuard, SourceHttpClient
from etl.connectors.values import parse_datetime

#: Largest page GitHub serves (``first`` of a connection).
MAX_PAGE = 100
#: How many of each nested list the page query asks for, per pull request. Most PRs fit; longer
#: lists are completed by follow-up queries. Every nested list costs one request per PR, and the
#: inline-comment count of each review one more: reviews are the list that sets the page's cost.
NESTED_FIRST = {"labels": 20, "reviewRequests": 20, "reviews": 10, "comments": 20, "commits": 20, "contexts": 50}
#: Page size of a follow-up query's list (reviews are smaller: each carries its comment count).
FOLLOW_UP_FIRST = {"reviews": 50}
#: How many overflowing lists one follow-up query completes (one aliased ``node`` field each).
FOLLOW_UP_BATCH = 20
#: The first page of an incremental run is small: most runs find a few changed PRs, and a query
#: costs what its ``first`` arguments could return, not what it does.
INCREMENTAL_FIRST_PAGE = 10

_PAGE_INFO = "pageInfo { hasNextPage endCursor }"
_ACTOR = "__typename login"
#: What each nested list reads of its elements.
NESTED_FIELDS = {
    "labels": "name",
    "reviewRequests": (
        "requestedReviewer { __typename ... on User { login } ... on Bot { login } ... on Mannequin { login } "
        "... on Team { slug name } }"
    ),
    "reviews": f"author {{ {_ACTOR} }} state body submittedAt comments(first: 1) {{ totalCount }}",
    "comments": f"author {{ {_ACTOR} }} body createdAt",
    "commits": f"commit {{ oid message author {{ name email date user {{ {_ACTOR} }} }} }}",
    "contexts": (
        "__typename ... on CheckRun { name status conclusion url detailsUrl } "
        "... on StatusContext { context state targetUrl }"
    ),
}
#: The object type each nested list hangs off (what a follow-up query's ``node(id:)`` is).
NESTED_OWNER = {name: "PullRequest" for name in NESTED_FIELDS} | {"contexts": "StatusCheckRollup"}


def _nested(name: str, first: int, after_variable: str | None = None) -> str:
    after = f", after: ${after_variable}" if after_variable else ""
    count = " totalCount" if name in ("comments", "commits") else ""
    return f"{name}(first: {first}{after}) {{{count} {_PAGE_INFO} nodes {{ {NESTED_FIELDS[name]} }} }}"


PULL_REQUEST_FRAGMENT = f"""
fragment PullRequestFields on PullRequest {{
  id fullDatabaseId number title body url state isDraft createdAt updatedAt closedAt mergedAt
  additions deletions changedFiles headRefName headRefOid baseRefName mergeCommit {{ oid }}
  author {{ {_ACTOR} }}
  {_nested("labels", NESTED_FIRST["labels"])}
  {_nested("reviewRequests", NESTED_FIRST["reviewRequests"])}
  {_nested("reviews", NESTED_FIRST["reviews"])}
  {_nested("comments", NESTED_FIRST["comments"])}
  {_nested("commits", NESTED_FIRST["commits"])}
  headCommit: commits(last: 1) {{
    nodes {{ commit {{ oid statusCheckRollup {{ id {_nested("contexts", NESTED_FIRST["contexts"])} }} }} }}
  }}
}}
"""

PULL_REQUEST_PAGE_QUERY = (
    """
query PullRequestPage($owner: String!, $name: String!, $first: Int!, $after: String) {
  rateLimit { cost remaining resetAt }
  repository(owner: $owner, name: $name) {
    pullRequests(first: $first, after: $after, orderBy: {field: UPDATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes { ...PullRequestFields }
    }
  }
}
"""
    + PULL_REQUEST_FRAGMENT
)

PULL_REQUEST_IDS_QUERY = """
query PullRequestIds($owner: String!, $name: String!, $after: String) {
  rateLimit { cost remaining resetAt }
  repository(owner: $owner, name: $name) {
    pullRequests(first: 100, after: $after) { pageInfo { hasNextPage endCursor } nodes { fullDatabaseId } }
  }
}
"""

RATE_LIMIT_QUERY = "query RateLimit { rateLimit { cost limit remaining resetAt } viewer { login } }"


def graphql_endpoint(base_url: str) -> str:
    """GraphQL's URL for a REST base: ``…/api/v3`` (Enterprise Server) -> ``…/api/graphql``, else ``…/graphql``."""
    base = base_url.rstrip("/")
    if base.endswith("/api/v3"):
        return base[: -len("v3")] + "graphql"
    return base + "/graphql"


def estimated_page_cost(page_size: int) -> int:
    """A page query's cost by GitHub's rule: one request per parent object and connection, summed, / 100."""
    per_pull_connections = len(NESTED_FIRST) + 1  # the nested lists, headCommit and its rollup's contexts
    requests = 1 + page_size * per_pull_connections + page_size * NESTED_FIRST["reviews"]  # + review comments
    return max(1, int(requests / 100 + 0.5))  # rounded half up


def follow_up_query(overflows: list[Overflow]) -> tuple[str, dict[str, Any]]:
    """One query completing several lists, each an aliased ``node(id:)`` field; (text, variables)."""
    declarations, fields, variables = [], [], {}
    for n, overflow in enumerate(overflows):
        first = FOLLOW_UP_FIRST.get(overflow.connection, MAX_PAGE)
        declarations.append(f"$id{n}: ID!, $after{n}: String")
        nested = _nested(overflow.connection, first, f"after{n}")
        if overflow.connection == "contexts":
            body = f"... on StatusCheckRollup {{ {nested} }}"
        else:
            body = f"... on PullRequest {{ {nested} }}"
        fields.append(f"  f{n}: node(id: $id{n}) {{ {body} }}")
        variables[f"id{n}"] = overflow.node_id
        variables[f"after{n}"] = overflow.cursor
    text = (
        f"query CompleteLists({', '.join(declarations)}) {{\n  rateLimit {{ cost remaining resetAt }}\n"
        + "\n".join(fields)
        + "\n}"
    )
    return text, variables


@dataclass
class Overflow:
    """A nested list that did not fit its page: the rest is read from `cursor` on into `sink`."""

    node_id: str
    connection: str
    cursor: str
    sink: list[Any] = field(repr=False)


def _connection_nodes(connection: Any, what: str) -> list[Any]:
    if connection is None:
        return []
    if not isinstance(connection, Mapping) or not isinstance(connection.get("nodes"), list):
        raise SourceDataError(f"GitHub's GraphQL API answered {what} without a list of nodes")
    return [node for node in connection["nodes"] if node is not None]


def _next_cursor(connection: Any) -> str | None:
    info = connection.get("pageInfo") if isinstance(connection, Mapping) else None
    if isinstance(info, Mapping) and info.get("hasNextPage") and info.get("endCursor"):
        return str(info["endCursor"])
    return None


# --------------------------------------------------------------------------- mapping to the REST shape
def _login(actor: Any) -> dict[str, Any] | None:
    """A GraphQL actor as a REST user: bots are ``name[bot]`` there."""
    if not isinstance(actor, Mapping) or not actor.get("login"):
        return None
    login = str(actor["login"])
    if actor.get("__typename") == "Bot" and not login.endswith("[bot]"):
        login += "[bot]"
    return {"login": login, "type": "Bot" if actor.get("__typename") == "Bot" else "User"}


def _lower(value: Any) -> str | None:
    return str(value).lower() if value else None


def rest_shaped_pull(node: Mapping[str, Any], repository: str, lists: Mapping[str, list[Any]]) -> dict[str, Any]:
    """A GraphQL PullRequest (with its completed nested `lists`) as a REST pulls list element + ``_dmt``."""
    if not isinstance(node, Mapping) or node.get("fullDatabaseId") in (None, "") or node.get("number") is None:
        raise SourceDataError(f"GitHub's GraphQL API returned a pull request of {repository} without id or number")
    reviews = [
        {
            "user": _login(review.get("author")),
            "state": review.get("state"),
            "body": review.get("body") or "",
            "submitted_at": review.get("submittedAt"),
        }
        for review in lists["reviews"]
    ]
    review_comments = sum(
        int((review.get("comments") or {}).get("totalCount") or 0)
        for review in lists["reviews"]
        if review.get("state") != "PENDING"  # a pending review's comments are not published yet
    )
    commits = []
    for element in lists["commits"]:
        commit = element.get("commit") or {}
        git_author = commit.get("author") or {}
        commits.append(
            {
                "sha": commit.get("oid"),
                "author": _login(git_author.get("user")),
                "commit": {
                    "message": commit.get("message") or "",
                    "author": {
                        "name": git_author.get("name"),
                        "email": git_author.get("email"),
                        "date": git_author.get("date"),
                    },
                },
            }
        )
    check_runs, statuses = [], []
    for context in lists["contexts"]:  # check runs first, then statuses: REST's order
        if context.get("__typename") == "CheckRun":
            check_runs.append(
                {
                    "name": context.get("name"),
                    "status": _lower(context.get("status")),
                    "conclusion": _lower(context.get("conclusion")),
                    "html_url": context.get("url"),
                    "details_url": context.get("detailsUrl"),
                }
            )
        elif context.get("__typename") == "StatusContext":
            state = _lower(context.get("state"))
            statuses.append(
                {
                    "context": context.get("context"),
                    "state": "pending" if state == "expected" else state,  # required, not reported yet
                    "target_url": context.get("targetUrl"),
                }
            )
    requested_users, requested_teams = [], []
    for request in lists["reviewRequests"]:
        reviewer = request.get("requestedReviewer") or {}
        if reviewer.get("__typename") == "Team":
            requested_teams.append({"slug": reviewer.get("slug"), "name": reviewer.get("name")})
        elif _login(reviewer):
            requested_users.append(_login(reviewer))
    state = str(node.get("state") or "OPEN")
    return {
        "id": int(str(node["fullDatabaseId"])),
        "node_id": node.get("id"),
        "number": node.get("number"),
        "title": node.get("title"),
        "body": node.get("body") or None,
        "html_url": node.get("url"),
        "state": "open" if state == "OPEN" else "closed",
        "draft": bool(node.get("isDraft")),
        "user": _login(node.get("author")),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "closed_at": node.get("closedAt"),
        "merged_at": node.get("mergedAt"),
        "merge_commit_sha": (node.get("mergeCommit") or {}).get("oid"),
        "head": {"ref": node.get("headRefName"), "sha": node.get("headRefOid")},
        "base": {"ref": node.get("baseRefName"), "repo": {"full_name": repository}},
        "labels": [{"name": label.get("name")} for label in lists["labels"]],
        "requested_reviewers": requested_users,
        "requested_teams": requested_teams,
        "additions": node.get("additions"),
        "deletions": node.get("deletions"),
        "changed_files": node.get("changedFiles"),
        "commits": (node.get("commits") or {}).get("totalCount"),
        "comments": (node.get("comments") or {}).get("totalCount"),
        "review_comments": review_comments,
        "_dmt": {
            "api": "graphql",
            "repository": repository,
            "reviews": reviews,
            "commits": commits,
            "comments": [
                {"user": _login(c.get("author")), "body": c.get("body") or "", "created_at": c.get("createdAt")}
                for c in lists["comments"]
            ],
            "check_runs": check_runs,
            "status": {"statuses": statuses},
            "details": None,
        },
    }


# --------------------------------------------------------------------------- the reader
class GitHubGraphQL:
    """Pull requests of GitHub repositories through GraphQL, within GitHub's point budget.

    `http` is the source's HTTP client (retries, secondary limits, request budget, SSRF pinning);
    `sleep` and `clock` are injectable so tests do not really wait.
    """

    def __init__(
        self,
        http: SourceHttpClient,
        endpoint: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.http = http
        self.endpoint = endpoint
        self._sleep = sleep
        self._clock = clock
        #: Points left and when they refill (epoch seconds), from the last answer's rateLimit.
        self.remaining: int | None = None
        self.reset_at: float | None = None
        #: Cost of the last query of each kind ("page", "follow_up", ...), GitHub's own figure.
        self.costs: dict[str, int] = {}
        self.queries = 0
        self.points = 0

    # -- one query ----------------------------------------------------------------
    def execute(self, query: str, variables: Mapping[str, Any], *, kind: str, expected_cost: int = 1) -> dict[str, Any]:
        """Run one query within the budget; return its ``data``. GraphQL errors become SourceErrors."""
        for _attempt in range(3):
            self._wait_for_points(self.costs.get(kind, expected_cost))
            answer, response = self.http.post_json(self.endpoint, json={"query": query, "variables": dict(variables)})
            if not isinstance(answer, Mapping):
                raise SourceDataError(f"GitHub's GraphQL API answered with {type(answer).__name__}, expected an object")
            data = answer.get("data")
            self._note_rate_limit(data, response.headers)
            errors = [e for e in answer.get("errors") or [] if isinstance(e, Mapping)]
            if any(e.get("type") == "RATE_LIMITED" for e in errors):
                self.remaining = 0  # wait for the reset, then ask again
                continue
            if errors:
                raise self._error(errors, executed=isinstance(data, Mapping))
            if not isinstance(data, Mapping):
                raise SourceDataError("GitHub's GraphQL API answered without data")
            self.queries += 1
            if isinstance(data.get("rateLimit"), Mapping):
                cost = int(data["rateLimit"].get("cost") or 0)
                self.costs[kind] = max(1, cost)
                self.points += cost
            return dict(data)
        raise SourceRateLimited(
            "GitHub kept answering that the GraphQL rate limit is used up; the sync will retry later",
            retry_after=self._seconds_to_reset(),
        )

    def _wait_for_points(self, cost: int) -> None:
        """Wait for the budget's reset when fewer points are left than the next query costs."""
        if self.remaining is None or self.remaining >= cost:
            return
        wait = self._seconds_to_reset()
        if wait is None:
            return
        if wait > self.http.max_wait:
            raise SourceRateLimited(
                f"GitHub's GraphQL budget has {self.remaining} points left and the next query costs about {cost}; "
                f"it refills in {wait / 60:.0f} minutes, when the sync will continue",
                retry_after=wait,
            )
        if wait > 0:
            self._sleep(wait)
        self.remaining = None  # unknown until the next answer

    def _seconds_to_reset(self) -> float | None:
        return None if self.reset_at is None else max(0.0, self.reset_at - self._clock())

    def _note_rate_limit(self, data: Any, headers: Mapping[str, str]) -> None:
        limit = data.get("rateLimit") if isinstance(data, Mapping) else None
        if isinstance(limit, Mapping) and limit.get("remaining") is not None:
            self.remaining = int(limit["remaining"])
            reset = parse_datetime(limit.get("resetAt"))
            self.reset_at = reset.timestamp() if reset else self.reset_at
            return
        # No rateLimit object (an error answer): the headers tell the same thing.
        remaining, reset_epoch = headers.get("x-ratelimit-remaining"), headers.get("x-ratelimit-reset")
        if remaining is not None and str(remaining).isdigit():
            self.remaining = int(remaining)
        if reset_epoch is not None and str(reset_epoch).isdigit():
            self.reset_at = float(reset_epoch)

    @staticmethod
    def _error(errors: list[Mapping[str, Any]], *, executed: bool) -> Exception:
        """The SourceError for a GraphQL error answer; `executed`: the answer carries data (errors on fields)."""
        types = {str(e.get("type") or "") for e in errors}
        messages = "; ".join(str(e.get("message") or "") for e in errors)[:400]
        if "NOT_FOUND" in types:
            return SourceNotFound(f"GitHub: {messages}: check the repository name and that the token can read it")
        if "FORBIDDEN" in types or "INSUFFICIENT_SCOPES" in types:
            return SourcePermissionError(
                f"GitHub refused part of the pull request query ({messages}): grant the token read access to "
                "pull requests, contents, commit statuses and checks"
            )
        refused = {"MAX_NODE_LIMIT_EXCEEDED", "EXCESSIVE_PAGINATION", "MISSING_PAGINATION_BOUNDARIES"}
        if types & refused or not executed:  # the query itself was refused (unknown field, argument, ...)
            return SourceConfigError(
                f"GitHub refused the pull request query ({messages}); if this is GitHub Enterprise Server, "
                'an older version may lack a field: set config_json.api to "rest"'
            )
        return SourceDataError(f"GitHub's GraphQL API answered with errors: {messages}")

    # -- pull requests ------------------------------------------------------------
    def pull_request_pages(
        self, repository: str, start: datetime | None, end: datetime | None, page_size: int
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of REST-shaped raw pull requests of `repository` updated in [start, end), newest first."""
        owner, name = repository.split("/", 1)
        page_size = max(1, min(MAX_PAGE, page_size))
        first = min(page_size, INCREMENTAL_FIRST_PAGE) if start is not None else page_size
        after: str | None = None
        cursors = CursorGuard(f"pull requests of {repository} (GraphQL)")
        while True:
            data = self.execute(
                PULL_REQUEST_PAGE_QUERY,
                {"owner": owner, "name": name, "first": first, "after": after},
                kind=f"page:{first}",
                expected_cost=estimated_page_cost(first),
            )
            repo = data.get("repository")
            if not isinstance(repo, Mapping):
                raise SourceNotFound(f"GitHub: the repository {repository} was not found or the token cannot read it")
            connection = repo.get("pullRequests")
            nodes = _connection_nodes(connection, f"the pull requests of {repository}")
            in_window: list[Mapping[str, Any]] = []
            reached_cursor = False
            for node in nodes:
                updated = parse_datetime(node.get("updatedAt"))
                if start is not None and updated is not None and updated < start:
                    reached_cursor = True
                    break
                if end is not None and updated is not None and updated >= end:
                    continue
                in_window.append(node)
            page = self._complete(repository, in_window)
            if page:
                yield page
            after = _next_cursor(connection)
            if reached_cursor or after is None:
                return
            cursors.advance(after)
            first = page_size

    def _complete(self, repository: str, nodes: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Every nested list of every PR in full (follow-up queries for those that overflowed), REST-shaped."""
        collected: list[tuple[Mapping[str, Any], dict[str, list[Any]]]] = []
        overflows: list[Overflow] = []
        for node in nodes:
            lists: dict[str, list[Any]] = {}
            for name in NESTED_FIELDS:
                if name == "contexts":
                    owner, connection = self._head_rollup(node)
                else:
                    owner, connection = node, node.get(name)
                lists[name] = _connection_nodes(connection, f"{name} of pull request #{node.get('number')}")
                cursor = _next_cursor(connection)
                if cursor and owner is not None and owner.get("id"):
                    overflows.append(Overflow(str(owner["id"]), name, cursor, lists[name]))
            collected.append((node, lists))
        self._follow_up(overflows)
        return [rest_shaped_pull(node, repository, lists) for node, lists in collected]

    @staticmethod
    def _head_rollup(node: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, Any]:
        """(the head commit's StatusCheckRollup, its contexts connection); (None, None) without checks."""
        heads = _connection_nodes(node.get("headCommit"), f"the head commit of pull request #{node.get('number')}")
        rollup = ((heads[-1].get("commit") or {}).get("statusCheckRollup")) if heads else None
        if not isinstance(rollup, Mapping):
            return None, None
        return rollup, rollup.get("contexts")

    def _follow_up(self, overflows: list[Overflow]) -> None:
        pending = list(overflows)
        guards: dict[tuple[str, str], CursorGuard] = {}
        while pending:
            batch, pending = pending[:FOLLOW_UP_BATCH], pending[FOLLOW_UP_BATCH:]
            for overflow in batch:
                key = (overflow.node_id, overflow.connection)
                guard = guards.setdefault(key, CursorGuard(f"{overflow.connection} of {overflow.node_id} (GraphQL)"))
                guard.advance(overflow.cursor)
            query, variables = follow_up_query(batch)
            data = self.execute(query, variables, kind=f"follow_up:{len(batch)}", expected_cost=len(batch))
            for n, overflow in enumerate(batch):
                owner = data.get(f"f{n}")
                if not isinstance(owner, Mapping):
                    raise SourceDataError(f"GitHub's GraphQL API lost {overflow.node_id} while completing a list")
                connection = owner.get(overflow.connection)
                overflow.sink.extend(_connection_nodes(connection, f"{overflow.connection} of {overflow.node_id}"))
                cursor = _next_cursor(connection)
                if cursor:
                    pending.append(Overflow(overflow.node_id, overflow.connection, cursor, overflow.sink))

    def pull_request_ids(self, repository: str) -> Iterator[list[str]]:
        """Pages of the ids (REST ``id``) of every pull request of `repository`."""
        owner, name = repository.split("/", 1)
        after: str | None = None
        cursors = CursorGuard(f"pull request ids of {repository} (GraphQL)")
        while True:
            data = self.execute(PULL_REQUEST_IDS_QUERY, {"owner": owner, "name": name, "after": after}, kind="ids")
            repo = data.get("repository")
            if not isinstance(repo, Mapping):
                raise SourceNotFound(f"GitHub: the repository {repository} was not found or the token cannot read it")
            connection = repo.get("pullRequests")
            nodes = _connection_nodes(connection, f"the pull requests of {repository}")
            yield [str(n["fullDatabaseId"]) for n in nodes if n.get("fullDatabaseId") not in (None, "")]
            after = _next_cursor(connection)
            if after is None:
                return
            cursors.advance(after)

    def rate_limit(self) -> dict[str, Any]:
        """The token's GraphQL budget ({"limit", "remaining", "resetAt"}) and login, for test_connection."""
        data = self.execute(RATE_LIMIT_QUERY, {}, kind="rate_limit")
        limit = data.get("rateLimit") or {}
        return {
            "limit": limit.get("limit"),
            "remaining": limit.get("remaining"),
            "reset_at": limit.get("resetAt"),
            "login": (data.get("viewer") or {}).get("login"),
        }
