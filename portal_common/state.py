"""AuthState: the signed-in user of a portal, checked on the server for every page and data event.

Page states subclass AuthState and start every data handler with

    user = await self.require_user()

which re-reads the HttpOnly session cookie and checks it in the database (so a
sign-out or deactivation takes effect at once); without a valid session it
raises NotSignedIn and the app sends the browser to /login.
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import quote

import reflex as rx

from core.redirects import safe_next_path
from portal_common import live
from portal_common.registry import MOVED, PAGES, moved_target
from portal_common.session import NotSignedIn, resolve_user
from services.auth import PORTAL_ADMIN, CurrentUser

#: Client tokens with a running live loop in this process.
_LIVE_TOKENS: set[str] = set()
LIVE_IDLE_CHECK_SECONDS = 15.0

_portal: dict[str, Any] = {"name": "company", "app": None}


def configure(portal: str, app: rx.App | None = None) -> None:
    """Set which portal this process serves ("company" or "admin"); called by create_portal_app."""
    _portal["name"] = portal
    if app is not None:
        _portal["app"] = app


def current_portal() -> str:
    return _portal["name"]


def login_url(next_path: str = "/", error: str = "") -> str:
    """The sign-in page, coming back to `next_path` afterwards (a same-site path only)."""
    query = {"error": error} if error else {}
    target = safe_next_path(next_path)
    if target != "/":
        query["next"] = target
    return "/login" + ("?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items()) if query else "")


def events_for(user: CurrentUser, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events a user may see: their own tenant's (platform admins: every tenant's)."""
    if user.portal == PORTAL_ADMIN:
        return list(batch)
    if not user.tenant_slug:
        return []
    return [e for e in batch if e.get("tenant") == user.tenant_slug]


async def _still_connected(token: str) -> bool:
    app = _portal["app"]
    try:
        return bool(await app.event_namespace._token_manager.is_token_connected(token))
    except Exception:  # noqa: BLE001 - private API of Reflex: if it moves, keep the loop alive
        return True


class AuthState(rx.State):
    """Who is signed in (display vars only; identity stays in backend-only vars)."""

    user_name: str = ""
    user_email: str = ""
    tenant_name: str = ""
    signed_in: bool = False
    #: Bumped on every batch of live events for this user's tenant (admins: all tenants).
    live_seq: int = 0
    live_last_type: str = ""

    _user: CurrentUser | None = None
    _route: str = ""

    async def require_user(self) -> CurrentUser:
        """The signed-in user, re-checked against the database; raises NotSignedIn."""
        user = await resolve_user(self.router.headers.cookie, current_portal())
        if user is None:
            self._user = None
            self.signed_in = False
            raise NotSignedIn("your session has ended: sign in again", self._current_path())
        self._user = user
        return user

    def _current_path(self) -> str:
        """The path and query of the page this tab shows (where a sign-in brings it back)."""
        url = self.router.url
        return safe_next_path(url.path + (f"?{url.query}" if url.query else ""))

    def _show_user(self, user: CurrentUser) -> None:
        self.user_name = user.display_name
        self.user_email = user.email
        self.tenant_name = user.tenant_name or ("Platform administrator" if user.is_platform_admin else "")
        self.signed_in = True

    def _login_redirect(self) -> rx.event.EventSpec:
        return rx.redirect(login_url(self._current_path()), replace=True)

    @rx.event
    async def check_session(self, route: str):
        """on_load of every protected page: go to /login without a session, else run the page's on_load."""
        user = await resolve_user(self.router.headers.cookie, current_portal())
        if user is None:
            self._user = None
            self.signed_in = False
            return self._login_redirect()
        self._user = user
        self._route = route
        self._show_user(user)
        spec = PAGES.get(route)
        events: list[Any] = list(spec.on_load) if spec else []
        if self.router.session.client_token not in _LIVE_TOKENS:
            events.append(LiveEvents.live_loop)
        return events


class LiveEvents(AuthState):
    """The tab's live-event loop, on a state of its own with no substates.

    A background event's `async with self` loads its state with every substate
    and its parents from Redis (and writes them back). On AuthState that was
    every page state the tab ever had, on every batch of live events for every
    open tab; here it is the root, AuthState and this one. AuthState's vars
    (`_user`, `_route`, `live_seq`) are read and set through the parent.
    """

    @rx.event(background=True)
    async def live_loop(self):
        """Follow live events while this tab is open; call the current page's on_live handler."""
        token = self.router.session.client_token
        if not token or token in _LIVE_TOKENS:
            return
        _LIVE_TOKENS.add(token)
        queue = live.subscribe()
        try:
            while True:
                batch = await live.next_batch(queue, LIVE_IDLE_CHECK_SECONDS)
                if not await _still_connected(token):
                    break
                if not batch:
                    continue
                handler = None
                relevant: list[dict[str, Any]] = []
                async with self:
                    user = self._user
                    if user is None:
                        continue
                    relevant = events_for(user, batch)
                    if not relevant:
                        continue
                    self.live_seq += 1
                    self.live_last_type = str(relevant[-1].get("type", ""))
                    spec = PAGES.get(self._route)
                    handler = spec.on_live if spec else None
                if handler is not None:
                    yield handler(relevant)
        finally:
            live.unsubscribe(queue)
            with contextlib.suppress(KeyError):
                _LIVE_TOKENS.remove(token)


class MovedState(rx.State):
    """The on_load of an old route: go to where that page lives now."""

    @rx.event
    def follow(self, old_route: str):
        rule = MOVED.get(old_route)
        if rule is None:
            return rx.redirect("/", replace=True)
        return rx.redirect(moved_target(rule, self.router.page.params, self.router.url.query), replace=True)
