"""A faithful fake of the Azure DevOps Git pull request API (7.1) for tests and the demo.

Shapes follow Microsoft's published examples (fixtures/public-api-samples/azure_devops_git):
repository refs with project, identity refs, reviewers with votes, system threads recording
votes (CodeReviewThreadType=VoteUpdate) and text comment threads, work item refs, statuses.
Behaviour: PAT basic auth (401 TF400813), api-version required, ``$top``/``$skip`` paging
(101 a page without ``$top``, at most 1,000; ``dataset["pulls_top_cap"]`` answers fewer than asked),
``searchCriteria.status`` and the time range criteria (``queryTimeRangeType`` created/closed
with ``minTime``/``maxTime``), routes case-insensitive like the real service
(``pullrequests`` / ``pullRequests``). Works mounted under a prefix.

    dataset = generate_dataset(seed=1, size=30, work_item_keys=["AB#1", "ACME-2"])
    app = create_app(dataset, FaultControls())
    # connector base URL: f"{server}/{dataset['organization']}"

Change data between syncs with `add_vote`, `add_comment`, `complete_pull`. Linked work items also
answer in bulk (``POST {project}/_apis/wit/artifacturiquery``; ``dataset["work_item_scope"] = False``
refuses it as for a token without the work item scope). ``dataset["answer_headers"]`` queues headers
(e.g. Azure's ``X-RateLimit-Delay``, ``Retry-After``) for the next answers. Pull request
validation builds (``GET {project}/_apis/build/builds``, paged by ``x-ms-continuationtoken``)
mirror the PRs' Azure Pipelines statuses; ``dataset["build_scope"] = False`` refuses them.
"""

from __future__ import annotations

import asyncio
import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.fakes.azure_boards import (
    DEFAULT_PEOPLE,
    add_connection_data_route,
    azure_error,
    check_org_and_project,
    connection_data_body,
    identity_ref,
    iso,
)
from tests.fakes.server import FaultControls, install_faults

DEFAULT_TOKEN = "ado-git-pat-0123456789abcdef"
THINGS = ["login tests", "invoice export", "password reset", "order history", "audit log", "search", "2FA flow"]


def _ref(person: dict[str, Any], org: str) -> dict[str, Any]:
    """An identity ref as pull requests carry it (no avatar links, plus descriptor)."""
    full = identity_ref(person, f"https://dev.azure.com/{org}")
    return {k: full[k] for k in ("id", "displayName", "uniqueName", "url", "imageUrl", "descriptor")}


def _system_thread(thread_id: int, when: datetime, content: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "pullRequestThreadContext": None,
        "id": thread_id,
        "publishedDate": iso(when),
        "lastUpdatedDate": iso(when),
        "comments": [
            {
                "id": 1,
                "parentCommentId": 0,
                "author": {
                    "id": "41113706-4320-4083-9150-925feb93fc22",
                    "displayName": "[DefaultCollection]\\Project Collection Service Accounts",
                    "isContainer": True,
                },
                "content": content,
                "publishedDate": iso(when),
                "lastUpdatedDate": iso(when),
                "commentType": "system",
                "usersLiked": [],
            }
        ],
        "threadContext": None,
        "properties": {k: {"$type": "System.String", "$value": v} for k, v in properties.items()},
        "isDeleted": False,
    }


def _vote_thread(
    thread_id: int, when: datetime, person: dict[str, Any], ref: dict[str, Any], vote: int, *, by_identity: bool
) -> dict[str, Any]:
    """A VoteUpdate system thread; the voter by CodeReviewVotedByIdentity (a key into ``identities``) or by TfId."""
    properties = {
        "CodeReviewThreadType": "VoteUpdate",
        "CodeReviewVotedByDisplayName": person["name"],
        "CodeReviewVoteResult": str(vote),
    }
    if by_identity:
        properties["CodeReviewVotedByIdentity"] = "1"
    else:
        properties["CodeReviewVotedByTfId"] = ref["id"]
    thread = _system_thread(thread_id, when, f"{person['name']} voted {vote}", properties)
    if by_identity:
        thread["identities"] = {"1": {k: ref[k] for k in ("id", "displayName", "uniqueName", "url", "imageUrl")}}
    return thread


