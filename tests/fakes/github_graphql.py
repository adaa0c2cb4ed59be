"""GitHub's GraphQL API over the fake GitHub's data (`tests.fakes.github`), for tests and benchmarks.

The schema below is the pull request part of GitHub's public schema (octokit/graphql-schema's
``schema.graphql``): GitHub's type, field and argument names, so a query asking for a field GitHub
does not have fails here as it would there. graphql-core parses, validates and executes queries
(aliases, fragments, variables, unions and interfaces behave as on GitHub); the resolvers read the
same dataset the REST fake serves, so both APIs always tell the same story.

What GitHub enforces, this enforces too:

* the point cost of a query, by GitHub's published rule: each connection costs one request per
  parent object (the product of the ``first``/``last`` of the connections above it); the sum
  divided by 100, rounded, at least 1, is the cost. It is charged to the dataset's
  ``graphql_rate_limit`` quota (separate from REST's) and reported by ``rateLimit`` and the
  ``X-RateLimit-*`` headers (resource ``graphql``); the quota refills at its reset time;
* a query costing more than what is left answers 200 with a ``RATE_LIMITED`` error;
* more than 500,000 possible nodes is ``MAX_NODE_LIMIT_EXCEEDED``;
* a connection without ``first``/``last``, or asking for more than 100, is refused;
* an unknown repository is ``NOT_FOUND`` with ``data.repository`` null.

`answer(dataset, body)` returns (status, JSON payload, headers) for one ``POST /graphql``.
"""

from __future__ import annotations

import base64
import functools
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    SelectionSetNode,
    build_schema,
    execute,
    get_operation_ast,
    parse,
    validate,
    value_from_ast_untyped,
)

from tests.fakes.azure_boards import login_of

#: Most nodes one query may ask for (GitHub's node limit).
MAX_NODES = 500_000
#: Largest `first`/`last` GitHub accepts on a connection.
MAX_PAGE = 100


def _connection_types(node: str, name: str | None = None, extra: str = "") -> str:
    name = name or f"{node}Connection"
    edge = name.replace("Connection", "Edge")
    return f"""
type {name} {{
  edges: [{edge}]
  nodes: [{node}]
  pageInfo: PageInfo!
  totalCount: Int!{extra}
}}
type {edge} {{
  cursor: String!
  node: {node}
}}
"""


_PAGING = "after: String, before: String, first: Int, last: Int"

