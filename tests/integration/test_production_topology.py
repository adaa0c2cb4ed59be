"""PRODUCTION TOPOLOGY: the product as docs/deploy.md runs it on several machines, all on loopback.

One deployment of its own: a fresh database, a Redis server of its own (broker,
result backend, live events, sign-in counters and, on another database number,
Reflex's state manager), a Jira on loopback (the faithful fake, answering slowly),
and the processes as deployed:

* two company portals (`scripts/portal.sh run dmt_app <port>`, one granian worker
  each, as two machines behind the load balancer), sharing Reflex's Redis state;
* two Celery workers (`celery -A worker worker`) on the same Redis;
* beat (`celery -A worker beat`), exactly one.

A tech lead uses the company portal through its own event protocol (the
WebSocket a browser tab opens, spoken by bench/portal_users.py). Then:

1. the tab's portal is killed (SIGKILL, the whole machine) mid-session; the tab
   reconnects as it would through the load balancer and lands on the other
   portal: still signed in, the page loads;
2. an admin starts a sync through the REST API; the worker running it is killed
   (SIGKILL) after its first batch committed; the other worker gets the task
   again and the sync finishes with exactly the source's items;
3. the tab, now on the surviving portal, hears the sync's live events (each
   portal reads the live-event stream itself), opens the next page and resolves
   a flag the sync raised: the resolution is in the database;
4. beat's schedule reaches the workers.

After a SIGKILL the dead portal's record of the tab's socket stays in Redis, so
Reflex takes the reconnecting tab for a duplicate and gives it a new token:
the tab keeps its sign-in (the cookie) and its page, not the choices it made
on the dead portal (a SIGTERM'd portal hands its tabs over with their state).

Every wait has a deadline; every process is stopped at the end, also on failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import select

from bench.portal_users import (
    CompanyNames,
    CompiledApp,
    PortalProcess,
    Tab,
    build_portal,
    page_loaded,
    sign_in,
    start_portal,
)
from core.embedded import embedded_redis
from tests.databases import pointed_database
from tests.event_loops import run_coroutine
from tests.fakes import jira as jira_fake
from tests.fakes.server import FaultControls, serve
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
# Large and slow enough that the sync is still fetching well after its first batch committed
# (about 30 pages of 100 per worker thread at 0.5 s each), so the kill lands mid-sync even when this
# test's own polling is slowed by a busy machine; 1,500 at 0.3 s finished before the kill under load.
SIZE = 6000
LEAD = ("lead@topology.example", "topology-lead-password-1")
ADMIN = ("admin@topology.example", "topology-admin-password-1")

pytestmark = [pytest.mark.e2e, pytest.mark.slow]  # needs the built company portal (`make build`)


@dataclass(frozen=True)
class Seeded:
    tenant_slug: str
    project_id: int
    source_id: int


def seed(jira_url: str, dataset: jira_fake.JiraDataset) -> Seeded:
    """A company with a project fed by the Jira on loopback, its tech lead, and a platform admin."""
    from core.crypto import encrypt_secret
    from models.base import utcnow
    from models.db import public_session
    from models.enums import ProjectRole, UserRole
    from models.public import SourceConfig
    from services.audit import Actor
    from services.projects import ProjectCreate, create_project
    from services.tenants import TenantCreate, create_tenant
    from services.users import UserCreate, create_user, set_project_role

    system = Actor.system("topology-test")
    tenant = create_tenant(TenantCreate(name="Topology", slug=f"topo_{uuid.uuid4().hex[:6]}"), system)
    project = create_project(ProjectCreate(tenant_id=tenant.id or 0, key="ACME", name="Acme web"), system)
    lead = create_user(UserCreate(email=LEAD[0], password=LEAD[1], full_name="Lee Lead", tenant_id=tenant.id), system)
    set_project_role(lead.id or 0, project.id or 0, ProjectRole.TECH_LEAD, system)
    create_user(
        UserCreate(email=ADMIN[0], password=ADMIN[1], full_name="Ada Admin", role=UserRole.PLATFORM_ADMIN), system
    )
    with public_session() as session:
        source = SourceConfig(
            tenant_id=tenant.id or 0, project_id=project.id or 0, name="Acme Jira", source_type="jira",
            base_url=jira_url, username=dataset.api_user_email, token_encrypted=encrypt_secret(dataset.token),
            config_json={"project_key": "ACME", "deployment": "cloud", "max_workers": 2},
            historical_import_days=3650,
            # Its nightly run is done for today: beat's schedule leaves it alone, the admin starts the sync.
            sync_time="00:00", last_success_at=utcnow(),
        )  # fmt: skip
        session.add(source)
        session.commit()
        return Seeded(tenant_slug=tenant.slug, project_id=project.id or 0, source_id=source.id or 0)


# --------------------------------------------------------------------------- the processes
@dataclass
class Process:
    name: str
    proc: subprocess.Popen
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (a prefork worker's children too), as a machine going away."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)


class Deployment:
    """Starts the deployment's processes and stops every one of them (also the killed ones' leftovers)."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.processes: list[Process] = []
        self.portals: list[PortalProcess] = []
        self.began = time.monotonic()
        self.timeline: list[str] = []

    def mark(self, what: str) -> None:
        """Note a step with the seconds since the deployment started (printed, and shown with a failure)."""
        line = f"[{time.monotonic() - self.began:6.1f} s] {what}"
        self.timeline.append(line)
        print(line, flush=True)

    def start(self, name: str, argv: list[str]) -> Process:
        log = self.logs / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        process = Process(name, proc, log)
        self.processes.append(process)
        return process

    def worker(self, name: str) -> Process:
        celery = str(Path(sys.executable).with_name("celery"))
        return self.start(
            name, [celery, "-A", "worker", "worker", "--loglevel=info", "--concurrency=1", "-n", f"{name}@%h"]
        )

    def beat(self) -> Process:
        celery = str(Path(sys.executable).with_name("celery"))
        schedule = str(self.logs / "celerybeat-schedule")
        return self.start("beat", [celery, "-A", "worker", "beat", "--loglevel=info", "--schedule", schedule])

    def portal(self) -> PortalProcess:
        portal = start_portal(self.env, self.logs, workers=1)
        self.portals.append(portal)
        return portal

    def stop(self) -> None:
        """SIGTERM to every process group at once, then SIGKILL to whatever is left of each."""
        groups = [(p.proc, p.kill) for p in self.processes] + [(p.proc, p.kill) for p in self.portals]
        for _proc, kill in groups:
            kill(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc, kill in groups:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
            kill(signal.SIGKILL)  # a killed portal's or worker's children, or a process that did not stop
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)

    def report(self) -> str:
        parts = ["\n".join(self.timeline)] + [f"--- {p.name}\n{p.text()[-2500:]}" for p in self.processes]
        parts += [f"--- portal {p.port}\n{p.tail(2500)}" for p in self.portals]
        return "\n".join(parts)


