"""Outside the demo and the tests, the product refuses to start on the built-in development secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import DEV_FERNET_KEY, DEV_JWT_SECRET, InsecureSettings, Settings

ROOT = Path(__file__).resolve().parents[2]
NEW_KEY = "Pz0Fp1m2W1bb3RkUy1AcPgk0v6Yo0fXXgtwXmWbmqLE="


def _production_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DMT_ENVIRONMENT", "JWT_SECRET", "FERNET_KEYS")}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def test_production_settings_refuse_the_development_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DMT_ENVIRONMENT", "production")
    with pytest.raises(InsecureSettings, match="JWT_SECRET and FERNET_KEYS") as refused:
        Settings().require_safe_secrets()
    assert "docs/deploy.md" in str(refused.value) and "Fernet.generate_key" in str(refused.value)
    monkeypatch.setenv("JWT_SECRET", "x" * 48)
    with pytest.raises(InsecureSettings, match="FERNET_KEYS"):
        Settings().require_safe_secrets()
    monkeypatch.setenv("FERNET_KEYS", f"{NEW_KEY},{DEV_FERNET_KEY}")  # the old key may stay for decryption only
    Settings().require_safe_secrets()
    for environment in ("demo", "test"):
        monkeypatch.setenv("DMT_ENVIRONMENT", environment)
        monkeypatch.setenv("JWT_SECRET", DEV_JWT_SECRET)
        Settings().require_safe_secrets()
    monkeypatch.setenv("DMT_ENVIRONMENT", "staging")
    with pytest.raises(ValueError, match="DMT_ENVIRONMENT"):
        Settings()


def test_a_portal_refuses_to_start() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "portal_serve.py"), "dmt_app", "3999", "3000"],
        env=_production_env(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "dmt_app refuses to start" in done.stderr and "JWT_SECRET" in done.stderr


def test_a_worker_refuses_to_start() -> None:
    celery = Path(sys.executable).with_name("celery")
    done = subprocess.run(
        [str(celery), "-A", "worker", "worker", "--pool=solo", "-Q", "never-used", "--without-gossip",
         "--without-mingle"],
        env=_production_env(), capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode != 0
    assert "InsecureSettings" in done.stderr + done.stdout and "refusing to start" in done.stderr + done.stdout


def test_the_cli_refuses_with_one_clear_line() -> None:
    dmt = Path(sys.executable).with_name("dmt")
    done = subprocess.run(
        [str(dmt), "migrate"], env=_production_env(), capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode != 0
    assert "refusing to start" in done.stderr and "Traceback" not in done.stderr
