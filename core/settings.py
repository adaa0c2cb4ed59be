"""All configuration in one place, read from the environment (prefix-free names).

Every process (portals, workers, CLI, tests) reads the same settings class, so a
value means the same thing everywhere.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# A fixed development key so that `make run` works out of the box. Production
# deployments must set FERNET_KEYS / JWT_SECRET (docs/deploy.md); `dmt doctor`
# warns when the defaults are still in use.
DEV_FERNET_KEY = "0mWpVh0r0cJt9VnZx3sM6aJ1nqDq0k9i9mB0u9cQ0kE="
DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-in-production-0123456789"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    database_url: str = Field(default="", description="SQLAlchemy URL of PostgreSQL (postgresql+psycopg://...)")
    redis_url: str = Field(default="", description="Redis URL used by Celery, live events and throttling")
    data_dir: Path = Field(default=PROJECT_ROOT / ".data")

    # Secrets. FERNET_KEYS is a comma-separated list: the first key encrypts,
    # all keys decrypt (MultiFernet), which is how rotation works.
    fernet_keys: str = DEV_FERNET_KEY
    jwt_secret: str = DEV_JWT_SECRET
    jwt_algorithm: str = "HS256"
    jwt_audience: str = "dmt-sldp"
    jwt_issuer: str = "dmt-sldp"
    access_token_minutes: int = 15
    refresh_token_days: int = 14
    portal_session_hours: int = 12
    cookie_secure: bool = False

    # Sign-in throttling.
    login_max_failures_per_account: int = 5
    login_max_failures_per_ip: int = 20
    login_throttle_window_minutes: int = 15

    # Outbound HTTP to tools. Loopback/private targets are refused unless allowed
    # (the demo and the tests allow loopback explicitly).
    allow_private_source_urls: bool = False
    http_timeout_seconds: float = 30.0

    company_portal_url: str = "http://localhost:3000"
    admin_portal_url: str = "http://localhost:3001"

    # Shared secret for internal calls from workers to the portal backends.
    internal_api_secret: str = "dev-internal-secret"

    demo_password: str = Field(default="demo-pass-2026", alias="DMT_DEMO_PASSWORD")

    archive_dir: Path = Field(default=PROJECT_ROOT / ".data" / "archives")
    # S3-compatible archive store (AWS S3, MinIO, Ceph...): used instead of
    # archive_dir when a bucket is set.
    archive_s3_bucket: str = ""
    archive_s3_prefix: str = "dmt-archives/"
    archive_s3_endpoint_url: str = ""
    archive_s3_region: str = "us-east-1"
    archive_s3_access_key: str = ""
    archive_s3_secret_key: str = ""
    export_dir: Path = Field(default=PROJECT_ROOT / ".data" / "exports")

    def fernet_key_list(self) -> list[str]:
        return [k.strip() for k in self.fernet_keys.split(",") if k.strip()]


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Forget cached settings (tests change the environment)."""
    get_settings.cache_clear()


def require_database_url() -> str:
    url = get_settings().database_url or os.environ.get("DATABASE_URL", "")
    if not url:
        raise RuntimeError(
            "DATABASE_URL is not set. Use `make run` / `make test` (they start an embedded "
            "PostgreSQL), or export DATABASE_URL=postgresql+psycopg://user@host:5432/dbname"
        )
    return url
