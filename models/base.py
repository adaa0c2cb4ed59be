"""Column helpers shared by the control-plane and tenant tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field


def utcnow() -> datetime:
    return datetime.now(UTC)


def tz_field(*, nullable: bool = True, default_now: bool = False, index: bool = False) -> Any:
    """A timezone-aware timestamp column (all times are stored in UTC)."""
    kwargs: dict[str, Any] = {}
    if default_now:
        kwargs["default_factory"] = utcnow
    else:
        kwargs["default"] = None
    return Field(
        sa_column=sa.Column(
            sa.DateTime(timezone=True),
            nullable=nullable,
            index=index,
            server_default=sa.func.now() if default_now else None,
        ),
        **kwargs,
    )


def json_field(default: Any = None, *, nullable: bool = True) -> Any:
    """A JSONB column; `default` is a factory type (dict or list) or None."""
    if default in (dict, list):
        return Field(default_factory=default, sa_column=sa.Column(JSONB, nullable=nullable))
    return Field(default=default, sa_column=sa.Column(JSONB, nullable=nullable))
