"""Who is calling (bearer access token or the portal's session cookie), which project, and the read cache."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from core.errors import AuthenticationFailed, NotFound, PermissionDenied
from core.read_cache import cached_json_async
from services.auth import (
    SESSION_COOKIE,
    CurrentUser,
    cached_user_from_access_token,
    user_from_access_token,
    user_from_portal_session,
)
from services.dashboards import user_projects
from services.security import client_address


def client_ip(request: Request) -> str | None:
    """The caller's address: X-Forwarded-For only from proxies in TRUSTED_PROXIES (docs/deploy.md)."""
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.get("x-forwarded-for"))


async def user_of_connection(connection: HTTPConnection, *, allow_query_token: bool = False) -> CurrentUser:
    """The caller of a request or WebSocket: bearer access token, else the portal's session cookie.

    WebSocket clients in a browser cannot set headers, so the channels also take the
    access token as `?token=` (`allow_query_token`); plain HTTP requests never do (URLs end up in logs).
    A token seen recently is resolved on the event loop, anything else in a worker thread.
    """
    auth = connection.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    if not token and allow_query_token:
        token = connection.query_params.get("token", "")
    if token:
        return cached_user_from_access_token(token) or await run_in_threadpool(user_from_access_token, token)
    portal = getattr(connection.app.state, "portal", None)
    cookie = connection.cookies.get(SESSION_COOKIE)
    if cookie and portal:
        user = await run_in_threadpool(user_from_portal_session, cookie, portal)
        if user:
            return user
    raise AuthenticationFailed("sign in first: send 'Authorization: Bearer <access token>'")


async def current_user(request: Request) -> CurrentUser:
    """The caller of an API request (bearer token or portal cookie)."""
    return await user_of_connection(request)


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


async def project_id_of_request(
    user: CompanyUserDep,
    project_id: Annotated[
        int | None, Query(description="one of your projects; default: your first project (by name)")
    ] = None,
) -> int:
    """The project a company request is about: the `?project_id=` given, else the caller's first project.

    The id is only chosen here; every read checks it belongs to the caller (NotFound otherwise).
    """
    if project_id is not None:
        return project_id
    projects = await run_in_threadpool(user_projects, user)
    if not projects:
        raise NotFound("you have no project yet: ask your administrator for a role on one")
    return projects[0].id


ProjectIdDep = Annotated[int, Depends(project_id_of_request)]


async def cached_read(
    user: CurrentUser, project_id: int, parts: tuple[object, ...], produce: Callable[[], BaseModel]
) -> Response:
    """Serve a company read from the tenant's read cache (core/read_cache.py).

    The key carries the user and their role on the project, so what one user may
    see is never served to another, and a changed role misses the cache. A hit is
    served on the event loop; only a miss runs the SQL, in a worker thread.
    """
    role = user.project_roles.get(project_id, "none")
    body = await cached_json_async(user.tenant_slug or "", user.id, (project_id, role, *parts), produce)
    return Response(content=body, media_type="application/json")
