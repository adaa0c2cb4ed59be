"""`python -m bench backfill --tool T --size N --latency S`: one tool's backfill at the provider's limits.

What bounds a real backfill is the provider's latency and rate limit, not our CPU,
so this measures what a first import costs the provider: the real connector
extracts and normalises N records from the tool's faithful fake (served by a
separate process, every request held `--latency` seconds, GitHub's GraphQL
queries `--graphql-latency`), and the fake counts every request it answers.
No database: loading is measured by `bench sync`.

Reported (last line, one JSON object): requests, requests per 1,000 records,
wall time, records per second, the busiest endpoints, and whether the
provider's documented budget was respected, judged from the fake's request log:

* GitHub: 5,000 points an hour (a REST request is one point; a GraphQL query
  costs what its `rateLimit.cost` says, summed by the fake);
* ClickUp: 100 requests a minute per token (any 60 s window);
* Azure DevOps: 200 TSTUs in any sliding 5 minutes. Microsoft publishes no
  per-request cost; we count `--tstu-per-request` (default 0.01: a typical
  user's 5 minutes, one TSTU, taken as about 100 light reads) and say so;
* Jira Cloud: API-token traffic is under per-endpoint burst limits whose
  numbers Atlassian does not publish; we report the busiest endpoint's peak
  requests in one second against 10 per second, a conservative figure.

The connector's own request budget is set to the same limit (ClickUp 100 a
minute, which the ClickUp connector enforces itself; GitHub 5,000 an hour;
Azure 200 TSTU / 5 min under the cost above, as a per-minute rate whose burst
plus five minutes of refill stays inside it; Jira the product default of 600
a minute), so the run shows what the product does when it stays inside it.

Goals at N = 10,000 and 300 ms (GraphQL 1 s): requests per 1,000 records
GitHub <= 30, Azure Boards <= 30, ClickUp <= 15, Jira <= 15, Azure DevOps
Git <= 1,100; wall time under 3 minutes; budget respected.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.sync import _free_port, _wait_port, python_process

TOOLS = ("jira", "clickup", "azure_boards", "github", "azure_devops_git")
#: Goals of issue 17: requests per 1,000 records at N = 10,000 and 300 ms per request.
GOAL_REQUESTS_PER_1000 = {"github": 30, "azure_boards": 30, "clickup": 15, "jira": 15, "azure_devops_git": 1100}
GOAL_WALL_SECONDS = 180.0
#: The connector's request budget per minute, from the provider's documented limit (see the docstring).
GITHUB_POINTS_PER_HOUR = 5000
CLICKUP_PER_MINUTE = 100
AZURE_TSTU_PER_5_MINUTES = 200.0
JIRA_PER_SECOND_PER_ENDPOINT = 10
JIRA_BUDGET_PER_MINUTE = 600
BENCH_PREFIX = "/__bench/"


# --------------------------------------------------------------------------- the fake's process
class Recorder:
    """ASGI wrapper around a fake: holds each request `latency` seconds and logs (time, method, path).

    ``GET /__bench/log`` answers the log (and the fake's own counters) without being logged.
    """

    def __init__(self, app: Any, latency: float, graphql_latency: float, counters: Any) -> None:
        self.app, self.latency, self.graphql_latency, self.counters = app, latency, graphql_latency, counters
        self.log: list[tuple[float, str, str]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path.startswith(BENCH_PREFIX):
            body = json.dumps({"requests": self.log, **self.counters()}).encode()
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
            )
            await send({"type": "http.response.body", "body": body})
            return
        self.log.append((time.time(), scope["method"], path))
        await asyncio.sleep(self.graphql_latency if path.endswith("/graphql") else self.latency)
        await self.app(scope, receive, send)


def serve_fake(tool: str, size: int, seed: int, port: int, latency: float, graphql_latency: float) -> None:
    """Build the tool's fake with `size` records and serve it on `port` until killed (own process)."""
    import uvicorn

    secrets: dict[str, Any] = {}
    counters: Any = dict
    if tool == "jira":
        from etl.connectors.jira import SEARCH_FIELDS
        from tests.fakes import jira as fake

        dataset = fake.generate_dataset(seed=seed, size=size, project_key="ACME")
        app = fake.create_app(dataset, deployment="cloud")
        # A site serves pages from its index; building them first keeps the fake's CPU out of the clock.
        app.state.prerender_search_pages(
            {*SEARCH_FIELDS, fake.F_FLAGGED, *(spec["field"] for spec in fake.FIELD_MAPPINGS.values())}
        )
        secrets = {"token": dataset.token, "username": dataset.api_user_email, "project_key": dataset.project_key,
                   "field_mappings": fake.FIELD_MAPPINGS}  # fmt: skip
    elif tool == "clickup":
        from tests.fakes import clickup as fake

        dataset = fake.generate_dataset(seed=seed, size=size)
        app = fake.create_app(dataset)
        secrets = {"token": dataset.token, "team_id": dataset.team_id, "field_mappings": dataset.field_mappings(),
                   "path": "/api/v2"}  # fmt: skip
    elif tool == "azure_boards":
        from tests.fakes import azure_boards as fake

        dataset = fake.generate_dataset(seed=seed, size=size, days=365)
        app = fake.create_app(dataset)
        secrets = {"token": dataset["token"], "path": f"/{dataset['organization']}", "project": "Fabrikam"}
    elif tool == "github":
        from tests.fakes import github as fake

        dataset = fake.generate_dataset(
            seed=seed, size=size, repositories=["acme/shop"], days=365, rate_limit=GITHUB_POINTS_PER_HOUR,
            work_item_keys=[f"ACME-{n}" for n in range(1, 2001)],
        )  # fmt: skip
        app = fake.create_app(dataset)
        secrets = {"token": fake.DEFAULT_TOKEN, "repositories": ["acme/shop"]}

        def counters() -> dict[str, Any]:
            return {
                "graphql_points": dataset.get("graphql_points", 0),
                "graphql_queries": dataset.get("graphql_queries", 0),
            }
    elif tool == "azure_devops_git":
        from tests.fakes import azure_devops_git as fake

        dataset = fake.generate_dataset(seed=seed, size=size, repositories=["shop"], days=365)
        app = fake.create_app(dataset)
        secrets = {"token": dataset["token"], "path": f"/{dataset['organization']}", "project": "Fabrikam"}
    else:
        raise SystemExit(f"unknown tool {tool!r}")
    recorder = Recorder(app, latency, graphql_latency, counters)
    server = uvicorn.Server(uvicorn.Config(recorder, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    print(json.dumps(secrets), flush=True)
    server.run()


@contextmanager
def fake_process(tool: str, size: int, seed: int, latency: float, graphql_latency: float) -> Iterator[tuple[str, dict]]:
    port = _free_port()
    code = f"from bench.backfill import serve_fake; serve_fake({tool!r}, {size}, {seed}, {port}, {latency}, {graphql_latency})"
    with python_process(code) as proc:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {tool} fake did not start")
        secrets = json.loads(line)
        _wait_port(port, timeout=600)
        yield f"http://127.0.0.1:{port}", secrets


# --------------------------------------------------------------------------- the connector's side
def budget_per_minute(tool: str, tstu_per_request: float) -> int:
    """The connector's request budget: the provider's documented limit as requests per minute."""
    if tool == "clickup":
        return CLICKUP_PER_MINUTE
    if tool == "github":
        return GITHUB_POINTS_PER_HOUR // 60
    if tool in ("azure_boards", "azure_devops_git"):
        # The product's bucket holds a minute's worth as burst: burst + 5 minutes of refill = 6 x the rate.
        return int(AZURE_TSTU_PER_5_MINUTES / tstu_per_request / 6)
    return JIRA_BUDGET_PER_MINUTE


def make_connector(tool: str, url: str, secrets: dict[str, Any], args: argparse.Namespace) -> Any:
    from etl.connectors.base import SourceSettings
    from etl.connectors.registry import get_connector

    config: dict[str, Any] = {}
    base_url = url + secrets.get("path", "")
    settings: dict[str, Any] = {"token": secrets["token"]}
    if tool == "jira":
        config = {"deployment": "cloud"}
        settings |= {"username": secrets["username"], "project_key": secrets["project_key"],
                     "field_mappings": secrets["field_mappings"]}  # fmt: skip
    elif tool == "clickup":
        config = {"team_id": secrets["team_id"]}
        settings["field_mappings"] = secrets["field_mappings"]
    elif tool == "azure_boards":
        config = {"project": secrets["project"], "history": args.history}
    elif tool == "github":
        config = {"repositories": secrets["repositories"], "api": args.api, "project_keys": ["ACME"]}
    elif tool == "azure_devops_git":
        commits = {"auto": "auto", "true": True, "false": False}[getattr(args, "fetch_commits", "auto")]
        config = {"project": secrets["project"], "fetch_commits": commits}
        config |= {"workers": args.workers} if args.workers else {}
    settings = SourceSettings(
        source_type=tool,
        base_url=base_url,
        config_json=config,
        request_budget_per_minute=budget_per_minute(tool, args.tstu_per_request),
        source_id=None,
        **settings,
    )
    return get_connector(tool, settings)


def extract(connector: Any, tool: str) -> int:
    """Extract and normalise everything; the number of records."""
    records = 0
    work_items = tool in ("jira", "clickup", "azure_boards")
    pages = connector.extract_work_items(None, None) if work_items else connector.extract_pull_requests(None, None)
    normalise = connector.normalize_work_item if work_items else connector.normalize_pull_request
    for page in pages:
        for raw in page:
            normalise(raw)
            records += 1
    return records


# --------------------------------------------------------------------------- the provider's budget
def peak_in_window(times: list[float], seconds: float, weights: list[float] | None = None) -> float:
    """The largest count (or sum of weights) of events inside any window of `seconds`."""
    order = sorted(range(len(times)), key=times.__getitem__)
    stamps = [times[i] for i in order]
    values = [weights[i] if weights else 1.0 for i in order]
    prefix = [0.0]
    for v in values:
        prefix.append(prefix[-1] + v)
    best = 0.0
    for i, start in enumerate(stamps):
        j = bisect.bisect_left(stamps, start + seconds)
        best = max(best, prefix[j] - prefix[i])
    return best


def budget(tool: str, log: list[list[Any]], counters: dict[str, Any], tstu_per_request: float) -> dict[str, Any]:
    """Whether the requests the fake saw stayed inside the provider's documented limit."""
    times = [float(t) for t, _, _ in log]
    if tool == "github":
        rest = sum(1 for _, _, path in log if not path.endswith("/graphql"))
        points = rest + int(counters.get("graphql_points") or 0)
        used = points if not times or max(times) - min(times) <= 3600 else peak_in_window(times, 3600)
        return {"limit": "5,000 points an hour", "rest_requests": rest,
                "graphql_points": counters.get("graphql_points"), "peak_points_per_hour": used,
                "respected": used <= GITHUB_POINTS_PER_HOUR}  # fmt: skip
    if tool == "clickup":
        peak = peak_in_window(times, 60)
        return {
            "limit": "100 requests a minute",
            "peak_requests_per_minute": peak,
            "respected": peak <= CLICKUP_PER_MINUTE,
        }
    if tool in ("azure_boards", "azure_devops_git"):
        peak = peak_in_window(times, 300) * tstu_per_request
        return {"limit": "200 TSTU in any 5 minutes", "tstu_per_request_assumed": tstu_per_request,
                "peak_tstu_per_5_minutes": round(peak, 2), "respected": peak <= AZURE_TSTU_PER_5_MINUTES}  # fmt: skip
    by_endpoint: dict[str, list[float]] = {}
    for t, method, path in log:
        by_endpoint.setdefault(f"{method} {path}", []).append(float(t))
    peak = max((peak_in_window(ts, 1.0) for ts in by_endpoint.values()), default=0.0)
    return {"limit": "per-endpoint burst limits (unpublished); judged against 10 requests a second",
            "peak_requests_per_second_one_endpoint": peak, "respected": peak <= JIRA_PER_SECOND_PER_ENDPOINT}  # fmt: skip


def endpoint_kind(path: str) -> str:
    """A path with its ids folded, for the per-endpoint counts ("/acme/Fabrikam/_apis/wit/workItems/{id}/updates")."""
    parts = [
        "{id}" if any(ch.isdigit() for ch in part) and not part.startswith("_") else part for part in path.split("/")
    ]
    return "/".join(parts)


def run(args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    with fake_process(args.tool, args.size, args.seed, args.latency, args.graphql_latency) as (url, secrets):
        connector = make_connector(args.tool, url, secrets, args)
        started = time.perf_counter()
        records = extract(connector, args.tool)
        wall = time.perf_counter() - started
        connector.close()
        answer = httpx.get(f"{url}{BENCH_PREFIX}log", timeout=60).json()
    log = answer.pop("requests")
    requests = len(log)
    per_1000 = requests * 1000 / records if records else None
    result: dict[str, Any] = {
        "benchmark": "backfill",
        "tool": args.tool,
        "path": {
            "github": f"api={args.api}",
            "azure_boards": f"history={args.history}",
            "azure_devops_git": f"fetch_commits={getattr(args, 'fetch_commits', 'auto')}",
        }.get(args.tool, "default"),
        "size": args.size,
        "latency_seconds": args.latency,
        "graphql_latency_seconds": args.graphql_latency if args.tool == "github" else None,
        "records": records,
        "requests": requests,
        "requests_per_1000_records": round(per_1000, 1) if per_1000 is not None else None,
        "wall_seconds": round(wall, 2),
        "records_per_second": round(records / wall, 1) if wall else None,
        "connector_budget_per_minute": budget_per_minute(args.tool, args.tstu_per_request),
        "budget": budget(args.tool, log, answer, args.tstu_per_request),
        "endpoints": dict(Counter(f"{m} {endpoint_kind(p)}" for _, m, p in log).most_common(8)),
    }
    goal = GOAL_REQUESTS_PER_1000[args.tool]
    result["goal"] = {
        "requests_per_1000_records": goal,
        "wall_seconds": GOAL_WALL_SECONDS,
        "applies": args.size >= 10_000 and abs(args.latency - 0.3) < 1e-9,
        "requests_met": per_1000 is not None and per_1000 <= goal,
        "wall_met": wall < GOAL_WALL_SECONDS,
    }
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench backfill", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tool", choices=TOOLS, required=True)
    parser.add_argument("--size", type=int, default=1000, help="records in the tool (issues, tasks, work items, PRs)")
    parser.add_argument("--latency", type=float, default=0.3, help="seconds the fake holds every request")
    parser.add_argument("--graphql-latency", type=float, default=1.0, help="seconds for a GitHub GraphQL query")
    parser.add_argument("--api", choices=("graphql", "rest"), default="graphql", help="GitHub's path (config api)")
    parser.add_argument("--history", choices=("revisions", "updates", "none"), default="revisions",
                        help="Azure Boards' history path (config history)")  # fmt: skip
    parser.add_argument(
        "--workers", type=int, default=None, help="Azure DevOps Git PRs enriched at once (default: the product's)"
    )
    parser.add_argument("--fetch-commits", choices=("auto", "true", "false"), default="auto",
                        help="Azure DevOps Git's fetch_commits (auto: only PRs naming no work item)")  # fmt: skip
    parser.add_argument("--tstu-per-request", type=float, default=0.01, help="Azure DevOps cost model (assumed)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print(json.dumps(run(args)))
    return 0
