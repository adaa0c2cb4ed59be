"""The spec's WebSocket channels on the portals' own ports: the built portals (granian, Reflex's prod backend)
serve `/ws/...` beside the UI and `/api`, with the same credentials and refusals as the API tests prove."""

from __future__ import annotations

from typing import Any

from websockets.sync.client import ClientConnection, connect

from core.realtime import publish_event
from services import auth
from tests.channels import refused_status, wait_for_event
from tests.e2e.conftest import Portal, Seed

EVENT_DEADLINE = 2.0


def _ws(portal: Portal) -> str:
    return portal.url.replace("http://", "ws://")


def _wait_for(ws: ClientConnection, event: str, deadline: float = EVENT_DEADLINE, **fields: Any) -> dict[str, Any]:
    return wait_for_event(ws, event, deadline, **fields)


def _refused(url: str, **kwargs: Any) -> int:
    return refused_status(url, open_timeout=10, **kwargs)


def test_the_company_portal_serves_the_dashboard_channel_with_a_token_or_its_cookie(
    company_portal: Portal, seed: Seed
) -> None:
    token = auth.login(seed.company_email, seed.company_password).tokens.access_token
    url = f"{_ws(company_portal)}/ws/dashboard/{seed.tenant_slug}"
    with connect(f"{url}?token={token}", open_timeout=10) as ws:
        publish_event("compliance.evaluated", seed.tenant_slug, scope="items", opened=1)
        message = _wait_for(ws, "metrics_update", cause="compliance.evaluated")
    assert message["tenant"] == seed.tenant_slug and message["opened"] == 1
    cookie = auth.create_portal_session(auth.authenticate(seed.company_email, seed.company_password), "company")
    with connect(url, additional_headers={"Cookie": f"{auth.SESSION_COOKIE}={cookie}"}, open_timeout=10) as ws:
        publish_event("metrics.rebuilt", seed.tenant_slug, sprints=3)
        _wait_for(ws, "metrics_update", cause="metrics.rebuilt")
    assert _refused(f"{_ws(company_portal)}/ws/dashboard/other_tenant?token={token}") == 403
    assert _refused(url) == 401


def test_the_admin_portal_serves_the_health_channel_to_platform_admins_only(admin_portal: Portal, seed: Seed) -> None:
    admin = auth.login(seed.admin_email, seed.admin_password).tokens.access_token
    with connect(f"{_ws(admin_portal)}/ws/admin/health?token={admin}", open_timeout=10) as ws:
        opening = _wait_for(ws, "health_update", deadline=10, cause="connected")
        assert "sources_by_status" in opening
    company = auth.login(seed.company_email, seed.company_password).tokens.access_token
    assert _refused(f"{_ws(admin_portal)}/ws/admin/health?token={company}") == 403
