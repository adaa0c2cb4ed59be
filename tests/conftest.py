"""Shared fixtures: a fresh PostgreSQL database per test session, Redis, tenants.

`make test` runs pytest under `python -m core.embedded --profile=test`, which
exports DATABASE_URL / REDIS_URL (embedded servers when unset). Each pytest
process (and each xdist worker) creates its own database `dmt_test_<id>` on
that server and drops it at the end, so a configured server is never clobbered.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from core.settings import reset_settings_cache

# Tests talk to fake tool servers on loopback (only there: no private or metadata
# address is ever allowed), and run with the development secrets.
os.environ.setdefault("ALLOWED_PRIVATE_HOSTS", "127.0.0.0/8,::1/128")
os.environ.setdefault("DMT_ENVIRONMENT", "test")


def _require_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.exit(
            f"{name} is not set: run the suite with `make test` (it starts embedded PostgreSQL and Redis) "
            f"or export {name}",
            returncode=3,
        )
    return value


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A freshly created, migrated (public stream) database for this test process."""
    from models import db as dbmod
    from models.migrate import upgrade_public

    server_url = make_url(_require_env("DATABASE_URL"))
    name = f"dmt_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = server_url.set(database=name).render_as_string(hide_password=False)
    previous = os.environ["DATABASE_URL"]
    os.environ["DATABASE_URL"] = url
    reset_settings_cache()
    dbmod.dispose_engines()
    upgrade_public()
    try:
        yield url
    finally:
        dbmod.dispose_engines()
        os.environ["DATABASE_URL"] = previous
        reset_settings_cache()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def redis_url() -> str:
    return _require_env("REDIS_URL")


@pytest.fixture
def db(database_url: str) -> str:
    """Alias that reads well in test signatures: the test needs the database."""
    return database_url


@pytest.fixture
def make_tenant(database_url: str):
    """Create tenants with unique slugs: make_tenant("acme") -> Tenant (slug acme_<random>)."""
    from services.audit import Actor
    from services.tenants import TenantCreate, create_tenant

    def factory(prefix: str = "t", **kwargs):
        slug = f"{prefix}_{uuid.uuid4().hex[:8]}"
        return create_tenant(TenantCreate(name=kwargs.pop("name", slug.title()), slug=slug, **kwargs), Actor.system("test"))

    return factory
