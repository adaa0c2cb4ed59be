"""Deployments and Actions for the fake GitHub: the default branch's history, deployments, runs and compare.

A separate section of the fake GitHub (`tests.fakes.github`), installed on its app so the
same token, rate limit, secondary limit and fault controls apply:

    dataset = github.generate_dataset(seed=1, size=40)
    add_deployments(dataset, seed=1)
    app = create_app(dataset, controls)      # github.create_app + these routes

`add_deployments` lays each repository's default branch out of its merged PRs, in merge order:
the PR's commits, then its merge commit (``pull["merge_commit_sha"]``), now and then a direct
hotfix or revert commit. Deployments go to ``staging`` after most merges and to ``production``
every few merges, with statuses queued -> in_progress -> success (or failure, then a redeploy);
each production deployment also has a ``Deploy`` workflow run, and every merge a ``CI`` run.

Payloads follow GitHub's REST API (deployments, deployment statuses, environments, workflows,
workflow runs, compare two commits): ``per_page``/``page`` paging with ``Link`` headers,
``environment``/``sha``/``ref``/``task`` filters on deployments, ``branch``/``status``/``event``/
``created``/``head_sha`` on runs, newest first, compare's ``status``/``ahead_by``/``behind_by``/
``total_commits`` and 404 "No commit found" for an unknown commit.

Change data between syncs with `deploy` (a new deployment of the branch head, or of a sha) and
`push_commit` (a direct commit on the default branch).
"""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.fakes import github
from tests.fakes.azure_boards import login_of
from tests.fakes.github import DOCS, ts, user_object
from tests.fakes.server import FaultControls

ENVIRONMENTS = ("staging", "production")
WORKFLOWS = (
    {"id": 61_000_001, "name": "CI", "path": ".github/workflows/ci.yml"},
    {"id": 61_000_002, "name": "Deploy", "path": ".github/workflows/deploy.yml"},
)


def _sha(*parts: Any) -> str:
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()[:40]


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _commit(
    full_name: str, sha: str, message: str, person: dict[str, Any], when: datetime, parents: list[str]
) -> dict[str, Any]:
    """A commit as the compare API lists it."""
    git_author = {"name": person["name"], "email": person["email"], "date": ts(when)}
    return {
        "sha": sha,
        "node_id": f"C_{sha[:10]}",
        "commit": {
            "author": git_author,
            "committer": git_author,
            "message": message,
            "tree": {"sha": _sha("tree", sha), "url": f"https://api.github.com/repos/{full_name}/git/trees/{sha}"},
            "url": f"https://api.github.com/repos/{full_name}/git/commits/{sha}",
            "comment_count": 0,
            "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None},
        },
        "url": f"https://api.github.com/repos/{full_name}/commits/{sha}",
        "html_url": f"https://github.com/{full_name}/commit/{sha}",
        "comments_url": f"https://api.github.com/repos/{full_name}/commits/{sha}/comments",
        "author": user_object(login_of(person)),
        "committer": user_object(login_of(person)),
        "parents": [{"sha": p, "url": f"https://api.github.com/repos/{full_name}/commits/{p}"} for p in parents],
    }


