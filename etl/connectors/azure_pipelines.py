"""Azure Pipelines deployments: pipeline runs, or environments' deployment records.

Settings:
- ``base_url``: the organisation URL (``https://dev.azure.com/acme``) or a Server collection URL.
- ``token``: a personal access token with Build (Read) and Environment (Read).
- ``config_json``:
  ``project`` (required);
  ``mode``: ``"runs"`` (default: completed runs of the chosen pipelines on a branch count as
  deployments) or ``"environments"`` (the deployment records of the chosen environments);
  ``pipelines``: the pipelines that deploy, by name or id (empty: every pipeline);
  ``environments``: environments mode, the environments to read (empty: all); runs mode,
  the one environment the runs deploy to (default ``production``);
  ``branch``: runs mode, the branch (default ``main``);
  ``lookback_hours``, ``revert_pattern``, ``max_commits``: see `deployment_chain`.

How a sync reads the tool, newest first (``x-ms-continuationtoken`` paging, each loop guarded by
`CursorGuard`, Azure's rate-limit headers honoured through `AzureThrottle`):

- runs mode: ``GET {project}/_apis/build/builds?definitions=…&branchName=refs/heads/…
  &statusFilter=completed&queryOrder=finishTimeDescending`` (a pipeline run is a build; the
  list carries its commit, ``sourceVersion``);
- environments mode: ``GET {project}/_apis/pipelines/environments`` then, per environment,
  ``GET {project}/_apis/distributedtask/environments/{id}/environmentdeploymentrecords``;
  a record names its run (``owner``), whose commit comes from ``GET {project}/_apis/build/builds/{id}``;
  records of one run to one environment (several jobs) count once;
- each successful deployment's commits: ``GET {project}/_apis/build/changes?fromBuildId=…&toBuildId=…``
  (the changes between the previous successful run deployed to the environment and this one).

Raw record: the build (runs mode) or deployment record (environments mode) as Azure DevOps sends it,
plus ``"_dmt"``: ``{"mode", "environment", "build" (environments mode: the run's build), "state",
"sha", "previous": {"id", "sha"} | None, "commits": [<build changes>] | None}``.

`discover_fields` lists the project's pipelines (``pipeline:<id>``) and environments
(``environment:<name>``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from etl.connectors.azure_devops import API_VERSION, AzureDevOpsConnector
from etl.connectors.base import (
    ConnectionResult,
    DeploymentCommit,
    DiscoveredField,
    NormalizedDeployment,
    SourceConfigError,
    SourceDataError,
    SourceNotFound,
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
from etl.connectors.http import CursorGuard
from etl.connectors.registry import register_connector
from etl.connectors.values import count_of, identity_parts, parse_datetime

MODES = ("runs", "environments")
DEFAULT_ENVIRONMENT = "production"
#: The environments API is a preview API in every version that has it.
PREVIEW_VERSION = f"{API_VERSION}-preview.1"
CHANGES_VERSION = f"{API_VERSION}-preview.2"
PAGE_SIZE = 100

_RESULTS = {"succeeded": SUCCESS, "partiallySucceeded": SUCCESS, "failed": FAILURE, "canceled": CANCELLED}


def result_state(result: Any, finished: Any) -> str:
    """Our state of a run or record from Azure's result (a result without finish time: still running)."""
    if not finished and result in (None, "", "none"):
        return IN_PROGRESS
    return _RESULTS.get(str(result or ""), CANCELLED if finished else IN_PROGRESS)


def _changes(commits: list[Mapping[str, Any]] | None) -> list[DeploymentCommit] | None:
    if commits is None:
        return None
    changes: list[DeploymentCommit] = []
    for change in commits:
        sha = change.get("id")
        if not sha:
            continue
        author = change.get("author") or {}
        changes.append(
            {
                "sha": str(sha),
                "authored_at": parse_datetime(change.get("timestamp")),
                "author_login": identity_parts(author)[1] or author.get("displayName"),
                "message": str(change.get("message") or "")[:1000],
            }
        )
    return changes


