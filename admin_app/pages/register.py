"""First-run registration: create the first platform administrator (shown only while none exists)."""

from __future__ import annotations

import asyncio

import reflex as rx

from portal_common import page
from portal_common.auth_pages import auth_card, credentials_form
from portal_common.components import error_callout
from services.auth import platform_admin_exists

REGISTER_ACTION = "/api/auth/register-form"


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
        credentials_form(
            REGISTER_ACTION,
            "Create administrator",
            "register",
            RegisterState.email,
            with_full_name=True,
            new_password=True,
        ),
    )
