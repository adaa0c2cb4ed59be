"""`python -m bench portal-users --users N`: N browsers at once on the company portal, through its own event protocol.

Each simulated user does what a browser tab does, over the same wire protocol
(Reflex's Socket.IO event socket, spoken here directly on a WebSocket):

1. signs in with the portal's sign-in form (`POST /api/auth/session`), which sets
   the HttpOnly session cookie, and loads the page HTML (`GET /dashboard`);
2. opens the event socket with a fresh tab token; the CONNECT packet carries the
   hydrate event, as the browser's does, and the backend runs the page's on_load
   (session check, then the dashboard's data load);
3. changes project (the project switcher's `pick_project` event);
4. follows the sidebar to the flags page (a client-side navigation: the page's
   `on_load_internal` event, socket kept open);
5. resolves a flag: opens the dialog (`ask_resolve`), types the note
   (`set_resolve_note`) and confirms (`confirm_resolve`).

An event's round trip is the time from sending it until the state it changes
has arrived (the page shows the data, the dialog closed with its notice): what
the user waits for. The users run against --portals company portal processes
(`scripts/portal.sh run dmt_app`, each with --workers granian workers, sharing
Reflex's Redis state manager), user i on portal i mod --portals, as a sticky
load balancer would place them.

The data: a throw-away database (bench/_db.py) with one tenant, two projects of
`--size` generated work items each (the `bench portal` generator), the metric
read models rebuilt, and N tech leads on both projects; each user resolves an
open flag of its own. Sign-ins go --sign-in-concurrency at a time (the sign-in
throttle counts attempts per address, and every user here comes from 127.0.0.1);
then all N users start together.

The last line printed is one JSON object with the figures (milliseconds).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import websockets

ROOT = Path(__file__).resolve().parents[1]
GOAL_P95_MS = 300.0
#: Reflex's root state and the internal events every page sends.
ROOT_STATE = "reflex___state____state"
HYDRATE_EVENT = f"{ROOT_STATE}.hydrate_and_load"
ON_LOAD_EVENT = f"{ROOT_STATE}.reflex___state____on_load_internal_state.on_load_internal"
VAR_SUFFIX = "_rx_state_"
SESSION_COOKIE = "dmt_session"
#: Reflex's Socket.IO namespace (and path) for page events.
NAMESPACE = "/_event"


class PortalError(RuntimeError):
    """The portal did not answer as a browser expects (closed socket, refused sign-in, a wait ran out)."""


# --------------------------------------------------------------------------- the compiled page constants
@dataclass(frozen=True)
class CompiledApp:
    """What the built frontend sends with its hydrate event: the state schema and the initial-state hashes."""

    state_schema: str | None = None
    initial_hashes: list[str] | None = None

    @classmethod
    def read(cls, app: str = "dmt_app") -> CompiledApp:
        """Read them from the portal's build (`.web-<app>/utils/context.jsx`); empty when there is no build."""
        context = ROOT / f".web-{app}" / "utils" / "context.jsx"
        if not context.exists():
            return cls()
        text = context.read_text()
        schema = re.search(r'export const stateSchema = "([0-9a-f]+)"', text)
        hashes = re.search(r"export const initialStateHashes = (\[[^\]]*\])", text)
        return cls(
            state_schema=schema.group(1) if schema else None,
            initial_hashes=json.loads(hashes.group(1)) if hashes else None,
        )


@dataclass(frozen=True)
class CompanyNames:
    """Full names of the company portal's states, read from the state classes themselves."""

    auth: str
    company: str
    dashboard: str
    flags: str

    @classmethod
    def load(cls) -> CompanyNames:
        from dmt_app.state.base import CompanyState
        from dmt_app.state.compliance import FlagsState
        from dmt_app.state.dashboards import DashboardState
        from portal_common.state import AuthState

        return cls(
            auth=AuthState.get_full_name(),
            company=CompanyState.get_full_name(),
            dashboard=DashboardState.get_full_name(),
            flags=FlagsState.get_full_name(),
        )