def _text_thread(thread_id: int, when: datetime, author: dict[str, Any], content: str) -> dict[str, Any]:
    return {
        "pullRequestThreadContext": None,
        "id": thread_id,
        "publishedDate": iso(when),
        "lastUpdatedDate": iso(when),
        "comments": [
            {
                "id": 1,
                "parentCommentId": 0,
                "author": author,
                "content": content,
                "publishedDate": iso(when),
                "lastUpdatedDate": iso(when),
                "commentType": "text",
                "usersLiked": [],
            }
        ],
        "status": "active",
        "threadContext": None,
        "properties": {},
        "isDeleted": False,
    }


def generate_dataset(
    seed: int = 1,
    size: int = 30,
    *,
    organization: str = "acme",
    project: str = "Fabrikam",
    repositories: list[str] | None = None,
    work_item_keys: list[str] | None = None,
    people: list[dict[str, Any]] | None = None,
    token: str = DEFAULT_TOKEN,
    now: datetime | None = None,
    days: int = 84,
    signoff_marker: str = "DMT-OK",
) -> dict[str, Any]:
    """`size` pull requests over `repositories`, referencing `work_item_keys` in titles and branches.

    ``AB#n`` keys are also linked as work item refs, as Azure does when a PR is linked to a work item.
    """
    rng = random.Random(seed)
    people = people or DEFAULT_PEOPLE
    repositories = repositories or ["shop"]
    keys = list(work_item_keys or [f"AB#{n}" for n in range(1, size + 1)])
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    origin = now - timedelta(days=days)
    project_obj = {
        "id": str(uuid.UUID(int=rng.getrandbits(128))),
        "name": project,
        "state": "wellFormed",
        "visibility": "private",
        "revision": 7,
        "lastUpdateTime": iso(origin),
    }
    repos = {
        name: {
            "id": str(uuid.UUID(int=rng.getrandbits(128))),
            "name": name,
            "project": project_obj,
            "defaultBranch": "refs/heads/main",
            "size": 123456,
            "isDisabled": False,
        }
        for name in repositories
    }
    pulls: dict[int, dict[str, Any]] = {}
    extras: dict[int, dict[str, Any]] = {}
    for n in range(size):
        pr_id = 100 + n
        repo = repos[repositories[n % len(repositories)]]
        author = people[n % len(people)]
        others = [p for p in people if p["email"] != author["email"]]
        key = keys[n % len(keys)] if keys and n % 9 != 8 else None
        thing = rng.choice(THINGS)
        slug = thing.replace(" ", "-").lower()
        branch_key = key.replace("#", "") if key else None  # "AB#12" cannot be in a branch name; "AB12" is not a key
        title = f"{key} {thing}" if key else f"Chore: {thing}"
        branch = f"refs/heads/feature/{branch_key}-{slug}" if branch_key else f"refs/heads/chore/{slug}-{n}"
        created = origin + timedelta(minutes=rng.randint(0, days * 24 * 60 - 600))
        moment = created
        threads: list[dict[str, Any]] = []
        thread_id = pr_id * 100
        reviewers = []
        for reviewer in rng.sample(others, k=min(len(others), rng.randint(1, 2))):
            vote = rng.choices([10, 5, 0, -5, -10], weights=[6, 1, 2, 1, 1])[0]
            ref = _ref(reviewer, organization)
            reviewers.append(
                {
                    "reviewerUrl": "",
                    "vote": vote,
                    "hasDeclined": False,
                    "isFlagged": False,
                    "isRequired": rng.random() < 0.5,
                    **ref,
                }
            )
            if rng.random() < 0.7:
                moment += timedelta(minutes=rng.randint(20, 900))
                thread_id += 1
                threads.append(
                    _text_thread(
                        thread_id,
                        moment,
                        ref,
                        rng.choice(["Please add a unit test for the error path.", "Looks good.", "Nit: naming."]),
                    )
                )
            if vote:
                moment += timedelta(minutes=rng.randint(5, 300))
                thread_id += 1
                threads.append(_vote_thread(thread_id, moment, reviewer, ref, vote, by_identity=n % 2 == 1))
            if vote >= 5 and rng.random() < 0.6:
                moment += timedelta(minutes=rng.randint(1, 60))
                thread_id += 1
                threads.append(_text_thread(thread_id, moment, ref, f"Unit tests reviewed. {signoff_marker}"))
        approved = any(r["vote"] >= 5 for r in reviewers)
        status = "active"
        closed = None
        roll = rng.random()
        if approved and roll < 0.7:
            status, closed = "completed", moment + timedelta(minutes=rng.randint(10, 600))
        elif roll > 0.92:
            status, closed = "abandoned", moment + timedelta(minutes=rng.randint(10, 600))
        if closed and closed > now:
            closed = now - timedelta(minutes=1)
        commits = []
        for c in range(rng.randint(1, 3)):
            sha = f"{rng.getrandbits(160):040x}"
            commits.append(
                {
                    "commitId": sha,
                    "author": {
                        "name": author["name"],
                        "email": author["email"],
                        "date": iso(created - timedelta(hours=c + 1)),
                    },
                    "committer": {
                        "name": author["name"],
                        "email": author["email"],
                        "date": iso(created - timedelta(hours=c + 1)),
                    },
                    "comment": f"{key + ' ' if key and c == 0 else ''}{thing} part {c + 1}",
                    "url": "",
                }
            )
        conclusion = rng.choices(["succeeded", "failed", "pending"], weights=[7, 2, 1])[0]
        statuses = [
            {
                "id": 1,
                "state": conclusion,
                "description": f"Build {conclusion}",
                "context": {"name": "build", "genre": "continuous-integration"},
                "targetUrl": f"https://dev.azure.com/{organization}/{project}/_build/results?buildId={5000 + pr_id}",
                "creationDate": iso(created + timedelta(minutes=15)),
                "updatedDate": iso(created + timedelta(minutes=25)),
                "createdBy": {"id": "41113706-4320-4083-9150-925feb93fc22", "displayName": "Azure Pipelines"},
            }
        ]
        work_items = [
            {
                "id": key.split("#")[1],
                "url": f"https://dev.azure.com/{organization}/_apis/wit/workItems/{key.split('#')[1]}",
            }
            for key in ([key] if key and key.startswith("AB#") else [])
        ]
        pull = {
            "repository": {
                "id": repo["id"],
                "name": repo["name"],
                "url": "",
                "project": {k: project_obj[k] for k in ("id", "name", "state")},
            },
            "pullRequestId": pr_id,
            "codeReviewId": pr_id,
            "status": status,
            "createdBy": _ref(author, organization),
            "creationDate": iso(created),
            "title": title,
            "description": f"Implements {key}." if key else "Housekeeping.",
            "sourceRefName": branch,
            "targetRefName": "refs/heads/main",
            "mergeStatus": "succeeded",
            "isDraft": status == "active" and rng.random() < 0.15,
            "mergeId": str(uuid.UUID(int=rng.getrandbits(128))),
            "lastMergeSourceCommit": {"commitId": commits[0]["commitId"], "url": ""},
            "lastMergeTargetCommit": {"commitId": f"{rng.getrandbits(160):040x}", "url": ""},
            "reviewers": reviewers,
            "url": "",
            "supportsIterations": True,
        }
        if closed:
            pull["closedDate"] = iso(closed)
            if status == "completed":
                pull["lastMergeCommit"] = {"commitId": f"{rng.getrandbits(160):040x}", "url": ""}
                pull["completionQueueTime"] = iso(closed - timedelta(seconds=2))
        pulls[pr_id] = pull
        extras[pr_id] = {"threads": threads, "work_items": work_items, "statuses": statuses, "commits": commits}
    return {
        "organization": organization,
        "project": project_obj,
        "token": token,
        "user": people[0],
        "people": people,
        "repositories": repos,
        "pulls": pulls,
        "extras": extras,
        "now": now,
        "malformed_next": 0,
    }