SDL = (
    f"""
scalar BigInt
scalar DateTime
scalar GitObjectID
scalar GitTimestamp
scalar URI

enum CheckConclusionState {{ ACTION_REQUIRED CANCELLED FAILURE NEUTRAL SKIPPED STALE STARTUP_FAILURE SUCCESS TIMED_OUT }}
enum CheckStatusState {{ COMPLETED IN_PROGRESS PENDING QUEUED REQUESTED WAITING }}
enum IssueOrderField {{ COMMENTS CREATED_AT UPDATED_AT }}
enum OrderDirection {{ ASC DESC }}
enum PullRequestReviewState {{ APPROVED CHANGES_REQUESTED COMMENTED DISMISSED PENDING }}
enum PullRequestState {{ CLOSED MERGED OPEN }}
enum StatusState {{ ERROR EXPECTED FAILURE PENDING SUCCESS }}

input IssueOrder {{
  direction: OrderDirection!
  field: IssueOrderField!
}}

interface Node {{
  id: ID!
}}

interface Actor {{
  avatarUrl(size: Int): URI!
  login: String!
  resourcePath: URI!
  url: URI!
}}

type PageInfo {{
  endCursor: String
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
}}

type RateLimit {{
  cost: Int!
  limit: Int!
  nodeCount: Int!
  remaining: Int!
  resetAt: DateTime!
  used: Int!
}}

type User implements Actor & Node {{
  avatarUrl(size: Int): URI!
  databaseId: Int
  email: String!
  id: ID!
  login: String!
  name: String
  resourcePath: URI!
  url: URI!
}}

type Bot implements Actor & Node {{
  avatarUrl(size: Int): URI!
  databaseId: Int
  id: ID!
  login: String!
  resourcePath: URI!
  url: URI!
}}

type Mannequin implements Actor & Node {{
  avatarUrl(size: Int): URI!
  email: String
  id: ID!
  login: String!
  resourcePath: URI!
  url: URI!
}}

type Team implements Node {{
  id: ID!
  name: String!
  slug: String!
  url: URI!
}}

union RequestedReviewer = Bot | Mannequin | Team | User

type GitActor {{
  date: GitTimestamp
  email: String
  name: String
  user: User
}}

type Commit implements Node {{
  abbreviatedOid: String!
  author: GitActor
  authoredDate: DateTime!
  committedDate: DateTime!
  id: ID!
  message: String!
  messageHeadline: String!
  oid: GitObjectID!
  statusCheckRollup: StatusCheckRollup
  url: URI!
}}

type CheckRun implements Node {{
  completedAt: DateTime
  conclusion: CheckConclusionState
  databaseId: Int
  detailsUrl: URI
  id: ID!
  name: String!
  permalink: URI!
  startedAt: DateTime
  status: CheckStatusState!
  url: URI!
}}

type StatusContext implements Node {{
  context: String!
  createdAt: DateTime!
  description: String
  id: ID!
  state: StatusState!
  targetUrl: URI
}}

union StatusCheckRollupContext = CheckRun | StatusContext

type StatusCheckRollup implements Node {{
  commit: Commit
  contexts({_PAGING}): StatusCheckRollupContextConnection!
  id: ID!
  state: StatusState!
}}

type IssueComment implements Node {{
  author: Actor
  body: String!
  createdAt: DateTime!
  fullDatabaseId: BigInt
  id: ID!
  url: URI!
}}

type Label implements Node {{
  color: String!
  description: String
  id: ID!
  name: String!
}}

type PullRequestCommit implements Node {{
  commit: Commit!
  id: ID!
  url: URI!
}}

type PullRequestReviewComment implements Node {{
  author: Actor
  body: String!
  createdAt: DateTime!
  fullDatabaseId: BigInt
  id: ID!
  path: String!
  url: URI!
}}

type PullRequestReview implements Node {{
  author: Actor
  body: String!
  comments({_PAGING}): PullRequestReviewCommentConnection!
  createdAt: DateTime!
  fullDatabaseId: BigInt
  id: ID!
  state: PullRequestReviewState!
  submittedAt: DateTime
  url: URI!
}}

type ReviewRequest implements Node {{
  id: ID!
  requestedReviewer: RequestedReviewer
}}

type PullRequest implements Node {{
  additions: Int!
  author: Actor
  baseRefName: String!
  baseRefOid: GitObjectID!
  body: String!
  changedFiles: Int!
  closed: Boolean!
  closedAt: DateTime
  comments({_PAGING}): IssueCommentConnection!
  commits({_PAGING}): PullRequestCommitConnection!
  createdAt: DateTime!
  databaseId: Int
  deletions: Int!
  fullDatabaseId: BigInt
  headRefName: String!
  headRefOid: GitObjectID!
  id: ID!
  isDraft: Boolean!
  labels({_PAGING}): LabelConnection
  merged: Boolean!
  mergeCommit: Commit
  mergedAt: DateTime
  number: Int!
  repository: Repository!
  reviewRequests({_PAGING}): ReviewRequestConnection
  reviews({_PAGING}, author: String, states: [PullRequestReviewState!]): PullRequestReviewConnection
  state: PullRequestState!
  statusCheckRollup: StatusCheckRollup
  title: String!
  updatedAt: DateTime!
  url: URI!
}}

type Repository implements Node {{
  id: ID!
  name: String!
  nameWithOwner: String!
  pullRequests(
    {_PAGING}, baseRefName: String, headRefName: String, labels: [String!], orderBy: IssueOrder,
    states: [PullRequestState!]
  ): PullRequestConnection!
  url: URI!
}}

type Query {{
  node(id: ID!): Node
  rateLimit(dryRun: Boolean = false): RateLimit
  repository(followRenames: Boolean = true, name: String!, owner: String!): Repository
  viewer: User!
}}
"""
    + _connection_types("PullRequest")
    + _connection_types("PullRequestReview")
    + _connection_types("PullRequestReviewComment")
    + _connection_types("PullRequestCommit")
    + _connection_types("IssueComment")
    + _connection_types("Label")
    + _connection_types("ReviewRequest")
    + _connection_types("StatusCheckRollupContext", extra="\n  checkRunCount: Int!\n  statusContextCount: Int!")
)

