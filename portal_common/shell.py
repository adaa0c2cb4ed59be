"""The portal shell (sidebar + header) and the `page` decorator that wraps pages in it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

from portal_common import styles
from portal_common.auth_pages import native_form
from portal_common.registry import PageSpec, active_nav_route, moved, nav_items, register
from portal_common.state import AuthState, current_portal

PORTAL_LABELS = {"company": "Company portal", "admin": "Admin portal"}
SIGN_OUT_URL = "/api/auth/signout"


def sign_out_form(*children: rx.Component) -> rx.Component:
    """Sign-out is a real POST (a full navigation: the API clears the HttpOnly cookie)."""
    return native_form(*children, method="post", action=SIGN_OUT_URL, style={"margin": "0"})


def brand() -> rx.Component:
    return rx.hstack(
        rx.center(
            rx.text("DMT", size="1", weight="bold", color="white"),
            width="36px",
            height="36px",
            border_radius="8px",
            background="var(--accent-9)",
        ),
        rx.vstack(
            rx.text("DMT-SLDP", size="3", weight="bold"),
            rx.text(PORTAL_LABELS.get(current_portal(), ""), size="1", color=styles.MUTED),
            spacing="0",
        ),
        align="center",
        spacing="3",
        padding="4px 6px 16px",
    )


def nav_link(spec: PageSpec, page_route: str) -> rx.Component:
    active = spec.route == active_nav_route(page_route)
    return rx.link(
        rx.icon(spec.icon, size=16),
        rx.text(spec.nav),
        href=spec.route,
        style=styles.nav_link_active_style if active else styles.nav_link_style,
        aria_current="page" if active else None,
    )


def sidebar(page_route: str) -> rx.Component:
    return rx.box(
        brand(),
        rx.vstack(*[nav_link(spec, page_route) for spec in nav_items()], spacing="1", width="100%"),
        rx.spacer(),
        sign_out_form(
            rx.el.button(
                rx.icon("log-out", size=16),
                rx.text("Sign out"),
                type="submit",
                style={**styles.nav_link_style, "background": "none", "border": "none", "cursor": "pointer"},
            ),
        ),
        style=styles.sidebar_style,
        as_="nav",
    )


def mobile_menu(page_route: str) -> rx.Component:
    return rx.box(
        rx.menu.root(
            rx.menu.trigger(rx.icon_button(rx.icon("menu"), variant="ghost", aria_label="Menu")),
            rx.menu.content(
                *[
                    rx.menu.item(
                        rx.hstack(rx.icon(spec.icon, size=14), rx.text(spec.nav), spacing="2"),
                        on_click=rx.redirect(spec.route),
                    )
                    for spec in nav_items()
                ],
                rx.menu.separator(),
                rx.menu.item(
                    "Sign out", on_click=rx.call_script("document.getElementById('sign-out').click()"), color="red"
                ),
            ),
        ),
        display=styles.SHOW_ON_PHONE,
    )


def header(title: str) -> rx.Component:
    return rx.hstack(
        rx.hstack(
            mobile_menu(""),
            rx.text(title, size="3", weight="medium", color=styles.MUTED),
            align="center",
            spacing="2",
        ),
        rx.hstack(
            rx.vstack(
                rx.text(AuthState.user_name, size="2", weight="bold", id="signed-in-user"),
                rx.text(AuthState.tenant_name, size="1", color=styles.MUTED, display=styles.HIDE_ON_PHONE),
                spacing="0",
                align="end",
            ),
            rx.avatar(fallback=AuthState.user_name.to(str)[:1], size="2", radius="full"),
            sign_out_form(rx.button("Sign out", type="submit", variant="ghost", size="2", id="sign-out")),
            align="center",
            spacing="3",
        ),
        style=styles.header_style,
    )


def shell(content: rx.Component, title: str, route: str) -> rx.Component:
    """Wrap a page's content in the sidebar + header layout."""
    return rx.hstack(
        sidebar(route),
        rx.vstack(
            header(title),
            rx.cond(
                AuthState.signed_in,
                rx.vstack(content, style=styles.content_style),
                rx.center(rx.spinner(size="3"), width="100%", padding="80px"),
            ),
            spacing="0",
            width="100%",
            min_width="0",
            align="center",
        ),
        spacing="0",
        align="start",
        width="100%",
        min_height="100vh",
        background="var(--gray-1)",
    )


def page(
    route: str,
    title: str,
    *,
    nav: str | None = None,
    icon: str = "circle",
    order: int = 100,
    on_load: Any = None,
    on_live: Any = None,
    public: bool = False,
    old_routes: tuple[str, ...] = (),
    nav_parent: str | None = None,
) -> Callable[[Callable[[], rx.Component]], Callable[[], rx.Component]]:
    """Register a page wrapped in the shell and protected by the session check.

    - nav: label in the sidebar (None: not listed), with a lucide `icon`, sorted by `order`.
    - on_load: event handler(s) run after the session check succeeded.
    - on_live: handler taking `events: list[dict]`, called (coalesced, within ~1 s)
      when live events of the user's tenant arrive while this page is open
      (platform admins get every tenant's events).
    - public: no shell and no session check (sign-in pages).
    - nav_parent: the sidebar entry to highlight on a page that is not under one (by route).
    - old_routes: where this page used to be; those URLs redirect here (with
      their query string; `[param]` placeholders of the route are carried over).
    """
    loads = [] if on_load is None else list(on_load) if isinstance(on_load, list | tuple) else [on_load]

    def decorator(fn: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
        if public:
            component = fn
        else:

            def component() -> rx.Component:
                return shell(fn(), title, route)

            component.__name__ = fn.__name__
        register(
            PageSpec(
                route=route,
                title=title,
                component=component,
                nav=nav,
                icon=icon,
                order=order,
                on_load=loads,
                on_live=on_live,
                public=public,
                nav_parent=nav_parent,
            )
        )
        for old in old_routes:
            moved(old, route)
        return fn

    return decorator