# --------------------------------------------------------------------------- mutations between syncs
def add_vote(
    dataset: dict[str, Any],
    pr_id: int,
    person: dict[str, Any],
    vote: int,
    when: datetime | None = None,
    *,
    by_identity: bool = False,
) -> None:
    """A reviewer votes (added as reviewer if needed); Azure records a VoteUpdate thread.

    `by_identity`: the thread names the voter through CodeReviewVotedByIdentity and its
    ``identities`` map, as real organisations send it, instead of CodeReviewVotedByTfId.
    """
    when = when or datetime.now(UTC)
    pull = dataset["pulls"][pr_id]
    ref = _ref(person, dataset["organization"])
    for reviewer in pull["reviewers"]:
        if reviewer["id"] == ref["id"]:
            reviewer["vote"] = vote
            break
    else:
        pull["reviewers"].append({"reviewerUrl": "", "vote": vote, "hasDeclined": False, "isFlagged": False, **ref})
    threads = dataset["extras"][pr_id]["threads"]
    thread_id = max([t["id"] for t in threads] + [pr_id * 100]) + 1
    threads.append(_vote_thread(thread_id, when, person, ref, vote, by_identity=by_identity))


def add_comment(
    dataset: dict[str, Any], pr_id: int, person: dict[str, Any], content: str, when: datetime | None = None
) -> None:
    threads = dataset["extras"][pr_id]["threads"]
    thread_id = max([t["id"] for t in threads] + [pr_id * 100]) + 1
    threads.append(_text_thread(thread_id, when or datetime.now(UTC), _ref(person, dataset["organization"]), content))


