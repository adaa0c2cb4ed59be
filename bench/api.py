"""`python -m bench api --size N`: the dashboard endpoints of a tenant with N work items, warm and cold.

Builds a throw-away database with the same generated tenant as `bench portal`
(N work items over 52 sprints, N/3 pull requests, flags, insights), rebuilds
the read models (sprint and developer metrics, and the project figures the
pipeline keeps: the PR health rollup and the done items' compliance counts,
`etl/project_figures.py`), serves the company API with uvicorn (--workers, default 2 =
this machine's cores) and measures two things, signed in as a tech lead:

* warm: 50 concurrent keep-alive connections, round-robin over the dashboard
  endpoints, for --requests requests (bounded in time by --max-seconds): p50,
  p95, p99 and requests per second. After the first answers these are read-cache hits.
* cold: the first request to each dashboard endpoint after a data change. A sync
  or an evaluation bumps the tenant's data version (`core.realtime.bump_data_version`),
  which makes every cached read stale; the benchmark bumps it --changes times and
  after each bump sends one request to every endpoint at once (as a dashboard page
  does), so each answer is computed from the database. p50/p95 overall and per endpoint.

Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import sqlalchemy as sa

#: The company dashboard reads (spec section 4.3), as a dashboard page asks for them.
ENDPOINTS = [
    "/api/dashboard/summary",
    "/api/dashboard/velocity",
    "/api/dashboard/throughput",
    "/api/dashboard/defect-density",
    "/api/dashboard/compliance",
    "/api/dashboard/blocked-items",
    "/api/dashboard/pr-health",
    "/api/developers",
]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _drive(
    base: str, token: str, pid: int, clients: int, total: int, max_seconds: float
) -> tuple[list[float], int, float]:
    """50 keep-alive HTTP/1.1 connections, each sending its next request when the last answer is read.

    A load generator on the same two cores as the server takes CPU from it; this
    one writes prebuilt request bytes and reads Content-Length bodies, a few
    microseconds per request (httpx spends about a millisecond), so the figures
    are the server's and not the client's. Every answer's status is checked.
    """
    host, port = base.removeprefix("http://").split(":")
    requests = [_request(host, token, pid, path) for path in ENDPOINTS]
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    deadline = time.perf_counter() + max_seconds

    async def client() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for i in counter:
                if time.perf_counter() > deadline:
                    return
                started = time.perf_counter()
                ok = await _exchange(reader, writer, requests[i % len(requests)])
                latencies.append((time.perf_counter() - started) * 1000)
                if not ok:
                    errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, errors, time.perf_counter() - started


def _request(host: str, token: str, project_id: int, path: str) -> bytes:
    return (
        f"GET {path}?project_id={project_id} HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: application/json\r\n\r\n"
    ).encode()


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> bool:
    """Send one prebuilt request and read its answer (Content-Length body); True for a 200."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return head.startswith(b"HTTP/1.1 200")


