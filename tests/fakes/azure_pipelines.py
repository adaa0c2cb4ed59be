"""A faithful fake of Azure Pipelines: pipelines, runs (builds), environments, deployment records, build changes.

Built over a fake Azure DevOps Git dataset (`tests.fakes.azure_devops_git`), so the runs deploy
the merge commits of its completed pull requests:

    git = azure_devops_git.generate_dataset(seed=1, size=40, organization="acme", project="Mobile")
    dataset = generate_dataset(git, seed=1)
    app = create_app(dataset, controls)

The main branch of each repository is laid out of its completed PRs in completion order (the
PR's commits, then ``lastMergeCommit``); a pipeline (``web-deploy``) runs after every few
completions: its ``Staging`` stage deploys to the ``staging`` environment, then ``Production``
to ``production`` (a failed run stops at the stage that failed). Payload shapes follow the
REST API 7.1: ``_apis/pipelines``, ``_apis/build/builds`` (``definitions``, ``branchName``,
``statusFilter``, ``queryOrder``, ``minTime``, ``$top`` with ``x-ms-continuationtoken``),
``_apis/build/builds/{id}``, ``_apis/build/changes?fromBuildId&toBuildId`` (the commits between
two runs, newest first), ``_apis/pipelines/environments`` and
``_apis/distributedtask/environments/{id}/environmentdeploymentrecords`` (newest first, ``top``
and ``continuationToken``). Basic auth with the PAT, api-version required, Azure's error bodies.

Change data between syncs with `run_pipeline`.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.fakes.azure_boards import (
    add_connection_data_route,
    azure_error,
    check_org_and_project,
    connection_data_body,
    identity_ref,
    iso,
)
from tests.fakes.server import FaultControls, install_faults

PIPELINE = {"id": 12, "name": "web-deploy", "folder": "\\", "revision": 4}
ENVIRONMENTS = ({"id": 1, "name": "staging"}, {"id": 2, "name": "production"})
STAGES = {"staging": "Staging", "production": "Production"}


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def generate_dataset(
    git: dict[str, Any],
    *,
    seed: int = 1,
    runs_every: tuple[int, int] = (1, 3),
    failure_rate: float = 0.12,
    page_size: int = 100,
) -> dict[str, Any]:
    """Pipeline runs and deployment records over the completed PRs of a fake Azure DevOps Git dataset."""
    rng = random.Random(seed * 104_729)
    dataset: dict[str, Any] = {
        "organization": git["organization"],
        "project": git["project"],
        "token": git["token"],
        "user": git["user"],
        "people": git["people"],
        "repositories": git["repositories"],
        "history": {},  # repository name -> [change]
        "positions": {},  # sha -> (repository name, index)
        "builds": [],
        "records": [],
        "page_size": page_size,
        "now": git["now"],
    }
    pulls = sorted(
        (p for p in git["pulls"].values() if p["status"] == "completed" and p.get("lastMergeCommit")),
        key=lambda p: p["closedDate"],
    )
    for name in git["repositories"]:
        root_time = git["now"] - timedelta(days=400)
        _append(
            dataset,
            name,
            _change(
                dataset,
                f"{uuid.UUID(int=seed).hex}{name}"[:40].ljust(40, "0"),
                "Initial commit",
                git["people"][0],
                root_time,
            ),
        )
    first = True
    since, wait = 0, rng.randint(*runs_every)
    for pull in pulls:
        repo = pull["repository"]["name"]
        person = next((p for p in git["people"] if p["email"] == pull["createdBy"].get("uniqueName")), git["people"][0])
        for commit in git["extras"][pull["pullRequestId"]]["commits"]:
            when = _parse(commit["author"]["date"])
            _append(dataset, repo, _change(dataset, commit["commitId"], commit["comment"], person, when))
        closed = _parse(pull["closedDate"])
        message = f"Merged PR {pull['pullRequestId']}: {pull['title']}"
        _append(dataset, repo, _change(dataset, pull["lastMergeCommit"]["commitId"], message, person, closed))
        since += 1
        if first:  # a first deployment of the repository's start, so later runs have a predecessor
            run_pipeline(dataset, repo, sha=dataset["history"][repo][0]["id"], when=closed - timedelta(days=1))
            first = False
        if since >= wait:
            when = closed + timedelta(minutes=rng.randint(10, 240))
            if when < git["now"]:
                failed = "production" if rng.random() < failure_rate else None
                run_pipeline(dataset, repo, when=when, fail_at=failed)
                if failed:
                    run_pipeline(dataset, repo, when=when + timedelta(minutes=rng.randint(30, 120)))
            since, wait = 0, rng.randint(*runs_every)
    return dataset


def _change(dataset: dict[str, Any], sha: str, message: str, person: dict[str, Any], when: datetime) -> dict[str, Any]:
    """A build change (a commit) as ``build/changes`` lists it."""
    org = dataset["organization"]
    author = identity_ref(person, f"https://dev.azure.com/{org}")
    return {
        "id": sha,
        "message": message,
        "type": "TfsGit",
        "author": {
            k: author[k] for k in ("displayName", "url", "_links", "id", "uniqueName", "imageUrl", "descriptor")
        },
        "timestamp": iso(when),
        "location": f"https://dev.azure.com/{org}/_apis/git/repositories/x/commits/{sha}",
        "displayUri": f"https://dev.azure.com/{org}/{dataset['project']['name']}/_git/x/commit/{sha}",
        "pusher": person["email"],
        "messageTruncated": False,
    }


def _append(dataset: dict[str, Any], repo: str, change: dict[str, Any]) -> None:
    history = dataset["history"].setdefault(repo, [])
    dataset["positions"][change["id"]] = (repo, len(history))
    history.append(change)


def push_commit(dataset: dict[str, Any], repo: str, message: str, when: datetime | None = None) -> str:
    """A commit pushed straight to main (a hotfix, a revert); returns its sha."""
    when = when or datetime.now(UTC)
    sha = uuid.uuid5(uuid.NAMESPACE_OID, f"{repo}:{message}:{iso(when)}").hex + "00000000"
    _append(dataset, repo, _change(dataset, sha, message, dataset["people"][0], when))
    return sha


def run_pipeline(
    dataset: dict[str, Any],
    repo: str,
    *,
    sha: str | None = None,
    when: datetime | None = None,
    fail_at: str | None = None,
    duration: timedelta = timedelta(minutes=9),
) -> dict[str, Any]:
    """Run the pipeline on main's head (or `sha`): Staging, then Production; `fail_at` names the
    environment whose stage fails (the run fails and later stages do not run). Returns the build."""
    when = when or datetime.now(UTC).replace(microsecond=0)
    history = dataset["history"][repo]
    sha = sha or history[-1]["id"]
    org, project = dataset["organization"], dataset["project"]
    build_id = 20_000 + len(dataset["builds"])
    person = dataset["people"][build_id % len(dataset["people"])]
    finish = when + duration
    web = f"https://dev.azure.com/{org}/{project['name']}/_build/results?buildId={build_id}"
    repository = dataset["repositories"][repo]
    build = {
        "_links": {
            "self": {"href": f"https://dev.azure.com/{org}/{project['id']}/_apis/build/Builds/{build_id}"},
            "web": {"href": web},
        },
        "properties": {},
        "tags": [],
        "validationResults": [],
        "plans": [{"planId": str(uuid.UUID(int=build_id))}],
        "triggerInfo": {
            "ci.sourceBranch": "refs/heads/main",
            "ci.sourceSha": sha,
            "ci.message": "",
            "ci.triggerRepository": repository["id"],
        },
        "id": build_id,
        "buildNumber": f"{when:%Y%m%d}.{build_id % 100}",
        "status": "completed",
        "result": "failed" if fail_at else "succeeded",
        "queueTime": iso(when),
        "startTime": iso(when + timedelta(seconds=20)),
        "finishTime": iso(finish),
        "url": f"https://dev.azure.com/{org}/{project['id']}/_apis/build/Builds/{build_id}",
        "definition": {
            "drafts": [],
            "id": PIPELINE["id"],
            "name": PIPELINE["name"],
            "url": f"https://dev.azure.com/{org}/{project['id']}/_apis/build/Definitions/{PIPELINE['id']}?revision={PIPELINE['revision']}",
            "uri": f"vstfs:///Build/Definition/{PIPELINE['id']}",
            "path": "\\",
            "type": "build",
            "queueStatus": "enabled",
            "revision": PIPELINE["revision"],
            "project": {k: project[k] for k in ("id", "name", "state", "visibility")},
        },
        "buildNumberRevision": 1,
        "project": {k: project[k] for k in ("id", "name", "state", "visibility")},
        "uri": f"vstfs:///Build/Build/{build_id}",
        "sourceBranch": "refs/heads/main",
        "sourceVersion": sha,
        "priority": "normal",
        "reason": "individualCI",
        "requestedFor": identity_ref(person, f"https://dev.azure.com/{org}"),
        "requestedBy": identity_ref(person, f"https://dev.azure.com/{org}"),
        "lastChangedDate": iso(finish),
        "orchestrationPlan": {"planId": str(uuid.UUID(int=build_id))},
        "repository": {
            "id": repository["id"],
            "type": "TfsGit",
            "name": repo,
            "clean": None,
            "checkoutSubmodules": False,
        },
        "retainedByRelease": False,
        "triggeredByBuild": None,
        "appendCommitMessageToRunName": True,
    }
    dataset["builds"].append(build)
    stage_start = when + timedelta(minutes=2)
    for env in ENVIRONMENTS:
        failed = fail_at == env["name"]
        record_id = 5_000 + len(dataset["records"])
        dataset["records"].append(
            {
                "id": record_id,
                "requestIdentifier": str(uuid.UUID(int=record_id)),
                "environmentId": env["id"],
                "serviceOwner": "00025394-6065-48ca-87d9-7f5672854ef7",
                "scopeId": project["id"],
                "resourceId": 0,
                "planType": "Build",
                "planId": str(uuid.UUID(int=build_id)),
                "stageName": STAGES[env["name"]],
                "jobName": f"Deploy{STAGES[env['name']]}",
                "stageAttempt": 1,
                "jobAttempt": 1,
                "definition": {"id": PIPELINE["id"], "name": PIPELINE["name"], "_links": {"web": {"href": web}}},
                "owner": {"id": build_id, "name": build["buildNumber"], "_links": {"web": {"href": web}}},
                "result": "failed" if failed else "succeeded",
                "queueTime": iso(stage_start),
                "startTime": iso(stage_start + timedelta(seconds=10)),
                "finishTime": iso(stage_start + timedelta(minutes=3)),
            }
        )
        stage_start += timedelta(minutes=3)
        if failed:
            break
    return build


# --------------------------------------------------------------------------- app
def create_app(dataset: dict[str, Any], controls: FaultControls | None = None) -> FastAPI:
    """The fake Azure Pipelines API serving `dataset`; works mounted under a prefix."""
    app = FastAPI(title="fake Azure Pipelines")
    app.state.dataset = dataset
    if controls is not None:
        install_faults(app, controls)
    org, project = dataset["organization"], dataset["project"]

    def guard(
        request: Request, org_name: str, project_name: str | None = None, version: bool = True
    ) -> Response | None:
        return check_org_and_project(request, dataset, org_name, project_name, version)

    def paged(request: Request, values: list[Any], top_param: str = "$top") -> Response:
        start = int(request.query_params.get("continuationToken") or 0)
        top = max(1, min(int(request.query_params.get(top_param) or dataset["page_size"]), dataset["page_size"]))
        chunk = values[start : start + top]
        response = JSONResponse({"count": len(chunk), "value": chunk})
        if start + top < len(values):
            response.headers["x-ms-continuationtoken"] = str(start + top)
        return response

    add_connection_data_route(
        app,
        dataset,
        guard,
        lambda person: connection_data_body(person, identity_ref(person, f"https://dev.azure.com/{org}")),
    )

    @app.get("/{org_name}/{project_name}/_apis/pipelines")
    async def list_pipelines(request: Request, org_name: str, project_name: str) -> Response:
        denied = guard(request, org_name, project_name)
        if denied:
            return denied
        base = f"https://dev.azure.com/{org}/{project['id']}/_apis/pipelines/{PIPELINE['id']}"
        return paged(
            request,
            [{"_links": {"self": {"href": base}}, "url": f"{base}?revision={PIPELINE['revision']}", **PIPELINE}],
        )

    @app.get("/{org_name}/{project_name}/_apis/build/builds")
    async def list_builds(request: Request, org_name: str, project_name: str) -> Response:
        denied = guard(request, org_name, project_name)
        if denied:
            return denied
        q = request.query_params
        builds = list(dataset["builds"])
        if q.get("definitions"):
            wanted = {int(d) for d in q["definitions"].split(",") if d.strip()}
            builds = [b for b in builds if b["definition"]["id"] in wanted]
        if q.get("branchName"):
            builds = [b for b in builds if b["sourceBranch"] == q["branchName"]]
        if q.get("statusFilter"):
            builds = [b for b in builds if b["status"] == q["statusFilter"]]
        if q.get("minTime"):
            low = _parse(q["minTime"])
            builds = [b for b in builds if _parse(b["finishTime"]) >= low]
        field = "finishTime" if q.get("queryOrder", "").startswith("finishTime") else "queueTime"
        descending = not q.get("queryOrder", "").endswith("Ascending")
        builds.sort(key=lambda b: (b[field], b["id"]), reverse=descending)
        return paged(request, builds)

    @app.get("/{org_name}/{project_name}/_apis/build/builds/{build_id}")
    async def get_build(request: Request, org_name: str, project_name: str, build_id: int) -> Response:
        denied = guard(request, org_name, project_name)
        if denied:
            return denied
        build = next((b for b in dataset["builds"] if b["id"] == build_id), None)
        if build is None:
            return azure_error(404, f"The requested build {build_id} could not be found.", "BuildNotFoundException")
        return JSONResponse(build)

    @app.get("/{org_name}/{project_name}/_apis/build/changes")
    async def changes_between(request: Request, org_name: str, project_name: str) -> Response:
        denied = guard(request, org_name, project_name)
        if denied:
            return denied
        q = request.query_params
        builds = {b["id"]: b for b in dataset["builds"]}
        try:
            first, last = builds[int(q.get("fromBuildId", 0))], builds[int(q.get("toBuildId", 0))]
        except (KeyError, ValueError):
            return azure_error(404, "The requested build could not be found.", "BuildNotFoundException")
        repo_a, a = dataset["positions"][first["sourceVersion"]]
        repo_b, b = dataset["positions"][last["sourceVersion"]]
        changes = list(reversed(dataset["history"][repo_b][a + 1 : b + 1])) if repo_a == repo_b and b > a else []
        top = int(q.get("$top") or 10_000)
        return JSONResponse({"count": min(len(changes), top), "value": changes[:top]})

    @app.get("/{org_name}/{project_name}/_apis/pipelines/environments")
    async def list_environments(request: Request, org_name: str, project_name: str) -> Response:
        denied = guard(request, org_name, project_name)
        if denied:
            return denied
        creator = identity_ref(dataset["people"][0], f"https://dev.azure.com/{org}")
        environments = [
            {
                **env,
                "description": f"The {env['name']} environment",
                "createdBy": {"displayName": creator["displayName"], "id": creator["id"]},
                "createdOn": "2024-01-02T10:00:00.000Z",
                "lastModifiedBy": {"displayName": creator["displayName"], "id": creator["id"]},
                "lastModifiedOn": "2024-01-02T10:00:00.000Z",
                "project": {"id": project["id"], "name": project["name"]},
            }
            for env in ENVIRONMENTS
            if not request.query_params.get("name") or env["name"] == request.query_params["name"]
        ]
        return paged(request, environments)

    @app.get(
        "/{org_name}/{project_name}/_apis/distributedtask/environments/{environment_id}/environmentdeploymentrecords"
    )
    async def deployment_records(request: Request, org_name: str, project_name: str, environment_id: int) -> Response:
        denied = guard(request, org_name, project_name)
        if denied:
            return denied
        if environment_id not in {e["id"] for e in ENVIRONMENTS}:
            return azure_error(404, f"Environment {environment_id} does not exist.", "EnvironmentNotFoundException")
        records = sorted(
            (r for r in dataset["records"] if r["environmentId"] == environment_id),
            key=lambda r: (r["finishTime"], r["id"]),
            reverse=True,
        )
        return paged(request, records, top_param="top")

    return app