# --------------------------------------------------------------------------- a browser tab
def router_data(path_and_query: str) -> dict[str, Any]:
    """The router data a browser sends with an event on `path_and_query` (`/compliance/flags?x=1`)."""
    parts = urlsplit(path_and_query)
    data: dict[str, Any] = {"pathname": parts.path, "asPath": path_and_query}
    query = dict(pair.split("=", 1) if "=" in pair else (pair, "") for pair in parts.query.split("&") if pair)
    if query:
        data["query"] = query
    return data


async def sign_in(client: httpx.AsyncClient, base_url: str, email: str, password: str, next_path: str = "/") -> str:
    """The sign-in form's POST; returns the session cookie's value (raises PortalError when refused)."""
    response = await client.post(
        f"{base_url}/api/auth/session",
        data={"email": email, "password": password, "next": next_path},
        follow_redirects=False,
    )
    secret = response.cookies.get(SESSION_COOKIE)
    if response.status_code != 303 or not secret:
        location = response.headers.get("location", "")
        raise PortalError(f"sign-in of {email} refused ({response.status_code}, {location})")
    return secret


@dataclass
class Tab:
    """One browser tab of a portal: its token, its session cookie, the state it was sent, its event socket.

    `state` holds what the backend sent, per state name, with Reflex's var
    suffix removed (`state[names.company]["loaded_for"]`). `connect`,
    `navigate` and `send` return the event's round trip in milliseconds: until
    `until(tab)` holds after one of the state updates that arrive once the
    event was sent (checked after every update, in order, so a condition may
    follow a sequence such as "loading, then loaded").
    """

    base_url: str
    cookie: str
    compiled: CompiledApp = field(default_factory=CompiledApp)
    token: str = field(default_factory=lambda: str(uuid.uuid4()))
    path: str = "/"
    state: dict[str, dict[str, Any]] = field(default_factory=dict)
    redirects: list[str] = field(default_factory=list)
    new_tokens: list[str] = field(default_factory=list)
    refusal: str = ""
    _ws: Any = None
    _reader: asyncio.Task | None = None
    _watchers: list[tuple[Callable[[Tab], bool], asyncio.Future]] = field(default_factory=list)
    _gone: asyncio.Event = field(default_factory=asyncio.Event)

    def var(self, state_name: str, name: str, default: Any = None) -> Any:
        return self.state.get(state_name, {}).get(name, default)

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._gone.is_set()

    async def connect(self, path: str, until: Callable[[Tab], bool], timeout: float = 60) -> float:
        """Open the event socket on page `path` (the hydrate event rides in the CONNECT packet, as a browser's)."""
        self.path = path
        self._gone = asyncio.Event()
        host = urlsplit(self.base_url).netloc
        query = urlencode({"EIO": "4", "transport": "websocket", "token": self.token})
        payload: dict[str, Any] = {}
        if self.compiled.initial_hashes is not None and not self.state:
            payload["hashes"] = self.compiled.initial_hashes  # first load: the page holds the compiled defaults
        boot = {"name": HYDRATE_EVENT, "payload": payload, "router_data": router_data(path)}
        auth: dict[str, Any] = {"event": boot}
        if self.compiled.state_schema:
            auth["state_schema"] = self.compiled.state_schema
        started = time.perf_counter()
        self._ws = await websockets.connect(
            f"ws://{host}{NAMESPACE}/?{query}",
            additional_headers={"Cookie": f"{SESSION_COOKIE}={self.cookie}", "Origin": self.base_url},
            max_size=None,
            open_timeout=timeout,
            ping_interval=None,
        )
        opening = await asyncio.wait_for(self._ws.recv(), timeout)
        if not str(opening).startswith("0"):
            raise PortalError(f"unexpected Engine.IO opening {str(opening)[:80]!r}")
        done = self.watch(until)
        await self._ws.send(f"40{NAMESPACE}," + json.dumps(auth))
        self._reader = asyncio.create_task(self._read())
        await self._wait(done, timeout)
        return (time.perf_counter() - started) * 1000

    async def navigate(self, path: str, until: Callable[[Tab], bool], timeout: float = 60) -> float:
        """Follow a link inside the app: the socket stays open and the new page's on_load runs."""
        self.path = path
        return await self.send(ON_LOAD_EVENT, {}, until, timeout)

    async def send(
        self, name: str, payload: dict[str, Any], until: Callable[[Tab], bool], timeout: float = 60
    ) -> float:
        """Send one event (full handler name) and wait until the state shows its effect."""
        if not self.connected:
            raise PortalError("the event socket is closed")
        done = self.watch(until)
        started = time.perf_counter()
        await self._emit(name, payload)
        await self._wait(done, timeout)
        return (time.perf_counter() - started) * 1000

    def watch(self, until: Callable[[Tab], bool]) -> asyncio.Future:
        """A future that completes at the first state update after which `until(tab)` holds."""
        done = asyncio.get_running_loop().create_future()
        self._watchers.append((until, done))
        return done

    async def wait_for(self, until: Callable[[Tab], bool], timeout: float = 60) -> None:
        """Wait, without sending anything, until the state the backend pushes satisfies `until`."""
        done = self.watch(until)
        self._check()
        await self._wait(done, timeout)

    async def wait_watched(self, done: asyncio.Future, timeout: float = 60) -> None:
        """Wait for a future from `watch` (the condition may have held long ago)."""
        await self._wait(done, timeout)

    async def close(self) -> None:
        """Leave the page (namespace disconnect, then close the WebSocket)."""
        if self._ws is not None and not self._gone.is_set():
            with contextlib.suppress(Exception):
                await self._ws.send(f"41{NAMESPACE},")
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
            self._reader = None
        self._gone.set()
        self._ws = None

    async def wait_gone(self, timeout: float = 30) -> None:
        """Wait until the connection has ended from the other side (e.g. its portal was killed)."""
        try:
            await asyncio.wait_for(self._gone.wait(), timeout)
        except TimeoutError:
            raise PortalError(f"the event socket stayed open for {timeout:.0f} s") from None

    async def _wait(self, done: asyncio.Future, timeout: float) -> None:
        try:
            await asyncio.wait_for(asyncio.shield(done), timeout)
        except TimeoutError:
            raise PortalError(f"no answer on {self.path} within {timeout:.0f} s") from None
        finally:
            if not done.done():
                done.cancel()

    def _check(self) -> None:
        pending = []
        for until, done in self._watchers:
            if done.done():
                continue
            if until(self):
                done.set_result(None)
            else:
                pending.append((until, done))
        self._watchers = pending

    async def _emit(self, name: str, payload: dict[str, Any]) -> None:
        event = {"name": name, "payload": payload, "router_data": router_data(self.path)}
        await self._ws.send(f"42{NAMESPACE}," + json.dumps(["event", event]))

    async def _read(self) -> None:
        prefix = len(NAMESPACE) + 3  # "42/_event,"
        try:
            async for message in self._ws:
                text = message if isinstance(message, str) else message.decode()
                if text == "2":  # Engine.IO ping
                    await self._ws.send("3")
                elif text.startswith(f"42{NAMESPACE},"):
                    name, *args = json.loads(text[prefix:])
                    await self._on_event(name, args[0] if args else None)
                elif text.startswith(f"44{NAMESPACE},"):
                    self.refusal = text[prefix:][:300]
                    break
                elif text.startswith(f"41{NAMESPACE}") or text == "1":
                    break
        except (websockets.ConnectionClosed, OSError):
            pass
        finally:
            self._gone.set()
            reason = f" (refused: {self.refusal})" if self.refusal else ""
            for _until, done in self._watchers:
                if not done.done():
                    done.set_exception(PortalError(f"the event socket closed on {self.path}{reason}"))
            self._watchers = []

    async def _on_event(self, name: str, data: Any) -> None:
        if name == "new_token" and isinstance(data, str):
            self.token = data  # Reflex gave this tab a new token (its old one is linked to another socket)
            self.new_tokens.append(data)
        elif name == "event" and isinstance(data, dict):
            for state_name, values in (data.get("delta") or {}).items():
                target = self.state.setdefault(state_name, {})
                for key, value in values.items():
                    target[key.removesuffix(VAR_SUFFIX)] = value
            for event in data.get("events") or []:
                event_name = str(event.get("name", ""))
                if event_name.startswith(ROOT_STATE + "."):  # a backend event the frontend sends back
                    await self._emit(event_name, event.get("payload") or {})
                elif event_name == "_redirect":
                    self.redirects.append(str((event.get("payload") or {}).get("path", "")))
            self._check()