def _web_url(obj: Mapping[str, Any]) -> str | None:
    return ((obj.get("_links") or {}).get("web") or {}).get("href") or obj.get("url")


def normalize_azure_deployment(
    raw: Mapping[str, Any], options: DeploymentOptions | None = None
) -> NormalizedDeployment:
    """One pipeline run (build) or deployment record (plus "_dmt") -> deployments columns and its commits."""
    if not isinstance(raw, Mapping) or raw.get("id") in (None, ""):
        raise SourceDataError("an Azure Pipelines run or deployment record without id was returned")
    options = options or DeploymentOptions()
    extras = raw.get("_dmt") or {}
    mode = extras.get("mode") or ("environments" if "environmentId" in raw else "runs")
    build = raw if mode == "runs" else (extras.get("build") or {})
    definition = raw.get("definition") or build.get("definition") or {}
    finished = parse_datetime(raw.get("finishTime"))
    state = result_state(raw.get("result"), raw.get("finishTime"))
    changes = _changes(extras.get("commits"))
    ref = build.get("sourceBranch")
    requested = build.get("requestedFor") or {}
    updated = max(
        [t for t in (parse_datetime(raw.get("queueTime")), parse_datetime(raw.get("startTime")), finished) if t],
        default=None,
    )
    if mode == "runs":
        source_id, kind = f"build:{raw['id']}", "pipeline_run"
        environment = str(extras.get("environment") or DEFAULT_ENVIRONMENT)
        name = str(definition.get("name") or "")
    else:
        source_id, kind = f"record:{raw['id']}", "record"
        environment = str(extras.get("environment") or raw.get("environmentId") or "")
        stage = raw.get("stageName")
        name = f"{definition.get('name') or ''}{' / ' + str(stage) if stage else ''}"
    sha = build.get("sourceVersion")
    return {
        "source_deployment_id": source_id,
        "kind": kind,
        "name": name[:300],
        "repository": str((build.get("repository") or {}).get("name") or ""),
        "environment": environment[:200] or DEFAULT_ENVIRONMENT,
        "status": state,
        "commit_sha": str(sha) if sha else None,
        "ref": str(ref) if ref else None,
        "url": _web_url(build) if mode == "environments" else _web_url(raw),
        "creator_login": identity_parts(requested)[1] or requested.get("displayName"),
        "created_at_source": parse_datetime(raw.get("queueTime")),
        "started_at": parse_datetime(raw.get("startTime")),
        "finished_at": finished if state != IN_PROGRESS else None,
        "updated_at_source": updated,
        "previous_sha": (extras.get("previous") or {}).get("sha"),
        "changes_count": len(changes) if changes is not None else 0,
        "is_revert": state == SUCCESS
        and options.is_revert([c["message"] for c in changes or []], str(ref or "").removeprefix("refs/heads/")),
        "changes": changes,
        "raw_data": dict(raw),
    }


