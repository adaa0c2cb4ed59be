"""GitHub deployments: the Deployments API with its statuses, or Actions workflow runs on the default branch.

Settings:
- ``base_url``, ``token``: as for the ``github`` source (``https://api.github.com`` or
  ``https://<host>/api/v3``; a token that can read deployments and Actions).
- ``config_json``:
  ``repositories`` (``"owner/name"`` list, as for ``github``);
  ``mode``: ``"deployments"`` (default: the Deployments API) or ``"workflow_runs"``
  (completed Actions runs on the default branch count as deployments);
  ``environments``: deployments mode, the environments to read (empty: all); workflow-runs
  mode, the one environment the runs deploy to (default ``production``);
  ``workflows``: workflow-runs mode, the workflows that deploy, by name or file
  (``"Deploy"``, ``"deploy.yml"``; empty: every workflow);
  ``branch``: workflow-runs mode, the branch (default: the repository's default branch);
  ``lookback_hours``, ``revert_pattern``, ``max_commits``: see `deployment_chain`;
  ``per_page`` (<= 100, deployments, runs and compared commits per page).

How a sync reads the tool, repository by repository, newest first:

- deployments mode: ``GET /repos/{o}/{r}/deployments`` (per environment when some are named),
  and for each deployment of the window ``GET …/deployments/{id}/statuses`` (its state is the
  newest status: success, failure/error, inactive after a success, else in progress);
- workflow-runs mode: ``GET /repos/{o}/{r}/actions/runs?branch=…&status=completed``, kept
  when the run's workflow is one of ``workflows`` (conclusion success, failure/timed_out/
  startup_failure, else cancelled);
- each successful deployment's commits: ``GET /repos/{o}/{r}/compare/{previous}...{sha}``
  (paged), where previous is the last successful deployment to the same environment before
  it (read past the window when needed). PRs are linked by their merge commit, in SQL.

Paging follows ``Link`` headers, each loop guarded by `CursorGuard`. The raw record is the
deployment (or workflow run) as GitHub sends it plus ``"_dmt"``::

    {"mode": "deployments" | "workflow_runs", "repository": "owner/name", "environment": "...",
     "statuses": [<statuses elements>] (deployments mode),
     "state": "success" | "failure" | "cancelled" | "in_progress", "sha": "...",
     "previous": {"id": ..., "sha": "..."} | None,
     "commits": [{"sha", "commit": {"message", "author": {"name", "email", "date"}}, "author": {"login"}}] | None}

`discover_fields` lists the repositories' environments (``environment:<name>``) and workflows
(``workflow:<path>``), which is what an admin picks from.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from etl.connectors.base import (
    BaseConnector,
    ConnectionResult,
    DeploymentCommit,
    DiscoveredField,
    HttpSetup,
    NormalizedDeployment,
    SourceConfigError,
    SourceDataError,
    SourceNotFound,
    SourcePermissionError,
    SourceSettings,
)
from etl.connectors.deployment_chain import (
    CANCELLED,
    FAILURE,
    IN_PROGRESS,
    SUCCESS,
    DeploymentChain,
    DeploymentOptions,
    names_option,
    pages_of,
)
from etl.connectors.github import API_HEADERS, DEFAULT_BASE_URL, _repositories
from etl.connectors.http import CursorGuard, parse_link_header
from etl.connectors.registry import register_connector
from etl.connectors.values import count_of, parse_datetime, to_int

MODES = ("deployments", "workflow_runs")
DEFAULT_ENVIRONMENT = "production"

_RUN_FAILURES = {"failure", "timed_out", "startup_failure"}
_STATUS_FAILURES = {"failure", "error"}
_STATUS_PENDING = {"pending", "queued", "in_progress"}
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


# --------------------------------------------------------------------------- states
def deployment_state(statuses: list[Mapping[str, Any]]) -> tuple[str, datetime | None, datetime | None]:
    """(state, started_at, finished_at) from a deployment's statuses (any order).

    The newest status decides; ``inactive`` (GitHub marks a deployment so when a
    newer one replaces it) counts as the success it had before, else as cancelled.
    """
    ordered = sorted(
        (s for s in statuses if isinstance(s, Mapping)),
        key=lambda s: (parse_datetime(s.get("created_at")) or _LONG_AGO, to_int(s.get("id")) or 0),
    )
    started = next((parse_datetime(s.get("created_at")) for s in ordered if s.get("state") == "in_progress"), None)
    successes = [parse_datetime(s.get("created_at")) for s in ordered if s.get("state") == "success"]
    if not ordered:
        return IN_PROGRESS, started, None
    newest = ordered[-1]
    state, at = str(newest.get("state") or ""), parse_datetime(newest.get("created_at"))
    if state == "success":
        return SUCCESS, started, at
    if state in _STATUS_FAILURES:
        return FAILURE, started, at
    if state == "inactive":
        return (SUCCESS, started, successes[-1]) if successes else (CANCELLED, started, at)
    if state in _STATUS_PENDING:
        return IN_PROGRESS, started, None
    return CANCELLED, started, at


def run_state(run: Mapping[str, Any]) -> str:
    """Our state of a workflow run from its status and conclusion."""
    if run.get("status") != "completed":
        return IN_PROGRESS
    conclusion = str(run.get("conclusion") or "")
    if conclusion == "success":
        return SUCCESS
    if conclusion in _RUN_FAILURES:
        return FAILURE
    return CANCELLED


def _trim_commit(commit: Mapping[str, Any]) -> dict[str, Any]:
    """What the raw record keeps of a compare commit: sha, message, git author, login."""
    git = commit.get("commit") or {}
    author = git.get("author") or {}
    return {
        "sha": commit.get("sha"),
        "commit": {
            "message": str(git.get("message") or "")[:1000],
            "author": {"name": author.get("name"), "email": author.get("email"), "date": author.get("date")},
        },
        "author": {"login": (commit.get("author") or {}).get("login")} if commit.get("author") else None,
    }


def _changes(commits: list[Mapping[str, Any]] | None) -> list[DeploymentCommit] | None:
    if commits is None:
        return None
    changes: list[DeploymentCommit] = []
    for commit in commits:
        sha = commit.get("sha")
        if not sha:
            continue
        git = commit.get("commit") or {}
        changes.append(
            {
                "sha": str(sha),
                "authored_at": parse_datetime((git.get("author") or {}).get("date")),
                "author_login": (commit.get("author") or {}).get("login"),
                "message": str(git.get("message") or "")[:1000],
            }
        )
    return changes


# --------------------------------------------------------------------------- normaliser
def normalize_github_deployment(
    raw: Mapping[str, Any], options: DeploymentOptions | None = None
) -> NormalizedDeployment:
    """One deployment or workflow run (plus the connector's "_dmt") -> deployments columns and its commits."""
    if not isinstance(raw, Mapping) or raw.get("id") in (None, ""):
        raise SourceDataError("a GitHub deployment without id was returned")
    options = options or DeploymentOptions()
    extras = raw.get("_dmt") or {}
    mode = extras.get("mode") or ("workflow_runs" if "workflow_id" in raw else "deployments")
    previous = extras.get("previous") or {}
    changes = _changes(extras.get("commits"))
    if mode == "workflow_runs":
        state = run_state(raw)
        sha, ref = raw.get("head_sha"), raw.get("head_branch")
        started = parse_datetime(raw.get("run_started_at")) or parse_datetime(raw.get("created_at"))
        finished = parse_datetime(raw.get("updated_at")) if state != IN_PROGRESS else None
        updated = parse_datetime(raw.get("updated_at"))
        name = str(raw.get("name") or "")
        environment = str(extras.get("environment") or DEFAULT_ENVIRONMENT)
        url = raw.get("html_url")
        creator = (raw.get("actor") or raw.get("triggering_actor") or {}).get("login")
        source_id = f"run:{raw['id']}"
        kind = "workflow_run"
    else:
        statuses = [s for s in extras.get("statuses") or [] if isinstance(s, Mapping)]
        state, started, finished = deployment_state(statuses)
        started = started or parse_datetime(raw.get("created_at"))
        sha, ref = raw.get("sha"), raw.get("ref")
        status_times = [parse_datetime(s.get("created_at")) for s in statuses]
        updated = max([t for t in (parse_datetime(raw.get("updated_at")), *status_times) if t], default=None)
        name = str(raw.get("task") or "deploy")
        environment = str(raw.get("environment") or extras.get("environment") or DEFAULT_ENVIRONMENT)
        newest = statuses[0] if statuses else {}
        url = newest.get("log_url") or newest.get("target_url") or raw.get("url")
        creator = (raw.get("creator") or {}).get("login")
        source_id = str(raw["id"])
        kind = "deployment"
    messages = [c["message"] for c in changes or []]
    return {
        "source_deployment_id": source_id,
        "kind": kind,
        "name": name[:300],
        "repository": str(extras.get("repository") or ""),
        "environment": environment[:200],
        "status": state,
        "commit_sha": str(sha) if sha else None,
        "ref": str(ref) if ref else None,
        "url": url,
        "creator_login": creator,
        "created_at_source": parse_datetime(raw.get("created_at")),
        "started_at": started,
        "finished_at": finished if state != IN_PROGRESS else None,
        "updated_at_source": updated,
        "previous_sha": previous.get("sha"),
        "changes_count": len(changes) if changes is not None else 0,
        "is_revert": state == SUCCESS and options.is_revert(messages, str(ref or "")),
        "changes": changes,
        "raw_data": dict(raw),
    }


# --------------------------------------------------------------------------- connector
class GitHubDeploymentsConnector(BaseConnector):
    """GitHub deployments or workflow runs (see the module docstring)."""

    provides_deployments = True

    def __init__(self, settings: SourceSettings, **http_options: Any) -> None:
        super().__init__(settings, **http_options)
        config = settings.config_json or {}
        self.repositories = _repositories(config)
        if not self.repositories:
            raise SourceConfigError("GitHub deployments need a repository: set config_json.repositories to owner/name")
        self.mode = str(config.get("mode") or MODES[0]).lower()
        if self.mode not in MODES:
            raise SourceConfigError(f"mode must be one of {', '.join(MODES)}, not {config.get('mode')!r}")
        self.options = DeploymentOptions.of(config)
        self.workflows = {w.lower() for w in names_option(config, "workflows")}
        self.branch = str(config.get("branch") or "").strip() or None
        self.per_page = max(1, min(100, int(config.get("per_page") or 100)))
        if self.mode == "workflow_runs" and len(self.options.environments) > 1:
            raise SourceConfigError("workflow runs deploy to one environment: name one in config_json.environments")

    def http_setup(self) -> HttpSetup:
        if not self.settings.token:
            raise SourceConfigError("GitHub needs a token")
        return HttpSetup(
            self.settings.base_url or DEFAULT_BASE_URL,
            headers={**API_HEADERS, "Authorization": f"Bearer {self.settings.token}"},
            label=f"github_deployments:{self.settings.source_id or self.repositories[0]}",
        )

    # -- helpers --------------------------------------------------------------
    def _get_object(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        data, _ = self.http.get_json(path, params=params)
        if not isinstance(data, dict):
            raise SourceDataError(f"GitHub answered {path} with {type(data).__name__}, expected an object")
        return data

    def _pages(self, path: str, params: Mapping[str, Any], key: str | None = None) -> Iterator[list[Any]]:
        """Each page's list (under `key` for wrapped lists), following Link headers."""
        for data, _ in self.http.get_paged_link_header(path, params=params):
            page = data.get(key) if key and isinstance(data, dict) else data
            if not isinstance(page, list):
                raise SourceDataError(f"GitHub answered {path} with {type(data).__name__}, expected a list")
            yield page

    def _all(self, path: str, params: Mapping[str, Any], key: str | None = None) -> list[Any]:
        return [element for page in self._pages(path, params, key) for element in page]

    def _run_environment(self) -> str:
        return self.options.environments[0] if self.options.environments else DEFAULT_ENVIRONMENT

    def _default_branch(self, repo: str) -> str:
        return self.branch or str(self._get_object(f"repos/{repo}").get("default_branch") or "main")

    def commits_between(self, repo: str, base: str, head: str) -> list[dict[str, Any]] | None:
        """The commits in head and not in base (compare API, paged); None when GitHub cannot compare them."""
        commits: list[dict[str, Any]] = []
        url: str | None = f"repos/{repo}/compare/{quote(base)}...{quote(head)}"
        params: dict[str, Any] | None = {"per_page": self.per_page}
        cursors = CursorGuard(f"compare {base[:7]}...{head[:7]} of {repo}")
        while url:
            cursors.advance(url if params is None else (url, tuple(sorted(params.items()))))
            try:
                data, response = self.http.get_json(url, params=params)
            except SourceNotFound:
                return None  # a commit no longer exists (force-push): the deployment's changes stay unknown
            if not isinstance(data, dict) or not isinstance(data.get("commits"), list):
                raise SourceDataError(
                    f"GitHub answered the comparison {base[:7]}...{head[:7]} of {repo} without commits"
                )
            if data.get("status") in ("behind", "diverged") and not data["commits"]:
                return []
            commits.extend(_trim_commit(c) for c in data["commits"] if isinstance(c, Mapping))
            if len(commits) >= self.options.max_commits:
                return commits[: self.options.max_commits]
            url = parse_link_header(response.headers.get("link")).get("next")
            params = None
        return commits

    # -- connection & discovery -----------------------------------------------
    def test_connection(self) -> ConnectionResult:
        try:
            user = self._get_object("user")
        except SourcePermissionError:
            user = {"login": "GitHub App installation"}
        login = user.get("login") or "unknown"
        repos: dict[str, Any] = {}
        for repo in self.repositories:
            data = self._get_object(f"repos/{repo}")
            repos[repo] = {"default_branch": data.get("default_branch"), "permissions": data.get("permissions")}
            if self.mode == "deployments":
                first = self._get_object_list(f"repos/{repo}/deployments", {"per_page": 1})
                repos[repo]["deployments_visible"] = bool(first)
            else:
                runs = self._get_object(f"repos/{repo}/actions/runs", {"per_page": 1})
                repos[repo]["workflow_runs"] = runs.get("total_count")
        identity = f"{user.get('name')} ({login})" if user.get("name") else str(login)
        return ConnectionResult(
            ok=True,
            identity=identity,
            details={"repositories": repos, "mode": self.mode},
            message=f"Connected as {identity}; {count_of(len(repos), 'repository', 'repositories')} visible; reading {self.mode.replace('_', ' ')}",
        )

    def _get_object_list(self, path: str, params: Mapping[str, Any]) -> list[Any]:
        data, _ = self.http.get_json(path, params=params)
        if not isinstance(data, list):
            raise SourceDataError(f"GitHub answered {path} with {type(data).__name__}, expected a list")
        return data

    def discover_fields(self) -> list[DiscoveredField]:
        """The repositories' environments and workflows: what deployments can be filtered by."""
        found: dict[str, DiscoveredField] = {}
        for repo in self.repositories:
            for env in self._all(f"repos/{repo}/environments", {"per_page": 100}, key="environments"):
                name = str((env or {}).get("name") or "")
                if name:
                    found.setdefault(f"environment:{name}", DiscoveredField(f"environment:{name}", name, "environment"))
            for flow in self._all(f"repos/{repo}/actions/workflows", {"per_page": 100}, key="workflows"):
                path, name = str((flow or {}).get("path") or ""), str((flow or {}).get("name") or "")
                if path:
                    found.setdefault(
                        f"workflow:{path}",
                        DiscoveredField(
                            f"workflow:{path}", name or path, "workflow", options=[str(flow.get("state") or "")]
                        ),
                    )
        return list(found.values())

    # -- extraction -----------------------------------------------------------
    def _wanted_run(self, run: Mapping[str, Any]) -> bool:
        if not self.workflows:
            return True
        path = str(run.get("path") or "")
        names = {str(run.get("name") or "").lower(), path.lower(), path.rsplit("/", 1)[-1].lower()}
        return bool(names & self.workflows)

    def _streams(self, repo: str) -> Iterator[Iterator[tuple[dict[str, Any], str, str, str | None, datetime | None]]]:
        """Streams of (record, environment, state, sha, created), each newest first: one per listing."""
        if self.mode == "workflow_runs":
            yield self._runs(repo)
        else:
            for wanted in self.options.environments or (None,):
                yield self._deployment_list(repo, wanted)

    def _runs(self, repo: str) -> Iterator[tuple[dict[str, Any], str, str, str | None, datetime | None]]:
        params = {"branch": self._default_branch(repo), "status": "completed", "per_page": self.per_page}
        environment = self._run_environment()
        for page in self._pages(f"repos/{repo}/actions/runs", params, key="workflow_runs"):
            for run in page:
                if isinstance(run, dict) and run.get("id") is not None and self._wanted_run(run):
                    run["_dmt"] = {"mode": "workflow_runs", "repository": repo, "environment": environment}
                    yield run, environment, run_state(run), run.get("head_sha"), parse_datetime(run.get("created_at"))

    def _deployment_list(
        self, repo: str, environment_filter: str | None
    ) -> Iterator[tuple[dict[str, Any], str, str, str | None, datetime | None]]:
        """Deployments newest first; their state is read later, from their statuses, only when needed."""
        params = {"per_page": self.per_page, **({"environment": environment_filter} if environment_filter else {})}
        for page in self._pages(f"repos/{repo}/deployments", params):
            for deployment in page:
                if not isinstance(deployment, dict) or deployment.get("id") is None:
                    raise SourceDataError(f"GitHub returned a deployment of {repo} without an id")
                environment = str(deployment.get("environment") or DEFAULT_ENVIRONMENT)
                if not self.options.keeps(environment):
                    continue
                deployment["_dmt"] = {"mode": "deployments", "repository": repo, "environment": environment}
                yield deployment, environment, "", deployment.get("sha"), parse_datetime(deployment.get("created_at"))

    def _statuses(self, repo: str, deployment: dict[str, Any]) -> str:
        statuses = self._all(f"repos/{repo}/deployments/{deployment['id']}/statuses", {"per_page": 100})
        deployment["_dmt"]["statuses"] = statuses
        return deployment_state(statuses)[0]

    def _repository_deployments(
        self, repo: str, start: datetime | None, end: datetime | None
    ) -> Iterator[dict[str, Any]]:
        floor = self.options.floor(start)
        for stream in self._streams(repo):
            chain = DeploymentChain(lambda base, head: self.commits_between(repo, base, head))
            for record, environment, state, sha, created in stream:
                if end is not None and created is not None and created >= end:
                    continue
                in_window = floor is None or created is None or created >= floor
                if not in_window:
                    if not chain.needs_older():
                        break  # older than the window, and nothing in it waits for an older success
                    if not chain.waits_for(environment):
                        continue  # nothing of this environment waits: no need to read its statuses
                if self.mode == "deployments":
                    state = self._statuses(repo, record)
                yield from chain.feed(record, environment, state, sha, in_window)
            yield from chain.flush()

    def extract_deployments(self, start: datetime | None, end: datetime | None) -> Iterator[list[dict[str, Any]]]:
        """Pages of raw deployments (or workflow runs) created in [start - lookback, end), with their commits."""
        for repo in self.repositories:
            yield from pages_of(self._repository_deployments(repo, start, end), self.per_page)

    def normalize_deployment(self, raw: dict[str, Any]) -> NormalizedDeployment:
        return normalize_github_deployment(raw, self.options)


register_connector("github_deployments", GitHubDeploymentsConnector)
