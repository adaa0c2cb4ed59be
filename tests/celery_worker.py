"""A real Celery worker as a subprocess, for the tests that need the pipeline end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]


def start_worker(
    database_url: str, redis_url: str, *, queue: str, name: str, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """`celery worker` on `queue` (solo pool, one task at a time), its output appended to `log`."""
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PYTHONPATH": str(ROOT),
        "ALLOWED_PRIVATE_HOSTS": "127.0.0.0/8,::1/128",
        "DMT_ENVIRONMENT": "test",
        **(env or {}),
    }
    cmd = [
        str(Path(sys.executable).with_name("celery")), "-A", "worker", "worker", "--pool=solo",
        "--concurrency=1", "-Q", queue, "-n", f"{name}@%h", "--without-gossip", "--without-mingle",
        "--loglevel=info",
    ]  # fmt: skip
    with log.open("ab") as out:
        return subprocess.Popen(cmd, cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT)


def wait_until_ready(proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        return "ready." in log.read_text(errors="replace")

    wait_until(ready, timeout=timeout, interval=0.3, what=lambda: "the worker ready:\n" + log.read_text()[-3000:])


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
