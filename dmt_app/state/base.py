"""CompanyState: what every company page shares (project switcher, bell count, loading and errors).

Page states subclass it and keep their own handlers thin: each `load`,
`pick_project` and `on_live` handler calls `_refresh`, which re-checks the
session, picks the project, runs the page's `_compute` (a blocking service
call) in a thread and hands the result to `_apply`. No SQL here: the states
only call services.

A page whose `_compute` depends on the user only through their view of the
project (`services.dashboards.view_of`: role, and the user where names are
anonymised) sets `SHARED_DATA = True`: its data then comes from the portal's
page cache (`core.read_cache.cached_page_data`), shared by every tab with the
same view of the project until the tenant's data changes. The session and the
user's role on the project are checked for every event before the lookup.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, ClassVar, TypedDict, TypeVar
from urllib.parse import parse_qs, unquote

import reflex as rx

from core.errors import ServiceError
from core.read_cache import cached_page_data
from portal_common import AuthState
from services import dashboards as dash
from services import notifications
from services.auth import CurrentUser

T = TypeVar("T")

#: Live events after which the company pages re-read their data.
DATA_EVENTS = {
    "sync.finished",
    "compliance.evaluated",
    "compliance.flag_resolved",
    "metrics.rebuilt",
    "insight.created",
    "exception.requested",
    "exception.rejected",
    "exception.expired",
}


class ProjectOpt(TypedDict):
    id: str
    label: str
    role: str


def _unread(user: CurrentUser) -> int:
    return notifications.unread_count(user.id, user.tenant_id or 0)


class CompanyState(AuthState):
    """Shared by all company pages: the chosen project survives page changes."""

    projects: list[ProjectOpt] = []
    project_id: str = ""
    project_role: str = ""
    loading: bool = False
    loaded: bool = False
    #: The path whose data the page shows (set when a load finishes): a new tab first shows the state it
    #: restored, so the page body names the URL its figures belong to (`data-loaded-for`).
    loaded_for: str = ""
    error: str = ""
    unread: int = 0

    #: The page's data depends on the user only through `dash.view_of`: served from the shared page cache.
    SHARED_DATA: ClassVar[bool] = False

    @staticmethod
    async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking service function off the event loop."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    @property
    def pid(self) -> int:
        try:
            return int(self.project_id)
        except ValueError:
            return 0

    def route_param(self, name: str) -> str:
        """A parameter of the page's route (`/developers/[developer_id]`), as text ("" when absent)."""
        value = self.router.page.params.get(name, "")
        return str(value[0] if isinstance(value, list) and value else value or "")

    def _compute(self, user: CurrentUser, project_id: int, inputs: dict[str, Any]) -> Any:
        """The page's data (runs in a thread: use only the arguments, never the state)."""
        return None

    def _apply(self, data: Any) -> None:
        """Store the page's data in its vars."""

    def _inputs(self) -> dict[str, Any]:
        """Values the page's `_compute` needs from its vars, copied before the thread starts."""
        return {}

    def _page_data(self, user: CurrentUser, project_id: int, inputs: dict[str, Any]) -> Any:
        """`_compute`'s answer, from the shared page cache when the page declares it shared (runs in a thread)."""
        if not self.SHARED_DATA:
            return self._compute(user, project_id, inputs)
        scope = (self.get_full_name(), project_id, *dash.view_of(user, project_id), *sorted(inputs.items()))
        return cached_page_data(user.tenant_slug or "", scope, lambda: self._compute(user, project_id, inputs))

    async def _refresh(self, project: str | None = None) -> None:
        user = await self.require_user()
        self.error = ""
        if project is not None:
            self.project_id = project
        try:
            options = await self.call(dash.user_projects, user)
            self.projects = [ProjectOpt(id=str(p.id), label=f"{p.name} ({p.key})", role=p.role) for p in options]
            ids = [p["id"] for p in self.projects]
            query = (parse_qs(self.router.url.query or "").get("project") or [""])[0]
            if project is None and query in ids:
                self.project_id = query  # a link to a given project (?project=ID)
            elif self.project_id not in ids:
                # The oldest project is usually the team's main one.
                self.project_id = min(ids, key=int) if ids else ""
            self.project_role = next((p["role"] for p in self.projects if p["id"] == self.project_id), "")
            self.unread = await self.call(_unread, user)
            if not self.project_id:
                self.error = "You have no project yet: ask your company admin to give you a role on a project."
                return
            data = await self.call(self._page_data, user, self.pid, self._inputs())
            self._apply(data)
            self.loaded = True
            self.loaded_for = unquote(self.router.url.path)
        except ServiceError as exc:
            self.error = exc.message
        except Exception as exc:  # noqa: BLE001 - show the words, keep the page alive
            self.error = f"This page could not load its data ({type(exc).__name__}): try again in a moment."
        finally:
            self.loading = False

    @staticmethod
    def relevant(
        events: list[dict[str, Any]], user_id: int | None = None, project_id: int | None = None
    ) -> tuple[bool, bool]:
        """(data of the page's project changed, a notification for this user arrived).

        An event naming a project (`project_id`, e.g. a resolved flag) changes only that project's pages.
        """
        data = any(
            e.get("type") in DATA_EVENTS and (project_id is None or e.get("project_id") in (None, project_id))
            for e in events
        )
        bell = any(
            e.get("type") == "notification.created" and (user_id is None or e.get("user_id") == user_id) for e in events
        )
        return data, bell

    async def _live(self, events: list[dict[str, Any]]) -> None:
        """Refresh when data of the page's project changed; only the bell when a notification arrived."""
        user = self._user
        data, bell = self.relevant(events, user.id if user else None, self.pid or None)
        if data:
            await self._refresh()
        elif bell and user is not None:
            self.unread = await self.call(_unread, user)


def rule_totals(by_rule: list[Any]) -> list[dict[str, Any]]:
    """Flags per rule for charts (`rule`: its name in words): open and resolved summed over severities, most open first."""
    totals: dict[str, dict[str, Any]] = {}
    for r in by_rule:
        row = totals.setdefault(r.rule_id, {"rule_id": r.rule_id, "rule": r.title or r.rule_id, "open": 0, "resolved": 0})
        row["open"] += r.open
        row["resolved"] += r.resolved
    return sorted(totals.values(), key=lambda r: (-r["open"], r["rule_id"]))


def fmt_num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.{digits}f}"


class ProjectPageEvents(rx.State, mixin=True):
    """The events of every company page: load, switch project, live refresh.

    A Reflex mixin: each page state lists it first and gets its own copies of
    these handlers, which call that state's hooks and `_refresh` / `_live`
    (CompanyState). Pages customise them through the hooks, never by writing
    their own `load` or `pick_project`:

    - `_page_opened()`: read the URL (route parameters, filters) before loading;
    - `_project_picked()`: forget selections that belonged to the previous project;
    - `_live(events)`: what live events change on the page.
    """

    def _page_opened(self) -> None:
        """Called on every page load, before the data is read."""

    def _project_picked(self) -> None:
        """Called when the user switches project, before the data is read."""

    @rx.event
    async def load(self):
        self.loading = True
        self.loaded = False  # no figures of the page seen before under this page's URL
        self._page_opened()
        yield
        await self._refresh()

    @rx.event
    async def pick_project(self, value: str):
        self.loading = True
        self._project_picked()
        yield
        await self._refresh(value)

    @rx.event
    async def on_live(self, events: list[dict[str, Any]]):
        await self._live(events)
