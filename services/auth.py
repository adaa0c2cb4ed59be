"""Sign-in, tokens and portal sessions.

- API clients: short-lived JWT access token + rotating opaque refresh token
  (a reused, already-rotated refresh token revokes its whole family).
- Portals: an opaque session secret in an HttpOnly, SameSite cookie; the row
  in public.portal_sessions is checked on the server for every page and event,
  so sign-out and deactivation take effect at once.
- Sign-in attempts are counted per account and per client address before the
  password hash is checked (`services.signin_throttle`); failures use up the allowance.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import select

from core.errors import AuthenticationFailed, Conflict, PermissionDenied
from core.settings import get_settings
from models.base import utcnow
from models.db import public_session
from models.enums import NAMED_VIEW_ROLES, ProjectRole, TenantStatus, UserRole
from models.public import LoginAttempt, PortalSession, RefreshToken, Tenant, User, UserProjectRole
from services.audit import Actor
from services.security import (
    InvalidToken,
    burn_password_check,
    create_access_token,
    decode_access_token,
    hash_secret,
    new_secret,
    verify_password,
)
from services.sessions import cached_access_user, remember_access_user
from services.signin_throttle import count_attempt, release_attempt
from services.users import UserCreate, UserPublic, create_user, normalize_email

PORTAL_COMPANY = "company"
PORTAL_ADMIN = "admin"
SESSION_COOKIE = "dmt_session"

GENERIC_FAILURE = "wrong email or password"


@dataclass(frozen=True)
class CurrentUser:
    """The authenticated user as every service sees it. Built on the server only."""

    id: int
    email: str
    full_name: str
    role: str
    tenant_id: int | None
    tenant_slug: str | None
    tenant_name: str | None
    project_roles: dict[int, str] = field(default_factory=dict)

    @property
    def is_platform_admin(self) -> bool:
        return self.role == UserRole.PLATFORM_ADMIN

    def actor(self, ip_address: str | None = None) -> Actor:
        return Actor(user_id=self.id, email=self.email, ip_address=ip_address)

    def role_in(self, project_id: int) -> str | None:
        return self.project_roles.get(project_id)

    def can_see_names(self, project_id: int) -> bool:
        role = self.role_in(project_id)
        return role is not None and ProjectRole(role) in NAMED_VIEW_ROLES

    @property
    def display_name(self) -> str:
        return self.full_name or self.email

    @property
    def portal(self) -> str:
        return PORTAL_ADMIN if self.is_platform_admin else PORTAL_COMPANY


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int


class LoginResult(BaseModel):
    user: UserPublic
    tokens: TokenPair
    portal_url: str


# --------------------------------------------------------------------------- helpers
def _current_user(session, user: User) -> CurrentUser:
    tenant = session.get(Tenant, user.tenant_id) if user.tenant_id else None
    roles = {
        r.project_id: r.role for r in session.exec(select(UserProjectRole).where(UserProjectRole.user_id == user.id))
    }
    return CurrentUser(
        id=user.id or 0,
        email=user.email,
        full_name=user.full_name,
        role=user.role,
        tenant_id=user.tenant_id,
        tenant_slug=tenant.slug if tenant else None,
        tenant_name=tenant.name if tenant else None,
        project_roles=roles,
    )


def _usable(session, user: User | None) -> bool:
    if user is None or not user.is_active:
        return False
    if user.tenant_id is not None:
        tenant = session.get(Tenant, user.tenant_id)
        if tenant is None or tenant.status != "active":
            return False
    return True


def _record_attempt(email: str, ip: str | None, succeeded: bool) -> None:
    # Own transaction: a failed attempt must be counted even though the caller raises.
    with public_session() as session:
        session.add(LoginAttempt(email=email, ip_address=ip, succeeded=succeeded))
        session.commit()


# --------------------------------------------------------------------------- sign-in
def authenticate(email: str, password: str, ip: str | None = None) -> CurrentUser:
    """Check credentials with throttling; return the user or raise a clear error."""
    try:
        email = normalize_email(email)
    except Exception as exc:
        raise AuthenticationFailed(f"{GENERIC_FAILURE} (the email address is not valid)") from exc
    ticket = count_attempt(email, ip)  # counted before any hash is checked: no race past the limit
    with public_session() as session:
        user = session.exec(select(User).where(User.email == email)).first()
        if user is None:
            burn_password_check(password)
            ok = False
        else:
            ok = verify_password(password, user.password_hash)
        if ok and not _usable(session, user):
            _record_attempt(email, ip, False)
            raise AuthenticationFailed("this account or its company is deactivated: ask your administrator")
        if not ok:
            _record_attempt(email, ip, False)
            raise AuthenticationFailed(GENERIC_FAILURE)
        assert user is not None
        user.last_login_at = utcnow()
        session.add(user)
        session.commit()
        release_attempt(ticket)
        _record_attempt(email, ip, True)
        return _current_user(session, user)


def issue_tokens(user: CurrentUser, ip: str | None = None, family_id: str | None = None) -> TokenPair:
    s = get_settings()
    refresh = new_secret()
    with public_session() as session:
        session.add(
            RefreshToken(
                user_id=user.id,
                family_id=family_id or secrets.token_hex(16),
                token_hash=hash_secret(refresh),
                expires_at=utcnow() + timedelta(days=s.refresh_token_days),
                ip_address=ip,
            )
        )
        session.commit()
    return TokenPair(
        access_token=create_access_token(user.id, user.role, user.tenant_id),
        refresh_token=refresh,
        expires_in=s.access_token_minutes * 60,
    )


def portal_url_for(user: CurrentUser) -> str:
    s = get_settings()
    return s.admin_portal_url if user.is_platform_admin else s.company_portal_url


def login(email: str, password: str, ip: str | None = None) -> LoginResult:
    user = authenticate(email, password, ip)
    with public_session() as session:
        db_user = session.get(User, user.id)
        public = UserPublic.of(db_user, user.tenant_slug, user.project_roles)
    return LoginResult(user=public, tokens=issue_tokens(user, ip), portal_url=portal_url_for(user))


def refresh_tokens(refresh_token: str, ip: str | None = None) -> TokenPair:
    """Rotate: the presented token is spent and a new pair issued. Reuse revokes the family."""
    now = utcnow()
    with public_session() as session:
        row = session.exec(
            select(RefreshToken).where(RefreshToken.token_hash == hash_secret(refresh_token or ""))
        ).first()
        if row is None:
            raise AuthenticationFailed("unknown refresh token: sign in again")
        if row.revoked_at is not None:
            # A spent token presented again: someone may have stolen it. Revoke the family.
            session.execute(
                sa.update(RefreshToken)
                .where(RefreshToken.family_id == row.family_id, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            session.commit()
            raise AuthenticationFailed("this refresh token was already used or revoked: sign in again")
        if row.expires_at <= now:
            raise AuthenticationFailed("the refresh token has expired: sign in again")
        user = session.get(User, row.user_id)
        if not _usable(session, user):
            raise AuthenticationFailed("this account is deactivated")
        current = _current_user(session, user)
        row.revoked_at = now
        session.add(row)
        session.commit()
        family = row.family_id
        row_id = row.id
    pair = issue_tokens(current, ip, family_id=family)
    with public_session() as session:
        new_row = session.exec(
            select(RefreshToken).where(RefreshToken.token_hash == hash_secret(pair.refresh_token))
        ).one()
        session.execute(sa.update(RefreshToken).where(RefreshToken.id == row_id).values(replaced_by_id=new_row.id))
        session.commit()
    return pair


def logout(refresh_token: str | None = None, session_token: str | None = None) -> None:
    """Revoke the refresh token's family and/or the portal session."""
    now = utcnow()
    with public_session() as session:
        if refresh_token:
            row = session.exec(
                select(RefreshToken).where(RefreshToken.token_hash == hash_secret(refresh_token))
            ).first()
            if row:
                session.execute(
                    sa.update(RefreshToken)
                    .where(RefreshToken.family_id == row.family_id, RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=now)
                )
        if session_token:
            session.execute(
                sa.update(PortalSession)
                .where(PortalSession.token_hash == hash_secret(session_token), PortalSession.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        session.commit()


def _access_claims(token: str) -> dict:
    try:
        return decode_access_token(token)
    except InvalidToken as exc:
        raise AuthenticationFailed(str(exc)) from exc


def cached_user_from_access_token(token: str) -> CurrentUser | None:
    """The user of a valid access token when this process resolved it recently, else None (no I/O).

    Raises AuthenticationFailed for a bad, expired or foreign token, like `user_from_access_token`.
    """
    _access_claims(token)
    return cached_access_user(hash_secret(token))


def user_from_access_token(token: str) -> CurrentUser:
    claims = _access_claims(token)
    key = hash_secret(token)
    cached = cached_access_user(key)
    if cached is not None:
        return cached
    with public_session() as session:
        user = session.get(User, int(claims["sub"]))
        if not _usable(session, user):
            raise AuthenticationFailed("this account is deactivated")
        current = _current_user(session, user)
    remember_access_user(key, current)
    return current


# --------------------------------------------------------------------------- portals
def require_portal(user: CurrentUser, portal: str) -> None:
    """Company users only in the company portal, platform admins only in the admin portal."""
    if portal == PORTAL_ADMIN and not user.is_platform_admin:
        raise PermissionDenied(
            "the admin portal is for platform administrators; company users sign in at the company portal "
            f"({get_settings().company_portal_url})"
        )
    if portal == PORTAL_COMPANY and user.is_platform_admin:
        raise PermissionDenied(
            "platform administrators use the admin portal "
            f"({get_settings().admin_portal_url}); the company portal is for company users"
        )


def create_portal_session(user: CurrentUser, portal: str, ip: str | None = None, user_agent: str | None = None) -> str:
    require_portal(user, portal)
    secret = new_secret()
    with public_session() as session:
        session.add(
            PortalSession(
                user_id=user.id,
                token_hash=hash_secret(secret),
                portal=portal,
                expires_at=utcnow() + timedelta(hours=get_settings().portal_session_hours),
                ip_address=ip,
                user_agent=(user_agent or "")[:300],
            )
        )
        session.commit()
    return secret


def user_from_portal_session(secret: str | None, portal: str) -> CurrentUser | None:
    """The signed-in user of a portal cookie, or None when missing, expired, revoked or wrong portal.

    Asked on every page and event of both portals, so one statement: the
    session (this portal's, not revoked, not expired), its user (active), the
    user's tenant (active, for a company user) and the user's project roles.
    """
    if not secret:
        return None
    roles = (
        sa.select(sa.func.json_object_agg(UserProjectRole.project_id, UserProjectRole.role))
        .where(UserProjectRole.user_id == User.id)
        .scalar_subquery()
    )
    stmt = (
        sa.select(User.id, User.email, User.full_name, User.role, User.tenant_id, Tenant.slug, Tenant.name,
                  roles.label("roles"))  # fmt: skip
        .select_from(PortalSession)
        .join(User, User.id == PortalSession.user_id)
        .outerjoin(Tenant, Tenant.id == User.tenant_id)
        .where(
            PortalSession.token_hash == hash_secret(secret),
            PortalSession.portal == portal,
            PortalSession.revoked_at.is_(None),
            PortalSession.expires_at > utcnow(),
            User.is_active.is_(True),
            sa.or_(User.tenant_id.is_(None), Tenant.status == TenantStatus.ACTIVE),
        )
    )
    with public_session() as session:
        row = session.execute(stmt).first()
    if row is None:
        return None
    return CurrentUser(
        id=row.id,
        email=row.email,
        full_name=row.full_name,
        role=row.role,
        tenant_id=row.tenant_id,
        tenant_slug=row.slug,
        tenant_name=row.name,
        project_roles={int(project): role for project, role in (row.roles or {}).items()},
    )


# --------------------------------------------------------------------------- first admin
def platform_admin_exists() -> bool:
    with public_session() as session:
        return session.exec(select(User.id).where(User.role == UserRole.PLATFORM_ADMIN).limit(1)).first() is not None


def register_first_admin(email: str, password: str, full_name: str = "", ip: str | None = None) -> User:
    """Create the first platform admin; refused once any platform admin exists."""
    with public_session() as session:
        # Serialise concurrent first registrations.
        session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('dmt:first-admin'))"))
        exists = session.exec(select(User.id).where(User.role == UserRole.PLATFORM_ADMIN).limit(1)).first()
        if exists:
            raise Conflict("a platform administrator already exists: sign in, or ask them to create your account")
        user = create_user(
            UserCreate(email=email, password=password, full_name=full_name, role=UserRole.PLATFORM_ADMIN),
            Actor(user_id=None, email=email, ip_address=ip),
        )
        session.commit()
        return user
