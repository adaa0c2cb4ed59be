"""`dmt doctor`: is this deployment configured and connected as it should be?

Each check answers ok, warn or fail with a sentence an operator can act on:
secrets, database reachable, migrations current (public stream and every
tenant schema), Redis reachable, Celery workers answering, cookie security
behind HTTPS, client addresses behind a proxy, the task outbox draining.

The checks read the settings without the startup refusal (`load_settings`)
and open their own short-lived connections, so the doctor also runs, and says
why, on a configuration the product itself would refuse to start with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import redis
import sqlalchemy as sa
from celery import Celery

from core.settings import Settings, load_settings
from models.base import utcnow
from models.migrate import head_revision, tenant_versions

OK, WARN, FAIL = "ok", "warn", "fail"
CONNECT_TIMEOUT_SECONDS = 5
#: An outbox row waiting longer than this means nothing is dispatching it.
OUTBOX_STUCK_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str


def _problem(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def check_secrets(s: Settings) -> Check:
    found = s.development_secrets_in_use()
    if not found:
        return Check("secrets", OK, "JWT_SECRET and FERNET_KEYS are set (not the development values)")
    names = " and ".join(found)
    if s.environment in ("demo", "test"):
        return Check(
            "secrets", WARN, f"{names} hold the development value (allowed with DMT_ENVIRONMENT={s.environment})"
        )
    return Check(
        "secrets",
        FAIL,
        f"{names} hold the built-in development value: the product refuses to start. Generate new ones "
        "(docs/deploy.md) and set them in the environment",
    )


def _engine(s: Settings) -> sa.Engine:
    return sa.create_engine(
        s.database_url, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    )


def check_database(s: Settings) -> Check:
    if not s.database_url:
        return Check("database", FAIL, "DATABASE_URL is not set")
    engine = _engine(s)
    try:
        with engine.connect() as conn:
            version = conn.execute(sa.text("SHOW server_version")).scalar()
        return Check("database", OK, f"PostgreSQL {version} reachable")
    except Exception as exc:  # noqa: BLE001 - a check reports, it does not raise
        return Check("database", FAIL, f"cannot connect: {_problem(exc)}")
    finally:
        engine.dispose()


def check_migrations(s: Settings) -> Check:
    if not s.database_url:
        return Check("migrations", FAIL, "DATABASE_URL is not set")
    engine = _engine(s)
    try:
        with engine.connect() as conn:
            public = conn.execute(sa.text("SELECT version_num FROM public.alembic_version")).scalar()
            slugs = list(conn.execute(sa.text("SELECT slug FROM public.tenants ORDER BY id")).scalars())
        versions = tenant_versions(engine)
    except Exception as exc:  # noqa: BLE001
        return Check("migrations", FAIL, f"cannot read the schema versions ({_problem(exc)}): run `dmt migrate`")
    finally:
        engine.dispose()
    if public != head_revision("public"):
        return Check(
            "migrations", FAIL, f"public schema at {public}, code at {head_revision('public')}: run `dmt migrate`"
        )
    tenant_head = head_revision("tenant")
    behind = [slug for slug in slugs if versions.get(f"tenant_{slug}") != tenant_head]
    if behind:
        shown = ", ".join(behind[:5]) + (f" and {len(behind) - 5} more" if len(behind) > 5 else "")
        return Check(
            "migrations", FAIL, f"{len(behind)} tenant schemas not at {tenant_head} ({shown}): run `dmt migrate`"
        )
    return Check("migrations", OK, f"public at {public}, {len(slugs)} tenant schemas at {tenant_head}")


def check_redis(s: Settings) -> Check:
    if not s.redis_url:
        return Check("redis", FAIL, "REDIS_URL is not set")
    client = redis.Redis.from_url(s.redis_url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS, socket_timeout=5)
    try:
        info = client.info("server")
        return Check("redis", OK, f"Redis {info.get('redis_version', '?')} reachable")
    except Exception as exc:  # noqa: BLE001
        return Check("redis", FAIL, f"cannot connect: {_problem(exc)}")
    finally:
        client.close()


def check_workers(s: Settings, timeout: float = 2.0) -> Check:
    if not s.redis_url:
        return Check("workers", FAIL, "REDIS_URL is not set: no broker to reach the workers through")
    app = Celery("dmt-doctor", broker=s.redis_url)
    app.conf.broker_connection_timeout = CONNECT_TIMEOUT_SECONDS
    try:
        replies = app.control.ping(timeout=timeout) or []
    except Exception as exc:  # noqa: BLE001
        return Check("workers", FAIL, f"cannot ask the workers: {_problem(exc)}")
    finally:
        app.close()
    names = sorted(name for reply in replies for name in reply)
    if not names:
        return Check("workers", FAIL, "no Celery worker answered: start `celery -A worker worker` (and one beat)")
    return Check("workers", OK, f"{len(names)} answering: {', '.join(names)}")


def check_cookies(s: Settings) -> Check:
    """Portal session cookies must be Secure wherever the portals are served over HTTPS, and HTTPS outside the demo."""
    urls = {"COMPANY_PORTAL_URL": s.company_portal_url, "ADMIN_PORTAL_URL": s.admin_portal_url}
    plain = [name for name, url in urls.items() if urlsplit(url).scheme != "https"]
    local = all(urlsplit(url).hostname in ("localhost", "127.0.0.1", "::1") for url in urls.values())
    if not plain and not s.cookie_secure:
        return Check(
            "cookies", FAIL, "the portals are served over HTTPS but COOKIE_SECURE=false: set COOKIE_SECURE=true"
        )
    if plain and s.environment == "production" and not local:
        return Check(
            "cookies",
            FAIL,
            f"{' and '.join(plain)} use plain HTTP: serve the portals behind HTTPS (docs/deploy.md) "
            "and set COOKIE_SECURE=true",
        )
    if plain and s.cookie_secure and not local:
        return Check(
            "cookies", WARN, "COOKIE_SECURE=true on plain-HTTP portal URLs: browsers will drop the session cookie"
        )
    if plain:
        return Check("cookies", WARN if s.environment == "production" else OK, "portals on plain HTTP on this machine")
    return Check("cookies", OK, "portals on HTTPS with Secure, HttpOnly session cookies")


def check_proxies(s: Settings) -> Check:
    if s.trusted_proxies.strip():
        return Check("client addresses", OK, f"X-Forwarded-For believed from {s.trusted_proxies}")
    if s.environment != "production":
        return Check("client addresses", OK, "no proxy: the socket's address counts")
    return Check(
        "client addresses",
        WARN,
        "TRUSTED_PROXIES is empty: behind a reverse proxy every user shares the proxy's address "
        "(sign-in throttle, audit); list the proxy's address",
    )


def check_outbox(s: Settings) -> Check:
    if not s.database_url:
        return Check("task outbox", FAIL, "DATABASE_URL is not set")
    engine = _engine(s)
    try:
        with engine.connect() as conn:
            stuck = conn.execute(
                sa.text("SELECT count(*) FROM public.task_outbox WHERE sent_at IS NULL AND created_at < :before"),
                {"before": utcnow() - OUTBOX_STUCK_AFTER},
            ).scalar()
    except Exception as exc:  # noqa: BLE001
        return Check("task outbox", FAIL, f"cannot read it: {_problem(exc)}")
    finally:
        engine.dispose()
    if stuck:
        return Check("task outbox", WARN, f"{stuck} tasks waiting to be sent: is beat running and the broker up?")
    return Check("task outbox", OK, "nothing waiting")


CHECKS: tuple[Callable[[Settings], Check], ...] = (
    check_secrets,
    check_database,
    check_migrations,
    check_redis,
    check_workers,
    check_cookies,
    check_proxies,
    check_outbox,
)


def run_checks(settings: Settings | None = None) -> list[Check]:
    """Every check, in order; none raises."""
    s = settings or load_settings()
    return [check(s) for check in CHECKS]