# --------------------------------------------------------------------------- dataset
def add_deployments(
    dataset: dict[str, Any],
    *,
    seed: int = 1,
    environments: tuple[str, ...] = ENVIRONMENTS,
    production_every: tuple[int, int] = (1, 4),
    failure_rate: float = 0.12,
    hotfix_rate: float = 0.06,
) -> dict[str, Any]:
    """Give every repository of a fake GitHub dataset a default-branch history, deployments and runs."""
    rng = random.Random(seed * 7919)
    people = dataset["people"]
    now: datetime = dataset["now"]
    for full_name, store in dataset["repos"].items():
        store.update(
            history=[], positions={}, deployments=[], statuses={}, workflow_runs=[],
            environments=[
                {"id": 71_000_000 + i, "name": env, "created_at": "2021-03-01T10:00:00Z"}
                for i, env in enumerate(environments)
            ],
        )  # fmt: skip
        merged = sorted((p for p in store["pulls"].values() if p.get("merged_at")), key=lambda p: p["merged_at"])
        root = _commit(full_name, _sha(full_name, "root"), "Initial commit", people[0], now - timedelta(days=400), [])
        _append(store, root)
        _deploy(dataset, full_name, environments[-1], root["sha"], "success", now - timedelta(days=399), rng)
        since_production = 0
        wait = rng.randint(*production_every)
        for pull in merged:
            merged_at = _parse(pull["merged_at"])
            head = store["history"][-1]["sha"]
            for commit in store["commits"][pull["number"]]:
                _append(store, {**commit, "parents": [{"sha": head}]})
            merger = next((p for p in people if login_of(p) == pull["user"]["login"]), people[0])
            message = f"Merge pull request #{pull['number']} from {pull['head']['label']}\n\n{pull['title']}"
            _append(
                store,
                _commit(full_name, pull["merge_commit_sha"], message, merger, merged_at, [head, pull["head"]["sha"]]),
            )
            _workflow_run(store, full_name, "CI", pull["merge_commit_sha"], "success", merged_at, merger, "push")
            if rng.random() < hotfix_rate:
                when = merged_at + timedelta(minutes=rng.randint(20, 120))
                text = rng.choice([f'Revert "{pull["title"]}"', f"Hotfix: {pull['title']} breaks checkout"])
                push_commit(dataset, full_name, text, when=when, person=merger)
            sha = store["history"][-1]["sha"]
            when = merged_at + timedelta(minutes=rng.randint(5, 40))
            if len(environments) > 1 and when < now:
                _deploy(dataset, full_name, environments[0], sha, "success", when, rng)
            since_production += 1
            if since_production >= wait:
                when = merged_at + timedelta(minutes=rng.randint(60, 600))
                if when >= now:
                    continue
                state = "failure" if rng.random() < failure_rate else "success"
                _deploy(dataset, full_name, environments[-1], sha, state, when, rng)
                if state == "failure":  # fixed forward or retried
                    _deploy(
                        dataset,
                        full_name,
                        environments[-1],
                        sha,
                        "success",
                        when + timedelta(minutes=rng.randint(30, 180)),
                        rng,
                    )
                since_production, wait = 0, rng.randint(*production_every)
    return dataset


def _append(store: dict[str, Any], commit: dict[str, Any]) -> None:
    store["positions"][commit["sha"]] = len(store["history"])
    store["history"].append(commit)


def push_commit(
    dataset: dict[str, Any],
    repo: str,
    message: str,
    *,
    when: datetime | None = None,
    person: dict[str, Any] | None = None,
) -> str:
    """A commit pushed straight to the default branch (a hotfix, a revert); returns its sha."""
    store = dataset["repos"][repo]
    when = when or datetime.now(UTC)
    person = person or dataset["people"][0]
    head = store["history"][-1]["sha"]
    sha = _sha(repo, head, message, ts(when))
    _append(store, _commit(repo, sha, message, person, when, [head]))
    return sha


def _status(full_name: str, deployment: dict[str, Any], status_id: int, state: str, when: datetime) -> dict[str, Any]:
    api = f"https://api.github.com/repos/{full_name}"
    return {
        "url": f"{api}/deployments/{deployment['id']}/statuses/{status_id}",
        "id": status_id,
        "node_id": f"DES_{status_id}",
        "state": state,
        "creator": deployment["creator"],
        "description": {"success": "Deployed", "failure": "Deployment failed", "error": "Deployment errored"}.get(
            state, state.replace("_", " ")
        ),
        "environment": deployment["environment"],
        "target_url": f"https://github.com/{full_name}/actions/runs/{deployment['id']}",
        "log_url": f"https://github.com/{full_name}/actions/runs/{deployment['id']}",
        "environment_url": f"https://{deployment['environment']}.{full_name.split('/')[1]}.example"
        if state == "success"
        else "",
        "created_at": ts(when),
        "updated_at": ts(when),
        "deployment_url": f"{api}/deployments/{deployment['id']}",
        "repository_url": api,
        "performed_via_github_app": None,
    }


