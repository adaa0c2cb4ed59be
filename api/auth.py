"""Auth routes: register (first admin only), login, refresh, logout, me; portal cookie sessions."""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from api.deps import CurrentUserDep, client_ip
from core.errors import ServiceError
from core.redirects import safe_next_path
from core.settings import get_settings
from services import auth
from services.users import UserPublic

router = APIRouter(prefix="/api/auth", tags=["auth"])


class Credentials(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1000)


class Registration(Credentials):
    role: Literal["platform_admin"] = Field(
        default="platform_admin", description="the first account is always a platform administrator"
    )
    full_name: str = Field(default="", max_length=200)


class Tokens(BaseModel):
    access: str = Field(description="JWT access token: send it as 'Authorization: Bearer <access>'")
    refresh: str = Field(description="refresh token: POST it to /api/auth/refresh for a new access token")
    token_type: str = "bearer"
    expires_in: int = Field(description="seconds the access token stays valid")

    @classmethod
    def of(cls, pair: auth.TokenPair) -> Tokens:
        return cls(access=pair.access_token, refresh=pair.refresh_token, expires_in=pair.expires_in)


class Registered(BaseModel):
    user: UserPublic
    tokens: Tokens


class LoggedIn(Registered):
    portal_url: str = Field(description="the portal this account signs in to")


class RefreshRequest(BaseModel):
    refresh: str = Field(max_length=500)


class Refreshed(BaseModel):
    """A new access token. Refresh tokens rotate: the one sent is spent, use `refresh` next time."""

    access: str
    refresh: str
    token_type: str = "bearer"
    expires_in: int


class LogoutRequest(BaseModel):
    refresh: str | None = Field(default=None, max_length=500)


class TenantRef(BaseModel):
    id: int
    slug: str
    name: str


class Me(BaseModel):
    id: int
    email: str
    role: str
    tenant: TenantRef | None = Field(description="the user's company; null for platform administrators")
    full_name: str
    project_roles: dict[int, str] = Field(default_factory=dict, description="project id -> role on it")


@router.post("/register", response_model=Registered, status_code=201)
def register(body: Registration, request: Request) -> Registered:
    """Create the first platform administrator and sign them in. Refused (409) once one exists."""
    auth.register_first_admin(body.email, body.password, body.full_name, ip=client_ip(request))
    result = auth.login(body.email, body.password, ip=client_ip(request))
    return Registered(user=result.user, tokens=Tokens.of(result.tokens))


@router.post("/login", response_model=LoggedIn)
def login(body: Credentials, request: Request) -> LoggedIn:
    """Sign in to either portal's API: the user, a token pair and the URL of the user's portal."""
    result = auth.login(body.email, body.password, ip=client_ip(request))
    return LoggedIn(user=result.user, tokens=Tokens.of(result.tokens), portal_url=result.portal_url)


@router.post("/refresh", response_model=Refreshed)
def refresh(body: RefreshRequest, request: Request) -> Refreshed:
    pair = auth.refresh_tokens(body.refresh, ip=client_ip(request))
    return Refreshed(access=pair.access_token, refresh=pair.refresh_token, expires_in=pair.expires_in)


@router.post("/logout", status_code=204)
def logout(body: LogoutRequest, request: Request) -> Response:
    """Revoke the refresh token (and every token rotated from it) and the portal session, if any."""
    auth.logout(refresh_token=body.refresh, session_token=request.cookies.get(auth.SESSION_COOKIE))
    return Response(status_code=204)


@router.get("/me", response_model=Me)
def me(user: CurrentUserDep) -> Me:
    tenant = (
        TenantRef(id=user.tenant_id, slug=user.tenant_slug or "", name=user.tenant_name or "")
        if user.tenant_id is not None
        else None
    )
    return Me(
        id=user.id,
        email=user.email,
        role=user.role,
        tenant=tenant,
        full_name=user.full_name,
        project_roles=dict(user.project_roles),
    )


# ----------------------------------------------------------------- portal (HTML form) sessions
def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


@router.post("/session", include_in_schema=False)
def portal_sign_in(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    next: str = Form("/"),
) -> RedirectResponse:
    """The portals' sign-in form posts here: set the HttpOnly cookie and go on, or back with the error."""
    portal = request.app.state.portal
    next = safe_next_path(next)  # never redirect off-site
    try:
        user = auth.authenticate(email, password, ip=client_ip(request))
        secret = auth.create_portal_session(user, portal, client_ip(request), request.headers.get("user-agent"))
    except ServiceError as exc:
        again = f"&next={quote(next, safe='')}" if next != "/" else ""
        return _redirect(f"/login?error={quote(exc.message)}&email={quote(email)}{again}")
    response = _redirect(next)
    s = get_settings()
    response.set_cookie(
        auth.SESSION_COOKIE,
        secret,
        max_age=s.portal_session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=s.cookie_secure,
        path="/",
    )
    return response


@router.post("/register-form", include_in_schema=False)
def portal_register(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    full_name: str = Form(""),
) -> RedirectResponse:
    """First-run registration form of the admin portal."""
    try:
        auth.register_first_admin(email, password, full_name, ip=client_ip(request))
    except ServiceError as exc:
        return _redirect(f"/register?error={quote(exc.message)}&email={quote(email)}")
    return _redirect(f"/login?notice={quote('administrator created: sign in')}&email={quote(email)}")


@router.get("/signout", include_in_schema=False)
@router.post("/signout", include_in_schema=False)
def portal_sign_out(request: Request) -> RedirectResponse:
    auth.logout(session_token=request.cookies.get(auth.SESSION_COOKIE))
    response = _redirect("/login?notice=" + quote("signed out"))
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response
