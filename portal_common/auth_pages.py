"""The sign-in page of both portals: a plain HTML form posted to /api/auth/session.

A full-page POST lets the API set the HttpOnly session cookie; JavaScript never
sees it. Errors and notices come back as ?error= / ?notice= and are shown here.
"""

from __future__ import annotations

import asyncio

import reflex as rx
from reflex_components_core.el.elements.forms import Form

from core.redirects import safe_next_path
from portal_common import styles
from portal_common.components import error_callout, notice_callout
from portal_common.session import resolve_user
from portal_common.state import current_portal
from services.auth import PORTAL_ADMIN, platform_admin_exists

SIGN_IN_ACTION = "/api/auth/session"
LABEL_STYLE = {"font_size": "14px", "font_weight": "500"}


def _safe_next(value: str) -> str:
    """Where to go after signing in: a path of this portal, never the sign-in page itself."""
    target = safe_next_path(value)
    return "/" if target == "/login" or target.startswith(("/login?", "/login/")) else target


class NativeForm(Form):
    """A plain HTML <form>: the browser submits it (a full navigation), no Reflex submit handler."""

    @classmethod
    def create(cls, *children, **props) -> rx.Component:
        return super(Form, cls).create(*children, **props)


native_form = NativeForm.create


class LoginState(rx.State):
    error: str = ""
    notice: str = ""
    email: str = ""
    next_path: str = "/"
    admin_portal: bool = False

    @rx.event
    async def load(self):
        params = self.router.url.query_parameters
        self.error = params.get("error", "")
        self.notice = params.get("notice", "")
        self.email = params.get("email", "")
        self.next_path = _safe_next(params.get("next", "/"))
        self.admin_portal = current_portal() == PORTAL_ADMIN
        if self.admin_portal and not await asyncio.to_thread(platform_admin_exists):
            return rx.redirect("/register")
        if not self.error and not self.notice:
            user = await resolve_user(self.router.headers.cookie, current_portal())
            if user is not None:
                return rx.redirect(self.next_path)
        return None


def auth_card(title: str, subtitle: str, *children: rx.Component) -> rx.Component:
    """The centred card used by the sign-in and registration pages."""
    return rx.flex(
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.center(
                        rx.text("DMT", size="1", weight="bold", color="white"),
                        width="40px",
                        height="40px",
                        border_radius="10px",
                        background="var(--accent-9)",
                    ),
                    rx.vstack(
                        rx.heading(title, size="5"),
                        rx.text(subtitle, size="2", color=styles.MUTED),
                        spacing="0",
                    ),
                    align="center",
                    spacing="3",
                ),
                *children,
                spacing="4",
                width="100%",
            ),
            style=styles.auth_card_style,
        ),
        style=styles.auth_page_style,
    )


def credentials_form(
    action: str,
    submit_label: str,
    submit_id: str,
    email: rx.Var | str,
    *,
    hidden: dict[str, rx.Var | str] | None = None,
    with_full_name: bool = False,
    new_password: bool = False,
) -> rx.Component:
    """The sign-in form of both portals and the first-admin registration: a plain HTML POST to `action`.

    A full-page POST lets the API set the HttpOnly session cookie; the email
    comes back pre-filled after an error (`email`).
    """
    fields: list[rx.Component] = [
        rx.el.input(type="hidden", name=name, value=value, read_only=True) for name, value in (hidden or {}).items()
    ]
    if with_full_name:
        fields += [
            rx.el.label("Full name", html_for="full_name", style=LABEL_STYLE),
            rx.input(id="full_name", name="full_name", auto_complete="name", width="100%", size="3"),
        ]
    fields += [
        rx.el.label("Email", html_for="email", style=LABEL_STYLE),
        rx.input(
            id="email",
            name="email",
            type="email",
            required=True,
            auto_complete="username",
            default_value=email,
            key=email,
            placeholder="you@company.com",
            width="100%",
            size="3",
        ),
        rx.el.label(
            "Password (at least 10 characters)" if new_password else "Password", html_for="password", style=LABEL_STYLE
        ),
        rx.input(
            id="password",
            name="password",
            type="password",
            required=True,
            auto_complete="new-password" if new_password else "current-password",
            width="100%",
            size="3",
            **({"min_length": 10} if new_password else {}),
        ),
        rx.button(submit_label, type="submit", size="3", width="100%", id=submit_id),
    ]
    return native_form(
        rx.vstack(*fields, spacing="2", width="100%"),
        method="post",
        action=action,
        width="100%",
    )


def login_page() -> rx.Component:
    portal_label = "Admin portal" if current_portal() == PORTAL_ADMIN else "Company portal"
    return auth_card(
        "Sign in",
        f"DMT-SLDP · {portal_label}",
        error_callout(LoginState.error),
        notice_callout(LoginState.notice),
        credentials_form(SIGN_IN_ACTION, "Sign in", "sign-in", LoginState.email, hidden={"next": LoginState.next_path}),
        rx.text(
            "Company users sign in at the company portal, platform administrators at the admin portal.",
            size="1",
            color=styles.MUTED,
        ),
    )