async def eventually(check: Callable[[], object], timeout: float, what: str, deployment: Deployment) -> object:
    """Poll `check` (in a thread) until it returns something truthy; fail after `timeout` with the logs."""
    return await asyncio.to_thread(
        wait_until, check, timeout=timeout, interval=0.2, what=lambda: f"{what}\n{deployment.report()}"
    )


# --------------------------------------------------------------------------- what the test reads
def item_counts(slug: str) -> tuple[int, int]:
    from models.db import tenant_schema_of, tenant_session

    with tenant_session(slug) as s:
        schema = tenant_schema_of(s)
        row = s.execute(sa.text(f'SELECT count(*), count(DISTINCT source_item_id) FROM "{schema}".work_items')).one()
        return int(row[0]), int(row[1])


def sync_runs(slug: str, source_id: int) -> list:
    from models.db import tenant_session
    from models.tenant import SyncRun

    with tenant_session(slug) as s:
        return list(s.exec(select(SyncRun).where(SyncRun.source_id == source_id).order_by(SyncRun.id)).all())


def flag_row(slug: str, flag_id: int) -> tuple[str, str]:
    """The flag's status and resolution note."""
    from models.db import tenant_session
    from models.tenant import ComplianceFlag

    with tenant_session(slug) as s:
        flag = s.get(ComplianceFlag, flag_id)
        assert flag is not None
        return flag.status, flag.resolution_note or ""


