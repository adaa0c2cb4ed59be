"""Who is calling: bearer access token (API clients) or the portal's session cookie."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.auth import SESSION_COOKIE, CurrentUser, user_from_access_token, user_from_portal_session
from services.errors import AuthenticationFailed, PermissionDenied


def client_ip(request: Request) -> str | None:
    # Behind nginx (docs/deploy.md) the first X-Forwarded-For hop is the client.
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded:
        return forwarded.split(",")[0].strip()
    return request.client.host if request.client else None


def current_user(request: Request) -> CurrentUser:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return user_from_access_token(auth[7:].strip())
    portal = getattr(request.app.state, "portal", None)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and portal:
        user = user_from_portal_session(cookie, portal)
        if user:
            return user
    raise AuthenticationFailed("sign in first: send 'Authorization: Bearer <access token>'")


def platform_admin(user: Annotated[CurrentUser, Depends(current_user)]) -> CurrentUser:
    if not user.is_platform_admin:
        raise PermissionDenied("this needs a platform administrator")
    return user


def company_user(user: Annotated[CurrentUser, Depends(current_user)]) -> CurrentUser:
    if user.is_platform_admin or not user.tenant_slug:
        raise PermissionDenied("this needs a company user (platform administrators have no company data)")
    return user


CurrentUserDep = Annotated[CurrentUser, Depends(current_user)]
PlatformAdminDep = Annotated[CurrentUser, Depends(platform_admin)]
CompanyUserDep = Annotated[CurrentUser, Depends(company_user)]
