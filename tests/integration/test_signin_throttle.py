"""The sign-in throttle counts before it hashes (no race past the limit) and trusts X-Forwarded-For only from proxies."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import pytest
from starlette.requests import Request

from api.deps import client_ip
from core.errors import AuthenticationFailed, TooManyAttempts
from core.settings import get_settings, reset_settings_cache
from services import auth
from services.audit import Actor
from services.security import client_address
from services.users import UserCreate, create_user
from tests.addresses import unused_address

PASSWORD = "correct-horse-battery"


@pytest.fixture
def account(make_tenant) -> str:
    tenant = make_tenant("thr")
    email = f"t{uuid.uuid4().hex[:8]}@example.com"
    create_user(UserCreate(email=email, password=PASSWORD, tenant_id=tenant.id, full_name="Ada"), Actor.system("test"))
    return email


@pytest.fixture
def hash_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password hash the sign-in checks (real ones and the dummy for unknown accounts)."""
    checks: list[str] = []
    lock = threading.Lock()

    def counting(real: Callable[..., object], name: str) -> Callable[..., object]:
        def wrapper(*args: object) -> object:
            with lock:
                checks.append(name)
            return real(*args)

        return wrapper

    monkeypatch.setattr(auth, "verify_password", counting(auth.verify_password, "verify"))
    monkeypatch.setattr(auth, "burn_password_check", counting(auth.burn_password_check, "burn"))
    return checks


def _in_parallel(count: int, attempt: Callable[[int], None]) -> list[BaseException | None]:
    outcomes: list[BaseException | None] = [None] * count
    start = threading.Barrier(count)

    def run(i: int) -> None:
        start.wait()
        try:
            attempt(i)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertions
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_fifty_parallel_wrong_passwords_get_at_most_the_allowed_hash_checks(account: str, hash_checks) -> None:
    allowed = get_settings().login_max_failures_per_account
    outcomes = _in_parallel(50, lambda i: auth.authenticate(account, f"wrong-{i}", ip=f"198.51.100.{i + 1}"))
    assert len(hash_checks) <= allowed
    assert sum(isinstance(o, AuthenticationFailed) for o in outcomes) == allowed
    assert sum(isinstance(o, TooManyAttempts) for o in outcomes) == 50 - allowed
    with pytest.raises(TooManyAttempts, match="for this account"):
        auth.authenticate(account, PASSWORD)  # even the right password waits for the window
    assert len(hash_checks) <= allowed


def test_parallel_attempts_from_one_address_are_bounded_too(database_url: str, hash_checks) -> None:
    allowed = get_settings().login_max_failures_per_ip
    ip = unused_address()
    outcomes = _in_parallel(60, lambda i: auth.authenticate(f"n{i}-{uuid.uuid4().hex[:6]}@example.com", "x", ip=ip))
    assert len(hash_checks) == allowed
    assert sum(isinstance(o, TooManyAttempts) for o in outcomes) == 60 - allowed


def test_successful_sign_ins_do_not_use_up_the_allowance(account: str) -> None:
    allowed = get_settings().login_max_failures_per_account
    for _ in range(3 * allowed):
        assert auth.authenticate(account, PASSWORD).email == account
    for _ in range(allowed):
        with pytest.raises(AuthenticationFailed):
            auth.authenticate(account, "wrong")
    with pytest.raises(TooManyAttempts):
        auth.authenticate(account, PASSWORD)


# --------------------------------------------------------------------------- client address
@pytest.fixture
def proxies(monkeypatch: pytest.MonkeyPatch):
    def trust(value: str) -> None:
        monkeypatch.setenv("TRUSTED_PROXIES", value)
        reset_settings_cache()

    yield trust
    monkeypatch.undo()
    reset_settings_cache()


def _request(peer: str, forwarded_for: str | None) -> Request:
    headers = [(b"x-forwarded-for", forwarded_for.encode())] if forwarded_for else []
    return Request({"type": "http", "method": "POST", "path": "/api/auth/login", "headers": headers,
                    "client": (peer, 50000), "query_string": b""})  # fmt: skip


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(proxies) -> None:
    proxies("")
    assert client_ip(_request("198.51.100.7", "10.9.9.9")) == "198.51.100.7"
    proxies("10.0.0.0/24")
    assert client_ip(_request("198.51.100.7", "10.9.9.9")) == "198.51.100.7"  # not a listed proxy
    assert client_ip(_request("10.0.0.2", "203.0.113.5")) == "203.0.113.5"


def test_a_spoofed_forwarded_for_does_not_win_behind_a_trusted_proxy(proxies) -> None:
    proxies("10.0.0.0/24,10.0.1.7")
    # The client sent "1.2.3.4" itself; nginx appended the address it saw; a second proxy appended nginx.
    assert client_address("10.0.1.7", "1.2.3.4, 203.0.113.9, 10.0.0.5") == "203.0.113.9"
    assert client_address("10.0.0.5", "10.0.0.6") == "10.0.0.6"  # only proxies: the furthest one


def test_rotating_forwarded_for_cannot_escape_the_address_throttle(account: str, proxies) -> None:
    proxies("")
    allowed = get_settings().login_max_failures_per_ip
    peer = unused_address()
    for i in range(allowed):
        ip = client_ip(_request(peer, f"203.0.113.{i}"))
        with pytest.raises(AuthenticationFailed):
            auth.authenticate(f"x{i}-{uuid.uuid4().hex[:6]}@example.com", "x", ip=ip)
    with pytest.raises(TooManyAttempts, match="network address"):
        auth.authenticate(account, PASSWORD, ip=client_ip(_request(peer, "203.0.113.250")))