# --------------------------------------------------------------------------- conditions on the company pages
def page_loaded(names: CompanyNames, path: str) -> Callable[[Tab], bool]:
    """A load of the company page at `path` ran and finished (`loading` went up, then down on `loaded_for`)."""
    seen = {"loading": False}

    def check(tab: Tab) -> bool:
        if tab.var(names.company, "loading") is True:
            seen["loading"] = True
            return False
        return seen["loading"] and tab.var(names.company, "loaded_for") == path

    return check


def project_shown(names: CompanyNames, project_id: int) -> Callable[[Tab], bool]:
    """The page reloaded its data for project `project_id`."""
    loaded = page_loaded_any(names)
    return lambda tab: loaded(tab) and tab.var(names.company, "project_id") == str(project_id)


def page_loaded_any(names: CompanyNames) -> Callable[[Tab], bool]:
    """A load of whatever page the tab shows ran and finished."""
    seen = {"loading": False}

    def check(tab: Tab) -> bool:
        if tab.var(names.company, "loading") is True:
            seen["loading"] = True
            return False
        return seen["loading"]

    return check


# --------------------------------------------------------------------------- the portal processes
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own loopback URL
            return response.status
    except Exception:  # noqa: BLE001 - not up yet
        return 0


@dataclass
class PortalProcess:
    """A company portal started with `scripts/portal.sh run dmt_app <port>` (its own process group)."""

    port: int
    proc: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    def wait_ready(self, timeout: float = 600) -> None:
        """Until the page, the API and the event endpoint answer (a stale build is rebuilt first: slow)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise PortalError(f"portal on {self.port} exited with {self.proc.returncode}:\n{self.tail()}")
            if http_status(f"{self.url}/ping") == 200 and http_status(f"{self.url}/api/health") == 200:
                return
            if time.monotonic() > deadline:
                raise PortalError(f"portal on {self.port} not ready after {timeout:.0f} s:\n{self.tail()}")
            time.sleep(0.5)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (the portal and its granian workers), as a machine going away."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.kill(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
                self.proc.wait(10)
        else:
            self.kill(signal.SIGKILL)  # granian workers left behind by a killed parent

    def cpu_seconds(self) -> float:
        """CPU time used so far by the portal's process group (its granian workers included)."""
        import psutil

        total = 0.0
        for proc in psutil.process_iter(["pid"]):
            with contextlib.suppress(psutil.Error, ProcessLookupError):
                if os.getpgid(proc.pid) == self.proc.pid:
                    times = proc.cpu_times()
                    total += times.user + times.system
        return total

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def start_portal(env: dict[str, str], log_dir: Path, workers: int = 1, port: int | None = None) -> PortalProcess:
    """Start one company portal on a free port with `workers` granian workers, state in Reflex's Redis manager."""
    port = port or free_port()
    log = log_dir / f"company-portal-{port}.log"
    environment = {**env, "PORTAL_WORKERS": str(workers)}
    environment.setdefault("REFLEX_REDIS_URL", environment["REDIS_URL"])
    with log.open("ab") as out:
        proc = subprocess.Popen(
            ["bash", str(ROOT / "scripts" / "portal.sh"), "run", "dmt_app", str(port)],
            cwd=ROOT,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return PortalProcess(port=port, proc=proc, log=log)


def build_portal(env: dict[str, str], app: str = "dmt_app") -> None:
    """`scripts/portal.sh build` once, before portals start side by side (each would otherwise rebuild a stale build)."""
    subprocess.run(["bash", str(ROOT / "scripts" / "portal.sh"), "build", app], cwd=ROOT, env=env, check=True)


@contextlib.contextmanager
def portals(env: dict[str, str], log_dir: Path, count: int, workers: int) -> Iterator[list[PortalProcess]]:
    """`count` company portals on free ports, ready; all stopped on exit."""
    build_portal(env)
    started: list[PortalProcess] = []
    try:
        for _ in range(count):
            started.append(start_portal(env, log_dir, workers))
        for portal in started:
            portal.wait_ready()
        yield started
    finally:
        for portal in started:
            portal.stop()


# --------------------------------------------------------------------------- the data
@dataclass(frozen=True)
class BenchUser:
    email: str
    flag_id: int


@dataclass(frozen=True)
class Seeded:
    tenant_slug: str
    first_project: int
    second_project: int
    password: str
    users: list[BenchUser]


def seed(users: int, size: int) -> Seeded:
    """One tenant, two generated projects, `users` tech leads on both, and one open flag per user to resolve."""
    import sqlalchemy as sa

    from bench.portal import _generate
    from etl.metrics import rebuild_metrics
    from models.db import get_engine, tenant_schema_of, tenant_session
    from models.enums import ProjectRole
    from services.audit import Actor
    from services.projects import ProjectCreate, create_project
    from services.tenants import TenantCreate, create_tenant
    from services.users import UserCreate, create_user, set_project_role

    system = Actor.system("bench")
    tenant = create_tenant(TenantCreate(name="Bench users", slug=f"bench_{uuid.uuid4().hex[:6]}"), system)
    projects = [
        create_project(ProjectCreate(tenant_id=tenant.id or 0, key=key, name=name), system)
        for key, name in (("SHOP", "Web shop"), ("APP", "Mobile app"))
    ]
    password = "bench-users-password-1"
    emails = [f"lead{i}@bench.example" for i in range(users)]
    for email in emails:
        user = create_user(UserCreate(email=email, password=password, full_name=email, tenant_id=tenant.id), system)
        for project in projects:
            set_project_role(user.id or 0, project.id or 0, ProjectRole.TECH_LEAD, system)
    with tenant_session(tenant.slug) as session:
        schema = tenant_schema_of(session)
        hidden: list[int] = []
        for n, project in enumerate(projects):
            _generate(session.connection(), schema, size, project.id or 0, emails[0])
            # The generator numbers its items and PRs from 1 under sources 1 and 2, and flags every
            # non-compliant item of the schema: give each project its own sources, and hide the items
            # flagged already from the next project's run.
            for table in ("work_items", "pull_requests"):
                session.execute(
                    sa.text(f'UPDATE "{schema}".{table} SET source_id = source_id + :shift WHERE project_id = :pid'),
                    {"shift": 10 * (n + 1), "pid": project.id},
                )
            hidden += session.execute(
                sa.text(
                    f'UPDATE "{schema}".work_items SET dmt_compliant = NULL WHERE dmt_compliant = false RETURNING id'
                )
            ).scalars()
        session.execute(
            sa.text(f'UPDATE "{schema}".work_items SET dmt_compliant = false WHERE id = ANY(:ids)'), {"ids": hidden}
        )
        session.commit()
    with get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("work_items", "pull_requests", "compliance_flags", "sprints", "ai_predictions"):
            conn.execute(sa.text(f'VACUUM ANALYZE "{schema}".{table}'))
    rebuild_metrics(tenant.slug)
    second = projects[1].id or 0
    with tenant_session(tenant.slug) as session:
        flag_ids = list(
            session.execute(
                sa.text(
                    f"SELECT id FROM \"{schema}\".compliance_flags WHERE project_id = :pid AND status = 'open' "
                    "ORDER BY id LIMIT :n"
                ),
                {"pid": second, "n": users},
            ).scalars()
        )
    if len(flag_ids) < users:
        raise SystemExit(f"--size {size} gives {len(flag_ids)} open flags for {users} users: raise --size")
    return Seeded(
        tenant_slug=tenant.slug,
        first_project=projects[0].id or 0,
        second_project=second,
        password=password,
        users=[BenchUser(email=e, flag_id=f) for e, f in zip(emails, flag_ids, strict=True)],
    )


# --------------------------------------------------------------------------- one user's visit
STEPS = ("open_dashboard", "change_project", "open_flags", "open_resolve_dialog", "type_note", "resolve_flag")


@dataclass
class Visit:
    """The timings of one user's visit (milliseconds per step), or the error that ended it."""

    sign_in_ms: float = 0.0
    page_html_ms: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)
    error: str = ""


