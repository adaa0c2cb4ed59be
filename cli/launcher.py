"""`make run`: migrate, seed the demo, start fakes, worker, beat and both portals; stop them all on exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from core.settings import PROJECT_ROOT, get_settings, reset_settings_cache

FAKES_PORT = int(os.environ.get("DMT_FAKES_PORT", "8900"))
COMPANY_PORT = int(os.environ.get("DMT_COMPANY_PORT", "3000"))
ADMIN_PORT = int(os.environ.get("DMT_ADMIN_PORT", "3001"))
SMTP_CATCHER_PORT = int(os.environ.get("DMT_SMTP_CATCHER_PORT", "8925"))
MAILDIR = PROJECT_ROOT / ".data" / "run" / "mail"


def _wait_http(url: str, timeout: float, proc: subprocess.Popen) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own loopback URL
                if response.status < 500:
                    return True
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.5)
    return False


def run_everything() -> int:
    env = {
        **os.environ,
        # The demo's sources are the fake tools on this machine: that one loopback port, nothing else private.
        "ALLOWED_PRIVATE_HOSTS": os.environ.get("ALLOWED_PRIVATE_HOSTS", f"127.0.0.1:{FAKES_PORT}"),
        "DMT_ENVIRONMENT": "demo",  # the demo runs on the built-in development secrets
        "PYTHONPATH": str(PROJECT_ROOT),
        "COMPANY_PORTAL_URL": f"http://localhost:{COMPANY_PORT}",
        "ADMIN_PORTAL_URL": f"http://localhost:{ADMIN_PORT}",
        # Notification emails go to the fake tools' SMTP catcher (messages kept in .data/run/mail).
        "SMTP_HOST": os.environ.get("SMTP_HOST", "127.0.0.1"),
        "SMTP_PORT": os.environ.get("SMTP_PORT", str(SMTP_CATCHER_PORT)),
        "SMTP_STARTTLS": os.environ.get("SMTP_STARTTLS", "false"),
        "SMTP_FROM": os.environ.get("SMTP_FROM", "DMT-SLDP demo <dmt@demo.local>"),
    }
    os.environ.update(
        {
            k: env[k]
            for k in ("ALLOWED_PRIVATE_HOSTS", "DMT_ENVIRONMENT", "COMPANY_PORTAL_URL", "ADMIN_PORTAL_URL")
        }
    )
    reset_settings_cache()
    logs = PROJECT_ROOT / ".data" / "run" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    bin_dir = Path(sys.executable).parent
    processes: list[tuple[str, subprocess.Popen]] = []

    def start(name: str, argv: list[str]) -> subprocess.Popen:
        log = (logs / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT, start_new_session=True
        )
        processes.append((name, proc))
        return proc

    def stop_all(*_args: object) -> None:
        for _name, proc in reversed(processes):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _name, proc in processes:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    signal.signal(signal.SIGTERM, lambda *_: (stop_all(), sys.exit(0)))
    try:
        fakes = start(
            "fakes",
            [sys.executable, "-m", "tests.fakes", "--port", str(FAKES_PORT), "--smtp-port", str(SMTP_CATCHER_PORT),
             "--maildir", str(MAILDIR)],
        )  # fmt: skip
        if not _wait_http(f"http://127.0.0.1:{FAKES_PORT}/health", 60, fakes):
            print(f"fake tool servers did not start: see {logs / 'fakes.log'}", file=sys.stderr)
            return 1
        print("migrating and seeding demo data (first run takes a minute)...", flush=True)
        seed = subprocess.run(
            [str(bin_dir / "dmt"), "seed-demo", "--fake-base-url", f"http://127.0.0.1:{FAKES_PORT}"],
            env=env,
            cwd=PROJECT_ROOT,
        )
        if seed.returncode != 0:
            return seed.returncode
        start("worker", [str(bin_dir / "celery"), "-A", "worker", "worker", "--loglevel=info", "--concurrency=2"])
        start(
            "beat",
            [
                str(bin_dir / "celery"),
                "-A",
                "worker",
                "beat",
                "--loglevel=info",
                "--schedule",
                str(PROJECT_ROOT / ".data" / "run" / "celerybeat-schedule"),
            ],
        )
        company = start("company-portal", ["bash", "scripts/portal.sh", "run", "dmt_app", str(COMPANY_PORT)])
        admin = start("admin-portal", ["bash", "scripts/portal.sh", "run", "admin_app", str(ADMIN_PORT)])
        ok = _wait_http(f"http://127.0.0.1:{COMPANY_PORT}/api/health", 180, company) and _wait_http(
            f"http://127.0.0.1:{ADMIN_PORT}/api/health", 180, admin
        )
        if not ok:
            print(f"a portal did not start: see {logs}", file=sys.stderr)
            return 1
        password = get_settings().demo_password
        print(
            "\nDMT-SLDP is running\n"
            f"  company portal  http://localhost:{COMPANY_PORT}\n"
            f"  admin portal    http://localhost:{ADMIN_PORT}\n"
            f"  REST API docs   http://localhost:{COMPANY_PORT}/api/docs\n"
            f"  fake tools      http://127.0.0.1:{FAKES_PORT} (Jira, ClickUp, Azure DevOps, GitHub)\n"
            f"  mail catcher    127.0.0.1:{SMTP_CATCHER_PORT}, messages in {MAILDIR}; chat posts at "
            f"http://127.0.0.1:{FAKES_PORT}/chat/posts\n"
            "demo sign-ins (password: " + password + ")\n"
            "  admin portal:   admin@dmt.local\n"
            "  company portal: lead@acme.example (tech lead), dev@acme.example (developer),\n"
            "                  pm@acme.example (project manager), lead@globex.example (tech lead)\n"
            f"logs in {logs}; Ctrl-C stops everything\n",
            flush=True,
        )
        while True:
            for name, proc in processes:
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}: see {logs / (name + '.log')}", file=sys.stderr)
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        return 0
    finally:
        stop_all()
