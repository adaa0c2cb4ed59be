"""docker-compose.yml names only commands and files that exist in the project."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml
from typer.main import get_command

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _dmt_commands() -> set[str]:
    from cli.main import app

    return set(get_command(app).commands)


def test_compose_has_every_process_of_the_design() -> None:
    assert {"postgres", "redis", "migrate", "worker", "beat", "company-portal", "admin-portal", "nginx"} <= set(COMPOSE["services"])


def test_every_command_in_compose_exists() -> None:
    dmt = _dmt_commands()
    for name, service in COMPOSE["services"].items():
        command = service.get("command")
        if not command or ("image" in service and "build" not in service):
            continue  # third-party images (postgres, redis, nginx)
        program, *args = command
        if program == "dmt":
            assert args[0] in dmt, f"{name}: `dmt {args[0]}` is not a dmt command"
        elif program == "celery":
            module = args[args.index("-A") + 1]
            app = importlib.import_module(module).app
            assert args[args.index("-A") + 2] in {"worker", "beat"}, name
            assert app.main or app.conf.broker_url is not None
        elif program == "bash":
            script = ROOT / args[0]
            assert script.exists(), f"{name}: {args[0]} missing"
            assert args[1] in script.read_text(), f"{name}: {args[0]} has no '{args[1]}' subcommand"
            assert (ROOT / args[2]).is_dir(), f"{name}: app {args[2]} missing"
        else:
            raise AssertionError(f"{name}: unknown program {program}")


def test_mounted_files_and_build_context_exist() -> None:
    assert (ROOT / "Dockerfile").exists()
    for name, service in COMPOSE["services"].items():
        for volume in service.get("volumes", []):
            host = volume.split(":")[0]
            if host.startswith("./"):
                assert (ROOT / host).exists(), f"{name}: {host} missing"


def test_required_secrets_are_demanded_not_defaulted() -> None:
    env = COMPOSE["x-app"]["environment"]
    for secret in ("FERNET_KEYS", "JWT_SECRET"):
        assert ":?" in env[secret], f"{secret} must be required in production"
