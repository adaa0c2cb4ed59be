"""Helpers for tests of the live WebSocket channels (integration and browser suites)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect


def wait_for_event(ws: ClientConnection, event: str, deadline: float, **fields: Any) -> dict[str, Any]:
    """The first message named `event` (with these field values) within `deadline` s; others are skipped."""
    until = time.monotonic() + deadline
    seen: list[dict[str, Any]] = []
    while True:
        remaining = until - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {event} {fields} within {deadline} s; got {seen}")
        try:
            message = json.loads(ws.recv(timeout=remaining))
        except TimeoutError:
            continue
        seen.append(message)
        if message.get("event") == event and all(message.get(k) == v for k, v in fields.items()):
            return message


def refused_status(url: str, open_timeout: float = 5, **kwargs: Any) -> int:
    """The HTTP status with which the server refuses the WebSocket handshake to `url`."""
    with pytest.raises(InvalidStatus) as refused:
        with connect(url, open_timeout=open_timeout, **kwargs):
            pass
    return refused.value.response.status_code
