"""Re-encrypt stored secrets under the primary Fernet key (after adding a new key first in FERNET_KEYS)."""

from __future__ import annotations

from sqlmodel import select

from core.crypto import rotate_secret
from models.db import public_session
from models.public import ChatChannel, SourceConfig, Tenant
from services import audit
from services.audit import Actor


def rotate_all_secrets() -> dict[str, int]:
    """Rotate every encrypted column in one transaction; returns how many values were rotated."""
    counts = {"source tokens": 0, "webhook secrets": 0, "AI keys": 0, "chat webhook URLs": 0}
    with public_session() as session:
        for source in session.exec(select(SourceConfig)).all():
            if source.token_encrypted:
                source.token_encrypted = rotate_secret(source.token_encrypted)
                counts["source tokens"] += 1
            if source.webhook_secret_encrypted:
                source.webhook_secret_encrypted = rotate_secret(source.webhook_secret_encrypted)
                counts["webhook secrets"] += 1
        for tenant in session.exec(select(Tenant)).all():
            if tenant.ai_api_key_encrypted:
                tenant.ai_api_key_encrypted = rotate_secret(tenant.ai_api_key_encrypted)
                counts["AI keys"] += 1
        for channel in session.exec(select(ChatChannel)).all():
            if channel.webhook_url_encrypted:
                channel.webhook_url_encrypted = rotate_secret(channel.webhook_url_encrypted) or ""
                counts["chat webhook URLs"] += 1
        audit.record(session, Actor.system("cli"), "secrets.rotate", "platform", None, new=counts)
        session.commit()
    return counts
