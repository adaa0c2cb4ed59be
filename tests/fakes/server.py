"""Run a fake tool API (a FastAPI app) on a free loopback port, with fault injection.

Every fake server (jira.py, clickup.py, azure_boards.py, github.py,
azure_devops_git.py, openai.py) builds a FastAPI app and accepts a
`FaultControls`; tests flip the controls while the server runs:

    controls = FaultControls()
    with serve(create_app(dataset, controls)) as base_url:
        controls.fail_next(2, status=503)        # next two requests answer 503
        controls.rate_limit_next(1, retry_after=1)
        controls.latency_seconds = 0.2           # every request waits 200 ms
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.waiting import wait_until


@dataclass
class FaultControls:
    latency_seconds: float = 0.0
    _failures: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    requests_seen: int = 0
    paths_seen: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, count: int, status: int = 503) -> None:
        with self.lock:
            self._failures.extend([(status, {})] * count)

    def rate_limit_next(self, count: int, retry_after: float = 1) -> None:
        with self.lock:
            self._failures.extend([(429, {"Retry-After": str(retry_after)})] * count)

    def pop_failure(self) -> tuple[int, dict[str, str]] | None:
        with self.lock:
            self.requests_seen += 1
            return self._failures.pop(0) if self._failures else None


def install_faults(app: FastAPI, controls: FaultControls) -> None:
    """Middleware applying latency and queued failures to every request."""
    app.add_middleware(_Faults, controls=controls)


class _Faults:
    """Plain ASGI middleware: Starlette's BaseHTTPMiddleware would copy every response body through a
    stream of its own, which on megabyte-sized search pages cost the fake more CPU than the page itself."""

    def __init__(self, app: ASGIApp, controls: FaultControls) -> None:
        self.app = app
        self.controls = controls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        controls = self.controls
        with controls.lock:
            controls.paths_seen.append(Request(scope).url.path)
        failure = controls.pop_failure()
        if controls.latency_seconds:
            await asyncio.sleep(controls.latency_seconds)
        if failure:
            status, headers = failure
            message = "Rate limit exceeded" if status == 429 else "Service temporarily unavailable"
            await JSONResponse({"message": message}, status_code=status, headers=headers)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(app: FastAPI, port: int | None = None) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 in a background thread; yield its base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=10, interval=0.01, what="the fake server to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)