@dataclass(frozen=True)
class Pacing:
    """When a user starts (spread over `ramp_s`) and how long they look before the next step (`think_s`, mean)."""

    ramp_s: float = 0.0
    think_s: float = 0.0

    def start_delay(self, rng: random.Random) -> float:
        return rng.uniform(0, self.ramp_s)

    def think(self, rng: random.Random) -> float:
        return rng.uniform(0.5, 1.5) * self.think_s


async def visit(
    tab: Tab,
    names: CompanyNames,
    seeded: Seeded,
    user: BenchUser,
    start: asyncio.Event,
    result: Visit,
    pacing: Pacing = Pacing(),
) -> None:
    """The scripted visit, started when `start` is set; each step waits for what the user would see.

    Between steps the user reads the page for a while (`pacing.think`): simulated
    user time, not part of any round trip.
    """
    rng = random.Random(user.email)
    await start.wait()
    await asyncio.sleep(pacing.start_delay(rng))
    note = f"checked by {user.email}"
    steps: list[tuple[str, Callable[[], Awaitable[float]]]] = [
        ("open_dashboard", lambda: tab.connect("/dashboard", page_loaded(names, "/dashboard"))),
        (
            "change_project",
            lambda: tab.send(
                f"{names.dashboard}.pick_project",
                {"value": str(seeded.second_project)},
                project_shown(names, seeded.second_project),
            ),
        ),
        ("open_flags", lambda: tab.navigate("/compliance/flags", page_loaded(names, "/compliance/flags"))),
        (
            "open_resolve_dialog",
            lambda: tab.send(
                f"{names.flags}.ask_resolve",
                {"flag_id": user.flag_id, "label": f"flag {user.flag_id}"},
                lambda t: (
                    t.var(names.flags, "resolve_open") is True and t.var(names.flags, "resolve_flag_id") == user.flag_id
                ),
            ),
        ),
        (
            "type_note",
            lambda: tab.send(
                f"{names.flags}.set_resolve_note", {"value": note}, lambda t: t.var(names.flags, "resolve_note") == note
            ),
        ),
        (
            "resolve_flag",
            lambda: tab.send(
                f"{names.flags}.confirm_resolve",
                {},
                lambda t: (
                    (t.var(names.flags, "resolve_open") is False and bool(t.var(names.flags, "notice")))
                    or bool(t.var(names.flags, "resolve_error"))
                ),
            ),
        ),
    ]
    try:
        for n, (step, run) in enumerate(steps):
            if n:
                await asyncio.sleep(pacing.think(rng))
            result.steps[step] = await run()
        if tab.var(names.flags, "resolve_error"):
            result.error = f"resolve refused: {tab.var(names.flags, 'resolve_error')}"
        if tab.redirects:
            result.error = f"sent to {tab.redirects[-1]}"
    except (TimeoutError, PortalError, OSError, websockets.WebSocketException) as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        await tab.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "p50": round(percentile(values, 0.5), 1),
        "p95": round(percentile(values, 0.95), 1),
        "p99": round(percentile(values, 0.99), 1),
        "max": round(max(values), 1),
        "mean": round(statistics.fmean(values), 1),
    }