def _deploy(
    dataset: dict[str, Any], repo: str, environment: str, sha: str, state: str, when: datetime, rng: random.Random
) -> dict[str, Any]:
    minutes = rng.randint(3, 15)
    return deploy(dataset, repo, environment, sha=sha, state=state, when=when, duration=timedelta(minutes=minutes))


def deploy(
    dataset: dict[str, Any],
    repo: str,
    environment: str = "production",
    *,
    sha: str | None = None,
    state: str = "success",
    when: datetime | None = None,
    duration: timedelta = timedelta(minutes=6),
    ref: str = "main",
) -> dict[str, Any]:
    """Deploy the default branch's head (or `sha`) to `environment`; `state` is the final status
    (success, failure, error; in_progress or queued leave it running). A production deployment
    has a Deploy workflow run with the same outcome. Returns the deployment."""
    store = dataset["repos"][repo]
    when = when or datetime.now(UTC).replace(microsecond=0)
    sha = sha or store["history"][-1]["sha"]
    api = f"https://api.github.com/repos/{repo}"
    deployment_id = dataset.setdefault("next_deployment_id", 800_000_001)
    dataset["next_deployment_id"] = deployment_id + 7
    deployer = dataset["people"][deployment_id % len(dataset["people"])]
    deployment = {
        "url": f"{api}/deployments/{deployment_id}",
        "id": deployment_id,
        "node_id": f"DE_{deployment_id}",
        "sha": sha,
        "ref": ref,
        "task": "deploy",
        "payload": {},
        "original_environment": environment,
        "environment": environment,
        "description": f"Deploy {sha[:7]} to {environment}",
        "creator": user_object(login_of(deployer)),
        "created_at": ts(when),
        "updated_at": ts(when),
        "statuses_url": f"{api}/deployments/{deployment_id}/statuses",
        "repository_url": api,
        "transient_environment": False,
        "production_environment": environment == "production",
        "performed_via_github_app": None,
    }
    store["deployments"].append(deployment)
    statuses = [_status(repo, deployment, deployment_id * 10 + 1, "queued", when)]
    if state != "queued":
        statuses.append(_status(repo, deployment, deployment_id * 10 + 2, "in_progress", when + timedelta(minutes=1)))
    if state not in ("queued", "in_progress"):
        statuses.append(_status(repo, deployment, deployment_id * 10 + 3, state, when + duration))
        if state == "success":  # GitHub marks the environment's previous successful deployment inactive
            earlier = [
                d
                for d in store["deployments"][:-1]
                if d["environment"] == environment
                and d["created_at"] <= deployment["created_at"]
                and store["statuses"][d["id"]][0]["state"] == "success"
            ]
            if earlier:
                older = max(earlier, key=lambda d: (d["created_at"], d["id"]))
                at = when + duration
                store["statuses"][older["id"]].insert(0, _status(repo, older, older["id"] * 10 + 9, "inactive", at))
    store["statuses"][deployment_id] = list(reversed(statuses))  # newest first, as GitHub lists them
    if environment == "production" and state not in ("queued", "in_progress"):
        conclusion = "success" if state == "success" else "failure"
        _workflow_run(store, repo, "Deploy", sha, conclusion, when, deployer, "workflow_dispatch", when + duration)
    return deployment