SCHEMA = build_schema(SDL)


class GitHubQueryError(Exception):
    """An error GitHub reports with a ``type`` (NOT_FOUND, EXCESSIVE_PAGINATION, ...)."""

    def __init__(self, message: str, error_type: str) -> None:
        super().__init__(message)
        self.type = error_type


# --------------------------------------------------------------------------- cost
def query_cost(document: Any, operation_name: str | None, variables: Mapping[str, Any]) -> tuple[int, int]:
    """(points, possible nodes) of a query by GitHub's rule (see the module docstring)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 1, 0
    requests = nodes = 0

    def walk(selection_set: SelectionSetNode | None, parents: int) -> None:
        nonlocal requests, nodes
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                limit = None
                for argument in selection.arguments or ():
                    if argument.name.value in ("first", "last"):
                        value = value_from_ast_untyped(argument.value, dict(variables))
                        limit = value if isinstance(value, int) else limit
                if limit is not None:
                    requests += parents
                    nodes += parents * limit
                    walk(selection.selection_set, parents * limit)
                else:
                    walk(selection.selection_set, parents)
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set, parents)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
                walk(fragments[selection.name.value].selection_set, parents)

    walk(operation.selection_set, 1)
    return max(1, int(requests / 100 + 0.5)), nodes


# --------------------------------------------------------------------------- connections
def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:v2:{index}".encode()).decode()


def _index(cursor: str, field: str) -> int:
    try:
        return int(base64.b64decode(cursor.encode()).decode().rsplit(":", 1)[1])
    except (ValueError, IndexError, UnicodeDecodeError):
        raise GitHubQueryError(
            f"`{cursor}` does not appear to be a valid cursor.", "INVALID_CURSOR_ARGUMENTS"
        ) from None


def connection(
    items: list[Any], info: Any, args: Mapping[str, Any], build: Callable[[Any], Any] | None = None
) -> dict[str, Any]:
    """One page of `items` as a GitHub connection (nodes, edges, pageInfo, totalCount).

    `build` turns the page's items (only those) into GraphQL objects.
    """
    field = info.field_name
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        raise GitHubQueryError(
            f"You must provide a `first` or `last` value to properly paginate the `{field}` connection.",
            "MISSING_PAGINATION_BOUNDARIES",
        )
    for name, value in (("first", first), ("last", last)):
        if value is not None and not 0 <= value <= MAX_PAGE:
            raise GitHubQueryError(
                f"Requesting {value} records on the `{field}` connection exceeds the `{name}` limit of "
                f"{MAX_PAGE} records.",
                "EXCESSIVE_PAGINATION",
            )
    start, end = 0, len(items)
    if args.get("after"):
        start = min(len(items), _index(args["after"], field) + 1)
    if args.get("before"):
        end = max(start, min(end, _index(args["before"], field)))
    if first is not None:
        end = min(end, start + first)
    if last is not None:
        start = max(start, end - last)
    window = items[start:end]
    if build is not None:
        window = [build(item) for item in window]
    return {
        "totalCount": len(items),
        "nodes": window,
        "edges": [{"cursor": _cursor(start + i), "node": node} for i, node in enumerate(window)],
        "pageInfo": {
            "hasNextPage": end < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": _cursor(start) if window else None,
            "endCursor": _cursor(end - 1) if window else None,
        },
    }


def pull_stats(store: Mapping[str, Any], number: int) -> dict[str, int]:
    """The counters of REST's GET /pulls/{n} and GraphQL's PullRequest, from the stored data."""
    commits = store["commits"][number]
    return {
        "comments": len(store["comments"][number]),
        "review_comments": len(store["review_comments"][number]),
        "commits": len(commits),
        "additions": 10 * len(commits) + number,
        "deletions": 3 * len(commits),
        "changed_files": len(commits),
    }


def _listing(items: Callable[[], list[Any]]) -> Callable[..., dict[str, Any]]:
    """A connection field: graphql-core calls it with (info, **arguments)."""
    return lambda info, **args: connection(items(), info, args)


# --------------------------------------------------------------------------- objects
def _actor(user: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not user:
        return None
    login = str(user["login"])
    is_bot = user.get("type") == "Bot"
    return {
        "__typename": "Bot" if is_bot else "User",
        "id": user.get("node_id") or f"U_{login}",
        "databaseId": user.get("id"),
        "login": login.removesuffix("[bot]") if is_bot else login,  # GraphQL names bots without "[bot]"
        "name": user.get("name"),
        "email": user.get("email") or "",
        "url": user.get("html_url") or f"https://github.com/{login}",
        "resourcePath": f"/{login}",
        "avatarUrl": lambda info, **args: user.get("avatar_url") or "",
    }


class _Graph:
    """Builds GraphQL objects from the REST dataset, lazily: connections are resolved only when asked for."""

    def __init__(self, dataset: dict[str, Any]) -> None:
        self.dataset = dataset

    # -- lookups ----------------------------------------------------------------
    def node(self, node_id: str) -> dict[str, Any] | None:
        index = self.dataset.setdefault("_graphql_index", {})
        if node_id not in index:
            self._reindex(index)
        found = index.get(node_id)
        if found is None:
            raise GitHubQueryError(f"Could not resolve to a node with the global id of '{node_id}'", "NOT_FOUND")
        kind, key = found
        if kind == "pull":
            return self.pull(*key)
        if kind == "review":
            repo, number, position = key
            return self.review(repo, number, self.dataset["repos"][repo]["reviews"][number][position])
        if kind == "rollup":
            return self.rollup(*key)
        if kind == "repository":
            return self.repository(key)
        return None

    def _reindex(self, index: dict[str, Any]) -> None:
        for full_name, store in self.dataset["repos"].items():
            index[store["repo"]["node_id"]] = ("repository", full_name)
            for number, pull in store["pulls"].items():
                index[pull["node_id"]] = ("pull", (full_name, number))
                index[_rollup_id(full_name, pull["head"]["sha"])] = ("rollup", (full_name, pull["head"]["sha"]))
                for position, review in enumerate(store["reviews"][number]):
                    index[review["node_id"]] = ("review", (full_name, number, position))

    # -- objects ----------------------------------------------------------------
    def repository(self, full_name: str) -> dict[str, Any]:
        store = self.dataset["repos"][full_name]
        repo = store["repo"]
        return {
            "__typename": "Repository",
            "id": repo["node_id"],
            "name": repo["name"],
            "nameWithOwner": full_name,
            "url": repo["html_url"],
            "pullRequests": lambda info, **args: connection(
                self._pulls(full_name, args), info, args, lambda pull: self.pull(full_name, pull["number"])
            ),
        }

    def _pulls(self, full_name: str, args: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The repository's REST pull objects, filtered and ordered as the arguments say."""
        store = self.dataset["repos"][full_name]
        pulls = list(store["pulls"].values())
        states = args.get("states")
        if states:
            pulls = [p for p in pulls if _state(p) in states]
        for name, key in (("baseRefName", "base"), ("headRefName", "head")):
            if args.get(name):
                pulls = [p for p in pulls if p[key]["ref"] == args[name]]
        if args.get("labels"):
            pulls = [p for p in pulls if {lb["name"] for lb in p["labels"]} & set(args["labels"])]
        order = args.get("orderBy") or {"field": "CREATED_AT", "direction": "ASC"}
        if order["field"] == "COMMENTS":
            pulls.sort(key=lambda p: (len(store["comments"][p["number"]]), p["number"]))
        else:
            key = "updated_at" if order["field"] == "UPDATED_AT" else "created_at"
            pulls.sort(key=lambda p: (p[key], p["number"]))
        if order["direction"] == "DESC":
            pulls.reverse()
        return pulls

    def pull(self, full_name: str, number: int) -> dict[str, Any]:
        store = self.dataset["repos"][full_name]
        pull = store["pulls"][number]
        stats = pull_stats(store, number)
        sha = pull["head"]["sha"]
        return {
            "__typename": "PullRequest",
            "id": pull["node_id"],
            "databaseId": pull["id"],
            "fullDatabaseId": str(pull["id"]),
            "number": number,
            "title": pull["title"],
            "body": pull["body"] or "",
            "url": pull["html_url"],
            "state": _state(pull),
            "closed": pull["state"] == "closed",
            "merged": bool(pull["merged_at"]),
            "isDraft": bool(pull["draft"]),
            "createdAt": pull["created_at"],
            "updatedAt": pull["updated_at"],
            "closedAt": pull["closed_at"],
            "mergedAt": pull["merged_at"],
            "mergeCommit": _merge_commit(full_name, pull),
            "additions": stats["additions"],
            "deletions": stats["deletions"],
            "changedFiles": stats["changed_files"],
            "headRefName": pull["head"]["ref"],
            "headRefOid": sha,
            "baseRefName": pull["base"]["ref"],
            "baseRefOid": pull["base"]["sha"],
            "author": _actor(pull["user"]),
            "repository": lambda info, **args: self.repository(full_name),
            "labels": _listing(lambda: [_label(label) for label in pull["labels"]]),
            "reviewRequests": _listing(lambda: [_review_request(user) for user in pull["requested_reviewers"]]),
            "reviews": lambda info, **args: connection(self._reviews(full_name, number, args), info, args),
            "comments": _listing(lambda: [_issue_comment(c) for c in store["comments"][number]]),
            "commits": _listing(lambda: [self._pull_commit(full_name, number, c) for c in store["commits"][number]]),
            "statusCheckRollup": lambda info, **args: self.rollup(full_name, sha),
        }

    def _reviews(self, full_name: str, number: int, args: Mapping[str, Any]) -> list[dict[str, Any]]:
        reviews = self.dataset["repos"][full_name]["reviews"][number]
        if args.get("states"):
            reviews = [r for r in reviews if r["state"] in args["states"]]
        if args.get("author"):
            reviews = [r for r in reviews if (r.get("user") or {}).get("login") == args["author"]]
        return [self.review(full_name, number, r) for r in reviews]

    def review(self, full_name: str, number: int, review: Mapping[str, Any]) -> dict[str, Any]:
        comments = self.dataset["repos"][full_name]["review_comments"][number]
        return {
            "__typename": "PullRequestReview",
            "id": review["node_id"],
            "fullDatabaseId": str(review["id"]),
            "author": _actor(review.get("user")),
            "body": review.get("body") or "",
            "state": review["state"],
            "submittedAt": review.get("submitted_at"),
            "createdAt": review.get("submitted_at") or review.get("created_at"),
            "url": review["html_url"],
            "comments": _listing(
                lambda: [_review_comment(c) for c in comments if c["pull_request_review_id"] == review["id"]]
            ),
        }

    def _pull_commit(self, full_name: str, number: int, commit: Mapping[str, Any]) -> dict[str, Any]:
        git = commit["commit"]
        author = git.get("author") or {}
        return {
            "__typename": "PullRequestCommit",
            "id": f"PURC_{commit['sha'][:20]}",
            "url": f"https://github.com/{full_name}/pull/{number}/commits/{commit['sha']}",
            "commit": {
                "__typename": "Commit",
                "id": commit["node_id"],
                "oid": commit["sha"],
                "abbreviatedOid": commit["sha"][:7],
                "message": git.get("message") or "",
                "messageHeadline": (git.get("message") or "").split("\n", 1)[0],
                "authoredDate": author.get("date"),
                "committedDate": (git.get("committer") or author).get("date"),
                "url": commit["html_url"],
                "author": {
                    "name": author.get("name"),
                    "email": author.get("email"),
                    "date": author.get("date"),
                    "user": _actor(commit.get("author")),
                },
                "statusCheckRollup": lambda info, **args: self.rollup(full_name, commit["sha"]),
            },
        }

    def rollup(self, full_name: str, sha: str) -> dict[str, Any] | None:
        """The commit's check runs and statuses; None when it has neither (as on GitHub)."""
        store = self.dataset["repos"][full_name]
        runs = store["check_runs"].get(sha, [])
        statuses = store["statuses"].get(sha, [])
        if not runs and not statuses:
            return None
        contexts = [_check_run(run) for run in runs] + [_status_context(status) for status in statuses]
        return {
            "__typename": "StatusCheckRollup",
            "id": _rollup_id(full_name, sha),
            "state": _rollup_state(contexts),
            "contexts": lambda info, **args: {
                **connection(contexts, info, args),
                "checkRunCount": len(runs),
                "statusContextCount": len(statuses),
            },
        }


