"""Secrets at rest: Fernet encryption and MultiFernet rotation."""

from __future__ import annotations

import pytest

from core import crypto
from core.settings import reset_settings_cache


@pytest.fixture
def keys(monkeypatch):
    def use(*ks: str) -> None:
        monkeypatch.setenv("FERNET_KEYS", ",".join(ks))
        reset_settings_cache()

    yield use
    reset_settings_cache()


def test_round_trip_and_ciphertext_hides_the_secret(keys) -> None:
    keys(crypto.generate_key())
    token = crypto.encrypt_secret("ghp_supersecret")
    assert "supersecret" not in token
    assert crypto.decrypt_secret(token) == "ghp_supersecret"
    assert crypto.encrypt_secret("") is None and crypto.decrypt_secret(None) is None


def test_rotation_re_encrypts_under_the_new_key(keys) -> None:
    old, new = crypto.generate_key(), crypto.generate_key()
    keys(old)
    token = crypto.encrypt_secret("s3cret")
    keys(new, old)  # new key first: encrypts; old still decrypts
    rotated = crypto.rotate_secret(token)
    keys(new)  # old key removed after rotation
    assert crypto.decrypt_secret(rotated) == "s3cret"
    with pytest.raises(crypto.SecretDecryptionError, match="rotate-keys"):
        crypto.decrypt_secret(token)


def test_mask_shows_only_the_last_four_characters() -> None:
    assert crypto.mask_secret("abcdefgh1234").endswith("1234")
    assert "abcd" not in crypto.mask_secret("abcdefgh1234")
