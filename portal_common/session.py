"""Reading the portal session cookie on the server (no Reflex state here)."""

from __future__ import annotations

import asyncio

from services.auth import SESSION_COOKIE, CurrentUser, user_from_portal_session


class NotSignedIn(Exception):
    """The browser has no valid session for this portal: the page goes to /login (and back to `next_path`)."""

    def __init__(self, message: str, next_path: str = "/") -> None:
        super().__init__(message)
        self.next_path = next_path


def session_secret(cookie_header: str | None) -> str | None:
    """The session secret in a Cookie header, or None.

    Parsed by hand: http.cookies stops at the first malformed cookie, and one
    bad cookie set by another app on the same host must not hide ours.
    """
    for part in (cookie_header or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE and value:
            return value.strip('"')
    return None


async def resolve_user(cookie_header: str | None, portal: str) -> CurrentUser | None:
    """The signed-in user of this portal (checked against the database, off the event loop)."""
    secret = session_secret(cookie_header)
    if not secret:
        return None
    return await asyncio.to_thread(user_from_portal_session, secret, portal)