def task_received_by(worker: Process, task_id: str) -> bool:
    return re.search(rf"dmt\.sync_source\[{re.escape(task_id)}\] received", worker.text()) is not None


# --------------------------------------------------------------------------- the test
def test_portal_and_worker_killed_mid_session_and_mid_sync(database_url: str, tmp_path: Path) -> None:
    names = CompanyNames.load()
    dataset = jira_fake.generate_dataset(seed=11, size=SIZE, project_key="ACME")
    controls = FaultControls(latency_seconds=0.5)
    with contextlib.ExitStack() as stack:
        stack.enter_context(pointed_database(database_url, "dmt_topology_"))
        broker = stack.enter_context(embedded_redis(tmp_path / "redis"))
        jira_url = stack.enter_context(serve(jira_fake.create_app(dataset, controls)))
        seeded = seed(jira_url, dataset)
        env = {
            **os.environ,
            "DATABASE_URL": os.environ["DATABASE_URL"],
            "REDIS_URL": broker,
            "REFLEX_REDIS_URL": broker.rsplit("/", 1)[0] + "/1",  # as docker-compose.yml: state on its own db
            "DMT_ENVIRONMENT": "test",
            "PYTHONPATH": str(ROOT),
            # The one private address a source may reach: the Jira on loopback.
            "ALLOWED_PRIVATE_HOSTS": jira_url.removeprefix("http://"),
            # A killed worker's task comes back after 6 s; its source lock lapses after 4 s.
            "DMT_VISIBILITY_TIMEOUT": "6",
            "DMT_SYNC_LOCK_TTL": "4",
        }
        build_portal(env)
        compiled = CompiledApp.read("dmt_app")
        deployment = Deployment(env, tmp_path)
        stack.callback(deployment.stop)
        workers = [deployment.worker("worker1"), deployment.worker("worker2")]
        beat = deployment.beat()
        portal_a, portal_b = deployment.portal(), deployment.portal()
        for portal in (portal_a, portal_b):
            portal.wait_ready()
        deployment.mark("portals ready")
        run_coroutine(scenario(deployment, workers, beat, portal_a, portal_b, seeded, names, compiled))


