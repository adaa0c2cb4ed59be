"""Health of the platform's own dependencies: database and Redis."""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa

from core.realtime import redis_client
from models.db import get_engine

log = logging.getLogger(__name__)


def database_status() -> dict:
    started = time.perf_counter()
    try:
        with get_engine().connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}
    except Exception as exc:  # noqa: BLE001 - a health check reports, it does not raise
        return {"ok": False, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0]}"}


def redis_status() -> dict:
    started = time.perf_counter()
    try:
        redis_client().ping()
        return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


def health_report() -> dict:
    """Database and Redis with latencies and, on failure, the error (for platform admins only)."""
    db, redis = database_status(), redis_status()
    return {"ok": db["ok"] and redis["ok"], "database": db, "redis": redis}


def public_health() -> dict:
    """What the unauthenticated /api/health may say: up or not per dependency, never an error's text.

    Error messages name hosts, ports, database and user names; they are logged
    here and shown to platform admins (`health_report`), not to anyone asking.
    """
    report = health_report()
    for name in ("database", "redis"):
        if not report[name]["ok"]:
            log.warning("health: %s is failing: %s", name, report[name].get("error"))
    return {"ok": report["ok"], "database": {"ok": report["database"]["ok"]}, "redis": {"ok": report["redis"]["ok"]}}
