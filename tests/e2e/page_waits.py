"""Browser tests wait for what the page shows or receives, never for a fixed time."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page, WebSocket
from playwright.sync_api import TimeoutError as PlaywrightTimeout

#: True once the page's markup (charts included) is the same at two checks in a row and no finite CSS
#: animation or transition is running: the last state update has painted, the charts' entry animation is over.
#: Infinite animations (spinners) do not count.
_SETTLED = """() => {
  const markup = document.body ? document.body.innerHTML : "";
  const moving = document.getAnimations().some(
    (a) => a.playState === "running" && Number.isFinite(a.effect?.getComputedTiming().endTime));
  const same = window.__dmtMarkup === markup;
  window.__dmtMarkup = markup;
  return same && !moving;
}"""


def settle(page: Page, timeout_ms: float = 15_000) -> None:
    """Wait until the page has stopped changing (two identical checks 100 ms apart), e.g. before a screenshot."""
    page.evaluate("() => { window.__dmtMarkup = undefined; }")
    page.wait_for_function(_SETTLED, polling=100, timeout=timeout_ms)


#: A state delta of AuthState.live_seq (bumped on every batch of live events the tab receives).
_LIVE_SEQ = re.compile(r'"live_seq_rx_state_"\s*:\s*\d+')


class LiveTab:
    """Sees the live-event batches the portal pushes to a tab, on the tab's Reflex event socket.

    Create it before the tab opens its pages: it keeps the sockets the tab opens.
    """

    def __init__(self, page: Page) -> None:
        self.sockets: list[WebSocket] = []
        page.on("websocket", self._opened)

    def _opened(self, socket: WebSocket) -> None:
        if "/_event" in socket.url:
            self.sockets.append(socket)

    def wait_until_following(self, tenant_slug: str, timeout: float = 30.0) -> None:
        """Return once the open page's live loop passes this tenant's events on.

        A probe event is published (again each second without an answer: the loop may not
        be subscribed yet) until the tab's socket receives the live_seq update it causes.
        """
        from core.realtime import publish_event

        deadline = time.monotonic() + timeout
        while True:
            open_sockets = [s for s in self.sockets if not s.is_closed()]
            assert open_sockets, "the tab has no open event socket"
            try:
                with open_sockets[-1].expect_event("framereceived", predicate=_is_live_update, timeout=1_000):
                    publish_event("e2e.probe", tenant_slug)
                return
            except PlaywrightTimeout:
                if time.monotonic() >= deadline:
                    raise AssertionError(f"the tab did not follow {tenant_slug}'s live events in {timeout:g} s") from None


def _is_live_update(payload: str | bytes) -> bool:
    text = payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
    return _LIVE_SEQ.search(text) is not None
