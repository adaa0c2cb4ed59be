"""docker-compose.yml names only commands and files that exist in the project."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import yaml
from typer.main import get_command

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _dmt_commands() -> set[str]:
    from cli.main import app

    return set(get_command(app).commands)


def test_compose_has_every_process_of_the_design() -> None:
    assert {"postgres", "redis", "migrate", "worker", "beat", "company-portal", "admin-portal", "nginx"} <= set(
        COMPOSE["services"]
    )


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


# ---------------------------------------------------------------- the image: non-root, and only what it needs
def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, args = line.partition(" ")
            out.append((instruction.upper(), args.strip()))
    return out


def test_the_image_runs_as_an_unprivileged_user() -> None:
    instructions = _dockerfile_instructions()
    users = [(i, args) for i, (name, args) in enumerate(instructions) if name == "USER"]
    assert users, "the Dockerfile must switch to a non-root USER"
    last_index, last_user = users[-1]
    name = last_user.split(":")[0]
    assert name not in {"root", "0"}, f"the image runs as {last_user}"
    assert all(kind != "RUN" for kind, _ in instructions[last_index:]), "nothing runs as root after the USER switch"
    created = " ".join(args for kind, args in instructions if kind == "RUN")
    assert "useradd" in created and name in created, f"the Dockerfile must create the user {name}"
    for service_name, service in COMPOSE["services"].items():
        assert str(service.get("user", "")).split(":")[0] not in {"root", "0"}, f"{service_name} runs as root"


def _dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    """(excludes, pattern) per .dockerignore line, in Docker's reading (`**` any depth, `!` re-includes)."""
    rules = []
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex, i = regex + pattern[i : end + 1], end + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        rules.append((not include, re.compile(regex + "$")))
    return rules


def _ignored(path: str) -> bool:
    """Whether Docker leaves `path` out of the build context (a folder's rule covers what is inside it)."""
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for excludes, pattern in _dockerignore_rules():
        if any(pattern.match(candidate) for candidate in candidates):
            ignored = excludes
    return ignored


def test_the_build_context_leaves_out_local_state_and_secrets() -> None:
    for path in (
        ".venv/bin/python",
        ".data/pg/PG_VERSION",
        ".web-dmt_app/build/client/index.html",
        ".web-admin_app/node_modules/react/index.js",
        ".states-dmt_app/token.pkl",
        ".tools/node_modules/.bin/bun",
        "wheels/reflex-0.10.1-py3-none-any.whl",
        "vendor/some-1.0-py3-none-any.whl",
        ".git/HEAD",
        ".env",
        "services/__pycache__/auth.cpython-311.pyc",
        "dmt_sldp.egg-info/PKG-INFO",
    ):
        assert _ignored(path), f"{path} would be copied into the image"


def test_the_build_context_keeps_what_the_image_builds_from() -> None:
    for path in (
        "requirements.txt",
        "pyproject.toml",
        "rxconfig.py",
        "reflex.lock/package.json",
        "scripts/portal.sh",
        "scripts/portal_serve.py",
        "dmt_app/dmt_app.py",
        "admin_app/admin_app.py",
        "deploy/nginx.conf",
        "tests/fakes/server.py",  # the `dmt` CLI imports the demo's fakes
    ):
        assert (ROOT / path).exists(), f"{path} is gone: update this test"
        assert not _ignored(path), f"{path} is left out of the image"


def test_app_containers_share_the_data_folder_the_image_user_owns() -> None:
    app_volumes = COMPOSE["x-app"].get("volumes", [])
    mounts = [v.split(":") for v in app_volumes]
    assert any(target == "/app/.data" and not source.startswith(".") for source, target, *_ in mounts), app_volumes
    runs = " ".join(args for kind, args in _dockerfile_instructions() if kind == "RUN")
    assert re.search(r"chown [^&]*\.data", runs), "the image user must own /app/.data (the volume inherits it)"
