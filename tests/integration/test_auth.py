"""Sign-in, tokens, throttling, roles and the auth API."""

from __future__ import annotations

import uuid
from datetime import timedelta

import jwt
import pytest
from fastapi.testclient import TestClient

from core.errors import AuthenticationFailed, PermissionDenied, TooManyAttempts, ValidationFailed
from core.settings import get_settings
from models.base import utcnow
from models.enums import UserRole
from services import auth
from services.audit import Actor
from services.users import UserCreate, create_user, set_user_active
from tests.addresses import unused_address

PASSWORD = "correct-horse-battery"


@pytest.fixture
def company_user(make_tenant):
    tenant = make_tenant("auth")
    email = f"u{uuid.uuid4().hex[:8]}@example.com"
    create_user(UserCreate(email=email, password=PASSWORD, tenant_id=tenant.id, full_name="Ada"), Actor.system("test"))
    return email, tenant


@pytest.fixture
def client(database_url: str) -> TestClient:
    from api.app import create_api

    return TestClient(create_api("company"))


def test_passwords_are_stored_as_argon2id(company_user) -> None:
    from services.users import get_user_by_email

    user = get_user_by_email(company_user[0])
    assert user.password_hash.startswith("$argon2id$")


def test_login_refresh_rotation_and_logout(company_user) -> None:
    email, tenant = company_user
    result = auth.login(email, PASSWORD, ip="198.51.100.1")
    assert result.user.email == email and result.user.tenant_slug == tenant.slug
    assert auth.user_from_access_token(result.tokens.access_token).email == email
    rotated = auth.refresh_tokens(result.tokens.refresh_token)
    assert rotated.refresh_token != result.tokens.refresh_token
    # The spent token again: refused, and the whole family is revoked.
    with pytest.raises(AuthenticationFailed, match="already used"):
        auth.refresh_tokens(result.tokens.refresh_token)
    with pytest.raises(AuthenticationFailed):
        auth.refresh_tokens(rotated.refresh_token)
    fresh = auth.login(email, PASSWORD)
    auth.logout(refresh_token=fresh.tokens.refresh_token)
    with pytest.raises(AuthenticationFailed):
        auth.refresh_tokens(fresh.tokens.refresh_token)


def test_access_token_checks_expiry_audience_and_algorithm(company_user) -> None:
    s = get_settings()
    base = {"sub": "1", "iss": s.jwt_issuer, "aud": s.jwt_audience, "typ": "access"}
    expired = jwt.encode({**base, "exp": utcnow() - timedelta(minutes=1)}, s.jwt_secret, algorithm="HS256")
    with pytest.raises(AuthenticationFailed, match="expired"):
        auth.user_from_access_token(expired)
    other_aud = jwt.encode(
        {**base, "aud": "someone-else", "exp": utcnow() + timedelta(minutes=5)}, s.jwt_secret, "HS256"
    )
    with pytest.raises(AuthenticationFailed, match="audience"):
        auth.user_from_access_token(other_aud)
    unsigned = jwt.encode({**base, "exp": utcnow() + timedelta(minutes=5)}, None, algorithm="none")
    with pytest.raises(AuthenticationFailed):
        auth.user_from_access_token(unsigned)


def test_failed_sign_ins_are_throttled_per_account(company_user) -> None:
    email, _ = company_user
    for _ in range(get_settings().login_max_failures_per_account):
        with pytest.raises(AuthenticationFailed, match="wrong email or password"):
            auth.authenticate(email, "wrong-password", ip=unused_address())
    with pytest.raises(TooManyAttempts, match="too many failed sign-ins for this account"):
        auth.authenticate(email, PASSWORD)


def test_failed_sign_ins_are_throttled_per_ip(database_url: str) -> None:
    ip = unused_address()
    for i in range(get_settings().login_max_failures_per_ip):
        with pytest.raises(AuthenticationFailed):
            auth.authenticate(f"nobody{i}-{uuid.uuid4().hex[:6]}@example.com", "x", ip=ip)
    with pytest.raises(TooManyAttempts, match="network address"):
        auth.authenticate("someone@example.com", "x", ip=ip)


def test_deactivated_user_cannot_sign_in_and_sessions_end(company_user) -> None:
    email, _ = company_user
    user = auth.authenticate(email, PASSWORD)
    cookie = auth.create_portal_session(user, auth.PORTAL_COMPANY)
    assert auth.user_from_portal_session(cookie, auth.PORTAL_COMPANY).email == email
    set_user_active(user.id, False, Actor.system("test"))
    assert auth.user_from_portal_session(cookie, auth.PORTAL_COMPANY) is None
    with pytest.raises(AuthenticationFailed, match="deactivated"):
        auth.authenticate(email, PASSWORD)