def _merge_commit(full_name: str, pull: Mapping[str, Any]) -> dict[str, Any] | None:
    """The commit a merged PR put on its base branch (GitHub's mergeCommit), None before the merge."""
    sha = pull.get("merge_commit_sha")
    if not sha or not pull.get("merged_at"):
        return None
    title = str(pull.get("title") or "")
    message = f"Merge pull request #{pull['number']} from {pull['head']['ref']}\n\n{title}"
    return {
        "__typename": "Commit",
        "id": f"C_{sha[:20]}",
        "oid": sha,
        "abbreviatedOid": sha[:7],
        "message": message,
        "messageHeadline": message.split("\n", 1)[0],
        "authoredDate": pull["merged_at"],
        "committedDate": pull["merged_at"],
        "url": f"https://github.com/{full_name}/commit/{sha}",
        "author": None,
        "statusCheckRollup": None,
    }


def _state(pull: Mapping[str, Any]) -> str:
    return "MERGED" if pull.get("merged_at") else str(pull["state"]).upper()


def _rollup_id(full_name: str, sha: str) -> str:
    return "SCR_" + base64.urlsafe_b64encode(f"{full_name}:{sha}".encode()).decode()


def _rollup_state(contexts: list[dict[str, Any]]) -> str:
    states = set()
    for context in contexts:
        if context["__typename"] == "CheckRun":
            if context["status"] != "COMPLETED":
                states.add("PENDING")
            elif context["conclusion"] in ("SUCCESS", "NEUTRAL", "SKIPPED"):
                states.add("SUCCESS")
            else:
                states.add("FAILURE")
        else:
            states.add(context["state"])
    for state in ("ERROR", "FAILURE", "PENDING", "EXPECTED"):
        if state in states:
            return state
    return "SUCCESS"