async def run_users(
    urls: list[str],
    users: list[BenchUser],
    seeded: Seeded,
    names: CompanyNames,
    compiled: CompiledApp,
    sign_in_concurrency: int,
    pacing: Pacing = Pacing(),
    before_start: Callable[[], object] | None = None,
) -> tuple[list[Visit], float]:
    """Sign `users` in (a few at a time), then start all their visits together; returns them and the wall time.

    `before_start` is called once everyone is signed in, just before the visits start.
    """
    visits = [Visit() for _ in users]
    limits = httpx.Limits(max_connections=sign_in_concurrency * 2)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        gate = asyncio.Semaphore(sign_in_concurrency)

        async def prepare(i: int, user: BenchUser) -> Tab | None:
            base = urls[i % len(urls)]
            async with gate:
                try:
                    started = time.perf_counter()
                    cookie = await sign_in(client, base, user.email, seeded.password, "/dashboard")
                    visits[i].sign_in_ms = (time.perf_counter() - started) * 1000
                    started = time.perf_counter()
                    page = await client.get(f"{base}/dashboard", cookies={SESSION_COOKIE: cookie})
                    visits[i].page_html_ms = (time.perf_counter() - started) * 1000
                    if page.status_code != 200:
                        raise PortalError(f"GET /dashboard answered {page.status_code}")
                except (PortalError, httpx.HTTPError) as exc:
                    visits[i].error = f"sign-in: {type(exc).__name__}: {exc}"
                    return None
            return Tab(base_url=base, cookie=cookie, compiled=compiled)

        tabs = await asyncio.gather(*(prepare(i, u) for i, u in enumerate(users)))
    start = asyncio.Event()
    tasks = [
        asyncio.create_task(visit(tab, names, seeded, user, start, result, pacing))
        for tab, user, result in zip(tabs, users, visits, strict=True)
        if tab is not None
    ]
    await asyncio.sleep(0)  # every visit is waiting on the start signal
    if before_start is not None:
        before_start()
    started = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    return visits, time.perf_counter() - started


