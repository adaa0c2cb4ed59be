"""The unauthenticated /api/health says up or down per dependency, never an error's text."""

from __future__ import annotations

import redis
from fastapi.testclient import TestClient

from services import health
from tests.fakes.server import free_port


def test_health_hides_error_text_from_anonymous_callers(database_url: str, redis_url: str, monkeypatch) -> None:
    from api.app import create_api

    port = free_port()
    broken = redis.Redis.from_url(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=2)
    monkeypatch.setattr(health, "redis_client", lambda: broken)
    client = TestClient(create_api("company"))
    answer = client.get("/api/health")
    assert answer.json() == {"ok": False, "database": {"ok": True}, "redis": {"ok": False}}
    assert str(port) not in answer.text and "Error" not in answer.text
    detailed = health.health_report()  # what platform admins see on the authenticated health page
    assert not detailed["redis"]["ok"] and str(port) in detailed["redis"]["error"]
