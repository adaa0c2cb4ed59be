"""Throw-away PostgreSQL databases for the suites: created, migrated, pointed at, dropped."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from core.settings import reset_settings_cache


@contextlib.contextmanager
def new_database(server_url: str, prefix: str, id_length: int = 8) -> Iterator[str]:
    """The URL of a fresh, empty database `<prefix><random id>` on `server_url`; dropped at the end."""
    server = make_url(server_url)
    name = f"{prefix}{uuid.uuid4().hex[:id_length]}"
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def pointed_database(server_url: str, prefix: str, id_length: int = 8) -> Iterator[str]:
    """A fresh database `<prefix><random id>` on `server_url`, migrated (public stream).

    DATABASE_URL points at it (and the engines are rebuilt) until the block ends; then the
    previous DATABASE_URL comes back and the database is dropped.
    """
    from models import db as dbmod
    from models.migrate import upgrade_public

    with new_database(server_url, prefix, id_length) as url:
        previous = os.environ["DATABASE_URL"]
        os.environ["DATABASE_URL"] = url
        reset_settings_cache()
        dbmod.dispose_engines()
        try:
            upgrade_public()
            yield url
        finally:
            dbmod.dispose_engines()
            os.environ["DATABASE_URL"] = previous
            reset_settings_cache()
