"""A short-lived cache of dashboard reads, invalidated by the tenant's data version.

Dashboards change only when data changes: after a sync, an evaluation, a
metrics rebuild, a resolved flag or a rated insight. Each of those publishes a
live event (services/realtime.py), which bumps the tenant's data version in
Redis; cache keys carry the version, so a change makes every older entry
unreachable at once. Entries also expire after TTL_SECONDS as a backstop.

Keys include the user id: what a user may see (anonymised names) depends on
their project role, so one user's answer is never served to another.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import redis
from pydantic import BaseModel

from services.realtime import redis_client

TTL_SECONDS = 60
log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


def _version_key(tenant_slug: str) -> str:
    return f"dmt:dataver:{tenant_slug}"


def bump_data_version(tenant_slug: str) -> None:
    """Make every cached read of the tenant stale (called when its data changes)."""
    try:
        redis_client().incr(_version_key(tenant_slug))
    except redis.RedisError as exc:
        log.warning("cache version of %s not bumped: %s", tenant_slug, exc)


def data_version(tenant_slug: str) -> str:
    return redis_client().get(_version_key(tenant_slug)) or "0"


def cached_json(tenant_slug: str, user_id: int, parts: tuple[object, ...], produce: Callable[[], M]) -> str:
    """The JSON of `produce()`, from the cache when the tenant's data has not changed since."""
    try:
        client = redis_client()
        key = f"dmt:read:{tenant_slug}:{data_version(tenant_slug)}:{user_id}:" + ":".join(map(str, parts))
        hit = client.get(key)
        if hit is not None:
            return hit
    except redis.RedisError as exc:  # no cache is slower, never wrong
        log.warning("read cache unavailable: %s", exc)
        return produce().model_dump_json()
    body = produce().model_dump_json()
    try:
        client.set(key, body, ex=TTL_SECONDS)
    except redis.RedisError as exc:
        log.warning("read cache not written: %s", exc)
    return body