def _label(label: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "__typename": "Label",
        "id": label.get("node_id") or f"LA_{label['id']}",
        "name": label["name"],
        "color": label.get("color") or "ededed",
        "description": label.get("description"),
    }


def _review_request(user: Mapping[str, Any]) -> dict[str, Any]:
    if "slug" in user:  # a team (REST requested_teams element)
        reviewer: dict[str, Any] | None = {
            "__typename": "Team",
            "id": user.get("node_id") or f"T_{user['slug']}",
            "name": user.get("name") or user["slug"],
            "slug": user["slug"],
            "url": user.get("html_url") or "",
        }
    else:
        reviewer = _actor(user)
    return {"__typename": "ReviewRequest", "id": f"RR_{(reviewer or {}).get('id')}", "requestedReviewer": reviewer}


def _issue_comment(comment: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "__typename": "IssueComment",
        "id": comment["node_id"],
        "fullDatabaseId": str(comment["id"]),
        "author": _actor(comment.get("user")),
        "body": comment.get("body") or "",
        "createdAt": comment["created_at"],
        "url": comment["html_url"],
    }


def _review_comment(comment: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "__typename": "PullRequestReviewComment",
        "id": comment["node_id"],
        "fullDatabaseId": str(comment["id"]),
        "author": _actor(comment.get("user")),
        "body": comment.get("body") or "",
        "createdAt": comment["created_at"],
        "path": comment.get("path") or "",
        "url": comment["html_url"],
    }