async def warm_up_then_measure(
    urls: list[str],
    seeded: Seeded,
    names: CompanyNames,
    compiled: CompiledApp,
    sign_in_concurrency: int,
    pacing: Pacing,
    before_start: Callable[[], object] | None = None,
) -> tuple[list[Visit], float]:
    """One unmeasured visit per portal (a fresh process loads its code and pools on first use), then all users."""
    warm, measured = seeded.users[: len(urls)], seeded.users[len(urls) :]
    visits, _ = await run_users(urls, warm, seeded, names, compiled, 1)
    failed = [v.error for v in visits if v.error]
    if failed:
        raise PortalError(f"the warm-up visit failed: {failed[0]}")
    return await run_users(urls, measured, seeded, names, compiled, sign_in_concurrency, pacing, before_start)


def resolved_flags(seeded: Seeded, users: list[BenchUser]) -> int:
    """How many of `users`' flags are resolved in the database."""
    import sqlalchemy as sa

    from models.db import tenant_schema_of, tenant_session

    ids = [u.flag_id for u in users]
    with tenant_session(seeded.tenant_slug) as session:
        schema = tenant_schema_of(session)
        return int(
            session.execute(
                sa.text(
                    f"SELECT count(*) FROM \"{schema}\".compliance_flags WHERE status = 'resolved' AND id = ANY(:ids)"
                ),
                {"ids": ids},
            ).scalar_one()
        )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench portal-users")
    parser.add_argument("--users", type=int, default=20, help="simultaneous users (browser tabs)")
    parser.add_argument("--size", type=int, default=3000, help="generated work items per project")
    parser.add_argument("--portals", type=int, default=2, help="company portal processes")
    parser.add_argument("--workers", type=int, default=1, help="granian workers per portal process")
    parser.add_argument("--sign-in-concurrency", type=int, default=8, help="sign-ins in flight at once")
    parser.add_argument("--ramp-s", type=float, default=5.0, help="users start spread over this many seconds")
    parser.add_argument("--think-s", type=float, default=2.0, help="mean pause between a user's steps (0: none)")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args(argv)

    from bench._db import bench_database

    result: dict[str, Any] = {
        "benchmark": "portal-users",
        "users": args.users,
        "size": args.size,
        "portals": args.portals,
        "workers_per_portal": args.workers,
        "ramp_s": args.ramp_s,
        "think_s": args.think_s,
        "goal_p95_ms": GOAL_P95_MS,
    }
    names = CompanyNames.load()
    with bench_database(keep=args.keep), tempfile.TemporaryDirectory(prefix="bench-portal-users-") as tmp:
        started = time.perf_counter()
        seeded = seed(args.users + args.portals, args.size)  # one more user per portal for the warm-up
        result["seed_s"] = round(time.perf_counter() - started, 1)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DMT_ENVIRONMENT": os.environ.get("DMT_ENVIRONMENT", "test"),
            "REFLEX_REDIS_URL": os.environ.get("REFLEX_REDIS_URL") or os.environ["REDIS_URL"],
        }
        print(f"starting {args.portals} company portal(s) with {args.workers} worker(s) each ...", file=sys.stderr)
        with portals(env, Path(tmp), args.portals, args.workers) as running:
            compiled = CompiledApp.read("dmt_app")  # after the build the portals serve
            cpu: dict[str, float] = {}
            visits, wall = asyncio.run(
                warm_up_then_measure(
                    [p.url for p in running],
                    seeded,
                    names,
                    compiled,
                    args.sign_in_concurrency,
                    Pacing(ramp_s=args.ramp_s, think_s=args.think_s),
                    lambda: cpu.setdefault("before", sum(p.cpu_seconds() for p in running)),
                )
            )
            portal_cpu_s = sum(p.cpu_seconds() for p in running) - cpu.get("before", 0.0)  # the visits only
            logs = {p.port: p.tail(1500) for p in running}
        result["resolved_flags"] = resolved_flags(seeded, seeded.users[args.portals :])
    errors = [v.error for v in visits if v.error]
    events = [ms for v in visits for ms in v.steps.values()]
    result["wall_s"] = round(wall, 1)
    result["errors"] = len(errors)
    result["first_errors"] = errors[:5]
    result["sign_in_ms"] = summary([v.sign_in_ms for v in visits if v.sign_in_ms])
    result["page_html_ms"] = summary([v.page_html_ms for v in visits if v.page_html_ms])
    result["event_round_trip_ms"] = summary(events)
    result["events_per_s"] = round(len(events) / wall, 1) if wall else 0.0
    result["portal_cpu_s"] = round(portal_cpu_s, 1)
    result["portal_cpu_ms_per_event"] = round(portal_cpu_s * 1000 / len(events), 1) if events else 0.0
    result["per_step_ms"] = {step: summary([v.steps[step] for v in visits if step in v.steps]) for step in STEPS}
    result["goal_met"] = not errors and bool(events) and result["event_round_trip_ms"]["p95"] <= GOAL_P95_MS
    for step, figures in result["per_step_ms"].items():
        print(
            f"  {step:<22} p50 {figures.get('p50', '-'):>8} ms   p95 {figures.get('p95', '-'):>8} ms", file=sys.stderr
        )
    if errors:
        print("portal log tails:\n" + "\n".join(f"--- {port}\n{tail}" for port, tail in logs.items()), file=sys.stderr)
    print(json.dumps(result))
    return 0 if not errors else 1
