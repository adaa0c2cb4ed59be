"""The spec's WebSocket channels (section 4.4), served beside the REST API on both portals' ports.

| path                           | event              | who may subscribe                  |
|--------------------------------|--------------------|------------------------------------|
| `/ws/dashboard/{tenant_slug}`  | `metrics_update`   | a company user of that tenant      |
| `/ws/notifications/{user_id}`  | `new_notification` | that user                          |
| `/ws/etl/{source_id}`          | `progress`         | platform administrators            |
| `/ws/admin/health`             | `health_update`    | platform administrators            |

Credentials: the access token as `?token=` or `Authorization: Bearer`, or the
portal's session cookie. A refused subscription never opens (the handshake is
answered 401/403/404). Every message is one JSON object `{"event", "at", ...}`
with `at` in ISO 8601 UTC; a `heartbeat` comes every `HEARTBEAT_SECONDS` and the
credential is checked again then (a revoked session or an expired token closes
the socket with code 4401, a lost permission with 4403). A client may send the
text `ping` and gets `{"event": "pong"}`. The channels are fed by the live-event
stream (`core.realtime`) through one reader per process (`core.event_hub`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, WebSocket
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect, WebSocketState

from api.deps import user_of_connection
from api.errors import error_body
from core import event_hub
from core.errors import ServiceError
from core.realtime import changes_data
from services import notifications, platform_health
from services.auth import CurrentUser
from services.sources import get_source

log = logging.getLogger(__name__)

router = APIRouter(tags=["websocket"])

HEARTBEAT_SECONDS = 25.0
#: How often the health channel looks at queues and workers for changes between events.
HEALTH_POLL_SECONDS = 30.0
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403

Event = dict[str, Any]
Message = dict[str, Any]
#: Why a user may not subscribe (status, code, message), or None when they may.
Refusal = tuple[int, str, str] | None


def _iso(epoch: float | None = None) -> str:
    return datetime.fromtimestamp(epoch if epoch is not None else time.time(), UTC).isoformat()


def _payload(event: Event) -> dict[str, Any]:
    """The event's own fields, without the envelope the stream adds."""
    return {k: v for k, v in event.items() if k not in ("type", "at", "tenant")}


@dataclass
class Channel:
    """What one socket receives: which events, as which messages, with what first and periodically."""

    authorize: Callable[[CurrentUser], Awaitable[Refusal]]
    accepts: Callable[[Event], bool]
    render: Callable[[Event], Awaitable[Message | None]]
    opening: Callable[[], Awaitable[Message | None]] | None = None
    poll: Callable[[], Awaitable[Message | None]] | None = None


# --------------------------------------------------------------------------- serving
async def _deny(websocket: WebSocket, status: int, code: str, message: str) -> None:
    """Refuse the handshake: an HTTP answer with the API's error body where the server supports it."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(JSONResponse(error_body(code, message), status_code=status))
    else:
        await websocket.close(code=CLOSE_UNAUTHENTICATED if status == 401 else CLOSE_FORBIDDEN, reason=message[:120])


async def _caller(websocket: WebSocket) -> CurrentUser | None:
    try:
        return await user_of_connection(websocket, allow_query_token=True)
    except ServiceError:
        return None


class _Socket:
    """One accepted connection: sends are serialised, a closed socket stops everything."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self._lock = asyncio.Lock()

    async def send(self, message: Message) -> None:
        message.setdefault("at", _iso())
        async with self._lock:
            await self.websocket.send_json(message)

    async def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            if self.websocket.application_state == WebSocketState.CONNECTED:
                await self.websocket.close(code=code, reason=reason[:120])


async def _receive(socket: _Socket) -> None:
    """Read until the client goes away; answer `ping`."""
    while True:
        message = await socket.websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if (message.get("text") or "").strip().lower() == "ping":
            await socket.send({"event": "pong"})


async def _still_allowed(socket: _Socket, channel: Channel) -> bool:
    """Check the credential and the permission again; close the socket when either is gone."""
    user = await _caller(socket.websocket)
    if user is None:
        await socket.close(CLOSE_UNAUTHENTICATED, "the session has ended: sign in again")
        return False
    refusal = await channel.authorize(user)
    if refusal is not None:
        await socket.close(CLOSE_FORBIDDEN, refusal[2])
        return False
    return True


async def _push(socket: _Socket, channel: Channel, subscription: event_hub.Subscription) -> None:
    """Send each accepted event as the channel renders it, heartbeats and polls in between."""
    loop = asyncio.get_running_loop()
    next_heartbeat = loop.time() + HEARTBEAT_SECONDS
    next_poll = loop.time() + HEALTH_POLL_SECONDS if channel.poll else float("inf")
    while True:
        event = await subscription.get(max(0.0, min(next_heartbeat, next_poll) - loop.time()))
        if event is not None:
            message = await channel.render(event)
            if message is not None:
                message.setdefault("at", _iso(event.get("at")))
                await socket.send(message)
        now = loop.time()
        if now >= next_heartbeat:
            if not await _still_allowed(socket, channel):
                return
            await socket.send({"event": "heartbeat"})
            next_heartbeat = now + HEARTBEAT_SECONDS
        if channel.poll is not None and now >= next_poll:
            message = await channel.poll()
            if message is not None:
                await socket.send(message)
            next_poll = now + HEALTH_POLL_SECONDS


