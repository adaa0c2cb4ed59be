"""AdminState: the base of every admin page state (session re-check, service calls off the loop)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import reflex as rx
from pydantic import ValidationError

from core.errors import PermissionDenied, ServiceError
from core.settings import get_settings
from portal_common import AuthState
from services.audit import Actor
from services.auth import CurrentUser

T = TypeVar("T")


class AdminState(AuthState):
    """Page states of the admin portal subclass this."""

    async def require_admin(self) -> CurrentUser:
        """The signed-in platform admin (re-checked on the server), or NotSignedIn / PermissionDenied."""
        user = await self.require_user()
        if not user.is_platform_admin:
            raise PermissionDenied("only platform administrators can do this")
        return user

    def actor_of(self, user: CurrentUser) -> Actor:
        return user.actor(self.router.session.client_ip or None)

    @staticmethod
    async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a (blocking) service function in a thread."""
        return await asyncio.to_thread(fn, *args, **kwargs)


def param(state: rx.State, name: str) -> str:
    """A dynamic route parameter (`/tenants/[tenant_id]`) as a string."""
    value = state.router.page.params.get(name, "")
    return str(value[0] if isinstance(value, list) else value)


def int_param(state: rx.State, name: str) -> int:
    try:
        return int(param(state, name))
    except ValueError:
        return 0


def portal_base_url(state: rx.State) -> str:
    """This portal's base URL as the browser sees it (else the configured admin portal URL)."""
    origin = getattr(state.router.url, "origin", "") or ""
    if origin.startswith(("http://", "https://")) and len(origin) > len("https://"):
        return origin.rstrip("/")

    return get_settings().admin_portal_url.rstrip("/")


def form_str(form: dict[str, Any], name: str) -> str:
    return str(form.get(name) or "").strip()


def form_int(form: dict[str, Any], name: str, default: int) -> int:
    try:
        return int(str(form.get(name) or default).strip())
    except ValueError:
        return default


def error_message(exc: Exception) -> str:
    """A service or validation error in words (anything else is re-raised)."""
    if isinstance(exc, ServiceError):
        return exc.message
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors())
    raise exc
