"""Revoking a user's sign-ins, and this process's short cache of users resolved from access tokens.

`auth` fills the cache when it resolves a bearer token; `users` revokes sessions
and empties the cache when an account is deactivated, its password reset or
its project roles changed. Both use this module, which imports neither.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from models.base import utcnow
from models.db import public_session
from models.public import PortalSession, RefreshToken

#: Resolved bearer tokens, kept briefly per process: a dashboard burst of requests
#: checks the signature every time but reads the user, tenant and roles once.
#: A deactivation or role change reaches API calls within this many seconds.
ACCESS_USER_TTL_SECONDS = 10.0
_MAX_CACHED = 10_000
_access_users: dict[str, tuple[float, Any]] = {}


def cached_access_user(token_hash: str) -> Any | None:
    """The user resolved for this token hash within the last ACCESS_USER_TTL_SECONDS, else None."""
    cached = _access_users.get(token_hash)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    return None


def remember_access_user(token_hash: str, user: Any) -> None:
    """Keep the user resolved for this token hash for ACCESS_USER_TTL_SECONDS."""
    if len(_access_users) > _MAX_CACHED:
        _access_users.clear()
    _access_users[token_hash] = (time.monotonic() + ACCESS_USER_TTL_SECONDS, user)


def forget_cached_users() -> None:
    """Drop this process's resolved tokens (after a deactivation or role change here)."""
    _access_users.clear()


def revoke_all_sessions(user_id: int) -> None:
    """Revoke every refresh token and portal session of a user (and forget cached tokens)."""
    forget_cached_users()
    now = utcnow()
    with public_session() as session:
        session.execute(
            sa.update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        session.execute(
            sa.update(PortalSession)
            .where(PortalSession.user_id == user_id, PortalSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        session.commit()
