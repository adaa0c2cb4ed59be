"""A tenant's AI endpoint goes through the same SSRF guard as a source: at save time and at connect time.

No packet leaves loopback: refused addresses are IP literals (nothing to resolve),
a stub resolver plays the rebinding DNS, and a recording backend stands in for
the socket wherever a non-loopback address would be dialled.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import Response

from core.errors import ValidationFailed
from core.netlists import PrivateHostAllowList
from etl.connectors.http import OutboundGuard
from etl.insights import OpenAICompatibleProvider, ProviderError
from services.audit import Actor
from services.tenants import TenantUpdate, update_tenant
from tests.fakes.openai import FakeOpenAI, create_app
from tests.fakes.server import serve
from tests.unit.test_outbound_guard import PUBLIC, RecordingBackend, ScriptedResolver

ACTOR = Actor.system("test")
STATISTICS: dict[str, Any] = {"sprints": [], "developers": [], "open_flags": []}


@pytest.mark.parametrize("url", ["http://169.254.169.254/v1", "http://10.0.0.1/v1", "http://[fd00:ec2::254]/v1"])
def test_an_ai_endpoint_on_an_internal_address_is_refused_when_saved(make_tenant, url: str) -> None:
    tenant = make_tenant("ai")
    with pytest.raises(ValidationFailed) as err:
        update_tenant(tenant.id, TenantUpdate(ai_provider="openai", ai_base_url=url), ACTOR)
    assert err.value.field == "ai_base_url" and "refused" in err.value.message
    with pytest.raises(ValidationFailed):
        make_tenant("ai", ai_provider="openai", ai_base_url=url)


def test_a_refused_ai_endpoint_never_gets_a_connection() -> None:
    backend = RecordingBackend()
    provider = OpenAICompatibleProvider(
        "http://169.254.169.254/v1", "sk-test", "gpt", 5, guard=OutboundGuard(PrivateHostAllowList()),
        network_backend=backend,
    )  # fmt: skip
    with pytest.raises(ProviderError, match="metadata"):
        provider.write(STATISTICS)
    assert backend.attempts == []


def test_dns_rebinding_cannot_turn_the_ai_endpoint_to_loopback() -> None:
    resolver = ScriptedResolver([PUBLIC], ["127.0.0.1"])
    backend = RecordingBackend()
    provider = OpenAICompatibleProvider(
        "https://ai.rebind.example/v1", "sk-test", "gpt", 5,
        guard=OutboundGuard(PrivateHostAllowList(), resolver), network_backend=backend,
    )  # fmt: skip
    with pytest.raises(ProviderError, match="loopback"):
        provider.write(STATISTICS)
    assert backend.attempts == [] and len(resolver.lookups) == 2


def test_the_ai_endpoints_redirects_are_not_followed() -> None:
    target = FakeOpenAI(api_key="sk-test")
    with serve(create_app(target)) as target_url:
        redirector = FastAPI()

        @redirector.post("/v1/chat/completions")
        def moved() -> Response:
            return Response(status_code=307, headers={"location": f"{target_url}/v1/chat/completions"})

        with serve(redirector) as url:
            provider = OpenAICompatibleProvider(f"{url}/v1", "sk-test", "fake-gpt", 5)
            with pytest.raises(ProviderError, match="redirects are not followed"):
                provider.write(STATISTICS)
    assert target.requests == []