def set_deployment_state(
    dataset: dict[str, Any], repo: str, deployment_id: int, state: str, when: datetime | None = None
) -> None:
    """Add a status to a deployment (it finishes a running one: success, failure, error)."""
    store = dataset["repos"][repo]
    deployment = next(d for d in store["deployments"] if d["id"] == deployment_id)
    statuses = store["statuses"][deployment_id]
    status_id = deployment_id * 10 + 3 + len(statuses)
    latest = _parse(statuses[0]["created_at"]) + timedelta(minutes=1) if statuses else datetime.now(UTC)
    when = when or max(latest, datetime.now(UTC).replace(microsecond=0))
    statuses.insert(0, _status(repo, deployment, status_id, state, when))


def _workflow_run(
    store: dict[str, Any],
    full_name: str,
    workflow: str,
    sha: str,
    conclusion: str,
    when: datetime,
    person: dict[str, Any],
    event: str,
    finished: datetime | None = None,
) -> None:
    flow = next(w for w in WORKFLOWS if w["name"] == workflow)
    run_id = store.setdefault("next_run_id", 9_000_000_000 + int(store["repo"]["id"]) * 1000)
    store["next_run_id"] = run_id + 3
    api = f"https://api.github.com/repos/{full_name}"
    commit = store["history"][store["positions"][sha]] if sha in store["positions"] else None
    store["workflow_runs"].append(
        {
            "id": run_id,
            "name": workflow,
            "node_id": f"WFR_{run_id}",
            "head_branch": "main",
            "head_sha": sha,
            "path": flow["path"],
            "display_title": (commit or {}).get("commit", {}).get("message", workflow).split("\n", 1)[0],
            "run_number": len(store["workflow_runs"]) + 1,
            "event": event,
            "status": "completed",
            "conclusion": conclusion,
            "workflow_id": flow["id"],
            "check_suite_id": run_id + 1,
            "check_suite_node_id": f"CS_{run_id + 1}",
            "url": f"{api}/actions/runs/{run_id}",
            "html_url": f"https://github.com/{full_name}/actions/runs/{run_id}",
            "pull_requests": [],
            "created_at": ts(when),
            "updated_at": ts(finished or when + timedelta(minutes=8)),
            "actor": user_object(login_of(person)),
            "run_attempt": 1,
            "referenced_workflows": [],
            "run_started_at": ts(when),
            "triggering_actor": user_object(login_of(person)),
            "jobs_url": f"{api}/actions/runs/{run_id}/jobs",
            "logs_url": f"{api}/actions/runs/{run_id}/logs",
            "check_suite_url": f"{api}/check-suites/{run_id + 1}",
            "artifacts_url": f"{api}/actions/runs/{run_id}/artifacts",
            "cancel_url": f"{api}/actions/runs/{run_id}/cancel",
            "rerun_url": f"{api}/actions/runs/{run_id}/rerun",
            "previous_attempt_url": None,
            "workflow_url": f"{api}/actions/workflows/{flow['id']}",
            "head_commit": {
                "id": sha,
                "tree_id": _sha("tree", sha),
                "message": (commit or {}).get("commit", {}).get("message", ""),
                "timestamp": ts(when),
                "author": {"name": person["name"], "email": person["email"]},
                "committer": {"name": person["name"], "email": person["email"]},
            },
            "repository": {"id": store["repo"]["id"], "full_name": full_name, "name": full_name.split("/")[1]},
            "head_repository": {"id": store["repo"]["id"], "full_name": full_name, "name": full_name.split("/")[1]},
        }
    )


# --------------------------------------------------------------------------- routes
def create_app(dataset: dict[str, Any], controls: FaultControls | None = None) -> FastAPI:
    """The fake GitHub (`tests.fakes.github.create_app`) with the deployment and Actions routes."""
    app = github.create_app(dataset, controls)
    install(app, dataset)
    return app