def test_a_portal_session_gives_the_user_with_their_roles_until_it_ends(company_user) -> None:
    import sqlalchemy as sa

    from models.db import public_session
    from models.enums import ProjectRole, TenantStatus
    from models.public import PortalSession
    from services.projects import ProjectCreate, create_project
    from services.security import hash_secret
    from services.sessions import revoke_all_sessions
    from services.tenants import set_tenant_status
    from services.users import set_project_role

    email, tenant = company_user
    system = Actor.system("test")
    lead_on, viewer_on = (create_project(ProjectCreate(tenant_id=tenant.id, key=k, name=k), system) for k in ("SA", "SB"))
    user = auth.authenticate(email, PASSWORD)
    set_project_role(user.id, lead_on.id, ProjectRole.TECH_LEAD, system)
    set_project_role(user.id, viewer_on.id, ProjectRole.VIEWER, system)
    cookie = auth.create_portal_session(user, auth.PORTAL_COMPANY)
    seen = auth.user_from_portal_session(cookie, auth.PORTAL_COMPANY)
    assert seen == auth.authenticate(email, PASSWORD)  # what a fresh sign-in gives: tenant, names, roles
    assert seen.tenant_slug == tenant.slug and seen.full_name == "Ada"
    assert seen.project_roles == {lead_on.id: "tech_lead", viewer_on.id: "viewer"}

    def ended(**values: object) -> bool:
        with public_session() as session:
            session.execute(sa.update(PortalSession).where(PortalSession.token_hash == hash_secret(cookie)).values(**values))
            session.commit()
        return auth.user_from_portal_session(cookie, auth.PORTAL_COMPANY) is None

    assert ended(expires_at=utcnow() - timedelta(seconds=1))
    assert not ended(expires_at=utcnow() + timedelta(hours=1))
    set_tenant_status(tenant.id, TenantStatus.INACTIVE, system)
    assert auth.user_from_portal_session(cookie, auth.PORTAL_COMPANY) is None  # a suspended company
    set_tenant_status(tenant.id, TenantStatus.ACTIVE, system)
    assert auth.user_from_portal_session(cookie, auth.PORTAL_COMPANY) is not None
    assert auth.user_from_portal_session(cookie + "x", auth.PORTAL_COMPANY) is None
    revoke_all_sessions(user.id)  # signed out everywhere
    assert auth.user_from_portal_session(cookie, auth.PORTAL_COMPANY) is None


def test_portals_refuse_the_wrong_kind_of_user(company_user) -> None:
    email, _ = company_user
    user = auth.authenticate(email, PASSWORD)
    with pytest.raises(PermissionDenied, match="admin portal is for platform administrators"):
        auth.create_portal_session(user, auth.PORTAL_ADMIN)
    admin_email = f"admin{uuid.uuid4().hex[:6]}@dmt.local"
    create_user(UserCreate(email=admin_email, password=PASSWORD, role=UserRole.PLATFORM_ADMIN), Actor.system("test"))
    admin = auth.authenticate(admin_email, PASSWORD)
    with pytest.raises(PermissionDenied, match="platform administrators use the admin portal"):
        auth.create_portal_session(admin, auth.PORTAL_COMPANY)
    cookie = auth.create_portal_session(admin, auth.PORTAL_ADMIN)
    assert auth.user_from_portal_session(cookie, auth.PORTAL_COMPANY) is None  # a cookie is for one portal


def test_malformed_email_and_weak_password_get_clear_messages(make_tenant) -> None:
    tenant = make_tenant("val")
    with pytest.raises(ValidationFailed, match="invalid email"):
        create_user(UserCreate(email="not-an-email", password=PASSWORD, tenant_id=tenant.id), Actor.system("t"))
    with pytest.raises(ValidationFailed, match="at least 10 characters"):
        create_user(UserCreate(email="short@example.com", password="short", tenant_id=tenant.id), Actor.system("t"))


def test_auth_api_round_trip(client: TestClient, company_user) -> None:
    email, tenant = company_user
    bad = client.post("/api/auth/login", json={"email": email, "password": "nope"})
    assert bad.status_code == 401 and bad.json()["error"]["message"] == "wrong email or password"
    missing = client.post("/api/auth/login", json={"email": email})
    assert missing.status_code == 422 and "password" in missing.json()["error"]["message"]
    ok = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert ok.status_code == 200
    body = ok.json()
    assert set(body) == {"user", "tokens", "portal_url"} and "password_hash" not in str(body)
    headers = {"Authorization": f"Bearer {body['tokens']['access']}"}
    me = client.get("/api/auth/me", headers=headers)
    assert me.status_code == 200 and me.json()["tenant"]["slug"] == tenant.slug
    assert client.get("/api/auth/me").status_code == 401
    refreshed = client.post("/api/auth/refresh", json={"refresh": body["tokens"]["refresh"]})
    assert refreshed.status_code == 200
    assert client.post("/api/auth/logout", json={"refresh": refreshed.json()["refresh"]}).status_code == 204
    again = client.post("/api/auth/refresh", json={"refresh": refreshed.json()["refresh"]})
    assert again.status_code == 401


def test_first_admin_registration_only_while_none_exists(client: TestClient) -> None:
    first = client.post(
        "/api/auth/register", json={"email": f"first{uuid.uuid4().hex[:6]}@dmt.local", "password": PASSWORD}
    )
    # Other tests in this database may already have created an admin; either way the second call is refused.
    assert first.status_code in (201, 409)
    second = client.post("/api/auth/register", json={"email": "second@dmt.local", "password": PASSWORD})
    assert second.status_code == 409 and "already exists" in second.json()["error"]["message"]


def test_portal_form_sign_in_sets_an_httponly_cookie(company_user, client: TestClient) -> None:
    email, _ = company_user
    response = client.post(
        "/api/auth/session", data={"email": email, "password": PASSWORD, "next": "/"}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "dmt_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    offsite = client.post(
        "/api/auth/session",
        data={"email": email, "password": PASSWORD, "next": "//evil.example"},
        follow_redirects=False,
    )
    assert offsite.headers["location"] == "/"
    wrong = client.post("/api/auth/session", data={"email": email, "password": "bad"}, follow_redirects=False)
    assert wrong.headers["location"].startswith("/login?error=")
