"""Who is calling: bearer access token (API clients) or the portal's session cookie."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from core.errors import AuthenticationFailed, PermissionDenied
from services.auth import (
    SESSION_COOKIE,
    CurrentUser,
    cached_user_from_access_token,
    user_from_access_token,
    user_from_portal_session,
)
from services.security import client_address


def client_ip(request: Request) -> str | None:
    """The caller's address: X-Forwarded-For only from proxies in TRUSTED_PROXIES (docs/deploy.md)."""
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.get("x-forwarded-for"))


async def current_user(request: Request) -> CurrentUser:
    """The caller, resolved on the event loop when its token was seen recently, else in a worker thread."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        token = auth[7:].strip()
        return cached_user_from_access_token(token) or await run_in_threadpool(user_from_access_token, token)
    portal = getattr(request.app.state, "portal", None)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and portal:
        user = await run_in_threadpool(user_from_portal_session, cookie, portal)
        if user:
            return user
    raise AuthenticationFailed("sign in first: send 'Authorization: Bearer <access token>'")


async def platform_admin(user: Annotated[CurrentUser, Depends(current_user)]) -> CurrentUser:
    if not user.is_platform_admin:
        raise PermissionDenied("this needs a platform administrator")
    return user


async def company_user(user: Annotated[CurrentUser, Depends(current_user)]) -> CurrentUser:
    if user.is_platform_admin or not user.tenant_slug:
        raise PermissionDenied("this needs a company user (platform administrators have no company data)")
    return user


CurrentUserDep = Annotated[CurrentUser, Depends(current_user)]
PlatformAdminDep = Annotated[CurrentUser, Depends(platform_admin)]
CompanyUserDep = Annotated[CurrentUser, Depends(company_user)]