async def scenario(
    deployment: Deployment,
    workers: list[Process],
    beat: Process,
    portal_a: PortalProcess,
    portal_b: PortalProcess,
    seeded: Seeded,
    names: CompanyNames,
    compiled: CompiledApp,
) -> None:
    for worker in workers:
        await eventually(lambda w=worker: " ready." in w.text(), 120, f"{worker.name} ready", deployment)
    await eventually(lambda: "beat: Starting" in beat.text(), 60, "beat started", deployment)
    deployment.mark("workers and beat ready")

    # A tech lead signs in on portal A and opens the dashboard.
    async with httpx.AsyncClient(timeout=30) as client:
        cookie = await sign_in(client, portal_a.url, LEAD[0], LEAD[1], "/dashboard")
        tab = Tab(base_url=portal_a.url, cookie=cookie, compiled=compiled)
        try:
            await tab.connect("/dashboard", page_loaded(names, "/dashboard"))
            assert tab.var(names.auth, "user_email") == LEAD[0]
            assert tab.var(names.company, "project_id") == str(seeded.project_id)

            # Portal A goes away mid-session; the tab's reconnect lands on portal B (the load balancer's choice).
            deployment.mark("dashboard open on portal A")
            portal_a.kill(signal.SIGKILL)
            await tab.wait_gone()
            deployment.mark("portal A killed")
            tab.base_url = portal_b.url
            page = await client.get(f"{portal_b.url}/dashboard", cookies={"dmt_session": cookie})
            assert page.status_code == 200
            await tab.connect("/dashboard", page_loaded(names, "/dashboard"))
            assert tab.redirects == [], "the tab was sent away (to sign in again?)"
            assert tab.var(names.auth, "signed_in") is True
            assert tab.var(names.company, "loaded_for") == "/dashboard"
            assert tab.var(names.company, "error") == ""
            deployment.mark("dashboard open on portal B")
            seq_before = tab.var(names.auth, "live_seq") or 0
            heard = tab.watch(lambda t: (t.var(names.auth, "live_seq") or 0) > seq_before)

            # An admin starts a sync through the REST API (on the surviving portal).
            login = await client.post(f"{portal_b.url}/api/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})
            assert login.status_code == 200, login.text
            bearer = {"Authorization": f"Bearer {login.json()['tokens']['access']}"}
            queued = await client.post(
                f"{portal_b.url}/api/admin/sources/{seeded.source_id}/trigger-sync", headers=bearer
            )
            assert queued.status_code == 202, queued.text
            task_id = queued.json()["task_id"]

            # The worker running it dies after the first batch committed.
            running = await eventually(
                lambda: (
                    item_counts(seeded.tenant_slug)[0] > 0
                    and next((w for w in workers if task_received_by(w, task_id)), None)
                ),
                120,
                "the sync's first batch",
                deployment,
            )
            assert isinstance(running, Process)
            running.kill(signal.SIGKILL)
            running.proc.wait(10)
            deployment.mark(f"{running.name} killed mid-sync")
            loaded_at_kill = item_counts(seeded.tenant_slug)[0]
            assert 0 < loaded_at_kill < SIZE, "the kill must land mid-sync"
            survivor = next(w for w in workers if w is not running)

            # The other worker gets the task again and finishes it. A prefork worker sweeps the broker for
            # unacknowledged messages older than the visibility timeout about every 100 s (kombu's restore
            # interval x throttle), so the redelivery comes 6-110 s after the kill.
            await eventually(
                lambda: any(r.task_id == task_id and r.status == "succeeded" for r in sync_runs(
                    seeded.tenant_slug, seeded.source_id
                )),
                300,
                "the redelivered sync",
                deployment,
            )  # fmt: skip
            deployment.mark("sync finished on the other worker")
            assert survivor.alive()
            assert task_received_by(survivor, task_id)
            assert item_counts(seeded.tenant_slug) == (SIZE, SIZE)
            # The interrupted run is closed as such; the redelivered one (same task id) completed it.
            runs = [r for r in sync_runs(seeded.tenant_slug, seeded.source_id) if r.task_id == task_id]
            assert [r.status for r in runs] == ["failed", "succeeded"]
            assert "interrupted" in (runs[0].error or "")
            assert runs[1].items_fetched == SIZE

            # Portal B reads the live-event stream itself: the sync's events reached the tab.
            await tab.wait_watched(heard, 60)
            deployment.mark("live events heard on portal B")

            # The next page, then an event: resolve a flag the sync raised.
            await tab.navigate("/compliance/flags", page_loaded(names, "/compliance/flags"))
            rows = tab.var(names.flags, "flag_rows") or []
            assert rows, "the sync raised no flag to resolve"
            flag_id = int(rows[0]["id"])
            note = "reviewed after the failover"
            await tab.send(
                f"{names.flags}.ask_resolve", {"flag_id": flag_id, "label": "first"}, lambda t: t.var(
                    names.flags, "resolve_open"
                ) is True
            )  # fmt: skip
            await tab.send(
                f"{names.flags}.set_resolve_note", {"value": note}, lambda t: t.var(names.flags, "resolve_note") == note
            )
            await tab.send(
                f"{names.flags}.confirm_resolve",
                {},
                lambda t: t.var(names.flags, "resolve_open") is False or bool(t.var(names.flags, "resolve_error")),
            )
            assert tab.var(names.flags, "resolve_error") == ""
            assert await asyncio.to_thread(flag_row, seeded.tenant_slug, flag_id) == ("resolved", note)
            deployment.mark("next page opened and a flag resolved on portal B")
        finally:
            await tab.close()

    # Beat is alive and its schedule reaches the workers (the outbox dispatcher runs every few seconds).
    await eventually(
        lambda: any(re.search(r"dmt\.dispatch_outbox\[[^\]]+\] succeeded", w.text()) for w in workers),
        60,
        "a beat-scheduled task run by a worker",
        deployment,
    )
    deployment.mark("beat's schedule reached the workers")