def complete_pull(dataset: dict[str, Any], pr_id: int, when: datetime | None = None, status: str = "completed") -> None:
    pull = dataset["pulls"][pr_id]
    pull["status"] = status
    pull["closedDate"] = iso(when or datetime.now(UTC))


# --------------------------------------------------------------------------- app
def create_app(dataset: dict[str, Any], controls: FaultControls | None = None) -> FastAPI:
    """The fake Azure DevOps Git API serving `dataset`; works mounted under a prefix."""
    app = FastAPI(title="fake Azure DevOps Git")
    app.state.dataset = dataset
    if controls is not None:
        install_faults(app, controls)
    org = dataset["organization"]
    project = dataset["project"]

    def org_url(request: Request) -> str:
        url = str(request.url.replace(query=""))
        return url[: url.find(f"/{org}/") + len(org) + 1]

    def guard(
        request: Request, org_name: str, project_name: str | None = None, version: bool = True
    ) -> Response | None:
        return check_org_and_project(request, dataset, org_name, project_name, version)

    def find_repo(name_or_id: str) -> dict[str, Any] | None:
        for repo in dataset["repositories"].values():
            if name_or_id.lower() in (repo["id"].lower(), repo["name"].lower()):
                return repo
        return None

    def repo_json(repo: dict[str, Any], base: str) -> dict[str, Any]:
        return {
            **repo,
            "url": f"{base}/{project['id']}/_apis/git/repositories/{repo['id']}",
            "remoteUrl": f"{base.replace('://', f'://{org}@', 1)}/{project['name']}/_git/{repo['name']}",
            "webUrl": f"{base}/{project['name']}/_git/{repo['name']}",
        }

    def pull_json(pull: dict[str, Any], base: str) -> dict[str, Any]:
        repo_api = f"{base}/_apis/git/repositories/{pull['repository']['id']}"
        api = f"{repo_api}/pullRequests/{pull['pullRequestId']}"
        out = {**pull, "url": api, "repository": {**pull["repository"], "url": repo_api}}
        out["reviewers"] = [{**r, "reviewerUrl": f"{api}/reviewers/{r['id']}"} for r in pull["reviewers"]]
        return out

    def answer(body: Any) -> JSONResponse:
        """A JSON answer carrying the next queued rate-limit headers (``dataset["answer_headers"]``), if any."""
        queued = dataset.get("answer_headers") or []
        return JSONResponse(body, headers=queued.pop(0) if queued else None)

    def page(request: Request, values: list[Any]) -> Response:
        if dataset.get("malformed_next", 0) > 0:
            dataset["malformed_next"] -= 1
            return JSONResponse({"count": 1, "value": {"unexpected": "shape"}})
        return answer({"value": values, "count": len(values)})

    def builds_of(pr_id: int, repo: dict[str, Any], base: str) -> list[dict[str, Any]]:
        """The PR's validation builds: one per Azure Pipelines status the PR carries (same outcome and link)."""
        builds = []
        for status in dataset["extras"][pr_id]["statuses"]:
            if (status.get("createdBy") or {}).get("displayName") != "Azure Pipelines":
                continue  # external CI: a status only, no build
            build_id = int(str(status["targetUrl"]).rsplit("=", 1)[1])
            done = status["state"] != "pending"
            builds.append(
                {
                    "id": build_id,
                    "buildNumber": f"20250101.{build_id}",
                    "status": "completed" if done else "inProgress",
                    "result": {"succeeded": "succeeded", "failed": "failed"}.get(status["state"]) if done else None,
                    "queueTime": status["creationDate"],
                    "startTime": status["creationDate"],
                    "finishTime": status["updatedDate"] if done else None,
                    "reason": "pullRequest",
                    "sourceBranch": f"refs/pull/{pr_id}/merge",
                    "sourceVersion": dataset["pulls"][pr_id]["lastMergeSourceCommit"]["commitId"],
                    "triggerInfo": {"pr.number": str(pr_id), "pr.isFork": "False"},
                    "definition": {"id": 7, "name": status["context"]["name"]},
                    "repository": {"id": repo["id"], "type": "TfsGit"},
                    "_links": {"web": {"href": status["targetUrl"]}},
                }
            )
        return builds

    @app.get("/{org_name}/{project_name}/_apis/build/builds")
    async def list_builds(request: Request, org_name: str, project_name: str) -> Response:
        denied = guard(request, org_name, project_name)
        if denied:
            return denied
        if not dataset.get("build_scope", True):  # a PAT without the Build (read) scope
            return azure_error(
                401, "TF400813: The user is not authorized to access this resource.", "UnauthorizedRequestException"
            )
        q = request.query_params
        repo = find_repo(q.get("repositoryId", "")) if q.get("repositoryId") else None
        min_time = q.get("minTime")
        low = datetime.fromisoformat(min_time.replace("Z", "+00:00")) if min_time else None
        base = org_url(request)
        builds = []
        for pr_id, pull in dataset["pulls"].items():
            pull_repo = dataset["repositories"][pull["repository"]["name"]]
            if repo is not None and pull_repo["id"] != repo["id"]:
                continue
            for build in builds_of(pr_id, pull_repo, base):
                if low and datetime.fromisoformat(build["queueTime"].replace("Z", "+00:00")) < low:
                    continue
                builds.append(build)
        builds.sort(key=lambda b: (b["queueTime"], b["id"]), reverse=True)
        start = int(q.get("continuationToken") or 0)
        top = min(int(q.get("$top") or 1000), dataset.get("builds_page_size", 1000))
        page_of = builds[start : start + top]
        response = answer({"count": len(page_of), "value": page_of})
        if start + top < len(builds):
            response.headers["x-ms-continuationtoken"] = str(start + top)
        return response

    @app.post("/{org_name}/{project_name}/_apis/wit/artifacturiquery")
    @app.post("/{org_name}/{project_name}/_apis/wit/artifactUriQuery")
    async def artifact_uri_query(request: Request, org_name: str, project_name: str) -> Response:
        denied = guard(request, org_name, project_name)
        if denied:
            return denied
        if not dataset.get("work_item_scope", True):  # a PAT with the Code scope only
            return azure_error(
                401,
                "TF400813: The user is not authorized to access this resource (vso.work scope missing).",
                "UnauthorizedRequestException",
            )
        uris = (await request.json()).get("artifactUris") or []
        dataset.setdefault("artifact_uris_asked", []).append(list(uris))  # what each query asked, for tests
        base = org_url(request)
        result: dict[str, list[dict[str, Any]]] = {}
        for uri in uris:
            match = re.fullmatch(r"vstfs:///Git/PullRequestId/([^%]+)%2F([^%]+)%2F(\d+)", str(uri), re.I)
            pull = dataset["pulls"].get(int(match.group(3))) if match else None
            refs = dataset["extras"][pull["pullRequestId"]]["work_items"] if pull else []
            result[str(uri)] = [{"id": int(r["id"]), "url": f"{base}/_apis/wit/workItems/{r['id']}"} for r in refs]
        return answer({"artifactUrisQueryResult": result})

    add_connection_data_route(app, dataset, guard, lambda person: connection_data_body(person, _ref(person, org)))

    @app.get("/{org_name}/{project_name}/_apis/git/repositories")
    async def list_repos(request: Request, org_name: str, project_name: str) -> Response:
        denied = guard(request, org_name, project_name)
        if denied:
            return denied
        base = org_url(request)
        return page(request, [repo_json(r, base) for r in dataset["repositories"].values()])

    @app.get("/{org_name}/{project_name}/_apis/git/repositories/{repo_name}/pullrequests")
    @app.get("/{org_name}/{project_name}/_apis/git/repositories/{repo_name}/pullRequests")
    async def list_pulls(request: Request, org_name: str, project_name: str, repo_name: str) -> Response:
        denied = guard(request, org_name, project_name)
        if denied:
            return denied
        repo = find_repo(repo_name)
        if repo is None:
            return azure_error(
                404,
                f"TF401019: The Git repository with name or identifier {repo_name} does not exist "
                "or you do not have permissions for the operation you are attempting.",
                "GitRepositoryNotFoundException",
            )
        q = request.query_params
        status = q.get("searchCriteria.status", "active")
        range_type = q.get("searchCriteria.queryTimeRangeType", "created")
        min_time = q.get("searchCriteria.minTime")
        max_time = q.get("searchCriteria.maxTime")
        low = datetime.fromisoformat(min_time.replace("Z", "+00:00")) if min_time else None
        high = datetime.fromisoformat(max_time.replace("Z", "+00:00")) if max_time else None
        selected = []
        for pull in dataset["pulls"].values():
            if pull["repository"]["id"] != repo["id"]:
                continue
            if status != "all" and pull["status"] != status:
                continue
            if low or high:
                stamp = pull.get("closedDate") if range_type == "closed" else pull["creationDate"]
                if stamp is None:
                    continue
                moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
                if (low and moment < low) or (high and moment >= high):
                    continue
            selected.append(pull)
        selected.sort(key=lambda p: p["pullRequestId"], reverse=True)
        skip = int(q.get("$skip", 0))
        # 101 without $top, at most 1,000; ``dataset["pulls_top_cap"]`` answers fewer than asked, as a busy
        # service may (a short page is then not the end of the list).
        top = min(int(q.get("$top", 101)), 1000, dataset.get("pulls_top_cap", 1000))
        base = org_url(request)
        return page(request, [pull_json(p, base) for p in selected[skip : skip + top]])

    def sub_resource(kind: str) -> Any:  # a route factory: one handler per sub-resource
        async def handler(request: Request, org_name: str, project_name: str, repo_name: str, pr_id: int) -> Response:
            denied = guard(request, org_name, project_name)
            if denied:
                return denied
            # How many PR sub-resource requests are in flight at once (``dataset["max_in_flight"]``).
            dataset["in_flight"] = dataset.get("in_flight", 0) + 1
            dataset["max_in_flight"] = max(dataset.get("max_in_flight", 0), dataset["in_flight"])
            try:
                await asyncio.sleep(dataset.get("sub_resource_seconds", 0))
            finally:
                dataset["in_flight"] -= 1
            repo = find_repo(repo_name)
            pull = dataset["pulls"].get(pr_id)
            if repo is None or pull is None or pull["repository"]["id"] != repo["id"]:
                return azure_error(
                    404, "TF401180: The requested pull request was not found.", "GitPullRequestNotFoundException"
                )
            values = dataset["extras"][pr_id][kind]
            base = org_url(request)
            if kind == "work_items":
                values = [{**v, "url": f"{base}/_apis/wit/workItems/{v['id']}"} for v in values]
            if kind == "commits":  # paged by $top and the x-ms-continuationtoken header, newest first
                top = int(request.query_params.get("$top", 100))
                start = int(request.query_params.get("continuationToken") or 0)
                response = page(request, values[start : start + top])
                if start + top < len(values):
                    response.headers["x-ms-continuationtoken"] = str(start + top)
                return response
            return page(request, values)

        return handler

    for path, kind in (
        ("threads", "threads"),
        ("workitems", "work_items"),
        ("statuses", "statuses"),
        ("commits", "commits"),
    ):
        for spelling in ("pullRequests", "pullrequests"):
            app.add_api_route(
                f"/{{org_name}}/{{project_name}}/_apis/git/repositories/{{repo_name}}/{spelling}/{{pr_id}}/{path}",
                sub_resource(kind),
                methods=["GET"],
            )

    return app