def _check_run(run: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "__typename": "CheckRun",
        "id": run["node_id"],
        "databaseId": run["id"],
        "name": run["name"],
        "status": str(run["status"]).upper(),
        "conclusion": str(run["conclusion"]).upper() if run.get("conclusion") else None,
        "url": run["html_url"],
        "permalink": run["html_url"],
        "detailsUrl": run.get("details_url"),
        "startedAt": run.get("started_at"),
        "completedAt": run.get("completed_at"),
    }


def _status_context(status: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "__typename": "StatusContext",
        "id": status["node_id"],
        "context": status["context"],
        "state": str(status["state"]).upper(),
        "targetUrl": status.get("target_url"),
        "description": status.get("description"),
        "createdAt": status["created_at"],
    }


# --------------------------------------------------------------------------- the endpoint
def _format_error(error: GraphQLError) -> dict[str, Any]:
    out: dict[str, Any] = {"message": error.message}
    original = error.original_error
    if isinstance(original, GitHubQueryError):
        out["type"] = original.type
    if error.path:
        out["path"] = list(error.path)
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    return out


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.lru_cache(maxsize=256)
def _parsed(query: str) -> tuple[Any, list[GraphQLError]]:
    """(document, validation errors) of a query text; a client sends the same few texts again and again."""
    document = parse(query)
    return document, validate(SCHEMA, document)


