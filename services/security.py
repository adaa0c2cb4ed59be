"""Password hashing (argon2id via passlib), JWT access tokens, opaque secrets."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

import jwt
from passlib.context import CryptContext

from core.netlists import in_networks
from core.settings import get_settings
from models.base import utcnow

_passwords = CryptContext(schemes=["argon2"], deprecated="auto", argon2__type="ID")

#: Only these algorithms are ever accepted when decoding (never "none").
ALLOWED_JWT_ALGORITHMS = ("HS256", "HS384", "HS512")


class InvalidToken(Exception):
    """The token is malformed, expired, signed with another key or meant for another audience."""


def hash_password(password: str) -> str:
    return _passwords.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return _passwords.verify(password, password_hash)
    except (ValueError, TypeError):
        return False


# A real hash to verify against when the account does not exist, so that the
# time a failed sign-in takes does not reveal whether the email is registered.
_DUMMY_HASH = hash_password("not-a-real-password-" + secrets.token_hex(8))


def burn_password_check(password: str) -> None:
    verify_password(password, _DUMMY_HASH)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """Stored form of an opaque token (refresh token, session cookie, API token)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_access_token(user_id: int, role: str, tenant_id: int | None, extra: dict[str, Any] | None = None) -> str:
    s = get_settings()
    now = utcnow()
    claims = {
        "sub": str(user_id),
        "role": role,
        "tid": tenant_id,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=s.access_token_minutes)).timestamp()),
        "aud": s.jwt_audience,
        "iss": s.jwt_issuer,
        "jti": secrets.token_hex(8),
        "typ": "access",
        **(extra or {}),
    }
    if s.jwt_algorithm not in ALLOWED_JWT_ALGORITHMS:
        raise RuntimeError(f"JWT_ALGORITHM must be one of {ALLOWED_JWT_ALGORITHMS}")
    return jwt.encode(claims, s.jwt_secret, algorithm=s.jwt_algorithm)


def decode_access_token(token: str) -> dict[str, Any]:
    s = get_settings()
    try:
        claims = jwt.decode(
            token,
            s.jwt_secret,
            algorithms=[s.jwt_algorithm],
            audience=s.jwt_audience,
            issuer=s.jwt_issuer,
            options={"require": ["exp", "aud", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("the access token has expired: refresh it with POST /api/auth/refresh") from exc
    except jwt.InvalidAudienceError as exc:
        raise InvalidToken("the access token was issued for another audience") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"the access token is invalid: {exc}") from exc
    if claims.get("typ") != "access":
        raise InvalidToken("not an access token")
    return claims


def client_address(peer: str | None, forwarded_for: str | None) -> str | None:
    """The caller's address for throttling and audit: the socket's peer, unless that peer is a trusted proxy.

    `X-Forwarded-For` is read only when the connection comes from a proxy listed
    in TRUSTED_PROXIES; then the right-most address that is not itself a trusted
    proxy counts (each proxy appends the address it saw, so the entries left of
    it are whatever the client chose to send). Anyone else's header is ignored.
    """
    proxies = get_settings().trusted_proxy_networks()
    if not forwarded_for or not in_networks(peer, proxies):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not in_networks(hop, proxies):
            return hop[:64]
    return hops[0][:64] if hops else peer
