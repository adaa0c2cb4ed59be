"""The outbound SSRF guard: every refusal proved without a packet leaving loopback.

Name resolution goes through stub resolvers and, where a connection to a
non-loopback address would be attempted, through a network backend that records
the attempt instead of connecting. Real connections only go to 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import gzip
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpcore
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from core.netlists import PrivateHostAllowList
from etl.connectors.base import SourceConfigError, SourceDataError, SourceUnavailable
from etl.connectors.http import (
    CursorGuard,
    OutboundGuard,
    SourceHttpClient,
    validate_base_url,
)
from tests.fakes.server import serve

DEMO_ALLOW_LIST = "127.0.0.1:8900"  # what `make run` sets: the fake tools' loopback port alone
PUBLIC = "93.184.216.34"


class RecordingBackend(httpcore.NetworkBackend):
    """Records where a connection would go and refuses it: nothing is sent."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, int]] = []

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # type: ignore[no-untyped-def]
        self.attempts.append((host, port))
        raise httpcore.ConnectError(f"recorded, not connected: {host}:{port}")


class ScriptedResolver:
    """Answers each lookup with the next scripted list of addresses (the last one repeats)."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.lookups: list[str] = []

    def __call__(self, host: str) -> list[str]:
        self.lookups.append(host)
        return self.answers[min(len(self.lookups), len(self.answers)) - 1]


def refusing_resolver(host: str) -> list[str]:
    """Only IP literals resolve (to themselves): a test can never ask a real DNS server."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        raise AssertionError(f"the test tried to resolve {host!r}") from None


def guard(allow: str = "", resolver=refusing_resolver) -> OutboundGuard:  # type: ignore[no-untyped-def]
    return OutboundGuard(PrivateHostAllowList.parse(allow), resolver)


# --------------------------------------------------------------------------- which addresses
@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8080", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://10.1.2.3", "private"),
        ("http://192.168.0.10", "private"),
        ("http://169.254.169.254/latest/meta-data", "metadata"),
        ("http://[fd00:ec2::254]/", "metadata"),
        ("http://169.254.10.1", "link-local"),
        ("http://224.0.0.1", "multicast"),
        ("http://0.0.0.0", "unspecified"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://240.0.0.1", "reserved"),
        ("http://100.64.1.1", "carrier-grade NAT"),
    ],
)
def test_internal_addresses_are_refused(url: str, reason: str) -> None:
    with pytest.raises(SourceConfigError) as exc:
        validate_base_url(url, guard=guard())
    assert reason in str(exc.value) and "ALLOWED_PRIVATE_HOSTS" in str(exc.value)


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data", "http://10.0.0.1", "http://[::1]:5432", "http://127.0.0.1:5432"]
)
def test_the_demo_allow_list_refuses_everything_but_the_fake_tools(url: str) -> None:
    demo = guard(DEMO_ALLOW_LIST)
    assert validate_base_url("http://127.0.0.1:8900/", guard=demo) == "http://127.0.0.1:8900"
    with pytest.raises(SourceConfigError, match="refused"):
        validate_base_url(url, guard=demo)


def test_metadata_addresses_stay_refused_whatever_the_allow_list_says() -> None:
    generous = guard("169.254.0.0/16,169.254.169.254:80")
    assert validate_base_url("http://169.254.10.1", guard=generous) == "http://169.254.10.1"
    with pytest.raises(SourceConfigError, match="metadata"):
        validate_base_url("http://169.254.169.254", guard=generous)


def test_every_resolved_address_is_checked() -> None:
    with pytest.raises(SourceConfigError, match=r"resolves to 10\.0\.0\.7"):
        validate_base_url("https://jira.acme.example", guard=guard(resolver=lambda host: [PUBLIC, "10.0.0.7"]))
    assert validate_base_url("https://jira.acme.example/", guard=guard(resolver=lambda host: [PUBLIC])) == (
        "https://jira.acme.example"
    )


