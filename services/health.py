"""Health of the platform's own dependencies: database and Redis."""

from __future__ import annotations

import time

import sqlalchemy as sa

from core.realtime import redis_client
from models.db import get_engine


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
    db, redis = database_status(), redis_status()
    return {"ok": db["ok"] and redis["ok"], "database": db, "redis": redis}
