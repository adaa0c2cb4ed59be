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

from tests.databases import pointed_database

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
    with pointed_database(_require_env("DATABASE_URL"), "dmt_test_", id_length=10) as url:
        yield url


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
