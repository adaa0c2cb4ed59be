"""First-run registration: create the first platform administrator (shown only while none exists)."""

from __future__ import annotations

import asyncio

import reflex as rx

from portal_common import page
from portal_common.auth_pages import LABEL_STYLE, auth_card, native_form
from portal_common.components import error_callout
from services.auth import platform_admin_exists


class RegisterState(rx.State):
    error: str = ""
    email: str = ""

    @rx.event
    async def load(self):
        if await asyncio.to_thread(platform_admin_exists):
            return rx.redirect("/login")
        params = self.router.url.query_parameters
        self.error = params.get("error", "")
        self.email = params.get("email", "")
        return None


@page("/register", "First-run registration", public=True, on_load=RegisterState.load)
def register() -> rx.Component:
    return auth_card(
        "Create the administrator",
        "DMT-SLDP · first run",
        rx.text(
            "No platform administrator exists yet. The account you create here runs tenants, "
            "users and data sources. This page disappears once it exists.",
            size="2",
        ),
        error_callout(RegisterState.error),
        native_form(
            rx.vstack(
                rx.el.label("Full name", html_for="full_name", style=LABEL_STYLE),
                rx.input(id="full_name", name="full_name", auto_complete="name", width="100%", size="3"),
                rx.el.label("Email", html_for="email", style=LABEL_STYLE),
                rx.input(
                    id="email",
                    name="email",
                    type="email",
                    required=True,
                    auto_complete="username",
                    default_value=RegisterState.email,
                    key=RegisterState.email,
                    width="100%",
                    size="3",
                ),
                rx.el.label("Password (at least 10 characters)", html_for="password", style=LABEL_STYLE),
                rx.input(
                    id="password",
                    name="password",
                    type="password",
                    required=True,
                    min_length=10,
                    auto_complete="new-password",
                    width="100%",
                    size="3",
                ),
                rx.button("Create administrator", type="submit", size="3", width="100%", id="register"),
                spacing="2",
                width="100%",
            ),
            method="post",
            action="/api/auth/register-form",
            width="100%",
        ),
    )