class AzurePipelinesConnector(AzureDevOpsConnector):
    """Azure Pipelines runs or environment deployment records (see the module docstring)."""

    tool_name = "Azure Pipelines"
    provides_deployments = True

    def __init__(self, settings: SourceSettings, **http_options: Any) -> None:
        super().__init__(settings, **http_options)
        config = settings.config_json or {}
        self.mode = str(config.get("mode") or MODES[0]).lower()
        if self.mode not in MODES:
            raise SourceConfigError(f"mode must be one of {', '.join(MODES)}, not {config.get('mode')!r}")
        self.options = DeploymentOptions.of(config)
        self.pipelines = {p.lower() for p in names_option(config, "pipelines")}
        branch = str(config.get("branch") or "main").strip()
        self.branch = branch if branch.startswith("refs/") else f"refs/heads/{branch}"
        if self.mode == "runs" and len(self.options.environments) > 1:
            raise SourceConfigError("pipeline runs deploy to one environment: name one in config_json.environments")
        self._builds: dict[int, dict[str, Any]] = {}

    # -- helpers --------------------------------------------------------------
    def _paged(self, path: str, params: Mapping[str, Any], what: str) -> Iterator[list[Any]]:
        """The `value` list of each page, following ``x-ms-continuationtoken``."""
        query = dict(params)
        cursors = CursorGuard(f"{self.tool_name} {what}")
        while True:
            data, response = self._azure_json_response("GET", path, query)
            yield self._values(data if isinstance(data, dict) else {}, what)
            token = response.headers.get("x-ms-continuationtoken")
            if not token:
                return
            cursors.advance(token)
            query["continuationToken"] = token

    def _pipeline_list(self) -> list[dict[str, Any]]:
        path = self._project_path("_apis/pipelines")
        return [
            p
            for page in self._paged(path, {"api-version": API_VERSION, "$top": PAGE_SIZE}, "pipelines")
            for p in page
            if isinstance(p, dict)
        ]

    def _environment_list(self) -> list[dict[str, Any]]:
        path = self._project_path("_apis/pipelines/environments")
        return [
            e
            for page in self._paged(path, {"api-version": PREVIEW_VERSION, "$top": PAGE_SIZE}, "environments")
            for e in page
            if isinstance(e, dict)
        ]

    def _wanted_pipeline(self, definition: Mapping[str, Any]) -> bool:
        if not self.pipelines:
            return True
        return bool({str(definition.get("id")), str(definition.get("name") or "").lower()} & self.pipelines)

    def _pipeline_ids(self) -> list[int] | None:
        """The ids of the chosen pipelines (None: every pipeline); a name no pipeline has is a config error."""
        if not self.pipelines:
            return None
        found = [p for p in self._pipeline_list() if self._wanted_pipeline(p)]
        if not found:
            raise SourceConfigError(
                f"no pipeline of project {self.project} is named {', '.join(sorted(self.pipelines))}: "
                "check config_json.pipelines (names or ids, see Discover)"
            )
        return [int(p["id"]) for p in found]

    def _build(self, build_id: int) -> dict[str, Any]:
        if build_id not in self._builds:
            self._builds[build_id] = self._get(self._project_path(f"_apis/build/builds/{build_id}"))
        return self._builds[build_id]

    def commits_between(self, from_build: int, to_build: int) -> list[dict[str, Any]] | None:
        """The changes between two runs (``build/changes``); None when Azure DevOps no longer knows a run."""
        try:
            data, _ = self._azure_json(
                "GET",
                self._project_path("_apis/build/changes"),
                params={
                    "api-version": CHANGES_VERSION,
                    "fromBuildId": from_build,
                    "toBuildId": to_build,
                    "$top": self.options.max_commits,
                },
            )
        except SourceNotFound:
            return None
        return [c for c in self._values(data if isinstance(data, dict) else {}, "changes") if isinstance(c, dict)]

    # -- connection & discovery -----------------------------------------------
    def test_connection(self) -> ConnectionResult:
        identity = self._authenticated_identity()
        pipelines = self._pipeline_list()
        details: dict[str, Any] = {"mode": self.mode, "pipelines": [p.get("name") for p in pipelines]}
        if self.mode == "environments":
            details["environments"] = [e.get("name") for e in self._environment_list()]
        return ConnectionResult(
            ok=True,
            identity=identity,
            details=details,
            message=f"Connected as {identity}; project {self.project} has {count_of(len(pipelines), 'pipeline', 'pipelines')}",
        )

    def discover_fields(self) -> list[DiscoveredField]:
        """The project's pipelines and environments: what deployments can be filtered by."""
        found = [
            DiscoveredField(f"pipeline:{p.get('id')}", str(p.get("name") or p.get("id")), "pipeline")
            for p in self._pipeline_list()
        ]
        found += [
            DiscoveredField(f"environment:{e.get('name')}", str(e.get("name")), "environment")
            for e in self._environment_list()
            if e.get("name")
        ]
        return found

    # -- extraction -----------------------------------------------------------
    def _run_streams(self) -> Iterator[Iterator[tuple[dict[str, Any], str, str, datetime | None, int]]]:
        """Runs mode: one stream, the chosen pipelines' completed runs on the branch, newest first."""
        params: dict[str, Any] = {
            "api-version": API_VERSION,
            "branchName": self.branch,
            "statusFilter": "completed",
            "queryOrder": "finishTimeDescending",
            "$top": PAGE_SIZE,
        }
        ids = self._pipeline_ids()
        if ids:
            params["definitions"] = ",".join(str(i) for i in ids)
        environment = self.options.environments[0] if self.options.environments else DEFAULT_ENVIRONMENT

        def runs() -> Iterator[tuple[dict[str, Any], str, str, datetime | None, int]]:
            for page in self._paged(self._project_path("_apis/build/builds"), params, "builds"):
                for build in page:
                    if not isinstance(build, dict) or build.get("id") is None:
                        raise SourceDataError(f"{self.tool_name} returned a run without an id")
                    build["_dmt"] = {"mode": "runs", "environment": environment}
                    state = result_state(build.get("result"), build.get("finishTime"))
                    when = parse_datetime(build.get("finishTime")) or parse_datetime(build.get("queueTime"))
                    yield build, environment, state, when, int(build["id"])

        yield runs()

    def _record_streams(self) -> Iterator[Iterator[tuple[dict[str, Any], str, str, datetime | None, int]]]:
        """Environments mode: one stream per chosen environment, its deployment records newest first."""
        for env in self._environment_list():
            name = str(env.get("name") or "")
            if self.options.keeps(name):
                yield self._records(env, name)

    def _records(
        self, env: Mapping[str, Any], name: str
    ) -> Iterator[tuple[dict[str, Any], str, str, datetime | None, int]]:
        env_id = quote(str(env.get("id")))
        path = self._project_path(f"_apis/distributedtask/environments/{env_id}/environmentdeploymentrecords")
        seen_runs: set[int] = set()
        for page in self._paged(path, {"api-version": PREVIEW_VERSION, "top": PAGE_SIZE}, "deployment records"):
            for record in page:
                if not isinstance(record, dict) or record.get("id") is None:
                    raise SourceDataError(f"{self.tool_name} returned a deployment record without an id")
                owner = record.get("owner") or {}
                if owner.get("id") is None or not self._wanted_pipeline(record.get("definition") or {}):
                    continue
                run_id = int(owner["id"])
                if run_id in seen_runs:
                    continue  # another job of the same run deploying to this environment
                seen_runs.add(run_id)
                record["_dmt"] = {"mode": "environments", "environment": name}
                state = result_state(record.get("result"), record.get("finishTime"))
                when = parse_datetime(record.get("finishTime")) or parse_datetime(record.get("queueTime"))
                yield record, name, state, when, run_id

    def _deployments(self, start: datetime | None, end: datetime | None) -> Iterator[dict[str, Any]]:
        floor = self.options.floor(start)
        streams = self._run_streams() if self.mode == "runs" else self._record_streams()
        for stream in streams:
            chain = DeploymentChain(lambda base, head: self.commits_between(int(base), int(head)))
            for record, environment, state, when, run_id in stream:
                if end is not None and when is not None and when >= end:
                    continue
                in_window = floor is None or when is None or when >= floor
                if not in_window and not chain.needs_older():
                    break  # older than the window, and nothing in it waits for an older success
                build = record if self.mode == "runs" else self._build(run_id)
                if self.mode == "environments":
                    record["_dmt"]["build"] = build
                sha = build.get("sourceVersion")
                # build/changes compares runs: the chain links them by run id, and keeps the commit as sha.
                yield from chain.feed(record, environment, state, sha, in_window, compare_ref=str(run_id))
            yield from chain.flush()

    def extract_deployments(self, start: datetime | None, end: datetime | None) -> Iterator[list[dict[str, Any]]]:
        """Pages of raw runs or deployment records of [start - lookback, end), with the changes each shipped."""
        self._builds = {}
        yield from pages_of(self._deployments(start, end), PAGE_SIZE)

    def normalize_deployment(self, raw: dict[str, Any]) -> NormalizedDeployment:
        return normalize_azure_deployment(raw, self.options)


register_connector("azure_pipelines", AzurePipelinesConnector)