async def serve_channel(websocket: WebSocket, channel: Channel) -> None:
    """Authenticate, authorise, subscribe, accept, then push until either side closes."""
    user = await _caller(websocket)
    if user is None:
        await _deny(websocket, 401, "authentication_failed", "sign in first: pass ?token=<access token>")
        return
    refusal = await channel.authorize(user)
    if refusal is not None:
        await _deny(websocket, *refusal)
        return
    # Subscribed before the handshake completes: whatever happens once the client sees
    # the socket open reaches it.
    subscription = await event_hub.subscribe(channel.accepts)
    socket = _Socket(websocket)
    try:
        await websocket.accept()
        if channel.opening is not None:
            opening = await channel.opening()
            if opening is not None:
                await socket.send(opening)
        tasks = {
            asyncio.create_task(_receive(socket), name="ws-receive"),
            asyncio.create_task(_push(socket, channel, subscription), name="ws-push"),
        }
        try:
            done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            error = task.exception()
            if error is not None and not isinstance(error, WebSocketDisconnect | RuntimeError | OSError):
                log.warning("websocket channel %s ended with %r", websocket.url.path, error)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the client went away while we were writing
    finally:
        event_hub.unsubscribe(subscription)
        await socket.close(1000, "bye")


# --------------------------------------------------------------------------- permissions
_NOT_ADMIN: Refusal = (403, "permission_denied", "this channel is for platform administrators")


async def _admin_only(user: CurrentUser) -> Refusal:
    return None if user.is_platform_admin else _NOT_ADMIN


# --------------------------------------------------------------------------- channels
def dashboard_channel(tenant_slug: str) -> Channel:
    """`metrics_update` whenever the tenant's data changes (a sync, an evaluation, a flag, metrics)."""

    async def authorize(user: CurrentUser) -> Refusal:
        if user.is_platform_admin or user.tenant_slug != tenant_slug:
            return (403, "permission_denied", "you can subscribe to your own company's dashboard only")
        return None

    def accepts(event: Event) -> bool:
        return event.get("tenant") == tenant_slug and changes_data(str(event.get("type", "")))

    async def render(event: Event) -> Message:
        return {"event": "metrics_update", "tenant": tenant_slug, "cause": event.get("type"), **_payload(event)}

    return Channel(authorize=authorize, accepts=accepts, render=render)


def notifications_channel(user_id: int) -> Channel:
    """`new_notification` for each notification created for the user, with their unread count."""
    tenant_of_user: dict[str, int | None] = {}

    async def authorize(user: CurrentUser) -> Refusal:
        if user.id != user_id:
            return (403, "permission_denied", "you can subscribe to your own notifications only")
        tenant_of_user["id"] = user.tenant_id
        return None

    def accepts(event: Event) -> bool:
        return event.get("type") == "notification.created" and event.get("user_id") == user_id

    def unread() -> int:
        return notifications.unread_count(user_id, tenant_of_user.get("id") or 0)

    async def render(event: Event) -> Message:
        payload = _payload(event)
        payload.pop("user_id", None)
        return {
            "event": "new_notification",
            "user_id": user_id,
            **payload,
            "unread": await run_in_threadpool(unread),
        }

    return Channel(authorize=authorize, accepts=accepts, render=render)


def etl_channel(source_id: int) -> Channel:
    """`progress` of every sync of one source: started, progress, finished or failed, with the counts."""

    def source_exists() -> bool:
        try:
            get_source(source_id)
        except ServiceError:
            return False
        return True

    async def authorize(user: CurrentUser) -> Refusal:
        if not user.is_platform_admin:
            return _NOT_ADMIN
        if not await run_in_threadpool(source_exists):
            return (404, "not_found", f"source {source_id} not found")
        return None

    def accepts(event: Event) -> bool:
        return str(event.get("type", "")).startswith("sync.") and event.get("source_id") == source_id

    async def render(event: Event) -> Message:
        phase = str(event.get("type", "")).removeprefix("sync.")
        return {"event": "progress", "phase": phase, "tenant": event.get("tenant"), **_payload(event)}

    return Channel(authorize=authorize, accepts=accepts, render=render)


def health_channel() -> Channel:
    """`health_update`: a snapshot on connect, then on every sync start/end and when queues or workers change."""
    last_queues: dict[str, Any] = {}

    async def snapshot(cause: str) -> Message:
        counts = await run_in_threadpool(platform_health.source_status_counts)
        queues = await run_in_threadpool(platform_health.queue_status)
        last_queues["value"] = queues.model_dump(mode="json")
        return {"event": "health_update", "cause": cause, "sources_by_status": counts, "queues": last_queues["value"]}

    async def opening() -> Message:
        return await snapshot("connected")

    async def poll() -> Message | None:
        queues = (await run_in_threadpool(platform_health.queue_status)).model_dump(mode="json")
        if queues == last_queues.get("value"):
            return None
        last_queues["value"] = queues
        return {"event": "health_update", "cause": "queues", "queues": queues}

    def accepts(event: Event) -> bool:
        return event.get("type") in ("sync.started", "sync.finished", "sync.failed")

    async def render(event: Event) -> Message:
        counts = await run_in_threadpool(platform_health.source_status_counts)
        return {
            "event": "health_update",
            "cause": event.get("type"),
            "tenant": event.get("tenant"),
            **_payload(event),
            "sources_by_status": counts,
        }

    return Channel(authorize=_admin_only, accepts=accepts, render=render, opening=opening, poll=poll)


@router.websocket("/ws/dashboard/{tenant_slug}")
async def dashboard(websocket: WebSocket, tenant_slug: str) -> None:
    await serve_channel(websocket, dashboard_channel(tenant_slug))


@router.websocket("/ws/notifications/{user_id}")
async def user_notifications(websocket: WebSocket, user_id: int) -> None:
    await serve_channel(websocket, notifications_channel(user_id))


@router.websocket("/ws/etl/{source_id}")
async def etl_progress(websocket: WebSocket, source_id: int) -> None:
    await serve_channel(websocket, etl_channel(source_id))


@router.websocket("/ws/admin/health")
async def admin_health(websocket: WebSocket) -> None:
    await serve_channel(websocket, health_channel())
