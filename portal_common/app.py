"""create_portal_app: the rx.App of a portal, with its pages, the /api and the error handling."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx
from reflex.app import default_backend_exception_handler
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from api.app import create_api
from core.errors import ServiceError
from portal_common import styles
from portal_common.auth_pages import LoginState, login_page
from portal_common.registry import MOVED, PAGES, PageSpec, moved_url, nav_items
from portal_common.session import NotSignedIn
from portal_common.shell import shell
from portal_common.state import AuthState, MovedState, configure, login_url

BRAND = "DMT-SLDP"


def _backend_exception_handler(exception: Exception):
    """Expired sessions go to /login; service errors show their own words; the rest is logged."""
    if isinstance(exception, NotSignedIn):
        return rx.redirect(login_url(exception.next_path, "your session has ended: sign in again"))
    if isinstance(exception, ServiceError):
        return rx.toast.error(exception.message, position="top-center", duration=8000)
    return default_backend_exception_handler(exception)


def _moving() -> rx.Component:
    return rx.center(rx.spinner(size="3"), width="100%", padding="80px")


def _home_spec() -> PageSpec:
    """`/` when the portal registered no page there: go to the first sidebar entry."""
    first = next((p.route for p in nav_items() if p.route != "/"), None)
    if first:
        return PageSpec(route="/", title="Home", component=_moving, on_load=[rx.redirect(first, replace=True)])

    def home() -> rx.Component:
        return rx.vstack(
            rx.heading("Signed in", size="6"),
            rx.text("You are signed in as ", rx.text.strong(AuthState.user_name), "."),
        )

    return PageSpec(route="/", title="Home", component=lambda: shell(home(), "Home", "/"))


def page_urls(paths: frozenset[str], home: str | None) -> Callable[[ASGIApp], ASGIApp]:
    """An ASGI wrapper for page URLs loaded by the browser (a new tab, a reload, a shared link).

    - An old route (see `moved`) answers a permanent redirect to where the page
      lives now, query string kept; `/` goes to `home`. (Inside the app, the old
      routes are also pages that redirect, for links followed without a page load.)
    - A page that has sub-pages (`/dashboard`, with `/dashboard/velocity`) is
      exported as a folder with an index.html, which a static file server would
      answer with a redirect to `/dashboard/`; page routes are served from their
      folder in place, so the address bar keeps the URL the link named.
    """

    def wrap(app: ASGIApp) -> ASGIApp:
        async def serve(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
                path = scope["path"]
                query = scope.get("query_string", b"").decode("latin-1")
                target = (home + (f"?{query}" if query else "")) if path == "/" and home else moved_url(path, query)
                if target is not None:
                    await RedirectResponse(target, status_code=308)(scope, receive, send)
                    return
                if path in paths:
                    scope = {**scope, "path": path + "/", "raw_path": (path + "/").encode()}
            await app(scope, receive, send)

        return serve

    return wrap


def create_portal_app(portal: str) -> rx.App:
    """Build the app of one portal ("company" or "admin") from the pages registered with `page`."""
    static_routes = frozenset(
        route for route in [*PAGES, "/login"] if route != "/" and "[" not in route and not route.endswith("/")
    )
    home = None if "/" in PAGES else next((p.route for p in nav_items() if p.route != "/"), None)
    app = rx.App(
        style=styles.base_style,
        api_transformer=[create_api(portal), page_urls(static_routes, home)],
        backend_exception_handler=_backend_exception_handler,
        head_components=[rx.el.meta(name="robots", content="noindex"), rx.el.style(styles.GLOBAL_CSS)],
    )
    configure(portal, app)
    if "/login" not in PAGES:
        PAGES["/login"] = PageSpec(
            route="/login", title="Sign in", component=login_page, on_load=[LoginState.load], public=True
        )
    if "/" not in PAGES:
        PAGES["/"] = _home_spec()
    for spec in PAGES.values():
        on_load = spec.on_load if spec.public else AuthState.check_session(spec.route)
        app.add_page(spec.component, route=spec.route, title=f"{spec.title} · {BRAND}", on_load=on_load)
    for rule in MOVED.values():
        if rule.old not in PAGES:
            app.add_page(_moving, route=rule.old, title=BRAND, on_load=MovedState.follow(rule.old))
    return app