def install(app: FastAPI, dataset: dict[str, Any]) -> None:
    """Add the deployments, environments, Actions and compare routes to a fake GitHub app."""

    def store_of(owner: str, repo: str) -> dict[str, Any] | None:
        store = dataset["repos"].get(f"{owner}/{repo}")
        return store if store is not None and "history" in store else None

    def not_found(message: str = "Not Found") -> JSONResponse:
        return JSONResponse({"message": message, "documentation_url": DOCS, "status": "404"}, status_code=404)

    def paged(request: Request, items: list[Any], wrap: str | None = None, default_per_page: int = 30) -> Response:
        """GitHub's page/per_page paging with a Link header; `wrap` puts the page under a key with total_count."""
        per_page = max(1, min(100, int(request.query_params.get("per_page", default_per_page))))
        page = max(1, int(request.query_params.get("page", 1)))
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers: dict[str, str] = {}
        links = []
        if page < last:
            links += [
                f'<{request.url.include_query_params(page=page + 1, per_page=per_page)}>; rel="next"',
                f'<{request.url.include_query_params(page=last, per_page=per_page)}>; rel="last"',
            ]
        if page > 1:
            links.append(f'<{request.url.include_query_params(page=page - 1, per_page=per_page)}>; rel="prev"')
        if links:
            headers["Link"] = ", ".join(links)
        body: Any = {"total_count": len(items), wrap: chunk} if wrap else chunk
        return JSONResponse(body, headers=headers)

    @app.get("/repos/{owner}/{repo}/deployments")
    async def list_deployments(request: Request, owner: str, repo: str) -> Response:
        store = store_of(owner, repo)
        if store is None:
            return not_found()
        q = request.query_params
        found = [
            d
            for d in sorted(
                store["deployments"], key=lambda d: (d["created_at"], d["id"]), reverse=True
            )  # newest first
            if all(not q.get(k) or str(d[k]) == q[k] for k in ("sha", "ref", "task", "environment"))
        ]
        return paged(request, found)

    @app.get("/repos/{owner}/{repo}/deployments/{deployment_id}")
    async def get_deployment(owner: str, repo: str, deployment_id: int) -> Response:
        store = store_of(owner, repo)
        deployment = next((d for d in (store or {}).get("deployments", []) if d["id"] == deployment_id), None)
        return JSONResponse(deployment) if deployment else not_found()

    @app.get("/repos/{owner}/{repo}/deployments/{deployment_id}/statuses")
    async def list_statuses(request: Request, owner: str, repo: str, deployment_id: int) -> Response:
        store = store_of(owner, repo)
        if store is None or deployment_id not in store["statuses"]:
            return not_found()
        return paged(request, store["statuses"][deployment_id])

    @app.get("/repos/{owner}/{repo}/environments")
    async def list_environments(request: Request, owner: str, repo: str) -> Response:
        store = store_of(owner, repo)
        if store is None:
            return not_found()
        api = f"https://api.github.com/repos/{owner}/{repo}"
        environments = [
            {
                **env,
                "node_id": f"EN_{env['id']}",
                "url": f"{api}/environments/{env['name']}",
                "html_url": f"https://github.com/{owner}/{repo}/deployments/activity_log?environments_filter={env['name']}",
                "updated_at": env["created_at"],
                "protection_rules": [],
                "deployment_branch_policy": None,
            }
            for env in store["environments"]
        ]
        return paged(request, environments, wrap="environments")

    @app.get("/repos/{owner}/{repo}/actions/workflows")
    async def list_workflows(request: Request, owner: str, repo: str) -> Response:
        if store_of(owner, repo) is None:
            return not_found()
        api = f"https://api.github.com/repos/{owner}/{repo}"
        flows = [
            {
                **flow,
                "node_id": f"W_{flow['id']}",
                "state": "active",
                "created_at": "2021-03-01T10:00:00Z",
                "updated_at": "2024-01-01T10:00:00Z",
                "url": f"{api}/actions/workflows/{flow['id']}",
                "html_url": f"https://github.com/{owner}/{repo}/blob/main/{flow['path']}",
                "badge_url": f"https://github.com/{owner}/{repo}/workflows/{flow['name']}/badge.svg",
            }
            for flow in WORKFLOWS
        ]
        return paged(request, flows, wrap="workflows")

    @app.get("/repos/{owner}/{repo}/actions/runs")
    async def list_runs(request: Request, owner: str, repo: str) -> Response:
        store = store_of(owner, repo)
        if store is None:
            return not_found()
        q = request.query_params
        runs = sorted(store["workflow_runs"], key=lambda r: (r["created_at"], r["id"]), reverse=True)
        if q.get("branch"):
            runs = [r for r in runs if r["head_branch"] == q["branch"]]
        if q.get("event"):
            runs = [r for r in runs if r["event"] == q["event"]]
        if q.get("head_sha"):
            runs = [r for r in runs if r["head_sha"] == q["head_sha"]]
        status = q.get("status")
        if status in ("completed", "in_progress", "queued", "requested", "waiting", "pending"):
            runs = [r for r in runs if r["status"] == status]
        elif status:
            runs = [r for r in runs if r["conclusion"] == status]
        created = q.get("created", "")
        if created.startswith((">=", "<=", ">", "<")):
            op = created[:2] if created[1] == "=" else created[:1]
            bound = _parse(created[len(op) :] if "T" in created else created[len(op) :] + "T00:00:00Z")
            compare = {
                ">=": lambda t: t >= bound,
                "<=": lambda t: t <= bound,
                ">": lambda t: t > bound,
                "<": lambda t: t < bound,
            }[op]
            runs = [r for r in runs if compare(_parse(r["created_at"]))]
        return paged(request, runs, wrap="workflow_runs")

    @app.get("/repos/{owner}/{repo}/compare/{basehead:path}")
    async def compare(request: Request, owner: str, repo: str, basehead: str) -> Response:
        store = store_of(owner, repo)
        if store is None:
            return not_found()
        base, sep, head = basehead.partition("...")
        if not sep:
            return JSONResponse({"message": "Not Found", "documentation_url": DOCS, "status": "404"}, status_code=404)
        positions = store["positions"]
        for sha in (base, head):
            if sha not in positions:
                return not_found(f"No commit found for SHA: {sha}")
        b, h = positions[base], positions[head]
        commits = store["history"][b + 1 : h + 1] if h >= b else []
        status = "identical" if b == h else ("ahead" if h > b else "behind")
        body: dict[str, Any] = {
            "url": f"https://api.github.com/repos/{owner}/{repo}/compare/{basehead}",
            "html_url": f"https://github.com/{owner}/{repo}/compare/{basehead}",
            "permalink_url": f"https://github.com/{owner}/{repo}/compare/{owner}:{base[:7]}...{owner}:{head[:7]}",
            "diff_url": f"https://github.com/{owner}/{repo}/compare/{basehead}.diff",
            "patch_url": f"https://github.com/{owner}/{repo}/compare/{basehead}.patch",
            "base_commit": store["history"][b],
            "merge_base_commit": store["history"][min(b, h)],
            "status": status,
            "ahead_by": max(0, h - b),
            "behind_by": max(0, b - h),
            "total_commits": len(commits),
            "files": [],
        }
        headers: dict[str, str] = {}
        if "per_page" in request.query_params or "page" in request.query_params:
            per_page = max(1, min(100, int(request.query_params.get("per_page", 30))))
            page = max(1, int(request.query_params.get("page", 1)))
            last = max(1, -(-len(commits) // per_page))
            if page < last:
                headers["Link"] = (
                    f'<{request.url.include_query_params(page=page + 1, per_page=per_page)}>; rel="next", '
                    f'<{request.url.include_query_params(page=last, per_page=per_page)}>; rel="last"'
                )
            commits = commits[(page - 1) * per_page : page * per_page]
        else:
            commits = commits[:250]  # without paging GitHub returns at most 250 commits
        body["commits"] = commits
        return JSONResponse(body, headers=headers)
