"""create_portal_app: the rx.App of a portal, with its pages, the /api and the error handling."""

from __future__ import annotations

import reflex as rx
from reflex.app import default_backend_exception_handler

from api.app import create_api
from core.errors import ServiceError
from portal_common import styles
from portal_common.auth_pages import LoginState, login_page
from portal_common.registry import PAGES, PageSpec, nav_items
from portal_common.session import NotSignedIn
from portal_common.shell import shell
from portal_common.state import AuthState, configure

BRAND = "DMT-SLDP"


def _backend_exception_handler(exception: Exception):
    """Expired sessions go to /login; service errors show their own words; the rest is logged."""
    if isinstance(exception, NotSignedIn):
        return rx.redirect("/login?error=" + "your%20session%20has%20ended%3A%20sign%20in%20again")
    if isinstance(exception, ServiceError):
        return rx.toast.error(exception.message, position="top-center", duration=8000)
    return default_backend_exception_handler(exception)


def _home_spec() -> PageSpec:
    """`/` when the portal registered no page there: go to the first sidebar entry."""
    first = next((p.route for p in nav_items() if p.route != "/"), None)
    if first:
        return PageSpec(
            route="/", title="Home", component=lambda: rx.center(rx.spinner()), on_load=[rx.redirect(first)]
        )

    def home() -> rx.Component:
        return rx.vstack(
            rx.heading("Signed in", size="6"),
            rx.text("You are signed in as ", rx.text.strong(AuthState.user_name), "."),
        )

    return PageSpec(route="/", title="Home", component=lambda: shell(home(), "Home", "/"))


def create_portal_app(portal: str) -> rx.App:
    """Build the app of one portal ("company" or "admin") from the pages registered with `page`."""
    app = rx.App(
        style=styles.base_style,
        api_transformer=create_api(portal),
        backend_exception_handler=_backend_exception_handler,
        head_components=[rx.el.meta(name="robots", content="noindex")],
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
    return app
