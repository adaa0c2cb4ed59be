"""Live events: workers publish, portal backends fan them out to open pages.

Events go to one Redis Stream (`dmt:events`, capped). Every portal backend
reads it from its own last-seen id with XREAD, so each backend sees every
event (no consumer group: this is fan-out, not work sharing), and a backend
that restarts simply continues from "now".

An event is a flat dict: {"type": "sync.progress", "tenant": "acme", ...}.
Types: sync.started, sync.progress, sync.finished, sync.failed,
compliance.evaluated, metrics.rebuilt, notification.created, insight.created,
export.progress, export.finished.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import redis

from core.settings import get_settings

STREAM = "dmt:events"
STREAM_MAXLEN = 10_000

log = logging.getLogger(__name__)
_client: redis.Redis | None = None


def redis_client() -> redis.Redis:
    global _client
    if _client is None:
        url = get_settings().redis_url
        if not url:
            raise RuntimeError("REDIS_URL is not set (make run / make test start an embedded Redis)")
        _client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=10, socket_connect_timeout=5)
    return _client


def reset_client() -> None:
    global _client
    _client = None


def data_version_key(tenant_slug: str) -> str:
    """Redis key of the tenant's data version, which every data-changing event bumps."""
    return f"dmt:dataver:{tenant_slug}"


def bump_data_version(tenant_slug: str) -> None:
    """Make every cached read of the tenant stale (called when its data changes)."""
    try:
        redis_client().incr(data_version_key(tenant_slug))
    except redis.RedisError as exc:
        log.warning("cache version of %s not bumped: %s", tenant_slug, exc)


#: Events that do not change what dashboards show (progress ticks, notifications).
_NO_DATA_CHANGE = {"sync.started", "sync.progress", "notification.created", "export.progress", "export.finished"}


def changes_data(event_type: str) -> bool:
    """Whether an event of this type changes what a tenant's dashboards show."""
    return event_type not in _NO_DATA_CHANGE


def publish_event(event_type: str, tenant: str | None, **fields: Any) -> None:
    """Publish one live event. Never raises: a dashboard missing one update must not fail a sync.

    Events that change a tenant's data also bump its data version, which makes
    the cached dashboard reads (core/read_cache.py) stale.
    """
    if tenant and changes_data(event_type):
        bump_data_version(tenant)
    payload = {"type": event_type, "tenant": tenant or "", "at": time.time(), **fields}
    try:
        redis_client().xadd(STREAM, {"data": json.dumps(payload, default=str)}, maxlen=STREAM_MAXLEN, approximate=True)
    except redis.RedisError as exc:
        log.warning("live event %s not published: %s", event_type, exc)


def read_events(last_id: str = "$", block_ms: int = 1000, count: int = 100) -> Iterator[tuple[str, dict[str, Any]]]:
    """Block up to `block_ms` for events after `last_id`; yield (id, event)."""
    answer = redis_client().xread({STREAM: last_id}, block=block_ms, count=count)
    for _stream, entries in answer or []:
        for entry_id, data in entries:
            try:
                yield entry_id, json.loads(data["data"])
            except (KeyError, ValueError):
                log.warning("skipping malformed live event %s", entry_id)


def latest_event_id() -> str:
    info = redis_client().xinfo_stream(STREAM) if redis_client().exists(STREAM) else None
    return info["last-generated-id"] if info else "0-0"
