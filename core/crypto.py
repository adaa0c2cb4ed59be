"""Encryption at rest for source tokens and AI keys (Fernet, rotation with MultiFernet)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from core.settings import get_settings


class SecretDecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""


def _multi_fernet(keys: list[str] | None = None) -> MultiFernet:
    keys = keys or get_settings().fernet_key_list()
    if not keys:
        raise RuntimeError("FERNET_KEYS is empty: set at least one key (Fernet.generate_key())")
    return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])


def encrypt_secret(plaintext: str | None) -> str | None:
    """Encrypt a secret with the primary key; None and '' stay None."""
    if not plaintext:
        return None
    return _multi_fernet().encrypt(plaintext.encode()).decode()


def decrypt_secret(ciphertext: str | None) -> str | None:
    if not ciphertext:
        return None
    try:
        return _multi_fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise SecretDecryptionError(
            "stored secret cannot be decrypted with the configured FERNET_KEYS "
            "(was a key removed before `dmt rotate-keys` ran?)"
        ) from exc


def rotate_secret(ciphertext: str | None) -> str | None:
    """Re-encrypt under the primary (first) key."""
    if not ciphertext:
        return ciphertext
    return _multi_fernet().rotate(ciphertext.encode()).decode()


def generate_key() -> str:
    return Fernet.generate_key().decode()


def mask_secret(plaintext: str | None) -> str:
    """What a client may see of a secret: its last four characters."""
    if not plaintext:
        return ""
    return "•" * 8 + plaintext[-4:]
