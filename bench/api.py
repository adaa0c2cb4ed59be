"""`python -m bench api --size N`: 50 concurrent clients on the dashboard endpoints of a tenant with N work items.

Builds a throw-away database with the same generated tenant as `bench portal`
(N work items over 52 sprints, N/3 pull requests, flags, insights), rebuilds
the read models, serves the company API with uvicorn (--workers, default 2 =
this machine's cores) and drives it from this process with 50 concurrent
keep-alive connections signed in as a tech lead, round-robin over the dashboard
endpoints, for --requests requests (bounded in time by --max-seconds).
Reports p50/p95/p99 latency and requests per second; last line one JSON object.
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

ENDPOINTS = ["kpis", "velocity", "throughput", "quality", "pr-health", "developers"]


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
    requests = [
        (
            f"GET /api/dashboards/{pid}/{name} HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {token}\r\nAccept: application/json\r\n\r\n"
        ).encode()
        for name in ENDPOINTS
    ]
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
                writer.write(requests[i % len(requests)])
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                latencies.append((time.perf_counter() - started) * 1000)
                if not head.startswith(b"HTTP/1.1 200"):
                    errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, errors, time.perf_counter() - started


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
    args = parser.parse_args(argv)

    from bench._db import bench_database
    from bench.portal import _generate
    from bench.sync import _free_port, _wait_port

    result: dict[str, Any] = {"benchmark": "api", "size": args.size, "clients": args.clients, "workers": args.workers}
    with bench_database():
        from etl.metrics import rebuild_metrics
        from models import db as dbmod
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
        rebuild_metrics(tenant.slug)
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
    result["goal_p95_under_100ms"] = result["p95_ms"] < 100
    print(json.dumps(result))
    return 0 if errors == 0 else 1
