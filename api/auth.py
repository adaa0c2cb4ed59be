"""Auth routes: register (first admin only), login, refresh, logout, me; portal cookie sessions."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from api.deps import CurrentUserDep, client_ip
from core.errors import ServiceError
from core.redirects import safe_next_path
from core.settings import get_settings
from models.db import public_session
from models.public import User
from services import auth
from services.users import UserPublic

router = APIRouter(prefix="/api/auth", tags=["auth"])


class Credentials(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1000)


class Registration(Credentials):
    full_name: str = Field(default="", max_length=200)


class RefreshRequest(BaseModel):
    refresh_token: str = Field(max_length=500)


class LogoutRequest(BaseModel):
    refresh_token: str | None = Field(default=None, max_length=500)


class Message(BaseModel):
    message: str


@router.post("/register", response_model=UserPublic, status_code=201)
def register(body: Registration, request: Request) -> UserPublic:
    """Create the first platform administrator. Refused (409) once one exists."""
    user = auth.register_first_admin(body.email, body.password, body.full_name, ip=client_ip(request))
    return UserPublic.of(user)


@router.post("/login", response_model=auth.LoginResult)
def login(body: Credentials, request: Request) -> auth.LoginResult:
    return auth.login(body.email, body.password, ip=client_ip(request))


@router.post("/refresh", response_model=auth.TokenPair)
def refresh(body: RefreshRequest, request: Request) -> auth.TokenPair:
    return auth.refresh_tokens(body.refresh_token, ip=client_ip(request))


@router.post("/logout", response_model=Message)
def logout(body: LogoutRequest, request: Request) -> Message:
    auth.logout(refresh_token=body.refresh_token, session_token=request.cookies.get(auth.SESSION_COOKIE))
    return Message(message="signed out")


@router.get("/me", response_model=UserPublic)
def me(user: CurrentUserDep) -> UserPublic:
    with public_session() as session:
        row = session.get(User, user.id)
        return UserPublic.of(row, user.tenant_slug, user.project_roles)


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
