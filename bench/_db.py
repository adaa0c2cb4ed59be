"""A throw-away database for one benchmark run, on the server of DATABASE_URL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import make_url


@contextmanager
def bench_database(keep: bool = False) -> Iterator[str]:
    """Create `dmt_bench_<id>`, point DATABASE_URL at it, migrate the public stream; drop it afterwards."""
    from core.settings import require_database_url, reset_settings_cache
    from models import db as dbmod
    from models.migrate import upgrade_public

    server = make_url(require_database_url())
    name = f"dmt_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = server.set(database=name).render_as_string(hide_password=False)
    reset_settings_cache()
    dbmod.dispose_engines()
    try:
        upgrade_public()
        yield name
    finally:
        dbmod.dispose_engines()
        if previous is not None:
            os.environ["DATABASE_URL"] = previous
        reset_settings_cache()
        if not keep:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
