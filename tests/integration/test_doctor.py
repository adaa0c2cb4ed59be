"""`dmt doctor`: each check says ok, warn or fail for the situation it is about."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from cli.main import app as cli
from core.settings import Settings
from models.db import get_engine
from models.migrate import head_revision
from services import doctor
from tests import celery_worker
from tests.fakes.server import free_port


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch):
    """Settings as an operator would set them in the environment (read fresh, not the process's cache)."""

    def settings(**env: str) -> Settings:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return Settings()

    return settings


def _by_name(checks: list[doctor.Check]) -> dict[str, doctor.Check]:
    return {check.name: check for check in checks}


def test_a_healthy_test_deployment(make_tenant, database_url: str, redis_url: str, tmp_path: Path) -> None:
    make_tenant("doc")
    queue, log = f"doctor-{uuid.uuid4().hex[:8]}", tmp_path / "worker.log"
    worker = celery_worker.start_worker(database_url, redis_url, queue=queue, name=queue, log=log)
    try:
        celery_worker.wait_until_ready(worker, log)
        checks = _by_name(doctor.run_checks())
    finally:
        celery_worker.stop_worker(worker)
    assert checks["secrets"].status == "warn" and "DMT_ENVIRONMENT=test" in checks["secrets"].detail
    for name in ("database", "migrations", "redis", "workers", "cookies", "client addresses"):
        assert checks[name].status == "ok", checks[name]
    assert f"{queue}@" in checks["workers"].detail
    assert checks["task outbox"].status != "fail"


def test_production_on_the_development_secrets_fails(configure) -> None:
    s = configure(DMT_ENVIRONMENT="production")
    check = doctor.check_secrets(s)
    assert check.status == "fail" and "JWT_SECRET and FERNET_KEYS" in check.detail
    fresh = configure(
        DMT_ENVIRONMENT="production", JWT_SECRET="x" * 48, FERNET_KEYS="Pz0Fp1m2W1bb3RkUy1AcPgk0v6Yo0fXXgtwXmWbmqLE="
    )
    assert doctor.check_secrets(fresh).status == "ok"


def test_cookie_security_behind_https(configure) -> None:
    https = {"COMPANY_PORTAL_URL": "https://dmt.example.com", "ADMIN_PORTAL_URL": "https://admin.dmt.example.com"}
    assert (
        doctor.check_cookies(configure(DMT_ENVIRONMENT="production", COOKIE_SECURE="false", **https)).status == "fail"
    )
    assert doctor.check_cookies(configure(DMT_ENVIRONMENT="production", COOKIE_SECURE="true", **https)).status == "ok"
    plain = configure(DMT_ENVIRONMENT="production", COOKIE_SECURE="false", COMPANY_PORTAL_URL="http://dmt.example.com")
    assert doctor.check_cookies(plain).status == "fail"
    assert doctor.check_proxies(configure(DMT_ENVIRONMENT="production", TRUSTED_PROXIES="")).status == "warn"


def test_unreachable_database_and_redis_fail(configure) -> None:
    s = configure(
        DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing",
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
    )
    checks = _by_name(doctor.run_checks(s))
    for name in ("database", "migrations", "redis", "workers", "task outbox"):
        assert checks[name].status == "fail", checks[name]
    assert "cannot connect" in checks["database"].detail and "cannot connect" in checks["redis"].detail


def test_a_tenant_schema_behind_the_code_fails(make_tenant) -> None:
    tenant = make_tenant("old")
    schema = f'"tenant_{tenant.slug}".alembic_version'
    with get_engine().begin() as conn:
        conn.execute(sa.text(f"UPDATE {schema} SET version_num = 't0001'"))
    try:
        check = doctor.check_migrations(Settings())
        assert check.status == "fail" and tenant.slug in check.detail and "dmt migrate" in check.detail
    finally:
        with get_engine().begin() as conn:
            conn.execute(sa.text(f"UPDATE {schema} SET version_num = :head"), {"head": head_revision("tenant")})


def test_the_command_exits_non_zero_on_a_failure(configure) -> None:
    configure(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    from core.settings import reset_settings_cache

    reset_settings_cache()
    try:
        result = CliRunner().invoke(cli, ["doctor", "--json"])
    finally:
        reset_settings_cache()
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert result.exit_code == 1
    assert {line["check"]: line["status"] for line in lines}["redis"] == "fail"