def answer(dataset: dict[str, Any], body: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, payload, headers) for one POST /graphql with JSON `body` ({"query", "variables", ...})."""
    quota = dataset["graphql_rate_limit"]
    now = time.time()
    if now >= quota["reset"]:  # a new window: the quota refills
        quota["remaining"] = quota["limit"]
        quota["reset"] = int(now) + 3600

    def headers() -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(quota["limit"]),
            "X-RateLimit-Remaining": str(max(0, quota["remaining"])),
            "X-RateLimit-Reset": str(quota["reset"]),
            "X-RateLimit-Used": str(quota["limit"] - quota["remaining"]),
            "X-RateLimit-Resource": "graphql",
        }

    query = body.get("query") if isinstance(body, dict) else None
    if not isinstance(query, str) or not query.strip():
        return 200, {"errors": [{"message": "A query attribute must be specified and must be a string."}]}, headers()
    variables = body.get("variables") or {}
    if not isinstance(variables, dict):
        return 200, {"errors": [{"message": "Variables are invalid JSON."}]}, headers()
    try:
        document, problems = _parsed(query)
    except GraphQLError as exc:
        return 200, {"errors": [_format_error(exc)]}, headers()
    if problems:
        return 200, {"errors": [_format_error(p) for p in problems]}, headers()
    operation_name = body.get("operationName")
    cost, node_count = query_cost(document, operation_name, variables)
    if node_count > MAX_NODES:
        message = (
            f"By the time this query traverses to the nodes connection, it is requesting up to {node_count:,} "
            f"possible nodes which exceeds the maximum limit of {MAX_NODES:,}."
        )
        return 200, {"errors": [{"type": "MAX_NODE_LIMIT_EXCEEDED", "message": message}]}, headers()
    if quota["remaining"] < cost:
        dataset["graphql_rejected"] = dataset.get("graphql_rejected", 0) + 1
        message = "API rate limit already exceeded for user ID 1."
        return 200, {"errors": [{"type": "RATE_LIMITED", "code": "graphql_rate_limit", "message": message}]}, headers()
    quota["remaining"] -= cost
    dataset["graphql_queries"] = dataset.get("graphql_queries", 0) + 1
    dataset["graphql_points"] = dataset.get("graphql_points", 0) + cost
    graph = _Graph(dataset)
    person = dataset["user"]

    def repository(info: Any, **args: Any) -> dict[str, Any]:
        full_name = f"{args['owner']}/{args['name']}"
        if full_name not in dataset["repos"]:
            raise GitHubQueryError(f"Could not resolve to a Repository with the name '{full_name}'.", "NOT_FOUND")
        return graph.repository(full_name)

    root = {
        "repository": repository,
        "node": lambda info, **args: graph.node(args["id"]),
        "viewer": lambda info, **args: _actor(
            {"login": login_of(person), "name": person.get("name"), "email": person.get("email")}
        ),
        "rateLimit": lambda info, **args: {
            "cost": cost,
            "limit": quota["limit"],
            "nodeCount": node_count,
            "remaining": quota["remaining"],
            "resetAt": _iso(quota["reset"]),
            "used": quota["limit"] - quota["remaining"],
        },
    }
    result = execute(SCHEMA, document, root_value=root, variable_values=variables, operation_name=operation_name)
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [_format_error(e) for e in result.errors]
    return 200, payload, headers()