def test_named_private_hosts_are_allowed_on_their_port_only() -> None:
    internal = guard("jira.internal:8443", resolver=lambda host: ["10.20.0.5"])
    assert validate_base_url("https://jira.internal:8443", guard=internal) == "https://jira.internal:8443"
    with pytest.raises(SourceConfigError, match="private network"):
        validate_base_url("https://jira.internal", guard=internal)


@pytest.mark.parametrize("url", ["ftp://jira.acme.example", "file:///etc/passwd", "https://", "https://u:p@x.example"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(SourceConfigError):
        validate_base_url(url, guard=guard("0.0.0.0/0"))


@pytest.mark.parametrize("entry", ["jira.internal", "10.0.0.0/33", "host:99999", "host:", ":80", "[::1]:x"])
def test_a_bad_allow_list_entry_is_named(entry: str) -> None:
    with pytest.raises(ValueError, match="ALLOWED_PRIVATE_HOSTS"):
        PrivateHostAllowList.parse(f"127.0.0.1:8900,{entry}")


def test_the_setting_is_read_and_checked_at_startup(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.settings import Settings

    monkeypatch.setenv("ALLOWED_PRIVATE_HOSTS", DEMO_ALLOW_LIST)
    allow = Settings().private_host_allow_list()
    assert allow.allows("127.0.0.1", ipaddress.ip_address("127.0.0.1"), 8900)
    assert not allow.allows("127.0.0.1", ipaddress.ip_address("127.0.0.1"), 5432)
    monkeypatch.setenv("ALLOWED_PRIVATE_HOSTS", "jira.internal")
    with pytest.raises(ValueError, match=r"jira\.internal"):
        Settings()


# --------------------------------------------------------------------------- the connection itself
def test_dns_rebinding_cannot_reach_loopback() -> None:
    """The name answers a public address when checked, then loopback: the connection is refused, nothing sent."""
    resolver = ScriptedResolver([PUBLIC], ["127.0.0.1"])
    backend = RecordingBackend()
    client = SourceHttpClient(
        "https://jira.rebind.example", guard=guard(resolver=resolver), network_backend=backend, max_retries=0
    )
    with pytest.raises(SourceConfigError, match=r"resolves to 127\.0\.0\.1, a loopback address"):
        client.get_json("rest/api/2/myself")
    assert resolver.lookups == ["jira.rebind.example", "jira.rebind.example"]
    assert backend.attempts == []


def test_the_connection_goes_to_the_address_that_was_checked() -> None:
    resolver = ScriptedResolver([PUBLIC])
    backend = RecordingBackend()
    client = SourceHttpClient(
        "https://jira.pinned.example", guard=guard(resolver=resolver), network_backend=backend, max_retries=0
    )
    with pytest.raises(SourceUnavailable):
        client.get_json("rest/api/2/myself")
    assert backend.attempts == [(PUBLIC, 443)]  # the checked address, never the name again


def test_the_client_refuses_at_construction_too() -> None:
    backend = RecordingBackend()
    for url in ("http://169.254.169.254", "http://10.0.0.1", "http://[::1]:5432"):
        with pytest.raises(SourceConfigError):
            SourceHttpClient(url, guard=guard(DEMO_ALLOW_LIST), network_backend=backend)
    assert backend.attempts == []


def test_the_client_uses_the_deployment_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.settings import reset_settings_cache

    monkeypatch.setenv("ALLOWED_PRIVATE_HOSTS", DEMO_ALLOW_LIST)
    reset_settings_cache()
    try:
        SourceHttpClient("http://127.0.0.1:8900").close()
        with pytest.raises(SourceConfigError, match="ALLOWED_PRIVATE_HOSTS"):
            SourceHttpClient("http://127.0.0.1:9")
    finally:
        monkeypatch.undo()
        reset_settings_cache()


def _echo_app() -> FastAPI:
    app = FastAPI()

    @app.get("/echo")
    def echo(request: Request) -> JSONResponse:
        return JSONResponse({"host": request.headers.get("host")})

    @app.get("/moved")
    def moved() -> Response:
        return Response(status_code=307, headers={"location": "http://127.0.0.1:9/elsewhere"})

    @app.get("/big")
    def big() -> Response:
        return Response(b"x" * 300_000, media_type="application/json")

    @app.get("/stream")
    def stream() -> StreamingResponse:
        return StreamingResponse((b"y" * 50_000 for _ in range(10)), media_type="application/json")

    @app.get("/bomb")
    def bomb() -> Response:
        body = gzip.compress(b"[" + b"0," * 500_000 + b"0]")
        return Response(body, media_type="application/json", headers={"content-encoding": "gzip"})

    @app.get("/loop")
    def loop() -> JSONResponse:
        return JSONResponse([1], headers={"link": '</loop?page=1>; rel="next"'})

    return app


@pytest.fixture(scope="module")
def echo_site() -> Iterator[str]:
    with serve(_echo_app()) as url:
        yield url


def test_the_host_header_keeps_the_tools_name(echo_site: str) -> None:
    port = int(echo_site.rsplit(":", 1)[1])
    client = SourceHttpClient(
        f"http://jira.example.test:{port}",
        guard=guard(f"127.0.0.1:{port}", resolver=lambda host: ["127.0.0.1"]),
        max_retries=0,
    )
    data, _ = client.get_json("echo")
    assert data == {"host": f"jira.example.test:{port}"}


def _self_signed(name: str, folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_tls_keeps_the_server_name_while_the_address_is_pinned(tmp_path: Path) -> None:
    """SNI and certificate check use the tool's name although the socket goes to the checked address."""
    name = "jira.tls.example"
    cert, key = _self_signed(name, tmp_path)
    server_names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda _sock, server_name, _ctx: server_names.append(server_name)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"host": self.headers.get("host")}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = SourceHttpClient(
            f"https://{name}:{port}",
            guard=guard(f"127.0.0.1:{port}", resolver=lambda host: ["127.0.0.1"]),
            verify=ssl.create_default_context(cafile=str(cert)),
            max_retries=0,
        )
        data, _ = client.get_json("echo")
        client.close()
    finally:
        server.shutdown()
        server.server_close()
    assert data == {"host": f"{name}:{port}"}
    assert server_names and set(server_names) == {name}


def test_redirects_are_not_followed(echo_site: str) -> None:
    client = SourceHttpClient(echo_site, max_retries=0)
    with pytest.raises(SourceConfigError, match="redirects are not followed"):
        client.get_json("moved")


# --------------------------------------------------------------------------- bounded answers
@pytest.mark.parametrize("path", ["big", "stream", "bomb"])
def test_an_answer_over_the_size_cap_is_refused(echo_site: str, path: str) -> None:
    client = SourceHttpClient(echo_site, max_retries=0, max_response_bytes=200_000)
    with pytest.raises(SourceDataError, match="more than 200,000 bytes"):
        client.get_json(path)
    roomy = SourceHttpClient(echo_site, max_retries=0, max_response_bytes=2_000_000)
    assert len(roomy.request("GET", path).content) > 200_000


def test_a_next_link_that_comes_back_stops_paging(echo_site: str) -> None:
    client = SourceHttpClient(echo_site, max_retries=0)
    pages = client.get_paged_link_header("loop")
    with pytest.raises(SourceDataError, match="already returned"):
        for _ in pages:
            pass
    assert client.requests_made == 2


def test_the_cursor_guard_bounds_a_loop() -> None:
    cursors = CursorGuard("search", max_pages=3)
    for token in ("a", "b", "c"):
        cursors.advance(token)
    with pytest.raises(SourceDataError, match="more than 3 pages"):
        cursors.advance("d")
    repeat = CursorGuard("search")
    repeat.advance("a")
    with pytest.raises(SourceDataError, match="already returned"):
        repeat.advance("a")
