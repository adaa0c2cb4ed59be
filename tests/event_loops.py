"""Running a coroutine from a synchronous test, whatever the calling thread holds.

The browser tests keep Playwright's synchronous API alive for the whole session, and it
leaves an event loop registered as running in pytest's main thread; `asyncio.run` there
then refuses ("cannot be called from a running event loop"). A fresh thread has no loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(coroutine)` in a new thread; returns its result or raises its exception."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below, whatever it is
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="run-coroutine", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
