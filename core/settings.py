"""All configuration in one place, read from the environment (prefix-free names).

Every process (portals, workers, CLI, tests) reads the same settings class, so a
value means the same thing everywhere.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.netlists import IPNetwork, PrivateHostAllowList, parse_host_allow_list, parse_networks

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# A fixed development key so that `make run` works out of the box. Only the demo
# and the tests (DMT_ENVIRONMENT=demo|test) may run with them: anywhere else
# `get_settings()` refuses (see `require_safe_secrets`) and `dmt doctor` says why.
DEV_FERNET_KEY = "0mWpVh0r0cJt9VnZx3sM6aJ1nqDq0k9i9mB0u9cQ0kE="
DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-in-production-0123456789"


#: Where the process runs. Only "demo" (`make run`) and "test" accept the development secrets.
ENVIRONMENTS = ("production", "demo", "test")


class InsecureSettings(RuntimeError):
    """The configuration must not be used as it is (e.g. development secrets in production)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    environment: str = Field(
        default="production",
        alias="DMT_ENVIRONMENT",
        description="production (default), demo (`make run`) or test; only demo and test accept development secrets",
    )

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

    # Sign-in throttling: attempts are counted (Redis) before the password is checked.
    login_max_failures_per_account: int = 5
    login_max_failures_per_ip: int = 20
    login_throttle_window_minutes: int = 15
    # Proxies whose X-Forwarded-For is believed (comma-separated IPs or CIDR networks,
    # e.g. the nginx container's network). Anyone else's header is ignored.
    trusted_proxies: str = ""

    # Outbound HTTP to tools and AI endpoints. Loopback, private and link-local
    # targets are refused unless listed here (comma-separated host:port or CIDR);
    # cloud metadata addresses are refused always. The demo lists its fake tools.
    allowed_private_hosts: str = ""
    http_timeout_seconds: float = 30.0
    http_max_response_bytes: int = 64 * 1024 * 1024

    # Webhooks: the body is read up to this size; deliveries that carry a timestamp
    # must be younger than the window (tools retry within it).
    webhook_max_body_bytes: int = 5 * 1024 * 1024
    webhook_max_age_seconds: int = 24 * 3600

    # Housekeeping (a nightly task): how long old rows are kept.
    login_attempt_retention_days: int = 30
    expired_session_retention_days: int = 7
    webhook_delivery_retention_days: int = 30

    # Notifications beyond the app. Email goes through the platform's SMTP server
    # (no SMTP_HOST: no email); Slack and Teams webhooks are set per tenant or project
    # in the admin portal. Failed deliveries are retried with exponential backoff
    # (base doubled per attempt, capped) and become dead letters after the last attempt.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = "DMT-SLDP <no-reply@localhost>"
    smtp_starttls: bool = True
    smtp_timeout_seconds: float = 15.0
    notification_digest_hour_utc: int = Field(default=7, ge=0, le=23)
    notification_max_attempts: int = Field(default=6, ge=1)
    notification_retry_base_seconds: float = Field(default=30.0, gt=0)
    notification_retry_max_seconds: float = Field(default=3600.0, gt=0)
    # The Celery queue delivery tasks go to (default: the shared one; a busy site can
    # give deliveries their own workers with `celery -A worker worker -Q notifications`).
    notification_queue: str = "celery"
    notification_delivery_retention_days: int = 30

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

    @field_validator("environment")
    @classmethod
    def _known_environment(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ENVIRONMENTS:
            raise ValueError(f"DMT_ENVIRONMENT must be one of {', '.join(ENVIRONMENTS)}, not {value!r}")
        return value

    @field_validator("allowed_private_hosts", "trusted_proxies")
    @classmethod
    def _readable_lists(cls, value: str, info) -> str:
        if info.field_name == "allowed_private_hosts":
            parse_host_allow_list(value)  # a bad entry stops the process with its name
        else:
            parse_networks(value, "TRUSTED_PROXIES")
        return value

    def private_host_allow_list(self) -> PrivateHostAllowList:
        """ALLOWED_PRIVATE_HOSTS, parsed."""
        return parse_host_allow_list(self.allowed_private_hosts)

    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        """TRUSTED_PROXIES, parsed."""
        return parse_networks(self.trusted_proxies, "TRUSTED_PROXIES")

    def fernet_key_list(self) -> list[str]:
        return [k.strip() for k in self.fernet_keys.split(",") if k.strip()]

    def development_secrets_in_use(self) -> list[str]:
        """Names of the secrets still at their built-in development value."""
        found = []
        if self.jwt_secret == DEV_JWT_SECRET:
            found.append("JWT_SECRET")
        if DEV_FERNET_KEY in self.fernet_key_list()[:1]:
            found.append("FERNET_KEYS")
        return found

    def require_safe_secrets(self) -> None:
        """Raise InsecureSettings when production would run on the development secrets."""
        if self.environment in ("demo", "test"):
            return
        found = self.development_secrets_in_use()
        if found:
            raise InsecureSettings(
                f"{' and '.join(found)} still hold the built-in development value; refusing to start. "
                "Set them in the environment (docs/deploy.md): "
                "FERNET_KEYS=$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') "
                "and JWT_SECRET=$(python -c 'import secrets; print(secrets.token_urlsafe(48))'). "
                "The demo and the tests set DMT_ENVIRONMENT=demo / test instead."
            )


@functools.lru_cache(maxsize=1)
def load_settings() -> Settings:
    """The settings as configured, without the startup check (for `dmt doctor`, which reports what is wrong)."""
    return Settings()


def get_settings() -> Settings:
    """This process's settings; raises InsecureSettings in production with the development secrets."""
    settings = load_settings()
    settings.require_safe_secrets()
    return settings


def reset_settings_cache() -> None:
    """Forget cached settings (tests change the environment)."""
    load_settings.cache_clear()


def require_database_url() -> str:
    url = get_settings().database_url or os.environ.get("DATABASE_URL", "")
    if not url:
        raise RuntimeError(
            "DATABASE_URL is not set. Use `make run` / `make test` (they start an embedded "
            "PostgreSQL), or export DATABASE_URL=postgresql+psycopg://user@host:5432/dbname"
        )
    return url
