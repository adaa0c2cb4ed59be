"""Reading the portal session cookie on the server (no Reflex state here)."""

from __future__ import annotations

import asyncio
from http.cookies import CookieError, SimpleCookie

from services.auth import SESSION_COOKIE, CurrentUser, user_from_portal_session


class NotSignedIn(Exception):
    """The browser has no valid session for this portal: the page goes to /login."""


def session_secret(cookie_header: str | None) -> str | None:
    """The session secret in a Cookie header, or None."""
    if not cookie_header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(cookie_header)
    except CookieError:
        # One malformed cookie must not hide ours: fall back to a plain split.
        for part in cookie_header.split(";"):
            name, _, value = part.strip().partition("=")
            if name == SESSION_COOKIE and value:
                return value
        return None
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel and morsel.value else None


async def resolve_user(cookie_header: str | None, portal: str) -> CurrentUser | None:
    """The signed-in user of this portal (checked against the database, off the event loop)."""
    secret = session_secret(cookie_header)
    if not secret:
        return None
    return await asyncio.to_thread(user_from_portal_session, secret, portal)