async def _cold(
    base: str, token: str, pid: int, changes: int, bump: Any
) -> tuple[dict[str, list[float]], int]:
    """After each of `changes` data-version bumps, the first request to every endpoint, all at once.

    One keep-alive connection per endpoint (a browser keeps its connections too), so
    the time is the server's answer computed from the database, not a TCP handshake.
    """
    host, port = base.removeprefix("http://").split(":")
    connections = [await asyncio.open_connection(host, int(port)) for _ in ENDPOINTS]
    latencies: dict[str, list[float]] = {path: [] for path in ENDPOINTS}
    errors = 0

    async def first_request(path: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal errors
        started = time.perf_counter()
        ok = await _exchange(reader, writer, _request(host, token, pid, path))
        latencies[path].append((time.perf_counter() - started) * 1000)
        errors += 0 if ok else 1

    try:
        for _ in range(changes):
            await asyncio.to_thread(bump)
            await asyncio.gather(*(first_request(p, r, w) for p, (r, w) in zip(ENDPOINTS, connections, strict=True)))
    finally:
        for _reader, writer in connections:
            writer.close()
    return latencies, errors


def _run_loop(coro: Any) -> Any:
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench api")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--max-seconds", type=float, default=120)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--changes", type=int, default=50, help="data changes for the cold-path figures")
    args = parser.parse_args(argv)

    from bench._db import bench_database
    from bench.portal import _generate
    from bench.sync import _free_port, _wait_port

    result: dict[str, Any] = {"benchmark": "api", "size": args.size, "clients": args.clients, "workers": args.workers}
    with bench_database():
        from core.realtime import bump_data_version
        from etl.metrics import rebuild_metrics
        from etl.project_figures import refresh_compliance_counts
        from models import db as dbmod
        from models.base import utcnow
        from models.db import tenant_schema_of, tenant_session
        from models.enums import ProjectRole
        from services.audit import Actor
        from services.auth import login
        from services.projects import ProjectCreate, create_project
        from services.tenants import TenantCreate, create_tenant
        from services.users import UserCreate, create_user, set_project_role

        system = Actor.system("bench")
        tenant = create_tenant(TenantCreate(name="Bench", slug="bench"), system)
        project = create_project(ProjectCreate(tenant_id=tenant.id, key="BENCH", name="Bench"), system)
        email, password = "lead@bench.example", "bench-password-1"
        lead = create_user(UserCreate(email=email, password=password, tenant_id=tenant.id), system)
        set_project_role(lead.id or 0, project.id or 0, ProjectRole.TECH_LEAD, system)
        started = time.perf_counter()
        with tenant_session(tenant.slug) as session:
            schema = tenant_schema_of(session)
            _generate(session.connection(), schema, args.size, project.id or 0, email)
            session.commit()
        with dbmod.get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f'VACUUM ANALYZE "{schema}".work_items'))
        rebuild_metrics(tenant.slug)  # also stores the project's PR health rollup, as the nightly rebuild does
        with tenant_session(tenant.slug) as session:  # what the compliance evaluation leaves after a sync
            refresh_compliance_counts(session.connection(), schema, [project.id or 0], utcnow())
            session.commit()
        result["prepare_s"] = round(time.perf_counter() - started, 1)
        token = login(email, password).tokens.access_token
        port = _free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "api.app:create_company_api",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env={**os.environ},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_port(port)
            base = f"http://127.0.0.1:{port}"
            asyncio.run(_drive(base, token, project.id or 0, 5, 60, 30))  # warm-up: pools, caches
            latencies, errors, seconds = _run_loop(
                _drive(base, token, project.id or 0, args.clients, args.requests, args.max_seconds)
            )
            cold, cold_errors = _run_loop(
                _cold(base, token, project.id or 0, args.changes, lambda: bump_data_version(tenant.slug))
            )
        finally:
            server.terminate()
            server.wait(10)
    result.update(
        {
            "requests": len(latencies),
            "errors": errors,
            "seconds": round(seconds, 2),
            "rps": round(len(latencies) / seconds, 1),
            "p50_ms": round(statistics.median(latencies), 1),
            "p95_ms": round(_percentile(latencies, 0.95), 1),
            "p99_ms": round(_percentile(latencies, 0.99), 1),
        }
    )
    every_cold = [ms for values in cold.values() for ms in values]
    result.update(
        {
            "cold_changes": args.changes,
            "cold_requests": len(every_cold),
            "cold_errors": cold_errors,
            "cold_p50_ms": round(statistics.median(every_cold), 1),
            "cold_p95_ms": round(_percentile(every_cold, 0.95), 1),
            "cold_by_endpoint": {
                path: {"p50_ms": round(statistics.median(v), 1), "p95_ms": round(_percentile(v, 0.95), 1)}
                for path, v in cold.items()
            },
        }
    )
    result["goal_p95_under_100ms"] = result["p95_ms"] <= 100
    result["goal_cold_p95_under_150ms"] = result["cold_p95_ms"] <= 150
    for path, figures in result["cold_by_endpoint"].items():
        print(f"cold {path:32} p50 {figures['p50_ms']:8.1f} ms   p95 {figures['p95_ms']:8.1f} ms")
    print(json.dumps(result))
    return 0 if errors == 0 and cold_errors == 0 else 1
