"""The portals' sign-in form goes on to the page a link named, only ever on this site."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from services.audit import Actor
from services.users import UserCreate, create_user

PASSWORD = "correct-horse-battery"


@pytest.fixture
def email(make_tenant) -> str:
    tenant = make_tenant("next")
    address = f"n{uuid.uuid4().hex[:8]}@example.com"
    create_user(
        UserCreate(email=address, password=PASSWORD, tenant_id=tenant.id, full_name="Nia"), Actor.system("test")
    )
    return address


@pytest.fixture
def client(database_url: str) -> TestClient:
    from api.app import create_api

    return TestClient(create_api("company"))


def _sign_in(client: TestClient, email: str, password: str, next_path: str) -> str:
    response = client.post(
        "/api/auth/session",
        data={"email": email, "password": password, "next": next_path},
        follow_redirects=False,
    )
    assert response.status_code == 303
    return response.headers["location"]


def test_a_deep_link_is_where_the_sign_in_goes(client: TestClient, email: str) -> None:
    link = "/team/sprint/WEB%20Sprint%203?project=2"
    assert _sign_in(client, email, PASSWORD, link) == link


@pytest.mark.parametrize(
    "target",
    ["//evil.example/x", "https://evil.example/x", "/\\evil.example/x", "/\t/evil.example", "javascript:alert(1)"],
)
def test_the_sign_in_never_sends_the_browser_off_site(client: TestClient, email: str, target: str) -> None:
    assert _sign_in(client, email, PASSWORD, target) == "/"


def test_a_failed_attempt_keeps_the_destination_for_the_next_one(client: TestClient, email: str) -> None:
    link = "/dashboard/quality?project=3"
    back = urlsplit(_sign_in(client, email, "not the password", link))
    assert back.path == "/login"
    query = parse_qs(back.query)
    assert query["next"] == [link] and query["email"] == [email] and query["error"]
    off_site = urlsplit(_sign_in(client, email, "not the password", "//evil.example"))
    assert "next" not in parse_qs(off_site.query)
